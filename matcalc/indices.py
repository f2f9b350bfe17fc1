"""Index notation (einsum semantics), typed and built into `Contract` nodes.

A statement `Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]` names its result and its free
indices; on the right, every index that is not on the left is summed, a term lacking a
left index is repeated along it, and an elementwise function applies entry by entry
(`H[i,j] = relu(X[i,k]*W[j,k] + c[j])`). Each additive term is contracted to the indices
it is wanted at: a whole term (or a function's argument) to the left side's, a factor
that is itself a sum or a function to the indices it shares with the rest of its product
or the left side (the indices it alone uses are summed inside it).

Inside a matrix expression an indexed product (`sum(tanh(T[i,j,k]*x[k]))`) follows
Einstein's convention: an index written once is free, one written twice is summed; the
free ones, in order of first appearance, are the value's axes (a scalar, vector or
matrix there). Each index is a dimension unified across its uses like any other, so an
index used with two sizes is a shape error at the second use.

Typing (`infer_*`) runs in shapes.py's first pass and keeps each expression's index
scope; building (`build_*`) runs in its second pass (build_ir.py), with every dimension
resolved.
"""
from __future__ import annotations

from . import expr as E
from . import ops
from . import syntax as S
from .dimensions import SCALAR_T, DimVar, TensorType, Type, _Mismatch, _unify, default_kind
from .errors import LimitError, ShapeError

_ADDITIVE = ("+", "-")
_PRODUCT = ("*", ".*")


class _Scope:
    """The indices of one statement or expression: name -> dimension, and where each was
    first used (for the message when a later use disagrees)."""

    def __init__(self):
        self.dims: dict = {}
        self.first: dict[str, S.Indexed] = {}
        self.order: list[str] = []             # first appearance

    def letters(self) -> dict[str, str]:
        """Each index name -> the einsum letter that stands for it."""
        if len(self.order) > len(E.EINSUM_LETTERS):
            raise LimitError(f"too many indices: {len(self.order)} (at most "
                             f"{len(E.EINSUM_LETTERS)} in one statement)")
        return {name: E.EINSUM_LETTERS[k] for k, name in enumerate(self.order)}


def axes_of(t: Type) -> list:
    """The dimensions the indices of a value of type `t` name (see expr.axes)."""
    if isinstance(t, TensorType):
        return list(t.dims)
    if t.is_scalar:
        return []
    if t.is_col:
        return [t.rows]
    if t.is_row:
        return [t.cols]
    return [t.rows, t.cols]


def type_of_axes(dims: list) -> Type:
    if not dims:
        return SCALAR_T()
    if len(dims) == 1:
        return Type(dims[0], 1)
    if len(dims) == 2:
        return Type(dims[0], dims[1])
    return TensorType(dims[0], dims[1], tuple(dims))


def _kids(n) -> tuple:
    kind = type(n)
    if kind is S.Binary:
        return (n.left, n.right)
    if kind is S.Neg:
        return (n.operand,)
    if kind is S.Call:
        return n.args
    return ()


def _walk(root) -> list:
    """Every AST node below root, parents first (iterative: chains may be long)."""
    out, stack = [], [root]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(_kids(n)))
    return out


def _indexed_in(root) -> list:
    """The indexed operands below root (X[i,k], (expr)[i,k]), in order."""
    return [n for n in _walk(root) if type(n) in (S.Indexed, S.IndexedGroup)]


# ---- typing ---------------------------------------------------------------------------

def _visit(inf, scope: _Scope, root) -> None:
    """Type every indexed variable below root and unify its indices' dimensions."""
    for n in _walk(root):
        kind = type(n)
        if kind is S.Indexed:
            _indexed(inf, scope, n)
        elif kind is S.IndexedGroup:
            _indices(inf, scope, n, inf.visit(n.operand), S.unparse(n.operand))
        elif kind is S.Name:
            _scalar_name(inf, n)
        elif kind is S.Call:
            _elementwise_call(inf, n)
        elif kind is S.Binary:
            if n.op in ("^", ".^") and _indexed_in(n.right):
                inf.fail(f"an exponent in index notation is a scalar; "
                         f"{inf.text(n.right)} has indices", n.right.span)
            if n.op not in _ADDITIVE + _PRODUCT + ("/", "./", "^", ".^"):
                inf.fail(f"'{n.op}' is not an operation of index notation", n.op_span,
                         "index notation has + - * / ^ and elementwise functions")
        elif kind is S.Transpose:
            inf.fail(f"no transpose in index notation: {inf.text(n)} is written with its "
                     f"indices swapped", n.span, "write X[j,i] for the transpose of X[i,j]")
        elif kind is S.Norm:
            inf.fail("no norms in index notation", n.span,
                     "compute the norm in a statement of its own")


def _indexed(inf, scope: _Scope, n: S.Indexed) -> None:
    name, count = n.name, len(n.indices)
    if count > E.MAX_ORDER:
        inf.fail(f"{name} has {count} indices; matcalc's tensors have at most "
                 f"{E.MAX_ORDER}", n.span)
    if name in inf.stmt_types:
        t = inf.stmt_types[name]
    elif name in inf.var_types:
        t = inf.var_types[name]
    elif name in inf.decls:
        t = inf.register(name, inf.decls[name].type(), n.name_span)
        inf.origins[name] = "declared"
    elif name in ops.LANGUAGE or name in inf.dim_symbols:
        inf.fail(f"{name} is not a variable: it cannot have indices", n.name_span)
    else:
        t = inf.register(name, type_of_axes([_fresh() for _ in range(count)]), n.name_span)
        inf.origins[name] = ("scalar" if count == 0 else "vector" if count == 1 else
                             "matrix" if count == 2 else f"order-{count} tensor") + \
            " by its indices"
    _indices(inf, scope, n, t, name)


def _indices(inf, scope: _Scope, n, t: Type, name: str) -> None:
    """Unify the indices of n, a value of type t written `name`, with its axes."""
    count = len(n.indices)
    axes = axes_of(t)
    if len(axes) != count:
        what = "a scalar" if not axes else "a vector" if len(axes) == 1 else \
            "a matrix" if len(axes) == 2 else f"an order-{len(axes)} tensor"
        letters = ",".join("ijklmn"[:len(axes)]) or ""
        inf.fail(f"{name} is {what} ({inf.show(t) if len(axes) <= 2 else _shown(inf, t)}) "
                 f"but has {count} ind{'ex' if count == 1 else 'ices'} here", n.span,
                 f"give it one index per axis: {name}[{letters}]" if axes else
                 f"a scalar takes no indices: write {name}")
    for idx, axis in zip(n.indices, axes):
        k = idx.name
        if k not in scope.dims:
            scope.dims[k] = axis
            scope.first[k] = n
            scope.order.append(k)
            continue
        try:
            _unify(scope.dims[k], axis)
        except _Mismatch:
            before = scope.first[k]
            inf.fail(f"index {k} has two sizes: {inf._dname(scope.dims[k])} in "
                     f"{S.unparse(before)} and {inf._dname(axis)} in {S.unparse(n)}",
                     idx.span, "an index names one axis length; use another letter for "
                     "the other axis")


def _fresh():
    return DimVar()


def _shown(inf, t: TensorType) -> str:
    return " x ".join(inf._dname(d) for d in t.dims)


def _scalar_name(inf, n: S.Name) -> None:
    t = inf._named_type(n)
    if not t.is_scalar:
        k = len(axes_of(t))
        inf.fail(f"{n.name} needs its indices here: in index notation a "
                 f"{'vector' if k == 1 else 'matrix' if k == 2 else 'tensor'} is written "
                 f"with one index per axis", n.span,
                 f"write {n.name}[{','.join('ijklmn'[:k])}]" + (
                     f", or declare --shape {n.name}=scalar" if
                     inf.origins.get(n.name, "").endswith("by its name") else ""))


def _elementwise_call(inf, n: S.Call) -> None:
    f = ops.CALLED.get(n.func)
    if f is None or len(n.args) != 1 or not _is_elementwise(f):
        inf.fail(f"{n.func}(...) is not an elementwise function: index notation takes "
                 f"elementwise functions only (exp, tanh, relu, ...)", n.name_span,
                 "compute it in a matrix statement of its own and index the result")


def _is_elementwise(f) -> bool:
    return f.name in ops.ELEMENTWISE or any(f is c for c in ops.elementwise.COMPOSITES)


def infer_statement(inf, st: S.Statement) -> Type:
    """The type of `Z[i,j] = ...`: one axis per left index, each the size its uses give."""
    scope = _Scope()
    _visit(inf, scope, st.expr)
    if len(st.indices) > E.MAX_ORDER:
        inf.fail(f"{st.name} has {len(st.indices)} indices; matcalc's tensors have at most "
                 f"{E.MAX_ORDER}", st.name_span)
    seen: set[str] = set()
    for idx in st.indices:
        if idx.name in seen:
            inf.fail(f"index {idx.name} appears twice on the left of {st.name}[...]", idx.span,
                     "each left index names one axis of the result; for a diagonal, "
                     "write d[i] = A[i,i]")
        seen.add(idx.name)
        if idx.name not in scope.dims:
            inf.fail(f"the free index {idx.name} of {st.name} is missing on the right",
                     idx.span, "every index on the left must index something on the "
                     "right; remove it, or add a term that has it")
    t = type_of_axes([scope.dims[i.name] for i in st.indices])
    if st.name in inf.decls:
        want = axes_of(inf.decls[st.name].type())
        got = axes_of(t)
        try:
            if len(want) != len(got):
                raise _Mismatch()
            for a, b in zip(got, want):
                _unify(a, b)
        except _Mismatch:
            inf.fail(f"{st.name} is declared with {len(want)} axes "
                     f"({', '.join(map(str, want))}) but its value is "
                     f"{' x '.join(inf._dname(d) for d in got) or 'a scalar'}", st.span)
    inf.index_scopes[id(st)] = scope
    return t


def infer_expression(inf, n) -> Type:
    """The type of an indexed product in a matrix expression: its axes are the indices
    written once, in order of first appearance (Einstein's convention)."""
    scope = _Scope()
    _visit(inf, scope, n)
    out = implicit_output(n)
    if len(out) > 2:
        free = ",".join(out)
        inf.fail(f"{inf.text(n)} has {len(out)} free indices ({free}): a tensor, which a "
                 f"matrix expression cannot use", n.span,
                 f"name it in an index statement of its own: T[{free}] = {inf.text(n)}")
    inf.index_scopes[id(n)] = (scope, out)
    return type_of_axes([scope.dims[k] for k in out])


def implicit_output(n) -> tuple[str, ...]:
    """The indices written exactly once below n, in order of first appearance."""
    count: dict[str, int] = {}
    for x in _indexed_in(n):
        for idx in x.indices:
            count[idx.name] = count.get(idx.name, 0) + 1
    return tuple(k for k, c in count.items() if c == 1)


def tensor_used_as_matrix(inf, n: S.Name, t: TensorType) -> None:
    letters = ",".join("ijklmn"[:len(t.dims)])
    inf.fail(f"{n.name} is an order-{len(t.dims)} tensor ({_shown(inf, t)}): "
             f"a matrix expression cannot use it", n.span,
             f"use it in index notation, as {n.name}[{letters}]")


# ---- building -------------------------------------------------------------------------

def build_statement(b, st: S.Statement, env: dict) -> E.Node:
    scope = b.inf.index_scopes[id(st)]
    return _Builder(b, scope, env).to(st.expr, tuple(i.name for i in st.indices))


def build_expression(b, n, env: dict) -> E.Node:
    scope, out = b.inf.index_scopes[id(n)]
    return _Builder(b, scope, env).to(n, out)


class _Builder:
    def __init__(self, b, scope: _Scope, env: dict):
        self.b = b
        self.scope = scope
        self.env = env
        self.letter = scope.letters()

    def dim(self, k: str):
        return self.b.dim(self.scope.dims[k])

    def to(self, n, out: tuple[str, ...]) -> E.Node:
        """The IR of n with one axis per index of `out`, in that order."""
        kind = type(n)
        if kind is S.Binary and n.op in _ADDITIVE:
            terms, signs = [], []
            while type(n) is S.Binary and n.op in _ADDITIVE:    # a left-nested chain
                terms.append(n.right)
                signs.append(-1 if n.op == "-" else 1)
                n = n.left
            terms.append(n)
            signs.append(1)
            parts = [self.to(t, out) for t in reversed(terms)]
            return E.Add(tuple(p if s > 0 else E.Scale(E.Const(-1), p)
                               for p, s in zip(parts, reversed(signs))))
        if kind is S.Binary and n.op in ("/", "./"):
            num = self.to(n.left, out)
            if not _indexed_in(n.right):
                return E.Scale(E.Power(self.to(n.right, ()), E.Const(-1)), num)
            return E.Divide(num, self.to(n.right, out))
        if kind is S.Binary and n.op in ("^", ".^"):
            return E.Power(self.to(n.left, out), self.to(n.right, ()))
        if kind is S.Call:
            f = ops.CALLED[n.func]
            return f.build(self.to(n.args[0], out))
        return self.product(n, out)

    def product(self, n, out: tuple[str, ...]) -> E.Node:
        """A product of factors contracted to `out`: einsum over the factors' indices."""
        atoms, coef = [], 1
        stack = [n]
        while stack:                                          # factors, left to right
            x = stack.pop()
            if type(x) is S.Binary and x.op in _PRODUCT:
                stack += [x.right, x.left]
            elif type(x) is S.Neg:
                coef = -coef
                stack.append(x.operand)
            elif type(x) is S.Number:
                coef = coef * x.value
            else:
                atoms.append(x)
        names = [self._names(a) for a in atoms]
        subs = []
        operands = []
        for k, (a, ns) in enumerate(zip(atoms, names)):
            if type(a) is S.Indexed:
                operands.append(self.env[a.name])
                subs.append(tuple(i.name for i in a.indices))
                continue
            if type(a) is S.IndexedGroup:
                operands.append(self.b.build(a.operand, self.env))
                subs.append(tuple(i.name for i in a.indices))
                continue
            elsewhere = set(out).union(*(names[j] for j in range(len(atoms)) if j != k))
            keep = tuple(i for i in dict.fromkeys(ns) if i in elsewhere)
            operands.append(self.leaf(a) if type(a) is S.Name else self.to(a, keep))
            subs.append(keep)
        have = tuple(k for k in out if any(k in s for s in subs))
        if len(out) > 2:                 # a left index no factor has: times ones (repeated)
            for k in out:
                if k not in have:
                    operands.append(E.Ones(E.shape_of_axes((self.dim(k),))))
                    subs.append((k,))
            have = out
        L = self.letter
        spec = ",".join("".join(L[i] for i in s) for s in subs) + "->" + \
            "".join(L[i] for i in have)
        node = E.contract(operands, spec) if operands else E.Const(1)
        if have != out:                  # a vector or scalar repeated, as + repeats it
            shape = E.shape_of_axes([self.dim(k) for k in out])
            node = E.Broadcast(node if not have or have[0] == out[0] else E.Transpose(node),
                               shape)
        return node if coef == 1 else E.Scale(E.Const(coef), node)

    def leaf(self, n: S.Name) -> E.Node:
        node = self.env.get(n.name)
        if node is not None:
            return node
        if n.name in self.b.inf.dim_symbols:
            return E.DimValue(n.name)
        raise ShapeError(f"{n.name} is not known here", n.span, self.b.inf.src)

    @staticmethod
    def _names(a) -> list[str]:
        return [i.name for x in _indexed_in(a) for i in x.indices]


# ---- subscripted names, read as the index statement they mean -----------------------------

def index_statement_for(inf, index: str) -> str | None:
    """`z_j = x'*A_j*y + b_j` as the index statement it means,
    `z[j] = x[k]*A[j,k,l]*y[l] + b[j]`: a name with the suffix _j is indexed by j (a
    capital one is a slice of a tensor, A_j -> A[j,...]; a small one an entry, b_j ->
    b[j]), and each product chain of vectors and matrices gets its summed indices. None
    where the program is not made of such chains."""
    taken = set(inf.all_names) | {index}
    pool = iter(ch for ch in "klmnpqrstuvw" if ch not in taken)
    out = []
    for st in inf.program.statements:
        terms = []
        node = st.expr
        while type(node) is S.Binary and node.op in _ADDITIVE:
            terms.append((node.op, node.right))
            node = node.left
        terms.append(("+", node))
        texts, free = [], None
        for op, term in reversed(terms):
            got = _chain_text(inf, term, index, pool)
            if got is None:
                return None
            text, axes = got
            if free is not None and axes != free:
                return None
            free = axes
            texts.append(text if not texts else f" {op} {text}")
        if st.name is None:
            return None
        name = st.name[:-len(index) - 1] if st.name.endswith("_" + index) else st.name
        lhs = ",".join(free)
        out.append(f"{name}[{lhs}] = {''.join(texts)}" if lhs else f"{name} = {''.join(texts)}")
    return "; ".join(out)


def _chain_text(inf, term, index: str, pool) -> tuple[str, list[str]] | None:
    """A product chain written with indices, and its free indices (the suffix's first)."""
    factors, stack = [], [term]
    while stack:
        x = stack.pop()
        if type(x) is S.Binary and x.op in ("*", "@"):
            stack += [x.right, x.left]
        else:
            factors.append(x)
    rows = cols = None          # the open indices of the product so far (None: length 1)
    started, used, parts = False, False, []
    for f in factors:
        flipped = type(f) is S.Transpose
        base = f.operand if flipped else f
        if type(f) is S.Number:
            parts.append(f.text)
            continue
        if type(base) is not S.Name:
            return None
        name, lead = base.name, []
        if name.endswith("_" + index):
            name, lead, used = name[:-len(index) - 1], [index], True
            if name[:1].islower():                       # b_j: an entry of the vector b
                parts.append(f"{name}[{index}]")
                continue
        kind = "scalar" if name in inf.dim_symbols else \
            default_kind(name, inf.kinds) if name not in inf.decls else \
            ("scalar" if inf.decls[name].type().is_scalar else
             "vector" if inf.decls[name].type().is_col else "matrix")
        if kind == "scalar":
            parts.append(name)
            continue
        if kind == "vector":                  # a column, or a row if transposed
            r, c = (None, "col") if flipped else ("col", None)
        else:
            r, c = ("c", "r") if flipped else ("r", "c")
        if not started:
            letters = {k: (next(pool) if k in (r, c) and k is not None else None)
                       for k in ("r", "c", "col")}
            first = letters.get(r) if r else None
            second = letters.get(c) if c else None
            axes = [a for a in (first, second) if a]
            rows, cols, started = first, second, True
        else:
            if cols is None or r is None:
                return None
            new = next(pool) if c is not None else None
            axes = [cols] + ([new] if new else [])
            cols = new
        parts.append(f"{name}[{','.join(lead + axes)}]")
    if not used and not parts:
        return None
    free = ([index] if used else []) + [a for a in (rows, cols) if a]
    return "*".join(parts), free
