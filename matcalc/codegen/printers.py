"""The code printers: a class per target, each a NumPy printer that reads named temporaries.

`NumpyCode` is the NumPy printer of formulas (printing/numpy.py) over a DAG whose named
nodes are already computed: `bind` a node to a Python name and every later expression
reads the name. It writes what generated code wants and a formula does not: multi_dot
for chains, constants in the arguments' dtype, stable log-sigmoid and softplus, masks as
comparisons in products, statements for softmax and logsumexp, in-place updates.
`TorchCode` and `JaxCode` subclass it the way SymPy's code printers subclass one another:
a function's name comes from the registry (matcalc.ops: np.arcsin is torch.asin), else
it is NumPy's name in the target library (np.outer is torch.outer, jnp.outer), and a
method per form the libraries write differently. Nothing is renamed after printing.

Every printed node also records what its code reads (`reads`): the named nodes, and
DTYPE and DEVICE when it makes an array in the arguments' dtype. The planner collects
these per statement, so the module writer knows, without reading the code, which
temporaries the backward pass keeps and which functions need `dtype = ...`.
"""
from __future__ import annotations

from typing import ClassVar

from .. import ops
from ..expr import (
    SCALAR,
    Add,
    Const,
    Func,
    Hadamard,
    LogSumExp,
    Node,
    Norm2,
    Power,
    Scale,
    Softmax,
    Sum,
    Var,
    walk,
)
from ..printing.numpy import (
    NumpyPrinter,
    Value,
    _Item,
    broadcast_shapes,
    numpy_shape,
)
from ..printing.precedence import (
    ADD,
    ATOM,
    CMP,
    MUL,
    NEG,
    POW,
    Product,
)
from ..rewrites import one_minus_sigmoid, one_plus_exp
from .passes import LEAVES

CHUNK = 32                   # operands of one + or * chain: Python's compiler recurses on them
DTYPE, DEVICE = "dtype", "device"     # what code may read besides named nodes

# the NumPy functions whose call makes a new array (a temporary it may then update in place)
FRESH = frozenset(op.numpy for op in ops.ELEMENTWISE.values() if op.numpy) | {
    "np.maximum", "np.heaviside", "np.outer", "np.ones", "np.zeros", "np.eye", "np.tile",
    "np.linalg.inv", "np.linalg.multi_dot", "np.logaddexp"}
CONSTANTS = ("np.ones", "np.zeros", "np.eye")       # made in the arguments' dtype


class NumpyCode(NumpyPrinter):
    """NumPy code over named temporaries (see the module docstring)."""

    target, alias = "numpy", "np"      # the library, and the name a module imports it as
    modules: tuple[str, ...] = ("np",)   # the names the module's imports bind
    inplace = True                     # temporaries the function owns are updated in place
    masks_in_products = True           # a .* 1[x > 0] as a .* (x > 0): keeps a's dtype
    # the dtype (and device) of a function without arguments
    default: ClassVar[dict[str, str]] = {DTYPE: "np.dtype(np.float64)"}

    def __init__(self, keep_2d, python_names, dim_sources, dtype: str = "dtype",
                 device: str = "device", free: dict | None = None):
        super().__init__(keep_2d, python_names, dim_sources)
        self.bound: dict[Node, Value] = {}
        self.dtype, self.device = dtype, device       # the names of the locals
        self.free = free if free is not None else {}  # size -> its parameter's name
        self.free_used: dict = {}                     # the sizes this code asked for
        self.reads: dict[Node, frozenset] = {}        # node -> what its code reads
        self.reading: list[set] = [set()]             # what the code being printed reads
        self.made: set[Value] = set()                 # values that are new arrays

    # -- what code reads ------------------------------------------------------------------
    def print(self, node: Node) -> Value:
        """The node's code, recording what it reads (the named nodes, DTYPE, DEVICE) for
        `reads` and for whatever is being printed around it."""
        value = self._memo.get(node)
        if value is not None:
            self.reading[-1] |= self.reads[node]
            return value
        self.reading.append(set())
        try:
            value = super().print(node)
        finally:
            got = self.reading.pop()
        self.reads[node] = frozenset(got)
        self.reading[-1] |= got
        return value

    def need(self, *what) -> None:
        self.reading[-1].update(what)

    def harvest(self) -> frozenset:
        """What the code printed since the last harvest reads (the planner harvests once
        per statement and per result)."""
        got = frozenset(self.reading[0])
        self.reading[0].clear()
        return got

    def fresh(self, v: Value) -> bool:
        """Whether the code of v makes a new floating array (not a view, not an argument)."""
        return v.prec in (ADD, MUL, NEG, POW) or v in self.made

    def function(self, spelling: str) -> str:
        """The registry's spelling in this target (np.arcsin is torch.asin), else NumPy's
        name in this library (np.outer is torch.outer, jnp.outer)."""
        return ops.RENAMED.get(self.target, {}).get(spelling) or self.alias + spelling[2:]

    def dim(self, d) -> str:
        if isinstance(d, str) and d not in self.dim_sources and d in self.free:
            self.free_used[d] = self.free[d]          # a keyword argument of the function
            return self.free[d]
        return super().dim(d)

    def bind(self, node: Node, name: str, shape: tuple) -> Value:
        v = Value(name, ATOM, None, shape)
        self.bound[node] = v
        self._memo[node] = v
        self.reads[node] = frozenset((node,))
        return v

    def forget(self, nodes) -> None:
        """Drop the printed text of unnamed nodes (after one of them got a name)."""
        for n in nodes:
            if n not in self.bound:
                self._memo.pop(n, None)

    # -- scaled products stop at named nodes ----------------------------------------------
    def product_of(self, e: Scale) -> Product:
        p = Product()
        x: Node = e
        while isinstance(x, Scale) and x.shape != SCALAR and (x is e or x not in self.bound):
            self.add_scalar(p, x.s)
            x = x.x
        if x.shape == SCALAR:
            self.add_scalar(p, x, top=x is e)
        else:
            p.core = x
        return p

    def add_scalar(self, p: Product, s: Node, top: bool = False) -> None:
        """p.add_scalar(s), reading a named scalar by its name (x1*db, not x1 times db's
        formula again); `top`: s is the node being printed, whose factors are wanted."""
        stack = [s]
        while stack:
            x = stack.pop()
            if x in self.bound and not (top and x is s):
                p.nums.append(x)
            elif isinstance(x, Scale):
                stack += [x.x, x.s]
            else:
                p.add_scalar(x)

    def _print_Scale(self, e: Scale) -> Value:
        return self.product(self.product_of(e))

    def product(self, p: Product, core: Value | None = None) -> Value:
        if len(p.nums) > CHUNK:               # a balanced tree of parenthesised groups
            groups = [self.product(Product(False, p.nums[i:i + CHUNK], None, []))
                      for i in range(0, len(p.nums), CHUNK)]
            p = Product(p.negative, groups, p.core, p.dens)
        return super().product(p, core)

    def negated(self, t: Node) -> Value | None:
        if t in self.bound:
            return None
        if isinstance(t, Const) and t.value < 0:
            return self.number(-t.value)
        if isinstance(t, Scale):
            p = self.product_of(t)
            if p.negative:
                p.negative = False
                return self.product(p)
        return None

    def chain(self, f, transposed, items, scalars) -> None:
        if f in self.bound and f.shape != SCALAR and not isinstance(f, LEAVES):
            shape = (f.shape[1], f.shape[0]) if transposed else tuple(f.shape)
            v = self.full(self.print(f), f.shape)
            items.append(_Item("node", shape, self.transpose(v, f.shape) if transposed else v))
            return
        if isinstance(f, Scale) and f.shape != SCALAR:
            p = self.product_of(f)
            scalars.negative ^= p.negative
            scalars.nums += p.nums
            scalars.dens += p.dens
            return self.chain(p.core, transposed, items, scalars)
        return super().chain(f, transposed, items, scalars)

    def segment(self, seg) -> Value:
        live = [it for it in seg if it.kind != "eye"]
        if len(live) < 3 or any(it.kind != "node" for it in live):
            return super().segment(seg)
        # three or more matrices: NumPy picks the cheapest order for the run-time shapes
        values = [it.value for it in live]
        rows, cols = seg[0].shape[0], seg[-1].shape[1]
        if rows == 1 and cols == 1 and any(len(v.shape) == 2 for v in (values[0], values[-1])):
            values[0], values[-1] = self.flat(values[0]), self.flat(values[-1])
        first, last = values[0], values[-1]
        shape = (first.shape[:-1] if len(first.shape) == 2 else ()) + \
            (last.shape[1:] if len(last.shape) == 2 else ())
        text = ", ".join(v.text for v in values)
        return self.call("np.linalg.multi_dot", f"[{text}]", shape)

    # -- constants in the arguments' dtype ------------------------------------------------
    def call(self, spelling: str, args: str, shape: tuple) -> Value:
        if spelling in CONSTANTS:
            args = f"{args}, {self.created()}"
        v = super().call(spelling, args, shape)
        if spelling in FRESH:
            self.made.add(v)
        return v

    def created(self) -> str:
        """The keyword arguments that make an array in the arguments' dtype."""
        self.need(DTYPE)
        return f"dtype={self.dtype}"

    def post(self, v: Value, suffix: str, shape: tuple) -> Value:
        if suffix == ".item()":            # a NumPy scalar of the dtype, not a Python float
            suffix = "[0, 0]"
        return super().post(v, suffix, shape)

    def axis_sum(self, v: Value, axis: int) -> Value:
        out = super().axis_sum(v, axis)
        self.made.add(out)
        return out

    # -- stable and fast forms ------------------------------------------------------------
    def positive_part(self, v: Value) -> Value:
        return self.call("np.maximum", f"{v.text}, 0", v.shape)

    def mask(self, x: Node) -> Value:
        """1[x > 0] as a boolean array (for products, where it keeps the other's dtype)."""
        v = self.print(x)
        return Value(f"{self.operand(v, '>', 'left')} > 0", CMP, ">", v.shape)

    def softplus(self, x: Node, sign: str) -> Value:
        """log(1 + exp(x)) (sign "") or log(1 + exp(-x)) (sign "-"), never overflowing."""
        v = self.print(x)
        arg = f"-{self.operand(v, 'neg')}" if sign else v.text
        return self.call("np.logaddexp", f"0, {arg}", v.shape)

    def typed(self, v: Value) -> Value:
        """A Python number (a size such as X.shape[0], a constant) as a scalar of the
        arguments' dtype: torch's functions refuse a number, and NumPy's make it float64."""
        self.need(DTYPE)
        return Value(f"{self.dtype}.type({v.text})")

    def _print_Func(self, e: Func) -> Value:
        x = e.x
        if x.shape == SCALAR and e.name != "step" and \
                not any(isinstance(n, Var) for n in walk(x)):     # sqrt(d): of a number
            v = self.typed(self.print(x))
            if e.name == "relu":
                return self.positive_part(v)
            if e.name == "sigmoid":
                return self.sigmoid(v, negate=False)
            return self.spelled(e, v.text, ())
        if e.name == "relu":
            return self.positive_part(self.print(x))
        if e.name == "step":
            return self.step(x)
        if e.name == "log" and _reads(e) != e.children:
            if isinstance(x, Func):                           # log s(x) = -log(1 + e^-x)
                v = self.softplus(x.x, "-")
                return Value(f"-{v.text}", NEG, None, v.shape)
            if one_plus_exp(x) is not None:                   # log(1 + e^x)
                return self.softplus(one_plus_exp(x), "")
            v = self.softplus(x.terms[1].x.x, "")             # log(1 - s(x)) = -log(1 + e^x)
            return Value(f"-{v.text}", NEG, None, v.shape)
        return super()._print_Func(e)

    def step(self, x: Node) -> Value:
        """1[x > 0] in the arguments' dtype."""
        return super()._print_Func(Func("step", x))

    def _print_Add(self, e: Add) -> Value:
        if len(e.terms) <= CHUNK:
            return super()._print_Add(e)
        return self.balanced(e, [Add(tuple(e.terms[i:i + CHUNK])) if len(e.terms) - i > 1
                                 else e.terms[i] for i in range(0, len(e.terms), CHUNK)], "+")

    def balanced(self, e: Node, chunks: list[Node], op: str) -> Value:
        """A long chain of + or * as a balanced tree of parenthesised chunks: Python's parser
        and compiler recurse once per operator of an unparenthesised chain."""
        values = [self.print(c) for c in chunks]
        while len(values) > 1:
            pairs = []
            for i in range(0, len(values), 2):
                if i + 1 == len(values):
                    pairs.append(values[i])
                    continue
                a, b = values[i], values[i + 1]
                pairs.append(self.binary(a, op, b, broadcast_shapes([a.shape, b.shape])))
            values = pairs
        return values[0]

    def _print_Hadamard(self, e: Hadamard) -> Value:
        if len(e.factors) > CHUNK:
            return self.balanced(e, [Hadamard(tuple(e.factors[i:i + CHUNK]))
                                     if len(e.factors) - i > 1 else e.factors[i]
                                     for i in range(0, len(e.factors), CHUNK)], "*")
        masks = [f for f in e.factors if isinstance(f, Func) and f.name == "step"
                 and f not in self.bound]
        if not masks or len(masks) == len(e.factors) or not self.masks_in_products:
            return super()._print_Hadamard(e)
        values = [self.mask(f.x) if f in masks else self.print(f) for f in e.factors]
        values, shape = self.elementwise(e.shape, values)
        values.sort(key=lambda v: v.prec == CMP)            # the float factors first
        out = values[0]
        for v in values[1:]:
            out = self.binary(out, "*", v, shape)
        return Value(out.text, out.prec, out.family, shape)

    def _print_Power(self, e: Power) -> Value:
        x = e.x
        if isinstance(x, Norm2) and e.p == Const(2) and x.x.shape != SCALAR:
            v = self.whole(x.x)                                # ||x||^2 without the root
            if v.prec == ATOM:
                if len(v.shape) == 1:
                    return Value(f"{v.text} @ {v.text}", MUL, "@", ())
                return self.vdot(v, v)
        return super()._print_Power(e)

    def vdot(self, a: Value, b: Value) -> Value:
        """sum(a .* b) of two arrays of one shape, without forming the product."""
        return self.call("np.vdot", f"{a.text}, {b.text}", ())

    def _print_Sum(self, e: Sum) -> Value:
        x = e.x
        if isinstance(x, Hadamard) and len(x.factors) == 2 and x not in self.bound and \
                not isinstance(x.factors[0], Func) and not isinstance(x.factors[1], Func):
            a, b = (self.print(f) for f in x.factors)
            full = numpy_shape(x.shape) if not self.keep_2d else None
            if full is not None and len(a.shape) == 2 and a.shape == b.shape == full:
                return self.vdot(a, b)                             # no n x m product
        return super()._print_Sum(e)


    # -- statements of their own: softmax, logsumexp, in-place functions ----------------------
    def softmax_lines(self, buf: str, z: Value, axis: int | None) -> list[str]:
        """buf = the softmax of z's columns (axis 0), rows (axis 1) or entries (None),
        as exp(z - max z) / sum: never exp of a large number."""
        zt = self.operand(z, "-", "left")
        total = _reduce(buf, "sum", axis, True)
        return [f"{buf} = {self.function('np.exp')}({zt} - {_reduce(z.text, 'max', axis, True)})",
                f"{buf} /= {total}" if self.inplace else f"{buf} = {buf} / {total}"]

    def logsumexp_lines(self, buf: str, m: str, z: Value, axis: int | None
                        ) -> tuple[list[str], bool]:
        """(lines computing buf = log sum exp of z's columns, rows or entries as m + log sum
        exp(z - m), m = max z; whether they use the name m)."""
        zt = self.operand(z, "-", "left")
        col = f"{m}[:, None]" if axis == 1 else m
        sums = _reduce(f"{self.function('np.exp')}({zt} - {col})", "sum", axis, False)
        return [f"{m} = {_reduce(z.text, 'max', axis, False)}",
                f"{buf} = {m} + {self.function('np.log')}({sums})"], True

    def in_place(self, f: str, buf: str) -> list[str]:
        """The elementwise function f applied to the array buf in place."""
        if f == "relu":
            return [f"np.maximum({buf}, 0, out={buf})"]
        if f == "step":
            return [f"np.greater({buf}, 0, out={buf})"]
        if f == "sigmoid":                  # 0.5 (1 + tanh(x / 2)): no overflow
            return [f"{buf} *= 0.5", f"np.tanh({buf}, out={buf})", f"{buf} += 1", f"{buf} *= 0.5"]
        return [f"{ops.ELEMENTWISE[f].numpy}({buf}, out={buf})"]

    # -- the dtype (and device) of the arrays a function makes ------------------------------
    def dtype_lines(self, needs: frozenset, args: list[str]) -> list[str]:
        """`dtype = X.dtype` (and torch's device) if the code `needs` them (DTYPE, DEVICE)."""
        used = [(what, local) for what, local in ((DTYPE, self.dtype), (DEVICE, self.device))
                if what in needs and what in self.default]
        if not used:
            return []
        values = [self.default[what] if not args else self.dtype_of(what, args)
                  for what, _ in used]
        return [f"{', '.join(local for _, local in used)} = {', '.join(values)}"]

    def dtype_of(self, what: str, args: list[str]) -> str:
        """The dtype (or device) the arguments `args` share."""
        return f"{args[0]}.{what}"


class TorchCode(NumpyCode):
    """torch code: every array made on the arguments' device, sums over `dim`, torch's own
    relu, sigmoid, softplus, softmax and logsumexp; no update in place (autograd keeps
    the forward's tensors for the backward)."""

    target, alias = "torch", "torch"
    modules = ("torch",)
    inplace = False
    masks_in_products = False
    default: ClassVar[dict[str, str]] = {DTYPE: "torch.get_default_dtype()", DEVICE: "None"}

    def created(self) -> str:
        self.need(DTYPE, DEVICE)
        return f"dtype={self.dtype}, device={self.device}"

    def own(self, function: str, args: str, shape: tuple) -> Value:
        """A call of torch's own `function` (a spelling of the registry's, or torch's)."""
        return Value(f"{function}({args})", ATOM, None, shape)

    def outer(self, u: Value, w: Value, shape: tuple, scalars: Product) -> Value:
        u, w = self.flat(u), self.flat(w)          # torch.outer takes 1-D vectors only
        return super().outer(u, w, shape, scalars)

    def axis_sum(self, v: Value, axis: int) -> Value:
        if v.transpose_of is not None:
            v, axis = v.transpose_of, 1 - axis
        return self.post(v, f".sum(dim={axis})", (v.shape[1 - axis],))

    def positive_part(self, v: Value) -> Value:
        return self.own(ops.ELEMENTWISE["relu"].torch, v.text, v.shape)

    def sigmoid(self, v: Value, negate: bool) -> Value:
        arg = self.negated_text(v) if negate else v.text
        return self.own(ops.ELEMENTWISE["sigmoid"].torch, arg, v.shape)

    def softplus(self, x: Node, sign: str) -> Value:
        v = self.print(x)
        arg = f"-{self.operand(v, 'neg')}" if sign else v.text
        return self.own("torch.nn.functional.softplus", arg, v.shape)

    def typed(self, v: Value) -> Value:
        self.need(DTYPE, DEVICE)
        return Value(f"torch.tensor({v.text}, dtype={self.dtype}, device={self.device})")

    def step(self, x: Node) -> Value:
        self.need(DTYPE)
        return self.own(f"({self.mask(x).text}).to", self.dtype, self.print(x).shape)

    def vdot(self, a: Value, b: Value) -> Value:        # torch.vdot takes 1-D vectors only
        return self.call("np.sum", self.binary(a, "*", b, a.shape).text, ())

    def softmax_lines(self, buf: str, z: Value, axis: int | None) -> list[str]:
        softmax = ops.BY_NODE[Softmax].torch
        return [f"{buf} = {softmax}({z.text}, dim={axis or 0})"]

    def logsumexp_lines(self, buf: str, m: str, z: Value, axis: int | None
                        ) -> tuple[list[str], bool]:
        logsumexp = ops.BY_NODE[LogSumExp].torch
        return [f"{buf} = {logsumexp}({z.text}, dim={axis or 0})"], False


class JaxCode(NumpyCode):
    """JAX code: jax.numpy under the name jnp; no update in place (JAX arrays are
    immutable)."""

    target, alias = "jax", "jnp"
    modules = ("jax", "jnp")
    inplace = False
    default: ClassVar[dict[str, str]] = {DTYPE: "jnp.result_type(float)"}

    def typed(self, v: Value) -> Value:
        self.need(DTYPE)
        return Value(f"jnp.asarray({v.text}, dtype={self.dtype})")

    def dtype_of(self, what: str, args: list[str]) -> str:
        return f"jnp.result_type({', '.join(args)})"



def _reduce(v: str, op: str, axis: int | None, keep: bool) -> str:
    """v.max(axis=0, keepdims=True) and the like (every axis when `axis` is None)."""
    args = [f"axis={axis}", "keepdims=True" if keep else ""] if axis is not None else []
    return f"{v}.{op}({', '.join(a for a in args if a)})"


def _reads(n: Node) -> tuple[Node, ...]:
    """The operands of n as its code reads them: the stable forms of log read the argument
    of the sigmoid or exp inside (log(1 + exp(x)) is np.logaddexp(0, x)), and the NumPy
    printer writes 1 - sigmoid(u) as sigmoid(-u), from u."""
    if isinstance(n, Add):
        u = one_minus_sigmoid(n)
        return n.children if u is None else (u,)
    if isinstance(n, Func) and n.name == "log":
        x = n.x
        if isinstance(x, Func) and x.name == "sigmoid":
            return (x.x,)
        u = one_plus_exp(x)
        if u is None:
            u = one_minus_sigmoid(x)
        if u is not None:
            return (u,)
    return n.children
