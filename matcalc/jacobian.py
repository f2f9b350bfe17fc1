"""Jacobians, Hessians and Hessian-vector products: the linear map of a VJP in its upstream.

Reverse mode already knows every first derivative, as a map: the VJP `G(U)` of an output in
its upstream `U` (the rule table, in adjoint form) is linear in `U`. So a Jacobian is not a
new derivation but a reading of `G`:

- its transpose, the JVP `dX ↦ J(dX)`, is the VJP of `G` in `U` (reverse mode over a
  linear map transposes it, as jax's `linear_transpose` does);
- for vectors, a structural pass over the canonical `G(U)` recognises the matrix `M` with
  `G(U) = M U`: `A*U` gives `A`, `a .* U` gives `diag(a)`, `(a'U) b` gives `b a'`, and a
  matrix linear in U read as outer products, `(C .* (U b')) q`, gives
  `diag(C (b .* q))`. `M` is the Jacobian in denominator layout, `M'` in numerator
  layout. The pass is exact or gives up (then the index form is the answer): it asks
  whether a node depends on U of nodes it builds as it goes, too (`tensor.depends_on`);
- for matrices, the JVP's terms `L dX R` and `L dX' R` (or their transposes) give the
  Kronecker form `d vec(Y)/d vec(X) = Σ (R' ⊗ L) [K]` (column-major vec, K the
  commutation matrix);
- always, and exactly, the index form (`matcalc.tensor`): one einsum over the factors of
  `G`, which also gives NumPy code for the full tensor.

The Hessian is the Jacobian of the gradient `g(x)` (itself a formula in the IR, so the same
reading applies), and the Hessian-vector product is the VJP of the gradient along `v`:
`H v = ∇<g(x), v>`, never forming `H`. Before that the gradient is put in the form that
differentiates well: `exp(u) ./ (1 + exp(u))` is `sigmoid(u)`, whose derivative is
`s .* (1 - s)`.

Layouts (SPEC section 2): numerator puts the output's axes first, denominator the
variable's, mixed is denominator for a scalar output and numerator otherwise. Scalar by
matrix follows the table (numerator: the transposed shape); a 2-D result in denominator
layout is always the transpose of its numerator form. Tensors list their axes in that
order in NumPy; in index notation ∂Y_ij/∂X_kl names the output's axes i, j and the
variable's k, l in every layout. A Hessian block d²f/da db is the Jacobian of ∇_a f by b
(its output axes are a's); a Hessian-vector product has the variable's shape in every
layout.

Canonical spelling, beyond the simplifier's: a sum lists a term before its transpose
(`A + A'`); a symmetric Hessian takes whichever of its two forms has fewer transposes;
softmax and elementwise functions that occur more than once are named (`p` for softmax,
`s` for sigmoid, `t` for tanh, `e` for exp, or the program's own name for that value)
and printed with `where`; products are multiplied out where that shortens the formula
counting named parts once (`diag(p) - p*p'`). The logistic loss keeps its exact Hessian
`X'*diag(y.^2 .* s .* (1 - s))*X` unless the labels are declared -1/+1 (`signs`, see
matcalc.assumptions): then y.^2 = 1 and it is `X'*diag(s .* (1 - s))*X`.
"""
from __future__ import annotations

from functools import cached_property

from . import expr as E
from . import ops
from .assumptions import apply_assumptions, describe
from .derivation import Derivation, json_shape, output_terms, python_name, refuse_output
from .differentiate import vjp
from .errors import OptionError
from .layout import substitute
from .simplify import one_plus_exp, simplify, transposes
from .structure import as_projected
from .structure import gradient as structure_gradient
from .structure import structures
from .tensor import Kron, Tensor, axes, depends_on, index_form, kron_form

MODES = ("jacobian", "hessian", "hvp")
OUT_LETTERS, IN_LETTERS = "ij", "kl"


def derive_higher(program, typed, wrt, layout, mode, onehot_labels=None,
                  convention: str = "projected") -> HigherDerivation:
    """Jacobians (`mode="jacobian"`), Hessians ("hessian") or Hessian-vector products
    ("hvp") of the program's output with respect to `wrt`, in `layout`; second
    derivatives with respect to a structured variable in `convention`."""
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    return HigherDerivation(program, typed, list(wrt), layout, mode, onehot_labels or {},
                            convention)


# ---- the matrix of a linear map of vectors -------------------------------------------------

def matrix_of(node: E.Node, u: E.Var) -> E.Node | None:
    """The matrix M with node = M*u, for a column (or scalar) `node` linear in the column
    Var `u`, simplified; None where the structure is not recognised (the index form
    still holds the exact answer)."""
    out = _MatrixReading(u).mat(node)
    return None if out is None else expand_products(simplify(out))


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
            pushed = _push_transpose(n.x)
            return None if pushed is None else mat(pushed)
        if isinstance(n, E.Broadcast) and n.x.shape == E.SCALAR:   # s 1 = 1 (r u)
            r = mat(n.x)
            return None if r is None else E.Ones((n.shape[0], 1)) @ r
        if isinstance(n, E.Sum) and n.x.shape[0] != 1 and n.x.shape[1] != 1:
            return self.contract(*self.split_hadamard(n.x, None))     # sum(X) = sum(1 .* X)
        if isinstance(n, E.Sum):                             # sum(F) = 1'F
            x = n.x if n.x.shape[1] == 1 else _push_transpose(n.x)
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
            ft = _push_transpose(f)
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
            pushed = _push_transpose(f.x)
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


def dag_size(node: E.Node) -> int:
    """The number of distinct subexpressions: the size of a formula whose repeated parts
    are named."""
    return sum(1 for _ in E.walk(node))


def expand_products(node: E.Node) -> E.Node:
    """Matrix products multiplied out over a sum where that makes the formula no larger,
    counting a repeated subexpression once (it will be named): diag(p)*(I - 1*p') is
    diag(p) - p*p'."""
    memo: dict[E.Node, E.Node] = {}
    for n in E.walk(node):
        new = n.rebuild([memo[c] for c in n.children]) if n.children else n
        core = new.x if isinstance(new, E.Scale) and isinstance(new.x, E.MatMul) else new
        if isinstance(core, E.MatMul):
            fs = core.factors
            i = next((i for i, f in enumerate(fs) if isinstance(f, E.Add)), None)
            if i is not None:
                terms = tuple(E.MatMul(fs[:i] + (t,) + fs[i + 1:]) for t in fs[i].terms)
                spread = E.Add(terms)
                cand = simplify(E.Scale(new.s, spread) if core is not new else spread)
                old = simplify(new)
                if (dag_size(cand), transposes(cand)) <= (dag_size(old), transposes(old)):
                    new = cand
        memo[n] = new
    return simplify(memo[node])


def pair_transposes(node: E.Node) -> E.Node:
    """Terms of every sum reordered so that a transposed term follows its untransposed
    partner: `A + A' + diag(exp(x))` rather than `A' + A + diag(exp(x))` (display only;
    the value is the same)."""
    memo: dict[E.Node, E.Node] = {}
    for n in E.walk(node):
        new = n.rebuild([memo[c] for c in n.children]) if n.children else n
        if isinstance(new, E.Add):
            terms = new.terms
            used = [False] * len(terms)
            out: list[E.Node] = []
            for i, t in enumerate(terms):
                if used[i]:
                    continue
                partner = next((j for j, p in enumerate(terms) if not used[j] and j != i
                                and isinstance(t, E.Transpose) and p is t.x), None)
                if partner is not None:
                    out.append(terms[partner])
                    used[partner] = True
                out.append(t)
                used[i] = True
            new = E.Add(tuple(out))
        memo[n] = new
    return memo[node]


def _collect_diagonals(parts: list[E.Node]) -> E.Node:
    """Σ diag(d_t)*R as diag(Σ d_t)*R when every part ends in the same R:
    W - 2*diag(s)*W is diag(1 - 2*s)*W."""
    parts = [simplify(p) for p in parts]
    split = [_diagonal_and_rest(p) for p in parts]
    rest = split[0][1]
    if any(r is not rest for _, r in split[1:]) or any(d is None for d, _ in split):
        return E.Add(tuple(parts))
    d = simplify(E.Add(tuple(d for d, _ in split)))
    return E.DiagMat(d) if rest is None else E.DiagMat(d) @ rest


def _diagonal_and_rest(p: E.Node) -> tuple[E.Node | None, E.Node | None]:
    """(d, R) with p = diag(d)*R (R None for the identity), or (None, None)."""
    c = None
    while isinstance(p, E.Scale):
        c = p.s if c is None else E.Scale(p.s, c)
        p = p.x
    n = p.shape[0]
    if isinstance(p, E.Identity):
        d, rest = E.Ones((n, 1)), None
    elif isinstance(p, E.DiagMat):
        d, rest = p.x, None
    elif isinstance(p, E.MatMul) and isinstance(p.factors[0], E.DiagMat):
        fs = p.factors
        d, rest = fs[0].x, (fs[1] if len(fs) == 2 else E.MatMul(fs[1:]))
    else:
        d, rest = E.Ones((n, 1)), p
    return (d if c is None else simplify(E.Scale(c, d))), rest


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


def _push_transpose(x: E.Node) -> E.Node | None:
    """x' with the transpose moved one level down (no simplification), or None."""
    T = E.Transpose
    if isinstance(x, E.Transpose):
        return x.x
    if isinstance(x, E.Add):
        return E.Add(tuple(T(t) for t in x.terms))
    if isinstance(x, E.Hadamard):
        return E.Hadamard(tuple(T(f) for f in x.factors))
    if isinstance(x, E.Divide):
        return E.Divide(T(x.a), T(x.b))
    if isinstance(x, E.Scale):
        return E.Scale(x.s, T(x.x))
    if isinstance(x, E.MatMul):
        return E.MatMul(tuple(T(f) for f in reversed(x.factors)))
    if isinstance(x, E.Broadcast):
        return E.Broadcast(T(x.x), (x.shape[1], x.shape[0]))
    if isinstance(x, (E.DiagMat, E.Identity)):
        return x
    if isinstance(x, (E.Ones, E.Zero)):
        return type(x)((x.shape[1], x.shape[0]))
    return None


def _as_column(node: E.Node, var: E.Var) -> tuple[E.Node, E.Var]:
    """A vector map in column form: a row `var` replaced by the transpose of a column
    Var, a row `node` transposed."""
    if var.shape[0] == 1 and var.shape[1] != 1:
        col = E.Var(var.name, (var.shape[1], 1))
        node = simplify(substitute(node, {var: E.Transpose(col)}))
        var = col
    if node.shape[0] == 1 and node.shape[1] != 1:
        node = simplify(E.Transpose(node))
    return node, var


# ---- the gradient in a form that differentiates well ---------------------------------------

def recognise_sigmoid(node: E.Node) -> E.Node:
    """`exp(u) ./ (1 + exp(u))` is sigmoid(u) and `1 ./ (1 + exp(u))` is sigmoid(-u)
    (times any other factors of the numerator), then simplified."""
    memo: dict[E.Node, E.Node] = {}
    changed = False
    for n in E.walk(node):
        new = n.rebuild([memo[c] for c in n.children]) if n.children else n
        if isinstance(new, E.Divide):
            u = one_plus_exp(new.b)
            if u is not None:
                nums = list(new.a.factors) if isinstance(new.a, E.Hadamard) else [new.a]
                e = E.Func("exp", u)
                if e in nums:
                    nums.remove(e)
                    s = E.Func("sigmoid", u)
                else:
                    s = E.Func("sigmoid", simplify(-u))
                nums = [f for f in nums if not isinstance(f, E.Ones)]
                new = s if not nums else E.Hadamard(tuple(nums) + (s,))
                changed = True
        memo[n] = new
    return simplify(memo[node]) if changed else node


def _clearer(a: E.Node, b: E.Node) -> E.Node:
    """The one of two equal matrices with fewer transposes, then the smaller DAG, then the
    first text in order; texts are written only to break a tie, and only of formulas that
    are not astronomically long as trees (then the structural key decides)."""
    from .derivation import PRINT_LIMIT
    from .printing import to_text
    from .simplify import size
    if a is b:
        return a
    ka, kb = (transposes(a), dag_size(a)), (transposes(b), dag_size(b))
    if ka == kb:
        if size(a) <= PRINT_LIMIT and size(b) <= PRINT_LIMIT:
            ka, kb = to_text(a), to_text(b)
        else:
            ka, kb = a.sort_key, b.sort_key
    return b if kb < ka else a


# ---- naming repeated subexpressions --------------------------------------------------------

def choose_names(roots: list[E.Node], taken: set[str], user: dict[E.Node, str]
                 ) -> dict[E.Node, E.Var]:
    """Vars for the softmax and elementwise-function subexpressions that occur more than
    once in `roots` (counted as a tree, a named part counting once): `p` for softmax(x),
    `s` for a sigmoid, the program's own name where a named intermediate has that value.
    Outermost first, so `s = sigmoid(-y .* (X*w))` is named, not its argument."""
    names: dict[E.Node, E.Var] = {}
    while True:
        pick = next((n for n, k in _tree_counts(roots, names) if k >= 2 and _nameable(n)
                     and n not in names), None)
        if pick is None:
            return names
        chosen = {v.name for v in names.values()}
        name = user.get(pick)                       # the program's own name for it, if any
        if name is None or name in chosen:
            name = _fresh(ops.of(pick).names, taken | chosen)   # matcalc.ops: p, s, ...
        names[pick] = E.Var(name, pick.shape)


def _tree_counts(roots: list[E.Node], named=()) -> list[tuple[E.Node, int]]:
    """(node, number of occurrences in the trees of `roots` and of the definitions of the
    `named` nodes), parents before children. A named node occurs as its name, so what is
    below it counts once, in its definition: the counts of the roots with the named nodes
    substituted, read off the DAG itself (substituting afresh for every name chosen made
    choosing k names cost k times the DAG for each root and name, cubic in a deep nest)."""
    order: list[E.Node] = []
    seen: set[E.Node] = set()
    for start in [r for r in roots if r not in named] + list(named):
        stack: list[tuple[E.Node, bool]] = [(start, False)]
        while stack:                                # children first, not into a name
            n, expanded = stack.pop()
            if expanded:
                order.append(n)
            elif n not in seen:
                seen.add(n)
                stack.append((n, True))
                stack.extend((c, False) for c in reversed(n.children)
                             if c not in seen and c not in named)
    uses: dict[E.Node, int] = {}
    for r in roots:
        if r not in named:
            uses[r] = uses.get(r, 0) + 1
    for n in named:
        uses[n] = uses.get(n, 0) + 1                # its definition
    edges = 0
    for n in reversed(order):                       # parents before children: path counts
        k = uses.get(n, 0)
        edges += len(n.children)
        for c in n.children:
            if c not in named:
                uses[c] = uses.get(c, 0) + k
    E.charge(len(order) + edges)
    return [(n, uses.get(n, 0)) for n in reversed(order)]


def _nameable(n: E.Node) -> bool:
    op = ops.of(n)
    return op is not None and op.names is not None


def _fresh(choices, taken: set[str]) -> str:
    for c in choices:
        if c not in taken:
            return c
    k = 1
    while f"{choices[0]}{k}" in taken:
        k += 1
    return f"{choices[0]}{k}"


def fresh_name(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


# ---- one derivative ------------------------------------------------------------------------

class HigherDerivative:
    """One Jacobian, Hessian block or Hessian-vector product, in one layout.

    `node`: the matrix (IR) when the result has at most two non-singleton axes, else None;
    `jvp`: the linear map dX ↦ J(dX) (its argument `dvar`); `tensor`: the exact index form
    (`Tensor`, free indices i, j for the output, k, l for the variable); `kron`: the
    Kronecker form in this layout or None; `axis_letters`: the result's axes as NumPy
    returns them. Spellings (`text`, `latex`, `numpy`, `index`, `kron_text`, `map`) use the names
    in `where` for repeated subexpressions."""

    def __init__(self, owner: HigherDerivation, key: str, kind: str, of: E.Node,
                 wrt: E.Var, lhs: tuple[str, str, str], symmetric: bool = False):
        self.owner = owner
        self.name = key
        self.kind = kind
        self.of = of                # the differentiated node (output, or a gradient)
        self.wrt = wrt
        self.lhs_text, self.lhs_latex, self.index_lhs = lhs
        self.symmetric = symmetric
        self.node: E.Node | None = None
        self.jvp: E.Node | None = None
        self.dvar: E.Var | None = None
        self.tensor: Tensor | None = None
        self.kron: Kron | None = None
        self.names: dict[E.Node, E.Var] = {}

    # -- the derivation ----------------------------------------------------------------
    def build(self) -> HigherDerivative:
        owner = self.owner
        of, x = self.of, self.wrt
        u = E.Var(fresh_name("U", owner.taken), of.shape)
        dvar = E.Var(fresh_name("d" + x.name, owner.taken), x.shape)
        labels = owner.onehot                              # what the user assumes
        g = apply_assumptions(simplify(vjp(of, u, [x])[x]), labels)   # G(U): linear in U
        kind = structures(labels).get(x.name)
        if kind is not None:            # a structured X: the gradient's map, again linear in U
            g = structure_gradient(g, kind, owner.convention, labels, x)
        jvp = apply_assumptions(simplify(vjp(g, dvar, [u])[u]), labels)  # J(dX) = G's transpose
        self.dvar, self.jvp = dvar, pair_transposes(jvp)
        out_ax, in_ax = axes(of.shape), axes(x.shape)
        self.out_letters = OUT_LETTERS[:len(out_ax)]
        self.in_letters = IN_LETTERS[:len(in_ax)]
        self.tensor = index_form(g, u, tuple(self.in_letters), tuple(self.out_letters))
        self.n_out, self.n_in = len(out_ax), len(in_ax)
        layout = owner.layout
        self.numerator_form = layout == "numerator" or (layout == "mixed" and self.n_out > 0)
        if self.is_matrix:
            num, den = self._matrices(g, u, jvp, dvar)
            self.node = num if self.numerator_form else den
            if self.node is not None:
                self.node = pair_transposes(self.node)
        else:
            kron = kron_form(jvp, dvar)
            if kron is not None and not self.numerator_form and not self.symmetric:
                kron = kron.transposed()
            self.kron = kron
        roots = [self.node] if self.node is not None else \
            [jvp] + [f.node for t in self.tensor.terms for f in t.factors]
        self.names = choose_names([r for r in roots if r is not None], owner.taken,
                                  owner.user_names)
        return self

    @property
    def is_matrix(self) -> bool:
        return self.n_out + self.n_in <= 2

    def _matrices(self, g, u, jvp, dvar) -> tuple[E.Node | None, E.Node | None]:
        """(numerator, denominator) 2-D forms (see the module docstring)."""
        if self.n_in == 0:                                  # dY/dx, x scalar: J(1)
            d = simplify(substitute(jvp, {dvar: E.Const(1)}))
            num = simplify(d.T) if (self.n_out == 1 and d.shape[0] == 1) else d
            return num, simplify(num.T)
        if self.n_out == 0:                                 # df/dX: G(1), the gradient
            a = simplify(substitute(g, {u: E.Const(1)}))
            den = simplify(a.T) if (self.n_in == 1 and a.shape[0] == 1) else a
            return simplify(den.T), den
        num = matrix_of(*_as_column(jvp, dvar))
        den = matrix_of(*_as_column(g, u))
        if num is None and den is None:
            return None, None
        num = num if num is not None else simplify(den.T)
        den = den if den is not None else simplify(num.T)
        if self.symmetric:                                  # H = H': the clearer spelling
            return (best := _clearer(num, den)), best
        return num, den

    # -- shapes and axes -----------------------------------------------------------------
    @property
    def axis_letters(self) -> tuple[str, ...]:
        """The index of each axis of the result as returned (NumPy order)."""
        out, inn = tuple(self.out_letters), tuple(self.in_letters)
        if self.kind == "hvp":
            return inn
        if self.is_matrix:                                  # the 2-D form and its transpose
            num = tuple(reversed(inn)) if self.n_out == 0 and self.n_in == 2 else out + inn
            return num if self.numerator_form else tuple(reversed(num))
        return out + inn if self.numerator_form else inn + out

    @property
    def dims(self) -> list:
        sizes = dict(self.tensor.sizes) if self.tensor is not None else {}
        if self.kind == "hvp":
            return json_shape(self.node.shape)
        return [sizes[i] for i in self.axis_letters]

    @property
    def shape(self) -> list:
        """The result's shape as JSON writes it (SPEC section 4)."""
        if self.node is not None:
            return json_shape(self.node.shape)
        return self.dims

    # -- spellings -----------------------------------------------------------------------
    def _rename(self, node: E.Node, names: dict | None = None) -> E.Node:
        names = self.names if names is None else names
        return substitute(node, names) if names else node

    def _ordered_names(self, names: dict | None = None) -> list[tuple[E.Var, E.Node]]:
        """(name, definition) pairs, each definition using only earlier names."""
        names = self.names if names is None else names
        pending = []
        for n, v in reversed(list(names.items())):            # innermost first
            inner = {m: w for m, w in names.items() if m is not n}
            pending.append((v, substitute(n, inner) if inner else n))
        pairs: list[tuple[E.Var, E.Node]] = []
        while pending:                                          # definitions before uses
            done = {v for v, _ in pairs}
            k = next((i for i, (_, d) in enumerate(pending)
                      if all(w in done for w in E.variables(d) if w in names.values())), 0)
            pairs.append(pending.pop(k))
        return pairs

    @cached_property
    def _numpy_parts(self) -> tuple[list[tuple[str, str]], str]:
        """([(python name, code)], body): the named subexpressions, and for an einsum the
        factors it uses more than once (`t1 = np.linalg.inv(X)`), then the result."""
        owner = self.owner
        names = dict(self.names)
        if self.node is None:
            uses: dict[E.Node, int] = {}
            for term in self.tensor.terms:
                for f in term.factors:
                    uses[f.node] = uses.get(f.node, 0) + 1
            taken = owner.taken | {v.name for v in names.values()}
            for n, k in uses.items():
                if k > 1 and n not in names and not isinstance(
                        n, (E.Var, E.Identity, E.Ones, E.Const, E.DimValue, E.Transpose)):
                    v = E.Var(_fresh(("t",), taken), n.shape)
                    taken.add(v.name)
                    names[n] = v
        pairs = [(python_name(v.name), owner.base._numpy(d))
                 for v, d in self._ordered_names(names)]
        if self.node is not None:
            body = owner.base._numpy(self._rename(self.node, names))
        else:
            from .printing.index import einsum_code
            body = einsum_code(self.tensor, self.axis_letters,
                               lambda n: owner.base._numpy(self._rename(n, names)),
                               owner.dim_code)
        return pairs, body

    def printed_nodes(self) -> list[E.Node]:
        """What its spellings write out: the matrix, or the linear map and the factors of
        the index form, and the definitions of the named subexpressions."""
        if self.node is not None:
            main = [self.node]
        else:
            main = ([self.jvp] if self.jvp is not None else []) + \
                [f.node for t in self.tensor.terms for f in t.factors]
        return [self._rename(n) for n in main] + [d for _, d in self._ordered_names()]

    @cached_property
    def where(self) -> dict[str, str]:
        from .printing import to_text
        return {v.name: to_text(d) for v, d in self._ordered_names()}

    @cached_property
    def where_latex(self) -> dict[str, str]:
        return self._where_tex(self.owner.latex_printer())

    def _where_tex(self, p) -> dict[str, str]:
        """The named subexpressions' definitions, printed by the LatexPrinter `p`."""
        return {v.name: p.doprint(d).text for v, d in self._ordered_names()}

    @cached_property
    def map(self) -> str | None:
        """`dX ↦ J(dX)` in text (None for a Hessian-vector product)."""
        if self.jvp is None:
            return None
        from .printing import to_text
        return f"{self.dvar.name} ↦ {to_text(self._rename(self.jvp))}"

    @cached_property
    def map_latex(self) -> str | None:
        return self._map_tex(self.owner.latex_printer())

    def _map_tex(self, p) -> str | None:
        """`\\mathrm{d}X \\mapsto J(\\mathrm{d}X)` (None for a Hessian-vector product)."""
        if self.jvp is None:
            return None
        return f"{p.spell(self.dvar.name).text} \\mapsto {p.doprint(self._rename(self.jvp)).text}"

    @cached_property
    def index(self) -> str | None:
        if self.tensor is None:
            return None
        from .printing.index import index_text
        return f"{self.index_lhs} = {index_text(self.tensor, self.names)}"

    @cached_property
    def index_latex(self) -> str | None:
        if self.tensor is None:
            return None
        p = self.owner.latex_printer()
        return f"{self.owner.index_lhs_latex(self, p)} = {self._index_tex(p)}"

    def _index_tex(self, p) -> str:
        """The right-hand side of the index form, in the style of the LatexPrinter `p`."""
        from .printing.index import index_latex
        return index_latex(self.tensor, self.names, p.style)

    @cached_property
    def kron_text(self) -> str | None:
        if self.kron is None:
            return None
        from .printing.index import kron_text
        return kron_text(self.kron, self.names)

    @cached_property
    def kron_latex(self) -> str | None:
        return self._kron_tex(self.owner.latex_printer())

    def _kron_tex(self, p) -> str | None:
        if self.kron is None:
            return None
        from .printing.index import kron_latex
        return kron_latex(self.kron, self.names, p.style)

    @cached_property
    def text(self) -> str:
        """The matrix formula; for a higher-order tensor, its linear map `dX ↦ ...`;
        for a tensor without either, the index form."""
        from .printing import to_text
        if self.node is not None:
            return to_text(self._rename(self.node))
        return self.map if self.map is not None else self.index

    @cached_property
    def latex(self) -> str:
        return self._formula_tex(self.owner.latex_printer())

    def _formula_tex(self, p) -> str:
        """The matrix formula; else the linear map; else the index form (as `text`)."""
        if self.node is not None:
            return p.doprint(self._rename(self.node)).text
        if self.jvp is not None:
            return self._map_tex(p)
        return f"{self.owner.index_lhs_latex(self, p)} = {self._index_tex(p)}"

    @cached_property
    def numpy(self) -> str:
        """One self-contained NumPy expression for the full result (a tensor in the
        layout's axis order), named subexpressions bound first with `:=`."""
        pairs, body = self._numpy_parts
        if not pairs:
            return body
        # eval(code, {"np": np}, values) must work: names are bound by `:=` in order
        binds = ", ".join(f"{name} := {code}" for name, code in pairs)
        return f"({binds}, {body})[-1]"

    def numpy_lines(self, target: str, bound: dict[str, str] | None = None) -> list[str]:
        """Statements that compute the result into `target`, named subexpressions first
        (except those already in `bound`, name -> code, which it updates)."""
        bound = {} if bound is None else bound
        pairs, body = self._numpy_parts
        lines = []
        for name, code in pairs:
            if bound.get(name) != code:
                lines.append(f"{name} = {code}")
                bound[name] = code
        return lines + [f"{target} = {body}"]

    def to_json(self) -> dict:
        out = {"shape": self.shape, "text": self.text, "latex": self.latex,
               "numpy": self.numpy}
        if self.kind != "hvp":
            out["axes"] = list(self.axis_letters)
            out["index"] = self.index
            if self.jvp is not None:
                out["map"] = self.map
        if self.kron is not None:
            out["kron"] = self.kron_text
        if self.names:
            out["where"] = dict(self.where)
        return out

    def to_sympy(self, form: str | None = None, symbols=None):
        """The result as a SymPy matrix expression over the symbols it was derived from:
        the matrix, else the Kronecker form; `form` "matrix", "kron" or "map" (a
        `Lambda(dX, J(dX))`) chooses (see `matcalc.interop.sympy.to_sympy`)."""
        from .interop.sympy import to_sympy
        return to_sympy(self, form=form, symbols=symbols)

    def _repr_latex_(self) -> str:
        """Jupyter's display: the result and its named subexpressions, in display style."""
        p = self.owner.latex_printer()
        where = "".join(f", \\quad {p.spell(n).text} = {t}" for n, t in self.where_latex.items())
        return f"$\\displaystyle {self.lhs_latex} = {self.latex}{where}$"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<{self.kind} {self.lhs_text} = {self.text}>"


class HessianVectorProduct(HigherDerivative):
    """(H v)_x = Σ_y d²f/dx dy v_y, as the VJP of the gradient along the direction."""

    def __init__(self, owner, key, node: E.Node, lhs):
        super().__init__(owner, key, "hvp", owner.output, owner.inputs[key], lhs)
        self.node = pair_transposes(node)
        self.out_letters, self.in_letters = "", IN_LETTERS[:len(axes(node.shape))]
        self.n_out, self.n_in = 0, len(self.in_letters)
        self.numerator_form = False
        self.names = choose_names([node], owner.taken, owner.user_names)


# ---- the result ----------------------------------------------------------------------------

class HigherDerivation:
    """Jacobians, Hessians or Hessian-vector products of one program's output; duck-typed
    like `Derivation` (`text`, `latex`, `numpy_code`, `to_json`, `check`, `[name]`)."""

    def __init__(self, program: str, typed, wrt: list[str], layout: str, mode: str,
                 onehot: dict[str, str], convention: str = "projected"):
        self.program = program
        self.typed = typed
        self.layout = layout
        self.mode = mode
        self.output = typed.output
        self.output_name = typed.output_name
        self.inputs = typed.inputs
        self.keep_2d = typed.keep_2d
        self.is_scalar = self.output.shape == E.SCALAR
        if mode in ("hessian", "hvp") and not self.is_scalar:
            raise OptionError(f"--{mode} needs a scalar output, and {self.output_name} is "
                              f"{self.output.shape[0]} x {self.output.shape[1]}; "
                              "use --jacobian for the derivative of a non-scalar output")
        # the gradients (adjoint form), and the spelling helpers of a gradient derivation
        self.convention = convention
        self.base = Derivation(program, typed, wrt, "denominator", onehot, convention)
        self.taken = set(typed.inputs) | set(typed.intermediates) | {typed.output_name} \
            | set(typed.dim_names) | ({self.base.upstream_name} - {None})
        self.user_names = self._user_names()
        self.gradients: dict[str, E.Node] = {}
        if mode != "jacobian":
            # second derivatives differentiate the exact gradients: an assumption such as
            # y.^2 = 1 holds at the label values only, so it may not be differentiated;
            # it applies to the results (HigherDerivative.build)
            # (a structure holds along every direction a check or a user moves S, so S' = S
            # and the projection of the gradient may be differentiated)
            kept = structures(onehot)
            exact = self.base if kept == onehot else \
                Derivation(program, typed, wrt, "denominator", kept, convention)
            for name in wrt:
                self.gradients[name] = recognise_sigmoid(exact.derivatives[name].node)
        self.directions: dict[str, E.Var] = {}
        self.derivatives: dict[str, HigherDerivative] = {}
        if mode == "jacobian":
            for name in wrt:
                self.derivatives[name] = HigherDerivative(
                    self, name, "jacobian", self.output, self.inputs[name],
                    self._lhs(name)).build()
        elif mode == "hessian":
            for i, a in enumerate(wrt):
                for b in wrt[i:]:
                    key = a if a == b else f"{a},{b}"
                    self.derivatives[key] = HigherDerivative(
                        self, key, "hessian", self.gradients[a], self.inputs[b],
                        self._lhs(a, b), symmetric=a == b).build()
        else:
            self._hvp(wrt)

    @property
    def onehot(self) -> dict[str, str]:
        """The label assumptions (as Derivation.onehot)."""
        return self.base.onehot

    def _user_names(self) -> dict[E.Node, str]:
        """The program's named intermediates, by their canonical value."""
        out = {}
        for var in self.typed.intermediates.values():
            value = self.typed.inline.get(var)
            if value is not None and var.name != self.output_name:
                out.setdefault(simplify(value), var.name)
        return out

    def _hvp(self, wrt: list[str]) -> None:
        single = len(wrt) == 1
        for name in wrt:
            x = self.inputs[name]
            base = "V" if x.shape[0] != 1 and x.shape[1] != 1 else "v"
            v = E.Var(fresh_name(base if single else f"{base}_{name}", self.taken), x.shape)
            self.taken.add(v.name)
            self.directions[name] = v
        # (H v)_x = ∇_x Σ_y <∇_y f, v_y>   (H symmetric)
        parts: dict[str, list[E.Node]] = {n: [] for n in wrt}
        xs = [self.inputs[n] for n in wrt]
        kinds = structures(self.onehot)
        for y in wrt:
            # <∇_y f, v_y> with the projected gradient: H v is the derivative of the
            # gradient (in its convention) along the structured move v
            grad = as_projected(self.gradients[y], kinds[y], self.convention) \
                if y in kinds else self.gradients[y]
            adj = vjp(grad, self.directions[y], xs)
            for x in xs:
                parts[x.name].append(adj[x])
        for name in wrt:
            ps = parts[name]
            node = simplify(ps[0] if len(ps) == 1 else E.Add(tuple(ps)))
            kind = structures(self.onehot).get(name)
            if kind is not None:        # (H v)_S within the structure, as the gradient
                node = structure_gradient(node, kind, self.convention, self.onehot,
                                          self.inputs[name])
            else:
                node = apply_assumptions(node, structures(self.onehot))
            lhs = ("H*v" if single else f"(H*v)_{name}", self._lhs_latex("hvp", name), "")
            self.derivatives[name] = HessianVectorProduct(self, name, node, lhs)

    # -- names and left-hand sides ---------------------------------------------------------
    def latex_style(self, **options):
        """The LaTeX style of `options` (see `printing.latex.latex_style`); a differential
        dX is written \\mathrm{d}X."""
        from .printing.latex import latex_style
        differentials = tuple((d.dvar.name, d.wrt.name) for d in self.derivatives.values()
                              if d.dvar is not None)
        return latex_style(differentials=differentials, program_names=self.base.program_names,
                           **options)

    def latex_printer(self, **options):
        from .printing.latex import LatexPrinter
        return LatexPrinter(self.latex_style(**options))

    def _lhs_latex(self, kind: str, a: str, b: str | None = None, p=None) -> str:
        """∂y/∂a, ∂²f/∂a², ∂²f/∂a ∂b, H v or (H v)_a in LaTeX (by the LatexPrinter `p`)."""
        from .printing.latex import LatexPrinter
        p = p or LatexPrinter()

        def name(n: str, power: str = "") -> str:       # {W^{(1)}}^2: one superscript each
            tex = p.name(n)
            return ("{" + tex.tex() + "}" if power and tex.sup else tex.tex()) + power
        if kind == "hvp":
            return "H v" if len(self.directions) == 1 else f"(H v)_{{{name(a)}}}"
        if kind == "jacobian":
            return p.partial(self.output_name, a)
        y = name(self.output_name)
        if a == b:
            return f"\\frac{{\\partial^2 {y}}}{{\\partial {name(a, '^2')}}}"
        return f"\\frac{{\\partial^2 {y}}}{{\\partial {name(a)} \\, \\partial {name(b)}}}"

    def _lhs(self, a: str, b: str | None = None) -> tuple[str, str, str]:
        """(text, LaTeX, index-notation) left-hand sides."""
        y = self.output_name
        if self.mode == "jacobian":
            out = OUT_LETTERS[:len(axes(self.output.shape))]
            inn = IN_LETTERS[:len(axes(self.inputs[a].shape))]
            return (f"d{y}/d{a}", self._lhs_latex("jacobian", a),
                    f"∂{y}{_sub(out)}/∂{a}{_sub(inn)}")
        ia = OUT_LETTERS[:len(axes(self.inputs[a].shape))]
        ib = IN_LETTERS[:len(axes(self.inputs[b].shape))]
        if a == b:
            return (f"d²{y}/d{a}²", self._lhs_latex("hessian", a, b),
                    f"∂²{y}/∂{a}{_sub(ia)}∂{b}{_sub(ib)}")
        return (f"d²{y}/d{a}d{b}", self._lhs_latex("hessian", a, b),
                f"∂²{y}/∂{a}{_sub(ia)}∂{b}{_sub(ib)}")

    def index_lhs_latex(self, d: HigherDerivative, p=None) -> str:
        """∂Y_ij/∂X_kl in LaTeX (a name with its own subscript is grouped: {W_1}_{kl})."""
        from .printing.latex import LatexPrinter
        p = p or LatexPrinter()

        def sub(name, letters):
            tex = p.name(name).tex()
            if not letters:
                return tex
            return f"{{{tex}}}_{{{letters}}}" if "_" in tex else f"{tex}_{{{letters}}}"
        y = self.output_name
        if d.kind == "jacobian":
            return (f"\\frac{{\\partial {sub(y, d.out_letters)}}}"
                    f"{{\\partial {sub(d.wrt.name, d.in_letters)}}}")
        a, b = self._operands(d)
        return (f"\\frac{{\\partial^2 {p.name(y).tex()}}}{{\\partial {sub(a, d.out_letters)}"
                f" \\, \\partial {sub(b, d.in_letters)}}}")

    @staticmethod
    def _operands(d: HigherDerivative) -> tuple[str, str]:
        """The two variables of a result's key ("X", or "X,A" for a mixed Hessian block)."""
        a, _, b = d.name.partition(",")
        return a, b or a

    def dim_code(self, d) -> str:
        if isinstance(d, int):
            return str(d)
        src = self.base.dim_sources.get(d)
        if src is None:
            raise OptionError(f"the NumPy code needs the size {d}, which no variable gives")
        return src

    # -- access ------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> HigherDerivative:
        return self.derivatives[name]

    def __iter__(self):
        return iter(self.derivatives)

    def __len__(self) -> int:
        return len(self.derivatives)

    # -- spellings -----------------------------------------------------------------------------
    def _no_steps(self, steps: bool, spellings: int = 1) -> None:
        """Refuse --steps, and an output over OUTPUT_LIMIT (`spellings`: how many times
        the output writes each formula)."""
        if steps:
            raise OptionError(f"--steps lists backprop steps; it does not apply to --{self.mode}")
        refuse_output(spellings * output_terms(n for d in self.derivatives.values()
                                               for n in d.printed_nodes()))

    def _axes_comment(self, d: HigherDerivative) -> str:
        dims = " x ".join(str(x) for x in d.shape) or "scalar"
        entry = ", ".join(d.axis_letters)
        what = d.index_lhs if d.kind != "hvp" else ""
        return f"# {d.lhs_text} is {dims}" + (f": entry [{entry}] = {what}" if entry else "")

    def _header(self) -> list[str]:
        lines = [f"# layout: {self.layout}", *describe(self.onehot, self.convention)]
        if self.mode == "hvp":
            names = ", ".join(v.name for v in self.directions.values())
            lines.append(f"# Hessian-vector product H*v = d/dt ∇{self.output_name}"
                         f"(x + t*v) at t = 0, without forming H; direction {names}")
        elif self.mode == "hessian":
            lines.append(f"# Hessian blocks d²{self.output_name}/da db = d(∇_a "
                         f"{self.output_name})/db: the Jacobian of the gradient")
        if any(d.node is None for d in self.derivatives.values()):
            lines.append("# tensors: the linear map dX ↦ ..., vec form on column-major vec "
                         "(K vec(A) = vec(A'), the commutation matrix), index form "
                         "(indices only on the right are summed)")
        return lines

    def text(self, steps: bool = False) -> str:
        self._no_steps(steps)
        lines = self._header()
        for d in self.derivatives.values():
            if d.kind != "hvp":
                lines.append(self._axes_comment(d))
            if d.node is not None:
                lines.append(f"{d.lhs_text} = {d.text}")
            else:
                lines.append(f"{d.lhs_text}: {d.text}")
                if d.kron is not None:
                    lines.append(f"  vec: {d.kron_text}")
                lines.append(f"  index: {d.index}")
            for n, (name, definition) in enumerate(d.where.items()):
                lines.append(f"  {'where' if n == 0 else '     '} {name} = {definition}")
        return "\n".join(lines)

    def latex(self, standalone: bool = False, steps: bool = False, transpose: str = "top",
              numbered: str = "subscript", upstream: str = "fraction",
              shapes: bool = False, notes: bool = False) -> str:
        """An align* block (a whole document if `standalone`), with the options of
        `Derivation.latex`: a matrix result as an equation, a tensor as its linear map,
        its vec form and its index form; named subexpressions in one `where` row at the
        end (a row after each result only where two results give one name two values)."""
        self._no_steps(steps)
        from .assumptions import describe
        from .printing import latex as tex
        p = self.latex_printer(transpose=transpose, numbered=numbered, upstream=upstream,
                               shapes=shapes, notes=notes)
        said = [f"layout: {self.layout}"] + [a.removeprefix("# ")
                                             for a in describe(self.onehot, self.convention)]
        shown = [tex.text_mode(n) for n in said]
        if self.mode == "hvp":
            directions = ", ".join(p.spell(v.name).text for v in self.directions.values())
            said.append("H v: the Hessian times the direction " + directions)
            shown.append(f"$H v$: the Hessian times the direction ${directions}$")
        rows = []
        if p.style.shapes:
            vars_ = list(self.inputs.values()) + list(self.directions.values())
            rows += [f"{p.spell(v.name).text} &\\in {tex.shape_latex(v.shape, p)}"
                     for v in vars_]
        wheres = [d._where_tex(p) for d in self.derivatives.values()]
        merged: dict[str, str] = {}
        once = all(merged.setdefault(n, t) == t for w in wheres for n, t in w.items())

        def where_row(where: dict[str, str]) -> None:
            if where:
                defs = ", \\quad ".join(f"{p.spell(n).text} = {t}" for n, t in where.items())
                rows.append(f"&\\text{{where }} {defs}")
        for d, where in zip(self.derivatives.values(), wheres):
            lhs = self._lhs_latex(d.kind, *self._operands(d), p)
            if d.node is not None:
                rows.append(f"{lhs} &= {d._formula_tex(p)}")
            else:
                rows.append(f"{lhs} &: {d._map_tex(p)}")
                if d.kron is not None:
                    rows.append(f"&= {d._kron_tex(p)} "
                                "\\quad \\text{(on $\\operatorname{vec}$, column-major)}")
                rows.append(f"{self.index_lhs_latex(d, p)} &= {d._index_tex(p)}")
            if not once:
                where_row(where)
        if once:
            where_row(merged)
        body = tex.comments(said) + (tex.notes_paragraph(shown) if notes else "") \
            + tex.align(rows)
        return tex.standalone(body) if standalone else body

    def _repr_latex_(self) -> str:
        """Jupyter's display: the results in an aligned block."""
        self._no_steps(False)
        rows = [f"{d.lhs_latex} &= {d.latex}" for d in self.derivatives.values()]
        return "$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$"

    def _target(self, d: HigherDerivative) -> str:
        key = "_".join(python_name(n) for n in d.name.split(","))
        return {"jacobian": "d_", "hessian": "d2_", "hvp": "hvp_"}[d.kind] + key

    def numpy_code(self, steps: bool = False) -> str:
        self._no_steps(steps)
        lines = [f"# layout: {self.layout}", *describe(self.onehot, self.convention)]
        bound: dict[str, str] = {}
        for d in self.derivatives.values():
            lines += d.numpy_lines(self._target(d), bound)
        return "\n".join(lines)

    def to_json(self, steps: bool = False) -> dict:
        self._no_steps(steps, spellings=3)
        out = {
            "program": self.program,
            "layout": self.layout,
            "mode": self.mode,
            "output": {"name": self.output_name, "shape": json_shape(self.output.shape)},
            "upstream": None,
            "inputs": {n: json_shape(v.shape) for n, v in self.inputs.items()},
            "derivatives": {n: d.to_json() for n, d in self.derivatives.items()},
        }
        if self.directions:
            out["directions"] = {n: v.name for n, v in self.directions.items()}
        if self.onehot:
            out["assumptions"] = dict(self.onehot)
        if structures(self.onehot):
            out["convention"] = self.convention
        names = self.base.python_names
        if names:
            out["python_names"] = dict(names)
        return out

    # -- generated code ------------------------------------------------------------------------
    def codegen(self, target: str = "numpy") -> str:
        """An importable module: `forward(...)` and `jacobian`/`hessian`/`hvp(...)`
        returning a dict of results keyed like `derivatives` (matcalc.codegen)."""
        from .codegen import generate
        return generate(self, target)

    def compile(self):
        """The generated module, imported as `Derivation.compile` does."""
        from .codegen import compile_module
        return compile_module(self.codegen(),
                              f"matcalc_{self.mode}_{python_name(self.output_name)}")

    # -- verification ----------------------------------------------------------------------------
    def check(self, seed: int = 0, deadline: float | None = None):
        """Finite-difference report: each result against directional differences of the
        output (Jacobians) or of the gradient (Hessians, H v), and every other form of it
        (matrix, linear map, vec, index, NumPy code) against the first (see
        matcalc.check_higher)."""
        from .check_higher import check_higher
        return check_higher(self, seed, deadline)

    def verify_claim(self, text: str, seed: int = 0):
        raise OptionError(f"--claim checks gradients; it does not apply to --{self.mode}")

    def __repr__(self) -> str:
        return f"<{self.mode} of {self.output_name} ({self.layout}): " + \
            ", ".join(f"{d.lhs_text} = {d.text}" for d in self.derivatives.values()) + ">"


def _sub(letters: str) -> str:
    return f"_{letters}" if letters else ""
