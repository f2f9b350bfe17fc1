"""The NumPy printer: a formula as one Python expression over `np` and the variables.

The IR is all 2-D; NumPy users are not. In the values this code runs on, every vector
(row or column) is a 1-D array and a scalar is 0-d, except the variables in `keep_2d`
(declared with an explicit 1), which are 2-D of their IR shape. So the printer tracks,
for each node, the NumPy shape of the value its code computes (`Value.shape`, a tuple of
dimensions) and converts only where it must (`.ravel()`, `[:, None]`, `.item()`).

A value may also stand for a node in a cheaper form that NumPy broadcasts: a scalar for a
Broadcast of it (or `1.0` for Ones), a 1-D row for a row repeated down a matrix, an
(n, 1) column for a column repeated across. Such forms flow through elementwise code as
they are and are materialised (`np.ones`, `np.tile`) only where a full array is needed.

Products are written as NumPy users write them: `x @ A @ y`, `dY.T @ X`,
`np.outer(A @ x, B @ y)`, `G.sum(axis=0)` for 1'G, `a[:, None] * B` for diag(a) B, the
scalars of a chain multiplied in with `*`. Python's precedence comes from the same table
as the other printers' (precedence.py).
"""
from __future__ import annotations

import keyword
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .. import ops
from ..expr import (
    SCALAR,
    Add,
    Broadcast,
    Const,
    Det,
    DiagMat,
    Dim,
    Func,
    Identity,
    MatMul,
    Node,
    Ones,
    Scale,
    Shape,
    Softmax,
    Transpose,
    Var,
    variables,
)
from ..rewrites import one_minus_sigmoid, one_plus_exp
from .precedence import (
    ADD,
    ATOM,
    MUL,
    NEG,
    POSTFIX,
    Piece,
    Printer,
    PrintError,
    Product,
    format_number,
    needs_parens,
    product_of,
)

PY_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"np"}

def python_name(name: str) -> str:
    """A variable's name in Python: keywords and `np` get a trailing underscore."""
    return name + "_" if name in PY_RESERVED else name


@dataclass(frozen=True)
class Value(Piece):
    """Code for a node's value: `shape` is the NumPy shape of what it computes, `fill` the
    value of every entry when the code is a constant standing for a whole array,
    `transpose_of` the value this one is `.T` of (so that sums pick the other axis)."""

    shape: tuple = ()
    fill: int | None = None
    transpose_of: Value | None = None


def is_vector(shape: Shape) -> bool:
    return (shape[0] == 1) != (shape[1] == 1)


def vector_length(shape: Shape) -> Dim:
    return shape[0] if shape[1] == 1 else shape[1]


def numpy_shape(shape: Shape) -> tuple:
    """The NumPy shape of a node's value in the 1-D convention."""
    if shape == SCALAR:
        return ()
    if is_vector(shape):
        return (vector_length(shape),)
    return tuple(shape)


def broadcast_shapes(shapes: list[tuple]) -> tuple:
    """NumPy's broadcasting, on symbolic shapes."""
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        dims = [s[len(s) - nd + i] for s in shapes if len(s) - nd + i >= 0]
        big = [d for d in dims if d != 1]
        out.append(big[0] if big else 1)
    return tuple(out)


@dataclass
class _Item:
    """A factor of a product chain: "node" (a full value), "ones", "eye" or "diag" (the
    value is diag's vector). `shape` is the IR shape, after any transpose."""

    kind: str
    shape: Shape
    value: Value | None = None


class NumpyPrinter(Printer):
    language = "python"

    def __init__(self, keep_2d: frozenset[str] = frozenset(),
                 python_names: Mapping[str, str] | None = None,
                 dim_sources: Mapping[Dim, str] | None = None):
        super().__init__()
        self.keep_2d = frozenset(keep_2d)
        self.python_names = python_names or {}      # read only: shared, never copied (a
        self.dim_sources = dim_sources or {}        # derivation prints one formula per variable)

    # -- building code --------------------------------------------------------------------
    def pyname(self, name: str) -> str:
        return self.python_names.get(name) or python_name(name)

    def dim(self, d: Dim) -> str:
        if isinstance(d, int):
            return str(d)
        source = self.dim_sources.get(d)
        if source is None:
            raise PrintError(f"the NumPy code needs the size {d}, which no variable gives; "
                             f"pass dim_sources={{{d!r}: ...}}")
        return source

    def size(self, shape: tuple) -> str:
        if len(shape) == 1:
            return self.dim(shape[0])
        return "(" + ", ".join(self.dim(d) for d in shape) + ")"

    def function(self, spelling: str) -> str:
        """The NumPy function `spelling` (`np.exp`, `np.linalg.inv`) as this printer's code
        names it: itself. The one place a library function is named, so that printers of
        code for another library (matcalc.codegen.printers) name their own."""
        return spelling

    def call(self, spelling: str, args: str, shape: tuple) -> Value:
        """The NumPy function `spelling` called on `args`, a value of NumPy `shape`."""
        return Value(f"{self.function(spelling)}({args})", ATOM, None, shape)

    def post(self, v: Value, suffix: str, shape: tuple) -> Value:
        """v.T, v[:, None], v.sum(axis=0), ..."""
        return Value(self.operand(v, ".") + suffix, POSTFIX, ".", shape)

    def binary(self, a: Value, op: str, b: Value, shape: tuple) -> Value:
        text = f"{self.operand(a, op, 'left')} {op} {self.operand(b, op, 'right')}"
        return Value(text, self.ops[op].level, op, shape)

    def number(self, v) -> Value:
        return Value(format_number(v), NEG if v < 0 else ATOM, None, (),
                     v if v in (0, 1) else None)

    # -- forms of a value -----------------------------------------------------------------
    def ravel(self, v: Value) -> Value:
        """A 2-D vector (n, 1), (1, n) or (1, 1) as 1-D."""
        r, c = v.shape
        return self.post(v, ".ravel()", (r if c == 1 else c,))

    def flat(self, v: Value) -> Value:
        """A vector's value as 1-D (x.ravel() rather than x.T.ravel())."""
        if len(v.shape) != 2:
            return v
        return self.ravel(v.transpose_of if v.transpose_of is not None else v)

    def filled(self, v: Value, shape: tuple) -> Value:
        """The constant value v as a full array of the NumPy `shape`."""
        if v.fill == 1:
            return self.call("np.ones", self.size(shape), shape)
        if v.fill == 0:
            return self.call("np.zeros", self.size(shape), shape)
        ones = self.call("np.ones", self.size(shape), shape)
        return self.binary(v, "*", ones, shape)

    def full(self, v: Value, shape: Shape, two_d: bool = False) -> Value:
        """v as a full array for a node of IR `shape`: materialises broadcast forms; with
        `two_d`, vectors and scalars become 2-D of the IR shape."""
        rows, cols = shape
        if shape == SCALAR:
            return self.call("np.reshape", f"{v.text}, (1, 1)", (1, 1)) if two_d else v
        if is_vector(shape):
            if v.shape == ():
                return self.filled(v, tuple(shape) if two_d else (vector_length(shape),))
            if two_d and len(v.shape) == 1:
                return self.post(v, "[:, None]" if cols == 1 else "[None, :]", tuple(shape))
            return v
        if v.shape == tuple(shape):
            return v
        if v.shape == ():
            return self.filled(v, tuple(shape))
        if v.shape in ((cols,), (1, cols)):                  # a row repeated down
            return self.call("np.tile", f"{v.text}, ({self.dim(rows)}, 1)", tuple(shape))
        if v.shape == (rows, 1):                             # a column repeated across
            return self.call("np.tile", f"{v.text}, (1, {self.dim(cols)})", tuple(shape))
        raise AssertionError(f"{v} does not stand for a {shape} matrix")

    def transpose(self, v: Value, shape: Shape) -> Value:
        """The transpose of v, a value for a node of IR `shape`."""
        if v.shape == ():
            return v
        if len(v.shape) == 1:
            if is_vector(shape):
                return v                                 # 1-D vectors have no orientation
            return self.post(v, "[:, None]", (v.shape[0], 1))   # a repeated row's transpose
        t = self.post(v, ".T", (v.shape[1], v.shape[0]))
        return Value(t.text, t.prec, t.family, t.shape, transpose_of=v)

    def axis_sum(self, v: Value, axis: int) -> Value:
        """The sums of a 2-D value along an axis (1-D): G.sum(axis=0), and G.sum(axis=1)
        rather than G.T.sum(axis=0)."""
        if v.transpose_of is not None:
            v, axis = v.transpose_of, 1 - axis
        return self.post(v, f".sum(axis={axis})", (v.shape[1 - axis],))

    def elementwise(self, shape: Shape, values: list[Value]) -> tuple[list[Value], tuple]:
        """Operands that NumPy broadcasts right, and the result's shape. A 2-D vector met
        with a 1-D one is raveled ((n,) against (n, 1) would make an n x n matrix)."""
        if is_vector(shape) and any(len(v.shape) == 1 for v in values):
            values = [self.flat(v) for v in values]
        return values, broadcast_shapes([v.shape for v in values])

    def finish(self, v: Value, shape: Shape, result_2d: bool) -> Value:
        """The value as the caller gets it: 0-d, 1-D vector, 2-D matrix (or all 2-D)."""
        v = self.full(v, shape, two_d=result_2d)
        if not result_2d and is_vector(shape) and len(v.shape) == 2:
            v = self.ravel(v)
        return v

    # -- leaves ---------------------------------------------------------------------------
    def _print_Var(self, e: Var) -> Value:
        name = self.pyname(e.name)
        if e.name in self.keep_2d:
            if e.shape == SCALAR:
                return self.post(Value(name), ".item()", ())
            return Value(name, ATOM, None, tuple(e.shape))
        return Value(name, ATOM, None, numpy_shape(e.shape))

    def _print_Const(self, e: Const) -> Value:
        return self.number(e.value)

    def _print_DimValue(self, e) -> Value:
        return Value(self.dim(e.dim), POSTFIX, ".", ())

    def _print_Zero(self, e) -> Value:
        return Value("0.0", ATOM, None, (), 0)

    def _print_Ones(self, e) -> Value:
        return Value("1.0", ATOM, None, (), 1)

    def _print_Identity(self, e: Identity) -> Value:
        if e.n == 1:
            return Value("1.0", ATOM, None, (), 1)
        return self.call("np.eye", self.dim(e.n), (e.n, e.n))

    # -- sums and scaling -----------------------------------------------------------------
    def negated(self, t: Node) -> Value | None:
        if isinstance(t, Const) and t.value < 0:
            return self.number(-t.value)
        if isinstance(t, Scale):
            p = product_of(t)
            if p.negative:
                p.negative = False
                return self.product(p)
        return None

    def _print_Add(self, e: Add) -> Value:
        u = one_minus_sigmoid(e)
        if u is not None:                             # 1 - sigmoid(u) = sigmoid(-u), exactly
            return self.sigmoid(self.print(u), negate=True)
        signs, values = [], []
        for i, t in enumerate(e.terms):
            neg = self.negated(t) if i else None
            signs.append(" - " if neg is not None else " + ")
            values.append(neg if neg is not None else self.print(t))
        values, shape = self.elementwise(e.shape, values)
        text = self.operand(values[0], "+", "left")
        for sign, v in zip(signs[1:], values[1:]):
            text += sign + self.operand(v, sign.strip(), "right")
        return Value(text, ADD, "+", shape)

    def _print_Scale(self, e: Scale) -> Value:
        return self.product(product_of(e))

    def scalar(self, n) -> Value:
        if isinstance(n, Value):
            return n
        return self.number(n) if isinstance(n, (int, float)) else self.print(n)

    def product(self, p: Product, core: Value | None = None) -> Value:
        """`-2 * alpha * x / N`: the scalars, then the core, then the divisions."""
        items = [(self.scalar(n), False) for n in p.nums]
        if p.core is not None:
            core = self.print(p.core)
        shape = core.shape if core is not None else ()
        if core is not None and not (core.fill == 1 and (items or p.dens or p.negative)):
            items.append((core, True))                 # (2 * np.ones(n) is just 2, broadcast)
        if not items:
            items = [(self.number(1) if core is None else core, core is not None)]
        if len(items) == 1 and not p.dens and not p.negative:
            v = items[0][0]
            return Value(v.text, v.prec, v.family, shape, v.fill)
        texts = []
        for i, (v, is_core) in enumerate(items):
            if i == 0 and p.negative:
                texts.append("-" + self.operand(v, "neg", assoc_ok=is_core))
            elif i == 0:
                texts.append(self.operand(v, "/" if p.dens and len(items) == 1 else "*", "left"))
            else:
                texts.append(self.operand(v, "*", "right"))
        text = " * ".join(texts)
        for d, k in p.dens:
            den = self.print(d)
            if k != 1:
                den = self.binary(den, "**", self.number(k), ())
            text += " / " + self.operand(den, "/", "right")
        if len(items) > 1 or p.dens:
            return Value(text, MUL, "/" if p.dens else "*", shape)
        v, is_core = items[0]
        if v.prec == MUL and not needs_parens(v, self.ops["neg"], assoc_ok=is_core):
            return Value(text, MUL, v.family, shape)          # -a * b
        return Value(text, NEG, None, shape)

    # -- matrix products ------------------------------------------------------------------
    def _print_MatMul(self, e: MatMul) -> Value:
        items: list[_Item] = []
        scalars = Product()
        for f in e.factors:
            self.chain(f, False, items, scalars)
        # an inner dimension 1 splits the chain: an outer product or a product of scalars
        segments: list[list[_Item]] = []
        for it in items:
            if segments and segments[-1][-1].shape[1] != 1:
                segments[-1].append(it)
            else:
                segments.append([it])
        parts = []
        for seg in segments:
            shape = (seg[0].shape[0], seg[-1].shape[1])
            v = self.segment(seg)
            if shape == SCALAR:
                if v.fill != 1:
                    scalars.nums.append(v)
            else:
                parts.append((v, shape))
        if len(parts) == 2:
            (u, (r, _)), (w, (_, c)) = parts
            core = self.outer(u, w, (r, c), scalars)
        else:
            core = parts[0][0] if parts else None
        return self.product(scalars, core)

    def chain(self, f: Node, transposed: bool, items: list[_Item], scalars: Product) -> None:
        """Append the factors of f (transposed if asked) to a product chain; its scalars go
        to `scalars`. Broadcasts unfold into products with ones: a row r repeated down is
        1 r, a column c repeated across is c 1'."""
        if isinstance(f, Transpose):
            return self.chain(f.x, not transposed, items, scalars)
        if isinstance(f, MatMul) and (not transposed or any(
                isinstance(g, (Ones, Identity, DiagMat, Broadcast, Scale)) for g in f.factors)):
            # a product under a scaling; under a transpose only when the factors need it,
            # (B*y)' stays B @ y on 1-D vectors
            for g in reversed(f.factors) if transposed else f.factors:
                self.chain(g, transposed, items, scalars)
            return
        if f.shape == SCALAR:
            scalars.add_scalar(f)
            return
        if isinstance(f, Scale):
            p = product_of(f)
            scalars.negative ^= p.negative
            scalars.nums += p.nums
            scalars.dens += p.dens
            return self.chain(p.core, transposed, items, scalars)
        shape = (f.shape[1], f.shape[0]) if transposed else tuple(f.shape)
        if isinstance(f, Ones):
            rows, cols = shape
            if rows != 1 and cols != 1:                  # 1_{R x C} = 1_R 1_C': sums, not np.ones
                items += [_Item("ones", (rows, 1)), _Item("ones", (1, cols))]
            else:
                items.append(_Item("ones", shape))
        elif isinstance(f, Identity):
            items.append(_Item("eye", shape))
        elif isinstance(f, DiagMat):                         # diag(a)' = diag(a)
            items.append(_Item("diag", shape, self.full(self.print(f.x), f.x.shape)))
        elif isinstance(f, Broadcast):
            x, (rows, cols) = f.x, f.bshape
            if x.shape == SCALAR:
                scalars.add_scalar(x)
                seq = [("ones", (rows, 1))] * (rows != 1) + [("ones", (1, cols))] * (cols != 1)
            elif x.shape[0] == 1:
                seq = [("ones", (rows, 1)), ("node", x)]
            else:
                seq = [("node", x), ("ones", (1, cols))]
            if transposed:
                seq = [(k, (s[1], s[0]) if k == "ones" else s) for k, s in reversed(seq)]
            for kind, s in seq:
                if kind == "ones":
                    items.append(_Item("ones", s))
                else:
                    self.chain(s, transposed, items, scalars)
        else:
            v = self.full(self.print(f), f.shape)
            items.append(_Item("node", shape, self.transpose(v, f.shape) if transposed else v))

    def segment(self, seg: list[_Item]) -> Value:
        """The product of a chain whose inner dimensions are all other than 1."""
        live = [it for it in seg if it.kind != "eye"]
        if not live:
            n = seg[0].shape[0]
            return self.call("np.eye", self.dim(n), (n, n))
        ends = (live[0], live[-1])
        if len(live) > 1 and all(it.kind == "node" for it in ends) and \
                seg[0].shape[0] == 1 and seg[-1].shape[1] == 1 and \
                len(ends[0].value.shape) != len(ends[1].value.shape):
            for it in ends:                  # x' A y with x kept 2-D and y 1-D: 0-d, not (1,)
                it.value = self.flat(it.value)
        kind, shape, acc = live[0].kind, live[0].shape, live[0].value
        i = 1
        while i < len(live):
            j = i
            if kind == "node" and len(acc.shape) == 2 and acc.shape == tuple(shape):
                while j < len(live) and live[j].kind == "node" and \
                        len(live[j].value.shape) == 2 and live[j].shape[1] != 1:
                    j += 1
            if j - i >= 2:                # matrices: A @ B @ C written at once, not
                acc = self.matmuls(acc, [it.value for it in live[i:j]])  # pairwise again
                shape = (shape[0], live[j - 1].shape[1])
                i = j
                continue
            kind, acc = self.times(kind, shape, acc, live[i])
            shape = (shape[0], live[i].shape[1])
            i += 1
        if kind == "ones":
            return Value("1.0", ATOM, None, (), 1)
        if kind == "diag":
            n = shape[0]
            return self.call("np.diag", self.flat(acc).text, (n, n))
        return acc

    def matmuls(self, left: Value, rights: list[Value]) -> Value:
        """left @ r1 @ r2 @ ... of 2-D values: what `times` gives one factor at a time,
        in one join (a chain of n factors would copy its text n times)."""
        texts = [self.operand(left, "@", "left")]
        texts += [self.operand(r, "@", "right") for r in rights]
        return Value(" @ ".join(texts), self.ops["@"].level, "@",
                     (left.shape[0], rights[-1].shape[1]))

    def times(self, kind: str, shape: Shape, acc: Value | None, it: _Item):
        """(kind, value) of acc (of IR `shape`, a "node", "ones" or "diag") times `it`."""
        rows, n = shape
        cols = it.shape[1]
        if kind == "ones":                                    # 1 B: column sums
            if it.kind == "ones":
                return "node", Value(self.dim(n), POSTFIX, ".", ())   # 1 1' = n everywhere
            if it.kind == "diag":
                a = it.value
                return "node", a if len(a.shape) == 1 else self.post(a, ".T", (1, n))
            b = it.value
            if cols != 1:
                return "node", self.axis_sum(b, 0)
            return "node", self.call("np.sum", b.text, ())
        if kind == "diag":                                    # diag(a) B scales B's rows
            a = acc
            if it.kind == "diag":
                (a, b), s = self.elementwise((n, 1), [a, it.value])
                return "diag", self.binary(a, "*", b, s)
            if it.kind == "ones":
                if cols == 1 or len(a.shape) == 2:
                    return "node", a
                return "node", self.post(a, "[:, None]", (n, 1))
            b = it.value
            if len(b.shape) == 1:
                return "node", self.binary(self.flat(a), "*", b, b.shape)
            if len(a.shape) == 1:
                a = self.post(a, "[:, None]", (n, 1))
            return "node", self.binary(a, "*", b, b.shape)
        left = self.full(acc, shape)
        if it.kind == "ones":                                 # G 1: row sums
            if rows == 1:
                return "node", self.call("np.sum", left.text, ())
            sums = self.axis_sum(left, 1)
            return "node", sums if cols == 1 else self.post(sums, "[:, None]", (rows, 1))
        if it.kind == "diag":                                 # B diag(a) scales B's columns
            return "node", self.binary(left, "*", self.flat(it.value), left.shape)
        b = it.value
        if rows == 1 and cols == 1:                           # a scalar: 0-d
            if len(left.shape) != len(b.shape):
                left, b = self.flat(left), self.flat(b)
            if len(left.shape) == 2:
                return "node", self.post(self.binary(left, "@", b, (1, 1)), ".item()", ())
            return "node", self.binary(left, "@", b, ())
        result = (left.shape[:-1] if len(left.shape) == 2 else ()) + \
            (b.shape[1:] if len(b.shape) == 2 else ())
        return "node", self.binary(left, "@", b, result)

    def outer(self, u: Value, w: Value, shape: Shape, scalars: Product) -> Value:
        """u w' for a column u and a row w, in the cheapest form NumPy broadcasts right."""
        for v in (u, w):
            if v.shape == () and v.fill != 1:
                scalars.nums.append(v)
        if u.shape == () and w.shape == ():
            return Value("1.0", ATOM, None, (), 1)
        if u.shape == ():
            return w                                      # a row repeated down
        if w.shape == ():
            return u if len(u.shape) == 2 else self.post(u, "[:, None]", (u.shape[0], 1))
        u, w = (v.transpose_of if v.transpose_of is not None else v for v in (u, w))
        return self.call("np.outer", f"{u.text}, {w.text}", tuple(shape))   # flattens both

    def _print_Broadcast(self, e: Broadcast) -> Value:
        v = self.print(e.x)
        if e.x.shape == SCALAR or e.x.shape[0] == 1 or len(v.shape) != 1:
            return v                   # a scalar, a row (NumPy repeats rows), an (n, 1) column
        return self.post(v, "[:, None]", (v.shape[0], 1))

    # -- elementwise ----------------------------------------------------------------------
    def _elementwise_chain(self, e: Node, nodes, op: str) -> Value:
        values, shape = self.elementwise(e.shape, [self.print(f) for f in nodes])
        out = values[0]
        for v in values[1:]:
            out = self.binary(out, op, v, shape)
        return Value(out.text, out.prec, out.family, shape)

    def _print_Hadamard(self, e) -> Value:
        return self._elementwise_chain(e, e.factors, "*")

    def _print_Divide(self, e) -> Value:
        return self._elementwise_chain(e, (e.a, e.b), "/")

    def _print_Power(self, e) -> Value:
        base, p = self.print(e.x), self.print(e.p)
        if isinstance(e.p, Const) and e.p.value == -1:
            return self.binary(self.number(1), "/", base, base.shape)
        return self.binary(base, "**", p, base.shape)

    def _print_Transpose(self, e: Transpose) -> Value:
        return self.transpose(self.print(e.x), e.x.shape)

    def _print_Func(self, e) -> Value:
        if e.name == "log":
            stable = self.stable_log(e.x)
            if stable is not None:
                return stable
        v = self.print(e.x)
        if e.name == "relu":
            return self.call("np.maximum", f"{v.text}, 0", v.shape)
        if e.name == "step":                          # 1 where x > 0, keeping x's dtype
            return self.call("np.heaviside", f"{v.text}, 0.0", v.shape)
        if e.name == "sigmoid":
            neg = self.negated(e.x)                   # sigmoid(-z): no double minus
            return self.sigmoid(neg, negate=True) if neg is not None else \
                self.sigmoid(v, negate=False)
        return self.spelled(e, v.text, v.shape)

    def spelled(self, e: Node, text: str, shape: tuple) -> Value:
        """e's NumPy spelling (matcalc.ops) called on `text`: np.exp(x), np.trace(X)."""
        spelling = ops.of(e).numpy
        if spelling is None:
            raise NotImplementedError(f"NumpyPrinter cannot print {e!r}")
        return self.call(spelling, text, shape)

    def sigmoid(self, v: Value, negate: bool) -> Value:
        """sigmoid(x) = exp(-log(1 + exp(-x))): no overflow, and full relative precision in
        both tails (1 - sigmoid(x) is printed as sigmoid(-x), never as a difference)."""
        arg = v.text if negate else self.negated_text(v)
        return self.call("np.exp", f"-{self.function('np.logaddexp')}(0, {arg})", v.shape)

    def negated_text(self, v: Value) -> str:
        return f"-{v.text}" if v.prec >= POSTFIX else f"-({v.text})"   # -x, -(a + b)

    def stable_log(self, x: Node) -> Value | None:
        """log of softmax, of sigmoid and of 1 - sigmoid, without forming the probability
        (which under- or overflows at magnitude 1e3); log of a determinant without forming
        it (det(10*eye(400)) is 1e400)."""
        if isinstance(x, Det) and x.x.shape != SCALAR:
            # log det X = log|det X| + log(sign): slogdet's value where det X > 0, and nan
            # (det < 0) or -inf (det = 0) as np.log(np.linalg.det(X)) would give
            log, slogdet = self.function("np.log"), self.function("np.linalg.slogdet")
            return Value(f"(lambda sign, logabsdet: logabsdet + {log}(sign))"
                         f"(*{slogdet}({self.whole(x.x).text}))", POSTFIX, ".", ())
        if isinstance(x, Softmax) and x.x.shape[0] != 1 and x.shape != SCALAR:
            fn = self.function

            def body(z, axis):                   # log softmax = z - max - log sum exp(z - max)
                m = f"{fn('np.max')}({z}{axis})"
                sums = f"{fn('np.sum')}({fn('np.exp')}({z} - {m}){axis})"
                return f"{z} - {m} - {fn('np.log')}({sums})"
            return self.columnwise(x.x, body, ADD, "-", self.whole(x.x).shape)
        if isinstance(x, Func) and x.name == "sigmoid":       # log sigmoid(u) = -softplus(-u)
            neg = self.negated(x.x)
            arg = neg.text if neg is not None else self.negated_text(self.print(x.x))
            shape = self.print(x.x).shape
            return Value(f"-{self.function('np.logaddexp')}(0, {arg})", MUL, "-", shape)
        u = one_minus_sigmoid(x)
        if u is not None:                                     # log(1 - sigmoid(u)) = -softplus(u)
            v = self.print(u)
            return Value(f"-{self.function('np.logaddexp')}(0, {v.text})", MUL, "-", v.shape)
        u = one_plus_exp(x)
        if u is not None:                                     # log(1 + exp(u)) = softplus(u)
            v = self.print(u)
            return self.call("np.logaddexp", f"0, {v.text}", v.shape)
        return None

    # -- reductions and matrix functions ----------------------------------------------------
    def whole(self, x: Node) -> Value:
        return self.full(self.print(x), x.shape)

    def _print_Sum(self, e) -> Value:
        return self.spelled(e, self.whole(e.x).text, ())

    def _print_Norm1(self, e) -> Value:
        return self.call("np.sum", self.call("np.abs", self.whole(e.x).text, ()).text, ())

    def _print_Norm2(self, e) -> Value:
        return self.spelled(e, self.whole(e.x).text, ())          # Frobenius

    def _print_Trace(self, e) -> Value:
        if e.x.shape == SCALAR:
            return self.print(e.x)
        return self.spelled(e, self.whole(e.x).text, ())

    def _print_Det(self, e) -> Value:
        if e.x.shape == SCALAR:
            return self.print(e.x)
        return self.spelled(e, self.whole(e.x).text, ())

    def _print_LogDet(self, e) -> Value:
        if e.x.shape == SCALAR:
            return self.call("np.log", self.print(e.x).text, ())
        return self.post(self.spelled(e, self.whole(e.x).text, ()), "[1]", ())  # log|det X|

    def _print_Inv(self, e) -> Value:
        if e.x.shape == SCALAR:
            return self.binary(self.number(1), "/", self.print(e.x), ())
        n = e.shape[0]
        return self.spelled(e, self.whole(e.x).text, (n, n))

    def _print_DiagMat(self, e) -> Value:
        if e.x.shape == SCALAR:
            return self.print(e.x)
        n = e.shape[0]
        return self.spelled(e, self.flat(self.whole(e.x)).text, (n, n))

    def _print_Tril(self, e) -> Value:
        return self.spelled(e, self.whole(e.x).text, (e.shape[0], e.shape[0]))

    _print_Triu = _print_Tril

    def _print_DiagVec(self, e) -> Value:
        if e.x.shape == SCALAR:
            return self.print(e.x)
        return self.spelled(e, self.whole(e.x).text, (e.shape[0],))

    def columnwise(self, x: Node, body: Callable[[str, str], str], prec: int, family,
                   shape: tuple) -> Value:
        """body(z, axis) over x's value, column by column for a matrix (axis=0); x is named
        once through a lambda unless it is a variable."""
        v = self.whole(x)
        axis = ", axis=0" if len(v.shape) == 2 and not is_vector(x.shape) else ""
        if isinstance(x, Var):
            return Value(body(v.text, axis), prec, family, shape)
        return Value(f"(lambda z: {body('z', axis)})({v.text})", POSTFIX, ".", shape)

    def _print_Softmax(self, e) -> Value:
        x = e.x
        if x.shape == SCALAR:
            return Value("1.0", ATOM, None, (), 1)
        if x.shape[0] == 1:                       # each column is one entry: all ones
            return self.call("np.ones_like", self.whole(x).text, self.whole(x).shape)

        fn = self.function

        def body(z, axis):
            exp = f"{fn('np.exp')}({z} - {fn('np.max')}({z}{axis}))"     # stable: exp(z - max z)
            return f"{exp} / {fn('np.sum')}({exp}{axis})"
        return self.columnwise(x, body, MUL, "/", self.whole(x).shape)

    def _print_LogSumExp(self, e) -> Value:
        x = e.x
        if x.shape[0] == 1:                       # each column is one entry: itself
            return self.print(x)

        fn = self.function

        def body(z, axis):
            m = f"{fn('np.max')}({z}{axis})"                     # stable: m + log sum exp(z - m)
            return f"{m} + {fn('np.log')}({fn('np.sum')}({fn('np.exp')}({z} - {m}){axis}))"
        return self.columnwise(x, body, ADD, "+", numpy_shape(e.shape))


def dims_of_variables(node: Node, keep_2d: frozenset[str],
                      python_names: Mapping[str, str]) -> dict[Dim, str]:
    """A size expression for each symbolic dimension of the variables in `node`."""
    sources: dict[Dim, str] = {}
    for v in variables(node):
        name = python_names.get(v.name) or python_name(v.name)
        rows, cols = v.shape
        if v.name in keep_2d or not is_vector(v.shape):
            axes = ((rows, 0), (cols, 1))
        else:
            axes = ((vector_length(v.shape), 0),)
        for d, axis in axes:
            if isinstance(d, str) and d not in sources:
                sources[d] = f"{name}.shape[{axis}]"
    return sources


def to_numpy(node: Node, keep_2d: frozenset[str] = frozenset(),
             python_names: Mapping[str, str] | None = None, *, result_2d: bool = False,
             dim_sources: Mapping[Dim, str] | None = None) -> str:
    """One Python expression computing `node` with NumPy (see the module docstring)."""
    keep_2d = frozenset(keep_2d)
    python_names = python_names or {}
    sources = dims_of_variables(node, keep_2d, python_names)
    if dim_sources:                  # the caller's sources first, without copying them
        sources = ChainMap(dim_sources, sources)
    printer = NumpyPrinter(keep_2d, python_names, sources)
    value = printer.doprint(node)
    return printer.finish(value, node.shape, result_2d).text
