"""Reading the matrix of a linear map of vectors off its formula (`matrix_of`): the
structural pass that makes a Jacobian's matrix from a VJP (`matcalc.jacobian` says how
it is used), and the display rewrites of the table applied to its results (`EXPANDED`,
`PAIRED`, `DIAGONALS` in `matcalc.rewrites`).

For vectors, a pass over the canonical `G(U)` recognises the matrix `M` with
`G(U) = M U`: `A*U` gives `A`, `a .* U` gives `diag(a)`, `(a'U) b` gives `b a'`, and a
matrix linear in U read as outer products, `(C .* (U b')) q`, gives `diag(C (b .* q))`.
The pass is exact or gives up (returns None): it asks whether a node depends on U of
nodes it builds as it goes, too (`tensor.depends_on`).
"""
from __future__ import annotations

from . import expr as E
from .derivation import PRINT_LIMIT
from .layout import substitute
from .patterns import dag_size, rewrite_dag, transposes
from .printing import to_text
from .rewrites import DIAGONALS, EXPANDED, PAIRED, push_transpose
from .simplify import simplify, size
from .tensor import depends_on

# ---- the matrix of a linear map of vectors -------------------------------------------------

def matrix_of(node: E.Node, u: E.Var) -> E.Node | None:
    """The matrix M with node = M*u, for a column (or scalar) `node` linear in the column
    Var `u`, simplified; None where the structure is not recognised (the index form
    still holds the exact answer)."""
    out = _MatrixReading(u).mat(node)
    return None if out is None else expand_products(simplify(out))


def expand_products(node: E.Node) -> E.Node:
    """Matrix products multiplied out over a sum where that makes the formula no larger,
    counting a repeated subexpression once (the table's `EXPANDED`): diag(p)*(I - 1*p')
    is diag(p) - p*p'."""
    return simplify(rewrite_dag([node], EXPANDED, finish=simplify)[0])


def pair_transposes(node: E.Node) -> E.Node:
    """Terms of every sum reordered so that a transposed term follows its untransposed
    partner (the table's `PAIRED`): `A + A' + diag(exp(x))` rather than
    `A' + A + diag(exp(x))` (display only; the value is the same)."""
    return rewrite_dag([node], PAIRED)[0]


class _MatrixReading:
    """One pass over a linear map of the column `u`, a rule per node kind: each returns
    the matrix M of its node (node = M u), or None where it cannot say exactly. Whether a
    node depends on u is asked of `tensor.depends_on`, which also knows the nodes that
    the reading builds (a pushed transpose, a product split over a sum)."""

    def __init__(self, u: E.Var):
        self.u = u
        self.depends = depends_on(u)

    def mat(self, n: E.Node) -> E.Node | None:
        depends, mat = self.depends, self.mat
        if n.shape[1] != 1:
            return None
        if not depends(n):
            return E.Zero((n.shape[0], self.u.shape[0]))
        if n is self.u:
            return E.Identity(self.u.shape[0])
        if isinstance(n, E.Add):
            parts = [mat(t) for t in n.terms]
            return None if any(p is None for p in parts) else _collect_diagonals(parts)
        if isinstance(n, E.Scale):
            if depends(n.s) and depends(n.x):
                return None
            if depends(n.s):                                # x (r'u) = (x r') u
                r = mat(n.s)
                return None if r is None else n.x @ r
            inner = mat(n.x)
            return None if inner is None else E.Scale(n.s, inner)
        if isinstance(n, E.MatMul):
            return self.chain(n)
        if isinstance(n, E.Hadamard):                        # c .* F = diag(c) F
            c, f = self.split_hadamard(n, None)
            inner = None if f is None else mat(f)
            return None if inner is None else E.DiagMat(c) @ inner
        if isinstance(n, E.Divide):                          # F ./ c = diag(1 ./ c) F
            if depends(n.b):
                return None
            inner = mat(n.a)
            return None if inner is None else \
                E.DiagMat(E.Divide(E.Ones(n.b.shape), n.b)) @ inner
        if isinstance(n, E.Transpose):
            pushed = push_transpose(n.x)
            return None if pushed is None else mat(pushed)
        if isinstance(n, E.Broadcast) and n.x.shape == E.SCALAR:   # s 1 = 1 (r u)
            r = mat(n.x)
            return None if r is None else E.Ones((n.shape[0], 1)) @ r
        if isinstance(n, E.Sum) and n.x.shape[0] != 1 and n.x.shape[1] != 1:
            return self.contract(*self.split_hadamard(n.x, None))     # sum(X) = sum(1 .* X)
        if isinstance(n, E.Sum):                             # sum(F) = 1'F
            x = n.x if n.x.shape[1] == 1 else push_transpose(n.x)
            inner = None if x is None else mat(x)
            return None if inner is None else E.Ones((1, x.shape[0])) @ inner
        if isinstance(n, E.Trace):                           # tr(X) = sum(I .* X)
            return self.contract(*self.split_hadamard(n.x, E.Identity(n.x.shape[0])))
        if isinstance(n, E.DiagVec):
            return self.diagonal(*self.split_hadamard(n.x, None))
        if isinstance(n, E.Power) and n.p is E.Const(1):
            return mat(n.x)
        return None

    def chain(self, n: E.MatMul) -> E.Node | None:
        """P F q with F the one factor that depends on u."""
        depends, mat = self.depends, self.mat
        fs = n.factors
        dep = [i for i, f in enumerate(fs) if depends(f)]
        if len(dep) != 1:
            return None
        i = dep[0]
        f = fs[i]
        p = _product(fs[:i])
        q = _product(fs[i + 1:])
        a, b = f.shape
        if b == 1:                                           # P F q, q a scalar
            inner = mat(f)
            if inner is None:
                return None
            out = inner if p is None else p @ inner
            return out if q is None else E.Scale(q, out)
        if a == 1:                                           # P (F q) = P q' F' u
            ft = push_transpose(f)
            inner = None if ft is None else mat(ft)
            if inner is None or q is None:
                return None
            out = q.T @ inner
            return out if p is None else p @ out
        if q is None:
            return None
        if isinstance(f, E.DiagMat):                         # P diag(F) q = P diag(q) F
            inner = mat(f.x)
            if inner is None:
                return None
            out = E.DiagMat(q) @ inner
            return out if p is None else p @ out
        if isinstance(f, E.Add):                             # P (F1 + F2) q
            parts = [mat(E.MatMul(tuple(x for x in (p, t, q) if x is not None)))
                     for t in f.terms]
            return None if any(x is None for x in parts) else E.Add(tuple(parts))
        if isinstance(f, E.Scale) and not depends(f.s):
            inner = mat(E.MatMul(tuple(x for x in (p, f.x, q) if x is not None)))
            return None if inner is None else E.Scale(f.s, inner)
        if isinstance(f, E.Transpose):
            pushed = push_transpose(f.x)
            if pushed is None:
                return None
            return mat(E.MatMul(tuple(x for x in (p, pushed, q) if x is not None)))
        if isinstance(f, (E.Hadamard, E.Broadcast)):
            return self.through_outer(p, f, q)
        return None

    # -- matrices linear in u, as sums of outer products ---------------------------------
    def split_hadamard(self, z: E.Node, c: E.Node | None
                       ) -> tuple[E.Node | None, E.Node | None]:
        """(C, D) with c .* z = C .* D, D the one factor that depends on u (None if not
        one), C the product of c (None for all ones) and the other factors."""
        fs = list(z.factors) if isinstance(z, E.Hadamard) else [z]
        dep = [f for f in fs if self.depends(f)]
        if len(dep) != 1:
            return c, None
        rest = tuple(f for f in fs if f is not dep[0]) + ((c,) if c is not None else ())
        return (None if not rest else rest[0] if len(rest) == 1 else E.Hadamard(rest)), dep[0]

    def outer(self, d: E.Node) -> list[tuple[E.Node | None, E.Node, E.Node]] | None:
        """A matrix linear in u as Σ s a b' (s a constant scalar or None, a and b
        columns, exactly one of them depending on u); None if it is not of that form."""
        depends, outer = self.depends, self.outer
        if isinstance(d, E.Add):
            parts = [outer(t) for t in d.terms]
            return None if any(p is None for p in parts) else [x for p in parts for x in p]
        if isinstance(d, E.Scale) and not depends(d.s):
            parts = outer(d.x)
            return None if parts is None else \
                [(d.s if s is None else E.Scale(d.s, s), a, b) for s, a, b in parts]
        if isinstance(d, E.Transpose):                       # (a b')' = b a'
            parts = outer(d.x)
            return None if parts is None else [(s, b, a) for s, a, b in parts]
        if isinstance(d, E.Broadcast):                       # x 1' (across), 1 x (down)
            (r, c), x = d.shape, d.x
            if x.shape[1] == 1:
                a, b = (x if x.shape[0] == r else E.Broadcast(x, (r, 1))), E.Ones((c, 1))
            else:
                a, b = E.Ones((r, 1)), E.Transpose(x)
            return [(None, a, b)] if depends(a) != depends(b) else None
        if isinstance(d, E.MatMul):                          # (L a)(b' R): a column, a row
            fs = d.factors
            for k in range(1, len(fs)):
                if fs[k - 1].shape[1] == 1:
                    left, right = _product(fs[:k]), _product(fs[k:])
                    if depends(left) != depends(right):
                        return [(None, left, E.Transpose(right))]
        return None

    def sides(self, d: E.Node | None):
        """(s, M, other, left) per term s a b' of `outer(d)`: M the matrix of the side
        that depends on u (a = M u if `left`, else b = M u); None if d is not read."""
        parts = None if d is None else self.outer(d)
        if parts is None:
            return None
        out = []
        for s, a, b in parts:
            left = self.depends(a)
            m = self.mat(a if left else b)
            if m is None:
                return None
            out.append((s, m, b if left else a, left))
        return out

    def contract(self, c: E.Node | None, d: E.Node | None) -> E.Node | None:
        # sum(C .* Σ s a b') = Σ s a' C b: the row s (C b)' M if a = M u, s a' C M if b = M u
        sides = self.sides(d)
        if sides is None:
            return None
        c = E.Ones(d.shape) if c is None else c
        return _total(_scaled(s, ((c @ other).T if left else other.T @ c) @ m)
                      for s, m, other, left in sides)

    def diagonal(self, c: E.Node | None, d: E.Node | None) -> E.Node | None:
        # diag(C .* Σ s a b') = Σ s diag(C) .* a .* b: s diag(diag(C) .* other) M
        sides = self.sides(d)
        if sides is None:
            return None
        dc = None if c is None else E.DiagVec(c)
        return _total(_scaled(s, E.DiagMat(_hadamard(dc, other)) @ m)
                      for s, m, other, _ in sides)

    def through_outer(self, p, f, q) -> E.Node | None:
        # P (C .* Σ s a b') q = Σ s P diag(a) C diag(b) q: s P diag(C (b .* q)) M if
        # a = M u, s P diag(a) C diag(q) M if b = M u; without C, P a (b'q) = P a q' b
        c, d = self.split_hadamard(f, None) if isinstance(f, E.Hadamard) else (None, f)
        sides = self.sides(d)
        if sides is None:
            return None
        terms = []
        for s, m, other, left in sides:
            if c is None:
                t = E.Scale(other.T @ q, m) if left else other @ q.T @ m
            elif left:
                t = E.DiagMat(c @ E.Hadamard((other, q))) @ m
            else:
                t = E.DiagMat(other) @ c @ E.DiagMat(q) @ m
            t = _scaled(s, t)
            terms.append(t if p is None else p @ t)
        return _total(terms)


def _collect_diagonals(parts: list[E.Node]) -> E.Node:
    """Σ diag(d_t)*R as diag(Σ d_t)*R when every part ends in the same R (the table's
    `DIAGONALS`): W - 2*diag(s)*W is diag(1 - 2*s)*W."""
    parts = [simplify(p) for p in parts]
    rule = DIAGONALS.rules[0]
    env = rule.match_operands(parts, simplify)
    return E.Add(tuple(parts)) if env is None else rule.build(env, simplify)


def _total(terms) -> E.Node:
    terms = list(terms)
    return terms[0] if len(terms) == 1 else E.Add(tuple(terms))


def _scaled(s: E.Node | None, x: E.Node) -> E.Node:
    return x if s is None else E.Scale(s, x)


def _hadamard(c: E.Node | None, x: E.Node) -> E.Node:
    return x if c is None else E.Hadamard((c, x))


def _product(fs) -> E.Node | None:
    if not fs:
        return None
    return fs[0] if len(fs) == 1 else E.MatMul(tuple(fs))


def as_column(node: E.Node, var: E.Var) -> tuple[E.Node, E.Var]:
    """A vector map in column form: a row `var` replaced by the transpose of a column
    Var, a row `node` transposed."""
    if var.shape[0] == 1 and var.shape[1] != 1:
        col = E.Var(var.name, (var.shape[1], 1))
        node = simplify(substitute(node, {var: E.Transpose(col)}))
        var = col
    if node.shape[0] == 1 and node.shape[1] != 1:
        node = simplify(E.Transpose(node))
    return node, var


def clearer(a: E.Node, b: E.Node) -> E.Node:
    """The one of two equal matrices with fewer transposes, then the smaller DAG, then the
    first text in order; texts are written only to break a tie, and only of formulas that
    are not astronomically long as trees (then the structural key decides)."""
    if a is b:
        return a
    ka, kb = (transposes(a), dag_size(a)), (transposes(b), dag_size(b))
    if ka == kb:
        if size(a) <= PRINT_LIMIT and size(b) <= PRINT_LIMIT:
            ka, kb = to_text(a), to_text(b)
        else:
            ka, kb = a.sort_key, b.sort_key
    return b if kb < ka else a
