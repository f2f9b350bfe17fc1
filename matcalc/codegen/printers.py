"""The code printers: the NumPy printer taught to read named temporaries.
"""
from __future__ import annotations

import re

from .. import ops
from ..expr import (
    SCALAR,
    Add,
    Const,
    Func,
    Hadamard,
    Node,
    Norm2,
    Power,
    Scale,
    Sum,
    Var,
    walk,
)
from ..printing.numpy import (
    NumpyPrinter,
    Value,
    _Item,
    _one_minus_sigmoid,
    broadcast_shapes,
    numpy_shape,
)
from ..printing.precedence import (
    ADD,
    ATOM,
    CMP,
    MUL,
    NEG,
    POSTFIX,
    POW,
    Product,
)
from ..simplify import one_plus_exp
from .passes import LEAVES, _is_one

CHUNK = 32                   # operands of one + or * chain: Python's compiler recurses on them


# the elementwise functions' NumPy calls (matcalc.ops), and the other calls printed here
FRESH_CALLS = tuple(f"{op.numpy}(" for op in ops.ELEMENTWISE.values() if op.numpy) + (
    "np.maximum(", "np.heaviside(", "np.outer(", "np.ones(", "np.zeros(", "np.eye(",
    "np.tile(", "np.linalg.inv(", "np.linalg.multi_dot(", "np.logaddexp(")


def _fresh(v: Value) -> bool:
    """Whether the code of v makes a new floating array (not a view, not an argument)."""
    if v.prec in (ADD, MUL, NEG, POW):
        return True
    if v.prec == ATOM and v.text.startswith(FRESH_CALLS):
        return True
    return v.prec == POSTFIX and bool(re.search(r"\.sum\(axis=\d\)$", v.text))


class CodePrinter(NumpyPrinter):
    """The NumPy printer over a DAG whose named nodes are already computed: `bind` a node
    to a Python name and every later expression reads the name. Also writes the forms
    generated code wants: multi_dot for chains, dtype-preserving constants, stable
    log-sigmoid and softplus, masks as comparisons in products."""

    def __init__(self, keep_2d, python_names, dim_sources, dialect: str = "numpy",
                 dtype: str = "dtype", device: str = "device", free: dict | None = None):
        super().__init__(keep_2d, python_names, dim_sources)
        self.dialect = dialect
        self.bound: dict[Node, Value] = {}
        self.dtype_used = False
        self.dtype, self.device = dtype, device       # the names of the locals
        self.free = free if free is not None else {}  # size -> its parameter's name
        self.free_used: dict = {}                     # the sizes this code asked for

    def dim(self, d) -> str:
        if isinstance(d, str) and d not in self.dim_sources and d in self.free:
            self.free_used[d] = self.free[d]          # a keyword argument of the function
            return self.free[d]
        return super().dim(d)

    def bind(self, node: Node, name: str, shape: tuple) -> Value:
        v = Value(name, ATOM, None, shape)
        self.bound[node] = v
        self._memo[node] = v
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
            v = self.full(self.bound[f], f.shape)
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
        return self.call(f"np.linalg.multi_dot([{text}])", shape)

    # -- constants in the arguments' dtype ------------------------------------------------
    def call(self, text: str, shape: tuple) -> Value:
        m = re.fullmatch(r"np\.(ones|zeros|eye)\((.*)\)", text)
        if m:
            self.dtype_used = True
            extra = f", device={self.device}" if self.dialect == "torch" else ""
            text = f"np.{m.group(1)}({m.group(2)}, dtype={self.dtype}{extra})"
        return super().call(text, shape)

    def post(self, v: Value, suffix: str, shape: tuple) -> Value:
        if suffix == ".item()":            # a NumPy scalar of the dtype, not a Python float
            suffix = "[0, 0]"
        return super().post(v, suffix, shape)

    def outer(self, u: Value, w: Value, shape: tuple, scalars: Product) -> Value:
        if self.dialect == "torch":          # np.outer flattens; torch.outer takes 1-D only
            u, w = self.flat(u), self.flat(w)
        return super().outer(u, w, shape, scalars)

    def axis_sum(self, v: Value, axis: int) -> Value:
        if self.dialect != "torch":
            return super().axis_sum(v, axis)
        if v.transpose_of is not None:
            v, axis = v.transpose_of, 1 - axis
        return self.post(v, f".sum(dim={axis})", (v.shape[1 - axis],))

    # -- stable and fast forms ------------------------------------------------------------
    def positive_part(self, v: Value) -> Value:
        if self.dialect == "torch":
            return self.call(f"{ops.ELEMENTWISE['relu'].torch}({v.text})", v.shape)
        return self.call(f"np.maximum({v.text}, 0)", v.shape)

    def sigmoid(self, v: Value, negate: bool) -> Value:
        if self.dialect != "torch":
            return super().sigmoid(v, negate)
        arg = self.negated_text(v) if negate else v.text
        return self.call(f"{ops.ELEMENTWISE['sigmoid'].torch}({arg})", v.shape)

    def mask(self, x: Node) -> Value:
        """1[x > 0] as a boolean array (for products, where it keeps the other's dtype)."""
        v = self.print(x)
        return Value(f"{self.operand(v, '>', 'left')} > 0", CMP, ">", v.shape)

    def softplus(self, x: Node, sign: str) -> Value:
        """log(1 + exp(x)) (sign "") or log(1 + exp(-x)) (sign "-"), never overflowing."""
        v = self.print(x)
        arg = f"-{self.operand(v, 'neg')}" if sign else v.text
        if self.dialect == "torch":
            return self.call(f"torch.nn.functional.softplus({arg})", v.shape)
        return self.call(f"np.logaddexp(0, {arg})", v.shape)

    def typed(self, v: Value) -> Value:
        """A Python number (a size such as X.shape[0], a constant) as a scalar of the
        arguments' dtype: torch's functions refuse a number, and NumPy's make it float64."""
        self.dtype_used = True
        if self.dialect == "torch":
            return Value(f"torch.tensor({v.text}, dtype={self.dtype}, device={self.device})")
        if self.dialect == "jax":
            return Value(f"jnp.asarray({v.text}, dtype={self.dtype})")
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
        if e.name == "step" and self.dialect == "torch":
            return self.call(f"({self.mask(x).text}).to({self.dtype})", self.print(x).shape)
        if e.name == "log" and _reads(e) != e.children:
            if isinstance(x, Func):                           # log s(x) = -log(1 + e^-x)
                v = self.softplus(x.x, "-")
                return Value(f"-{v.text}", NEG, None, v.shape)
            if one_plus_exp(x) is not None:                   # log(1 + e^x)
                return self.softplus(one_plus_exp(x), "")
            v = self.softplus(x.terms[1].x.x, "")             # log(1 - s(x)) = -log(1 + e^x)
            return Value(f"-{v.text}", NEG, None, v.shape)
        return super()._print_Func(e)

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
        if not masks or len(masks) == len(e.factors) or self.dialect == "torch":
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
                if self.dialect == "torch":
                    return self.call(f"torch.sum({v.text} * {v.text})", ())
                return self.call(f"np.vdot({v.text}, {v.text})", ())
        return super()._print_Power(e)

    def _print_Sum(self, e: Sum) -> Value:
        x = e.x
        if isinstance(x, Hadamard) and len(x.factors) == 2 and x not in self.bound and \
                self.dialect != "torch" and not isinstance(x.factors[0], Func) and \
                not isinstance(x.factors[1], Func):
            a, b = (self.print(f) for f in x.factors)
            full = numpy_shape(x.shape) if not self.keep_2d else None
            if full is not None and len(a.shape) == 2 and a.shape == b.shape == full:
                return self.call(f"np.vdot({a.text}, {b.text})", ())     # no n x m product
        return super()._print_Sum(e)



def _reads(n: Node) -> tuple[Node, ...]:
    """The operands of n as its code reads them: the stable forms of log read the argument
    of the sigmoid or exp inside (log(1 + exp(x)) is np.logaddexp(0, x)), and the NumPy
    printer writes 1 - sigmoid(u) as sigmoid(-u), from u."""
    if isinstance(n, Add):
        u = _one_minus_sigmoid(n)
        return n.children if u is None else (u,)
    if isinstance(n, Func) and n.name == "log":
        x = n.x
        if isinstance(x, Func) and x.name == "sigmoid":
            return (x.x,)
        u = one_plus_exp(x)
        if u is not None:
            return (u,)
        if isinstance(x, Add) and len(x.terms) == 2 and _is_one(x.terms[0]):
            t = x.terms[1]
            if isinstance(t, Scale) and t.s == Const(-1) and isinstance(t.x, Func) and \
                    t.x.name == "sigmoid":
                return (t.x.x,)
    return n.children
