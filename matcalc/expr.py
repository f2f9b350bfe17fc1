"""The IR: an immutable, hash-consed DAG of 2-D matrix expressions.

Every node is interned: constructing a node equal to an existing one returns that very
object, so equality is identity, sharing is free and common-subexpression elimination in
codegen is a dictionary lookup. A node knows its operands and its shape, nothing else.
Shapes are `(rows, cols)` of dimensions (a symbol `str` or an `int`): a scalar is
`(1, 1)`, a column vector `(n, 1)`, a row vector `(1, n)`. How a vector looks to the
user (row, column, 1-D NumPy array) is the printers' business. A tensor of order 3 to
MAX_ORDER has the tuple of its dimensions as its shape (`(L, n, m)`); orders 0 to 2 keep
the 2-D shapes, so every matrix node is untouched, and `Contract` (einsum) is the one
node that reads and makes any order.

Each node class states its shape rule in `_check`; the constructor runs it, so no
ill-shaped node exists (an ill-shaped construction is a bug: `shapes.py` reports user
errors before building anything).

Python operators on nodes mean what they mean in NumPy, so rules read like NumPy code:
`a @ b` matrix product, `a * b` elementwise (a scalar node or a number scales),
`a / b` elementwise quotient, `a ** k` elementwise power, `a.T` transpose.

Shapes, and the axes an index names of them, are `matcalc.axes`; walks and substitution
over the DAG are `matcalc.dag`.
"""
from __future__ import annotations

import math
import weakref

from .axes import EINSUM_LETTERS, SCALAR, Dim, Shape, axes, shape_of_axes
from .dag import gc_paused as gc_paused  # re-exported: callers use expr.gc_paused,
from .dag import substitute as substitute  # expr.substitute
from .dag import substitute_all as substitute_all  # expr.substitute_all
from .dag import walk
from .dag import walk_all as walk_all  # expr.walk_all

MAX_ORDER = 6


class IllShaped(Exception):
    """An internal error: a node was built with operands whose shapes do not fit."""


_TABLE: dict[tuple, "Node"] = {}
_MEMOS: list[dict] = []         # caches keyed by nodes, kept in step with the table
FORGET_FLOOR = 200_000          # nodes in the table before `forget_unused` first looks
_FORGET_AT = [FORGET_FLOOR]     # table size at which it next looks


def node_memo() -> dict:
    """A module's cache keyed by nodes (or by tuples that start with one), its values
    nodes or plain data, that `forget_unused` empties of the nodes nothing else holds, as
    it does the table. Every cache of nodes that lives as long as the process is one."""
    memo: dict = {}
    _MEMOS.append(memo)
    return memo


def _weak_entries(memo: dict) -> list[tuple]:
    """A cache's entries as (its key's node, the rest of a tuple key or None, its value,
    whether the value is a node), every node held by a weak reference."""
    ref, out = weakref.ref, []
    for k, v in memo.items():
        is_node = isinstance(v, Node)
        value = ref(v) if is_node else v
        out.append((ref(k), None, value, is_node) if isinstance(k, Node) else
                   (ref(k[0]), k[1:], value, is_node))
    return out


@gc_paused                      # the weak references are tracked objects: 12x faster so
def forget_unused(headroom: int = 0) -> None:
    """Let the nodes that only the hash-consing table and the node caches hold go.

    Each node is built once (`_TABLE`), so the table and the caches would grow with every
    derivation of a long-lived process (a web worker, a notebook, the test suite) until it
    ran out of memory. Here their strong references become weak ones for a moment: what
    is still alive after is put back, under the same key, so a live node stays the one
    node of its kind (identity is equality) and a dead one is never compared with
    anything. Called before a derivation (and by a web worker between requests, with
    `headroom`: it forgets early rather than during the next request); it looks only once
    the table has doubled since it last did (less `headroom` nodes), so its cost is a
    constant per node built."""
    if len(_TABLE) + headroom < _FORGET_AT[0]:
        return
    # (a derivation let go is a reference cycle, its printers hold it: its nodes go at a
    # forget after Python's cycle collector has run, which it does as memory grows; a
    # full collection here would cost seconds in a process holding millions of objects)
    nodes = list(map(weakref.ref, _TABLE.values()))
    entries = [_weak_entries(memo) for memo in _MEMOS]
    _TABLE.clear()
    for memo in _MEMOS:
        memo.clear()                 # the nodes held only here die now, parents before
    for r in nodes:                  # their children, as their references go
        node = r()
        if node is not None:
            _TABLE[(type(node), node.args)] = node
    for memo, kept in zip(_MEMOS, entries):
        for key_ref, rest, value, is_node in kept:
            key = key_ref()
            if is_node:
                value = value()
                if value is None:
                    continue
            if key is not None:
                memo[key if rest is None else (key, *rest)] = value
    _FORGET_AT[0] = max(FORGET_FLOOR, 2 * len(_TABLE))

def forget_while_idle() -> None:
    """`forget_unused` at a moment no input is being measured or waited for (a web worker
    after its reply): early, half a floor before the mark, so that the next derivation
    rarely pays for it."""
    forget_unused(headroom=FORGET_FLOOR // 2)


# Work allowed to one derivation, in operand slots of newly built nodes and of sums and
# products built again (flattening and hashing their operands costs as much as building
# them): a program whose derivative would be quadratically large (a product of 10,000
# factors of one matrix, or x .* x .* ... with 4,096 factors, which a_k = a_{k-1} .*
# a_{k-1} .* a_{k-1} .* a_{k-1} flattens into) is refused in a fraction of a second
# instead of running for minutes. Configurable.
WORK_LIMIT = 1_000_000
_work = [0]


def reset_work() -> None:
    _work[0] = 0


def charge(operands: int) -> None:
    """Count work that builds no node against WORK_LIMIT: the terms of an index form, which
    a shared DAG multiplies out (a_k = exp(a_{k-1}) + a_{k-1} has 2^k), and passes that
    count a DAG's paths again for every name chosen."""
    _work[0] += operands
    if _work[0] > WORK_LIMIT:
        _over_budget()


def _over_budget() -> None:
    from .errors import LimitError
    _work[0] = 0
    raise LimitError(f"this derivation is too large: it would handle more than {WORK_LIMIT:,} "
                     f"expression operands (matcalc.expr.WORK_LIMIT); split the program "
                     f"or differentiate with respect to fewer variables")


class Node:
    """Base of all IR nodes. Subclasses set `fields` (names of the constructor args)."""

    __slots__ = ("args", "shape", "children", "_key", "__weakref__")
    args: tuple
    shape: Shape
    children: tuple[Node, ...]
    fields: tuple[str, ...] = ()
    children_fields: tuple[str, ...] = ()   # which fields hold child nodes (or tuples of them)
    nary = False                  # one field, a tuple of children (sums, product chains)
    # how the constructor finds the children in the arguments (set per class below):
    # 0 none, 1 the arguments are the children, 2 the first argument is, 3 some of them are
    _kids_from = 0
    _kid_index: tuple[int, ...] = ()
    _slotted: tuple[tuple[str, int], ...] = ()

    def __new__(cls, *args):
        if cls._normalize is not None:
            args = cls._normalize(*args)
        key = (cls, args)
        node = _TABLE.get(key)
        if node is not None:
            if cls.nary:
                _work[0] += len(args[0])
                if _work[0] > WORK_LIMIT:
                    _over_budget()
            return node
        if len(args) != len(cls.fields):
            raise TypeError(f"{cls.__name__} takes {cls.fields}, got {len(args)} arguments")
        node = object.__new__(cls)
        node.args = args
        for f, i in cls._slotted:
            setattr(node, f, args[i])
        node._key = None
        how = cls._kids_from
        kids = () if how == 0 else args if how == 1 else args[0] if how == 2 else \
            tuple(args[i] for i in cls._kid_index)
        node.children = kids
        _work[0] += len(kids)
        if _work[0] > WORK_LIMIT:
            _over_budget()
        node.shape = node._check()
        _TABLE[key] = node
        return node

    # -- construction -----------------------------------------------------------------
    _normalize = None      # or a classmethod returning the canonical argument tuple

    def _check(self) -> Shape:
        raise NotImplementedError

    def __reduce__(self):
        return (type(self), self.args)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        slotted = []
        for i, f in enumerate(cls.fields):
            if type(getattr(cls, f, None)).__name__ == "member_descriptor":
                slotted.append((f, i))    # `__slots__ = fields`: node.x is a slot, read fast
            else:                         # otherwise node.x is node.args[i]
                setattr(cls, f, property(lambda self, i=i: self.args[i]))
        cls._slotted = tuple(slotted)
        kids = cls.children_fields
        cls._kid_index = tuple(cls.fields.index(f) for f in kids)
        cls._kids_from = 0 if not kids else 2 if cls.nary else \
            1 if kids == cls.fields else 3

    # -- structure --------------------------------------------------------------------
    def rebuild(self, children: tuple["Node", ...] | list["Node"]) -> "Node":
        """The same kind of node over new children (in `children` order)."""
        how = self._kids_from
        if how == 1:
            return type(self)(*children)
        if how == 2:
            return type(self)(tuple(children))
        args = list(self.args)
        for i, c in zip(self._kid_index, children):
            args[i] = c
        return type(self)(*args)

    @property
    def is_scalar(self) -> bool:
        return self.shape == SCALAR

    @property
    def sort_key(self) -> str:
        """A stable structural key (for ordering commutative operands deterministically),
        computed children first without recursion, for the nodes that have none yet."""
        if self._key is None:
            stack = [self]
            while stack:
                n = stack[-1]
                if n._key is not None:
                    stack.pop()
                    continue
                missing = [c for c in n.children if c._key is None]
                if missing:
                    stack.extend(reversed(missing))
                else:
                    n._key = n._own_key()
                    stack.pop()
        return self._key

    def _own_key(self) -> str:
        parts = []
        for a in self.args:
            if isinstance(a, Node):
                parts.append(a._key)
            elif isinstance(a, tuple):
                parts.append("(" + ",".join(x._key if isinstance(x, Node) else repr(x)
                                            for x in a) + ")")
            else:
                parts.append(repr(a))
        key = f"{type(self).__name__}[{';'.join(parts)}]"
        if len(key) > 120:        # a DAG's tree can be exponential: keep keys short
            import hashlib
            key = key[:60] + "#" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
        return key

    def __repr__(self) -> str:
        return self.sort_key

    # -- NumPy-like sugar -------------------------------------------------------------
    def __matmul__(self, other: "Node") -> "Node":
        return MatMul((self, as_node(other)))

    def __add__(self, other) -> "Node":
        return add(self, as_node(other))

    def __radd__(self, other) -> "Node":
        return add(as_node(other), self)

    def __sub__(self, other) -> "Node":
        return add(self, -as_node(other))

    def __rsub__(self, other) -> "Node":
        return add(as_node(other), -self)

    def __neg__(self) -> "Node":
        return Scale(Const(-1), self)

    def __mul__(self, other) -> "Node":
        return mul(self, as_node(other))

    def __rmul__(self, other) -> "Node":
        return mul(as_node(other), self)

    def __truediv__(self, other) -> "Node":
        return div(self, as_node(other))

    def __rtruediv__(self, other) -> "Node":
        return div(as_node(other), self)

    def __pow__(self, k) -> "Node":
        return Power(self, as_node(k))

    @property
    def T(self) -> "Node":
        return Transpose(self)


def _same(a: Dim, b: Dim) -> bool:
    return a == b


def _require(cond: bool, node: Node, why: str) -> None:
    if not cond:
        raise IllShaped(f"{type(node).__name__}: {why}; operands "
                        + ", ".join(f"{c.shape}" for c in node.children))


# ---- leaves ---------------------------------------------------------------------------

class Var(Node):
    """A user variable (or the upstream gradient) with its shape."""
    __slots__ = fields = ("name", "vshape")
    name: str
    vshape: Shape

    def _check(self):
        return self.args[1]


class Const(Node):
    """A numeric scalar constant."""
    __slots__ = fields = ("value",)

    @classmethod
    def _normalize(cls, value):
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int) and abs(value) >= 2 ** 53:
            try:                              # beyond exact floats: a float, or refused
                value = float(value)
            except OverflowError:
                value = math.inf
        if isinstance(value, float) and not math.isfinite(value):
            from .errors import LimitError
            raise LimitError("a constant of this program is out of the range of double "
                             "precision (about 1.8e308)")
        if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
            value = int(value)
        if isinstance(value, float) and value == 0.0:
            value = 0
        return (value,)

    def _check(self):
        return SCALAR


class DimValue(Node):
    """A dimension symbol used as a scalar value (`sum(L)/N` with X = N x D)."""
    __slots__ = fields = ("dim",)

    def _check(self):
        return SCALAR


class Zero(Node):
    """The zero matrix of a shape."""
    __slots__ = fields = ("zshape",)

    def _check(self):
        return self.args[0]


class Ones(Node):
    """The all-ones matrix of a shape (`vector(1)`, `matrix(1)`, a column of ones)."""
    __slots__ = fields = ("oshape",)

    def _check(self):
        return self.args[0]


class Identity(Node):
    """The n x n identity matrix."""
    __slots__ = fields = ("n",)

    def _check(self):
        n = self.args[0]
        return (n, n)


# ---- linear structure -----------------------------------------------------------------

class Add(Node):
    """Sum of two or more same-shaped terms (broadcasts are explicit `Broadcast` nodes)."""
    __slots__ = fields = ("terms",)
    children_fields = ("terms",)
    nary = True

    @classmethod
    def _normalize(cls, terms):
        for t in terms:
            if isinstance(t, Add):
                break
        else:                                   # flat already (the common case)
            return (tuple(terms),)
        flat: list[Node] = []
        for t in terms:
            if isinstance(t, Add):
                flat.extend(t.terms)
            else:
                flat.append(t)
        return (tuple(flat),)

    def _check(self):
        terms = self.args[0]
        _require(len(terms) >= 2, self, "a sum needs two terms")
        s = terms[0].shape
        for t in terms:
            if t.shape != s:
                _require(False, self, "terms must have one shape")
        return s


class Scale(Node):
    """A scalar (1x1 node) times a matrix: `s * X`."""
    __slots__ = fields = ("s", "x")
    children_fields = ("s", "x")

    def _check(self):
        _require(self.args[0].shape == SCALAR, self, "the scale must be a scalar")
        return self.args[1].shape


class MatMul(Node):
    """A matrix product chain A1 A2 ... An (flattened, n >= 2)."""
    __slots__ = fields = ("factors",)
    children_fields = ("factors",)
    nary = True

    @classmethod
    def _normalize(cls, factors):
        for f in factors:
            if isinstance(f, MatMul):
                break
        else:                                   # flat already (the common case)
            return (tuple(factors),)
        flat: list[Node] = []
        for f in factors:
            if isinstance(f, MatMul):
                flat.extend(f.factors)
            else:
                flat.append(f)
        return (tuple(flat),)

    def _check(self):
        fs = self.args[0]
        _require(len(fs) >= 2, self, "a product needs two factors")
        inner = fs[0].shape[1]
        for f in fs[1:]:
            rows, cols = f.shape
            if not _same(inner, rows):
                _require(False, self, "inner dimensions differ")
            inner = cols
        return (fs[0].shape[0], inner)


class Transpose(Node):
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        return (c, r)


class Broadcast(Node):
    """x repeated to `bshape`: a (1,1) scalar everywhere, a (1,n) row down, an (m,1) column across."""
    __slots__ = fields = ("x", "bshape")
    children_fields = ("x",)

    def _check(self):
        if len(self.args[1]) != 2:                 # a scalar spread over a tensor
            _require(self.args[0].shape == SCALAR, self, "only a scalar broadcasts to a tensor")
            return self.args[1]
        (r, c), (R, C) = self.args[0].shape, self.args[1]
        _require((r == 1 or r == R) and (c == 1 or c == C) and (r, c) != (R, C),
                 self, f"cannot broadcast to {(R, C)}")
        return (R, C)


# ---- elementwise ----------------------------------------------------------------------

class Hadamard(Node):
    """Elementwise product of two or more same-shaped factors."""
    __slots__ = fields = ("factors",)
    children_fields = ("factors",)
    nary = True

    @classmethod
    def _normalize(cls, factors):
        for f in factors:
            if isinstance(f, Hadamard):
                break
        else:                                   # flat already (the common case)
            return (tuple(factors),)
        flat: list[Node] = []
        for f in factors:
            if isinstance(f, Hadamard):
                flat.extend(f.factors)
            else:
                flat.append(f)
        return (tuple(flat),)

    def _check(self):
        fs = self.args[0]
        _require(len(fs) >= 2, self, "a product needs two factors")
        s = fs[0].shape
        _require(all(f.shape == s for f in fs), self, "factors must have one shape")
        return s


class Divide(Node):
    """Elementwise quotient a ./ b of same-shaped operands."""
    __slots__ = fields = ("a", "b")
    children_fields = ("a", "b")

    def _check(self):
        _require(self.args[0].shape == self.args[1].shape, self, "shapes differ")
        return self.args[0].shape


class Power(Node):
    """Elementwise power x .^ p: p a scalar node (a Const in almost every case), or an
    array of x's own shape, entry by entry (x.^y, as MATLAB reads it)."""
    __slots__ = fields = ("x", "p")
    children_fields = ("x", "p")

    def _check(self):
        x, p = self.args
        _require(p.shape == SCALAR or p.shape == x.shape, self,
                 "the exponent must be a scalar or of the base's shape")
        return x.shape


class Func(Node):
    """An elementwise function, by its name in the registry (matcalc.ops.ELEMENTWISE,
    which the language checks names against). `step` is the indicator (x > 0), relu's
    derivative."""
    __slots__ = fields = ("name", "x")
    children_fields = ("x",)

    def _check(self):
        _require(isinstance(self.args[0], str), self, "a function's name is a string")
        return self.args[1].shape


# ---- reductions and matrix functions ---------------------------------------------------

class Sum(Node):
    """Sum of all entries."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        return SCALAR


class Trace(Node):
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        _require(r == c, self, "trace needs a square matrix")
        return SCALAR


class Norm1(Node):
    """Sum of absolute values of the entries."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        return SCALAR


class Norm2(Node):
    """Euclidean norm of a vector, Frobenius norm of a matrix."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        return SCALAR


class _SquareToScalar(Node):
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        _require(r == c, self, "needs a square matrix")
        return SCALAR


class Det(_SquareToScalar):
    __slots__ = ()


class LogDet(_SquareToScalar):
    """log det X (of a matrix with positive determinant)."""
    __slots__ = ()


class Inv(Node):
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        _require(r == c, self, "inverse needs a square matrix")
        return (r, c)


class DiagMat(Node):
    """diag(v): the n x n diagonal matrix of a column vector v."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        _require(c == 1, self, "diag of a vector needs a column vector")
        return (r, r)


class DiagVec(Node):
    """diag(X): the column vector of the diagonal of a square matrix X."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        _require(r == c, self, "diag of a matrix needs a square matrix")
        return (r, 1)


class _Triangle(Node):
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        r, c = self.args[0].shape
        _require(r == c, self, "a triangle of a matrix needs a square matrix")
        return (r, c)


class Tril(_Triangle):
    """tril(X): the lower triangle of a square X, the diagonal included (np.tril)."""
    __slots__ = ()


class Triu(_Triangle):
    """triu(X): the upper triangle of a square X, the diagonal included (np.triu)."""
    __slots__ = ()


class Softmax(Node):
    """softmax of a column vector; of a matrix, of each column."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        return self.args[0].shape


class LogSumExp(Node):
    """log sum exp of a column vector (a scalar); of an n x N matrix, per column (1 x N)."""
    __slots__ = fields = ("x",)
    children_fields = ("x",)

    def _check(self):
        return (1, self.args[0].shape[1])


# ---- contraction (einsum) ----------------------------------------------------------------


class Contract(Node):
    """einsum: the operands' entries multiplied, indices absent from the output summed.
    `spec` is "ab,bc->ac" (one letter per axis of each operand, `axes`); the letters are
    renamed in order of first appearance so that equal contractions are one node. Matrix
    products, traces, diag and Hadamard products keep their own 2-D nodes (the simplifier
    and printers know them); a Contract whose structure is one of them is rewritten to it
    (`simplify`), so a Contract that survives is a genuine tensor expression."""
    __slots__ = fields = ("operands", "spec")
    children_fields = ("operands",)
    nary = True

    @classmethod
    def _normalize(cls, operands, spec):
        ins, out = spec.split("->")
        names: dict[str, str] = {}
        for ch in ins.replace(",", "") + out:
            if ch not in names:
                names[ch] = EINSUM_LETTERS[len(names)]
        canon = "".join(names.get(ch, ch) for ch in spec)
        return (tuple(operands), canon)

    def rebuild(self, children) -> "Node":
        return Contract(tuple(children), self.args[1])

    @property
    def ins(self) -> list[str]:
        return self.args[1].split("->")[0].split(",")

    @property
    def out(self) -> str:
        return self.args[1].split("->")[1]

    def sizes(self) -> dict[str, Dim]:
        """letter -> its dimension."""
        sizes: dict[str, Dim] = {}
        for sub, x in zip(self.ins, self.args[0]):
            for ch, d in zip(sub, axes(x.shape)):
                sizes.setdefault(ch, d)
        return sizes

    def _check(self):
        ops_, spec = self.args
        ins = spec.split("->")[0].split(",")
        out = spec.split("->")[1]
        _require(len(ins) == len(ops_) and len(ops_) >= 1, self, "one subscript per operand")
        sizes: dict[str, Dim] = {}
        for sub, x in zip(ins, ops_):
            ax = axes(x.shape)
            _require(len(sub) == len(ax), self, f"subscript {sub!r} for axes {ax}")
            for ch, d in zip(sub, ax):
                _require(sizes.setdefault(ch, d) == d, self, f"index {ch} has two sizes")
        _require(len(set(out)) == len(out) and set(out) <= set(sizes), self,
                 f"bad output subscript {out!r}")
        return shape_of_axes(sizes[ch] for ch in out)


def contract(operands, spec: str) -> Node:
    """einsum(spec, *operands) as a node; a lone operand with nothing to do is itself."""
    ins, out = spec.split("->")
    if len(operands) == 1 and ins == out:
        return operands[0]
    return Contract(tuple(operands), spec)


def contract_adjoint(y: Contract, k: int, g: Node) -> Node:
    """The adjoint of operand k of y = einsum(spec, ...) when y's adjoint is g: g and the
    other operands contracted to operand k's indices (d/dA_ab of sum A_ab B_bc G_ac is
    sum_c G_ac B_bc). A letter repeated in operand k (a diagonal, A_aa) gets a delta, a
    letter found nowhere else (summed away in y alone) a vector of ones: both the
    transposes of what the forward contraction did."""
    ins, out = y.ins, y.out
    target = ins[k]
    sizes = y.sizes()
    others = [x for j, x in enumerate(y.operands) if j != k] + [g]
    subs = [s for j, s in enumerate(ins) if j != k] + [out]
    free = iter(ch for ch in EINSUM_LETTERS if ch not in sizes)
    letters, seen = [], set()
    for ch in target:
        if ch in seen:                                  # A_aa: dA_ab = (...)_a delta_ab
            new = next(free)
            others.append(Identity(sizes[ch]))
            subs.append(ch + new)
            ch = new
        seen.add(ch)
        letters.append(ch)
    present = set("".join(subs))
    for ch in letters:
        if ch not in present:                           # summed in y alone: broadcast
            others.append(Ones(shape_of_axes((sizes[ch],))))
            subs.append(ch)
    adj = contract(others, ",".join(subs) + "->" + "".join(letters))
    want = y.operands[k].shape
    if adj.shape != want:                               # a row vector operand
        adj = Transpose(adj)
    return adj


NODE_KINDS: tuple[type[Node], ...] = (
    Var, Const, DimValue, Zero, Ones, Identity, Add, Scale, MatMul, Transpose, Broadcast,
    Hadamard, Divide, Power, Func, Sum, Trace, Norm1, Norm2, Det, LogDet, Inv, DiagMat,
    DiagVec, Tril, Triu, Softmax, LogSumExp, Contract,
)
LEAVES = (Var, Const, DimValue, Zero, Ones, Identity)


# ---- smart constructors used by rules (no simplification beyond shape plumbing) ---------

def as_node(x) -> Node:
    if isinstance(x, Node):
        return x
    if isinstance(x, (int, float)):
        return Const(x)
    raise TypeError(f"not an expression: {x!r}")


def add(a: Node, b: Node) -> Node:
    """a + b, broadcasting a scalar against a matrix."""
    a, b = _broadcast_pair(a, b)
    return Add((a, b))


def mul(a: Node, b: Node) -> Node:
    """Elementwise a .* b; a scalar operand scales."""
    if a.is_scalar and not b.is_scalar:
        return Scale(a, b)
    if b.is_scalar and not a.is_scalar:
        return Scale(b, a)
    if a.is_scalar and b.is_scalar:
        return Scale(a, b)
    return Hadamard((a, b))


def div(a: Node, b: Node) -> Node:
    """Elementwise a ./ b; a scalar denominator divides, a scalar numerator broadcasts."""
    if b.is_scalar:
        return Scale(Power(b, Const(-1)), a)
    a, b = _broadcast_pair(a, b)
    return Divide(a, b)


def _broadcast_pair(a: Node, b: Node) -> tuple[Node, Node]:
    if a.shape == b.shape:
        return a, b
    if a.is_scalar:
        return Broadcast(a, b.shape), b
    if b.is_scalar:
        return a, Broadcast(b, a.shape)
    raise IllShaped(f"cannot combine shapes {a.shape} and {b.shape}")


def broadcast_to(x: Node, shape: Shape) -> Node:
    return x if x.shape == shape else Broadcast(x, shape)


def ones_like(x: Node) -> Node:
    return Ones(x.shape)


def zeros_like(x: Node) -> Node:
    return Zero(x.shape)


def eye_like(x: Node) -> Node:
    return Identity(x.shape[0])


def variables(root: Node) -> list[Var]:
    """The Var leaves of an expression, in first-visit order."""
    return [n for n in walk(root) if isinstance(n, Var)]
