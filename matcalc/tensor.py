"""Index notation: a derivative of any order, exactly, as a sum of products of indexed
factors (an einsum).

Matrix notation stops at order two. A Jacobian of a matrix by a matrix, or the Hessian of a
scalar by a matrix, is a 4th-order tensor; it is written here the way a careful person
writes it by hand, `∂Y_ij/∂X_kl = δ_ik A_jl`, and the same data prints as `np.einsum`.

The tensor of a linear map is read off its IR. The VJP `G(U)` of an output in its upstream
`U` is linear in `U`, so `∂G_ab/∂U_pq` is found by one structural pass over `G` (a rule per
node kind, like the rule table, but exact and total over the linear kinds): a product
chain contracts its inner index, an elementwise product repeats its indices, a sum of
entries sums them, `U` itself gives Kronecker deltas. Deltas on a summed index are then
eliminated by substitution, transposes become swapped indices (`inv(X)'_ij` is
`inv(X)_ji`), numbers move to the coefficient.

Conventions. A factor is an IR node (constant in the map's argument) with one index per
non-singleton axis, so vectors carry one index and scalars none; `Identity` factors are
deltas. The indices in `free` are the tensor's own (the left-hand side's); every other
index is summed (Einstein summation over the indices absent on the left, so a free index
may repeat on the right, as in `δ_ik exp(x)_i`). Summed indices are named a, b, ..., z
(without i, j, k, l), then a₁, b₁, ...: a term may need more than the alphabet (the
Hessian of tr(X^26)). np.einsum takes 52 letters, so its specs take letters per call, and
a term with more indices is contracted two operands at a time (`einsum_plan`).
The `Kron` form, `d vec(Y)/d vec(X)` as sums of Kronecker products, uses the column-major
vec (vec stacks columns), with `K` the commutation matrix, `K vec(A) = vec(A')`.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import expr as E
from .expr import (
    Add,
    Broadcast,
    Const,
    Contract,
    DiagMat,
    DiagVec,
    Tril,
    Triu,
    Dim,
    DimValue,
    Divide,
    Hadamard,
    Identity,
    MatMul,
    Node,
    Ones,
    Power,
    Scale,
    Sum,
    Trace,
    Transpose,
    Var,
    Zero,
    charge,
    walk,
)
from .rewrites import push_transpose
from .simplify import simplify

DUMMIES = "abcdefghmnopqrstuvwxyz"     # summed indices; i, j, k, l name the free ones
SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"   # all np.einsum takes


class NotLinear(ValueError):
    """The expression is not linear in the argument of the map (an internal error)."""


@dataclass(frozen=True)
class Factor:
    """`node` indexed by `idx`, one index per non-singleton axis (vectors one, scalars
    none). An Identity factor is the delta δ_ab."""
    node: Node
    idx: tuple[str, ...]

    @property
    def is_delta(self) -> bool:
        return isinstance(self.node, Identity)


@dataclass(frozen=True)
class Term:
    coef: int | float
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Tensor:
    """Σ_terms coef · Π factors, with free indices `free` (in canonical order: the output's
    axes, then the variable's) and `sizes` giving each index's dimension."""
    free: tuple[str, ...]
    terms: tuple[Term, ...]
    sizes: Mapping[str, Dim] = field(hash=False, compare=False)

    def transposed(self, order: tuple[str, ...]) -> Tensor:
        """The same tensor with its free indices in `order`."""
        assert sorted(order) == sorted(self.free)
        return Tensor(tuple(order), self.terms, self.sizes)

    def renamed(self, mapping: Mapping[str, str]) -> Tensor:
        def r(i):
            return mapping.get(i, i)
        terms = tuple(Term(t.coef, tuple(Factor(f.node, tuple(map(r, f.idx)))
                                         for f in t.factors)) for t in self.terms)
        sizes = {r(i): d for i, d in self.sizes.items()}
        return Tensor(tuple(map(r, self.free)), terms, sizes)


def axes(shape) -> list[Dim]:
    """The dimensions an index names, in order: the non-singleton ones of a 2-D shape,
    every one of a tensor's (`matcalc.expr.axes`)."""
    return list(E.axes(shape))


def depends_on(arg: Node) -> Callable[[Node], bool]:
    """`depends(n)`: whether `arg` occurs in n, memoised. A reading that builds new nodes
    as it goes (a transpose pushed down, a product split over a sum) asks about nodes that
    were not there at the start: a set computed once from the root would call them
    constant, and their derivative zero."""
    memo: dict[Node, bool] = {arg: True}

    def depends(n: Node) -> bool:
        got = memo.get(n)
        if got is None:
            for m in walk(n, known=memo):
                memo[m] = any(memo[c] for c in m.children)
            got = memo[n]
        return got
    return depends


# ---- the tensor of a linear map ---------------------------------------------------------

def index_form(node: Node, arg: Var, node_idx: tuple[str, ...], arg_idx: tuple[str, ...]
               ) -> Tensor:
    """The tensor ∂node[node_idx]/∂arg[arg_idx] of an expression linear in `arg` (one
    index name per non-singleton axis of each), tidied."""
    b = _Builder(node, arg, arg_idx)
    idx = b.assign(node.shape, node_idx)
    terms = b.lin(node, idx)
    free = tuple(node_idx) + tuple(arg_idx)
    for i, d in zip(node_idx, axes(node.shape)):
        b.sizes[i] = d
    for i, d in zip(arg_idx, axes(arg.shape)):
        b.sizes[i] = d
    return tidy(Tensor(free, tuple(terms), b.sizes))


class _Builder:
    def __init__(self, root: Node, arg: Var, arg_idx: tuple[str, ...]):
        self.arg = arg
        self.arg_idx = self.assign(arg.shape, arg_idx)
        self.sizes: dict[str, Dim] = {}
        self.count = 0
        self.depends = depends_on(arg)

    @staticmethod
    def assign(shape, names) -> tuple[str | None, ...]:
        """The index of each dimension of a shape from the names of its axes (`axes`):
        (row, column) of a 2-D shape, None on a singleton; one per dimension of a tensor."""
        names = list(names)
        if len(shape) != 2:
            assert len(names) == len(shape), (shape, names)
            return tuple(names)
        out = []
        for d in shape:
            out.append(None if d == 1 else names.pop(0))
        assert not names, (shape, names)
        return tuple(out)

    def fresh(self, dim: Dim, singleton: bool = False) -> str | None:
        """A new summed index of size `dim`; None for a singleton axis of a 2-D shape
        (unless `singleton`: a tensor's axis of size 1 still has its index)."""
        if dim == 1 and not singleton:
            return None
        self.count += 1
        name = f"_{self.count}"
        self.sizes[name] = dim
        return name

    def factor(self, node: Node, idx) -> list[Factor]:
        """A constant indexed by `idx` (None on the singleton axes of a 2-D shape), as factors."""
        return self.factors(node, tuple(i for i in idx if i is not None))

    def lin(self, n: Node, idx) -> list[Term]:
        """Terms of ∂n[idx]/∂arg[arg_idx] (idx: one index per dimension of n, None on the
        singleton axes of a 2-D shape: `assign`). The kinds a tensor-valued node can be
        come first; the matrix kinds after them."""
        if not self.depends(n):
            return []
        if n is self.arg:
            deltas = [Factor(Identity(d), (i, j))
                      for i, j, d in zip(idx, self.arg_idx, n.shape) if i is not None]
            return [Term(1, tuple(deltas))]
        if isinstance(n, Contract):
            return self.contract(n, idx)
        if isinstance(n, Add):
            return [t for term in n.terms for t in self.lin(term, idx)]
        if isinstance(n, Scale):
            if self.depends(n.s) and self.depends(n.x):
                raise NotLinear(repr(n))
            if self.depends(n.s):
                return self.times(self.factor(n.x, idx), self.lin(n.s, (None, None)))
            return self.times([Factor(n.s, ())], self.lin(n.x, idx))
        if isinstance(n, Hadamard):
            dep = [f for f in n.factors if self.depends(f)]
            if len(dep) != 1:
                raise NotLinear(repr(n))
            rest = [f for f in n.factors if f is not dep[0]]
            const = rest[0] if len(rest) == 1 else Hadamard(tuple(rest))
            return self.times(self.factor(const, idx), self.lin(dep[0], idx))
        if isinstance(n, Divide):
            if self.depends(n.b):
                raise NotLinear(repr(n))
            recip = simplify(Divide(Ones(n.b.shape), n.b))
            return self.times(self.factor(recip, idx), self.lin(n.a, idx))
        if isinstance(n, Power) and n.p is Const(1):
            return self.lin(n.x, idx)
        if isinstance(n, Sum):                  # of a matrix, or of a tensor's entries
            tensor = len(n.x.shape) != 2
            return self.lin(n.x, tuple(self.fresh(d, singleton=tensor) for d in n.x.shape))
        if isinstance(n, Zero):
            return []
        if len(idx) != 2:
            raise NotLinear(f"{type(n).__name__} of a tensor argument: {n!r}")
        r, c = idx
        if isinstance(n, Transpose):
            return self.lin(n.x, (c, r))
        if isinstance(n, MatMul):
            return self.matmul(n, idx)
        if isinstance(n, Broadcast):
            (xr, xc), (R, C) = n.x.shape, n.shape
            inner = (r if xr != 1 else None, c if xc != 1 else None)
            ones = []
            if xr == 1 and R != 1:
                ones.append(Factor(Ones((R, 1)), (r,)))
            if xc == 1 and C != 1:
                ones.append(Factor(Ones((C, 1)), (c,)))
            return self.times(ones, self.lin(n.x, inner))
        if isinstance(n, Trace):
            a = self.fresh(n.x.shape[0])
            return self.lin(n.x, (a, a))
        if isinstance(n, DiagMat):
            delta = [Factor(Identity(n.shape[0]), (r, c))] if n.shape[0] != 1 else []
            return self.times(delta, self.lin(n.x, (r, None)))
        if isinstance(n, DiagVec):
            return self.lin(n.x, (r, r))
        if isinstance(n, (Tril, Triu)):                  # tril(X) = tril(1) .* X: a mask
            mask = type(n)(Ones(n.shape))
            return self.times(self.factor(mask, idx), self.lin(n.x, idx))
        raise NotLinear(f"{type(n).__name__} of the argument: {n!r}")

    def contract(self, n: Contract, idx) -> list[Term]:
        """einsum: the output letters take the indices asked for, the summed letters fresh
        ones; the constant operands are factors, the one that depends on the argument
        (a linear map has exactly one) is read in its letters."""
        ops = n.operands
        dep = [k for k, x in enumerate(ops) if self.depends(x)]
        if len(dep) != 1:
            raise NotLinear(repr(n))
        letter = self.letters(n, idx)
        consts = [f for k, (x, sub) in enumerate(zip(ops, n.ins)) if k != dep[0]
                  for f in self.factors(x, tuple(letter[ch] for ch in sub))]
        x = ops[dep[0]]
        inner = self.assign(x.shape, [letter[ch] for ch in n.ins[dep[0]]])
        return self.times(consts, self.lin(x, inner))

    def letters(self, n: Contract, idx) -> dict[str, str]:
        """The index of each letter of an einsum whose result is indexed by `idx`."""
        named = iter(i for i in idx if i is not None) if len(idx) == 2 else iter(idx)
        letter = {ch: next(named) for ch in n.out}
        sizes = n.sizes()
        for sub in n.ins:
            for ch in sub:
                if ch not in letter:
                    letter[ch] = self.fresh(sizes[ch], singleton=True)
        return letter

    def factors(self, x: Node, idx: tuple[str, ...]) -> list[Factor]:
        """A constant indexed by `idx` as factors: an einsum of constants is its operands
        (`X[i,k]*A[j,k,l]`, not `(X*A)[i,j,l]`), anything else one factor."""
        if not isinstance(x, Contract):
            return [Factor(x, idx)]
        letter = self.letters(x, idx)
        return [f for y, sub in zip(x.operands, x.ins)
                for f in self.factors(y, tuple(letter[ch] for ch in sub))]

    def matmul(self, n: MatMul, idx) -> list[Term]:
        fs = n.factors
        dep = [i for i, f in enumerate(fs) if self.depends(f)]
        if len(dep) != 1:
            raise NotLinear(repr(n))
        i = dep[0]
        left, right = fs[:i], fs[i + 1:]
        r, c = idx
        consts = []
        inner_r, inner_c = r, c
        if left:
            p = left[0] if len(left) == 1 else MatMul(tuple(left))
            inner_r = self.fresh(p.shape[1])
            consts += self.factor(p, (r, inner_r))
        if right:
            q = right[0] if len(right) == 1 else MatMul(tuple(right))
            inner_c = self.fresh(q.shape[0])
            consts += self.factor(q, (inner_c, c))
        return self.times(consts, self.lin(fs[i], (inner_r, inner_c)))

    @staticmethod
    def times(factors: list[Factor], terms: list[Term]) -> list[Term]:
        # exponential on a shared DAG, so bounded: every factor slot copied is counted
        charge(len(terms) * len(factors) + sum(len(t.factors) + 1 for t in terms))
        return [Term(t.coef, tuple(factors) + t.factors) for t in terms]


def einsum_node(t: Tensor, order: tuple[str, ...]) -> Node | None:
    """The tensor as an IR node with its axes in `order` (a permutation of `t.free`): a
    sum of contractions, simplified (so what is a matrix expression prints as one). An
    index present only on the left is carried by a ones vector, as in index statements.
    None if it needs more indices than an einsum has letters."""
    indices = dict.fromkeys(list(order) + [i for term in t.terms for f in term.factors
                                           for i in f.idx])
    if len(indices) > len(EINSUM_LETTERS):
        return None
    letters = {i: EINSUM_LETTERS[n] for n, i in enumerate(indices)}
    parts: list[Node] = []
    for term in t.terms:
        ops = [f.node for f in term.factors]
        subs = ["".join(letters[i] for i in f.idx) for f in term.factors]
        present = {i for f in term.factors for i in f.idx}
        for i in order:
            if i not in present:
                ops.append(Ones(E.shape_of_axes((t.sizes[i],))))
                subs.append(letters[i])
        out = "".join(letters[i] for i in order)
        node = E.contract(ops, ",".join(subs) + "->" + out) if ops else Const(1)
        parts.append(node if term.coef == 1 else Scale(Const(term.coef), node))
    if not parts:
        return Zero(E.shape_of_axes(t.sizes[i] for i in order))
    return simplify(parts[0] if len(parts) == 1 else Add(tuple(parts)))


# ---- tidying: deltas, transposes, numbers --------------------------------------------------

def tidy(t: Tensor) -> Tensor:
    """Deltas on summed indices substituted away, transposes turned into swapped indices,
    numeric factors in the coefficient, summed indices renamed a, b, c, ... per term
    (`dummy`)."""
    sizes = dict(t.sizes)
    terms = []
    for term in t.terms:
        charge(len(term.factors) ** 2)           # a delta substituted restarts the scan
        term = _tidy_term(term, set(t.free), sizes)
        if term is not None:
            terms.append(term)
    return Tensor(t.free, tuple(terms), sizes)


def _normal_factors(factors, coef):
    """Split scalings and transposes out of factors; returns (coef, factors) or None for 0."""
    out = []
    stack = list(reversed(factors))
    while stack:
        f = stack.pop()
        node, idx = f.node, f.idx
        if isinstance(node, Transpose):
            stack.append(Factor(node.x, tuple(reversed(idx))))
            continue
        if isinstance(node, Const):
            coef = coef * node.value
            continue
        if isinstance(node, Scale):
            stack.append(Factor(node.x, idx))
            stack.append(Factor(node.s, ()))
            continue
        if isinstance(node, Zero) or (isinstance(node, Const) and node.value == 0):
            return None
        out.append(Factor(node, idx))
    if coef == 0:
        return None
    return coef, out


def _tidy_term(term: Term, free: set[str], sizes: dict) -> Term | None:
    got = _normal_factors(term.factors, term.coef)
    if got is None:
        return None
    coef, factors = got
    changed = True
    while changed:
        changed = False
        for n, f in enumerate(factors):
            if not f.is_delta:
                continue
            a, b = f.idx
            rest = factors[:n] + factors[n + 1:]
            if a == b:                                      # δ_aa = 1 for each a
                if any(a in g.idx for g in rest):
                    pass                                    # Σ_a δ_aa f_a = Σ_a f_a
                elif a in free:
                    rest = rest + [Factor(Ones((sizes[a], 1)), (a,))]
                else:                                       # Σ_a δ_aa = n
                    rest = rest + [Factor(simplify(DimValue(sizes[a])), ())]
            elif b not in free or a not in free:
                old, new = (b, a) if b not in free else (a, b)
                rest = [Factor(g.node, tuple(new if i == old else i for i in g.idx))
                        for g in rest]
            else:
                continue
            factors = rest
            changed = True
            break
    # a ones factor only carries its indices: 1_a is 1, Σ_a 1_a is the size of a
    ones = [i for f in factors if isinstance(f.node, Ones) for i in f.idx]
    factors = [f for f in factors if not isinstance(f.node, Ones)]
    for i in dict.fromkeys(ones):
        if any(i in g.idx for g in factors):
            continue
        if i in free:
            factors.append(Factor(Ones((sizes[i], 1)), (i,)))
        else:
            factors.append(Factor(simplify(DimValue(sizes[i])), ()))
    got = _normal_factors(factors, coef)
    if got is None:
        return None
    coef, factors = got
    rank = {i: n for n, i in enumerate(sorted(free))}

    def first(f):             # deltas first, then by the earliest free index carried
        return (not f.is_delta, isinstance(f.node, Ones),
                min((rank.get(i, len(rank)) for i in f.idx), default=len(rank)))
    factors.sort(key=first)
    # summed indices named a, b, c, ... in order of appearance
    mapping: dict[str, str] = {}
    variables = {n.name for f in factors for n in walk(f.node) if isinstance(n, Var)}
    names = (d for d in map(dummy, itertools.count()) if d not in free and d not in variables)
    for f in factors:
        for i in f.idx:
            if i not in free and i not in mapping:
                mapping[i] = next(names)
                sizes[mapping[i]] = sizes[i]
    factors = [Factor(f.node, tuple(mapping.get(i, i) for i in f.idx)) for f in factors]
    factors = [Factor(f.node, tuple(sorted(f.idx))) if f.is_delta else f for f in factors]
    return Term(coef, tuple(factors))


def dummy(n: int) -> str:
    """The name of the n-th summed index of a term (from 0): a, b, ..., z without the free
    i, j, k, l, then a₁, ..., z₁, a₂, ...: as many as a term needs (a tensor's free
    indices go on past l, and `_tidy_term` skips those)."""
    rounds, r = divmod(n, len(DUMMIES))
    return DUMMIES[r] + (str(rounds).translate(SUBSCRIPT_DIGITS) if rounds else "")


# ---- contraction: one einsum, or pairwise beyond the letters np.einsum has ------------------

def einsum_plan(subs: list[tuple[str, ...]], out: tuple[str, ...]):
    """How to contract operands indexed by `subs` into `out` with np.einsum, whose labels
    are the 52 letters a-z, A-Z. A term with at most 52 distinct indices is one call:
    `("einsum", spec, [0, 1, ...])`. Beyond that, operands are contracted two at a time
    (first the pair whose result keeps the fewest indices), each call with letters of its
    own: `("einsum", spec, [plan or operand number, ...])`, nested. Only operands that
    share an index are paired while any do."""
    labels = list(dict.fromkeys([i for s in subs for i in s] + list(out)))
    if len(labels) <= len(EINSUM_LETTERS):
        return ("einsum", _spec(subs, out), list(range(len(subs))))
    parts: list[tuple[object, tuple[str, ...]]] = [(n, tuple(s)) for n, s in enumerate(subs)]
    while len(parts) > 1:
        holders: dict[str, list[int]] = {}
        for n, (_, s) in enumerate(parts):
            for i in dict.fromkeys(s):
                holders.setdefault(i, []).append(n)
        pairs = {(a, b) for ns in holders.values() for a in ns for b in ns if a < b} or {(0, 1)}
        best = None
        for a, b in sorted(pairs):
            sa, sb = set(parts[a][1]), set(parts[b][1])
            keep = tuple(i for i in dict.fromkeys(parts[a][1] + parts[b][1])
                         if i in out or len(holders[i]) > (i in sa) + (i in sb))
            if best is None or len(keep) < len(best[2]):
                best = (a, b, keep)
        a, b, keep = best
        pa, pb = parts[a], parts[b]
        step = ("einsum", _spec([pa[1], pb[1]], keep), [pa[0], pb[0]])
        parts = [p for n, p in enumerate(parts) if n not in (a, b)] + [(step, keep)]
    last, idx = parts[0]
    return ("einsum", _spec([idx], out), [last])


def _spec(subs, out) -> str:
    """An einsum spec over letters: single-letter indices keep their letter (so the free
    i, j, k, l read as printed), the others take the letters left."""
    labels = list(dict.fromkeys(list(out) + [i for s in subs for i in s]))
    taken = {i for i in labels if len(i) == 1 and i in EINSUM_LETTERS}
    spare = iter(c for c in EINSUM_LETTERS if c not in taken)
    letter = {i: (i if i in taken else next(spare)) for i in labels}
    return ",".join("".join(letter[i] for i in s) for s in subs) + "->" + \
        "".join(letter[i] for i in out)


def run_plan(plan, operands):
    """The value of an `einsum_plan` over the arrays `operands` (NumPy imported here)."""
    import numpy as np
    _, spec, args = plan
    vals = [run_plan(a, operands) if isinstance(a, tuple) else operands[a] for a in args]
    return np.einsum(spec, *vals, optimize=len(vals) > 2)


# ---- the Kronecker (vec) form ------------------------------------------------------------

@dataclass(frozen=True)
class KronTerm:
    """coef · scalar · (left ⊗ right), followed by K (`commute="right"`) or preceded by
    K' (`commute="left"`); `scalar` is None or a scalar node."""
    coef: int | float
    scalar: Node | None
    left: Node
    right: Node
    commute: str | None = None


@dataclass(frozen=True)
class Kron:
    """d vec(Y)/d vec(X) (numerator layout: vec(Y) indexes the rows) as a sum of
    Kronecker products, vec column-major; `k_shape` is the shape of the matrix whose vec
    K transposes (K vec(A) = vec(A') for A of that shape)."""
    terms: tuple[KronTerm, ...]
    k_shape: tuple[Dim, Dim]

    def transposed(self) -> Kron:
        """The denominator layout: (A ⊗ B)' = A' ⊗ B', ((A ⊗ B) K)' = K' (A' ⊗ B')."""
        side = {None: None, "right": "left", "left": "right"}
        return Kron(tuple(KronTerm(t.coef, t.scalar, simplify(Transpose(t.left)),
                                   simplify(Transpose(t.right)), side[t.commute])
                          for t in self.terms), self.k_shape)


def kron_form(jvp: Node, v: Var) -> Kron | None:
    """The Kronecker form of the linear map `dX ↦ jvp` (linear in `v` = dX), when every
    term, once products are multiplied out over sums, is a product chain with one factor
    dX or dX', or the transpose of one (vec(L dX R) = (R' ⊗ L) vec(dX),
    vec(L dX' R) = (R' ⊗ L) K vec(dX), (L dX R)' = R' dX' L'); None otherwise."""
    depends = depends_on(v)
    for form in (jvp, multiply_out(jvp, depends)):
        terms = [t for p in products(form) for t in products(simplify(term_node(*p)))]
        kron = _kron(terms, v, depends)
        if kron is not None:
            return kron
    return None


def _kron(terms, v: Var, depends) -> Kron | None:
    out = []
    vector = 1 in v.shape
    for coef, scalars, core, flipped in terms:
        if any(depends(s) for s in scalars):
            return None
        fs = _factors(core)
        hits = [i for i, f in enumerate(fs) if f is v or (isinstance(f, Transpose) and f.x is v)]
        if len(hits) != 1:
            return None
        i = hits[0]
        if any(depends(f) for n, f in enumerate(fs) if n != i):
            return None
        rows, cols = fs[i].shape
        left, right = _chain(fs[:i], rows), _chain(fs[i + 1:], cols)
        if flipped:                                   # (L D R)' = R' D' L'
            left, right = simplify(Transpose(right)), simplify(Transpose(left))
        transposed = (fs[i] is not v) != flipped
        scalar = None
        for s in scalars:
            scalar = s if scalar is None else Scale(s, scalar)
        out.append(KronTerm(coef, None if scalar is None else simplify(scalar),
                            simplify(Transpose(right)), left,
                            "right" if transposed and not vector else None))
    return Kron(tuple(out), v.shape)


def products(node: Node, flipped: bool = False) -> list:
    """(coefficient, scalar factors, product, transposed) for each term of a sum, with
    transposes and scalings of sums moved onto their terms: the sum is
    Σ coef Π scalars (product' if transposed else product)."""
    if isinstance(node, Add):
        return [t for term in node.terms for t in products(term, flipped)]
    if isinstance(node, Transpose):
        return products(node.x, not flipped)
    if isinstance(node, Scale):
        const = isinstance(node.s, Const)
        return [(coef * node.s.value if const else coef, scalars if const else
                 [node.s, *scalars], core, f) for coef, scalars, core, f in
                products(node.x, flipped)]
    return [(1, [], node, flipped)]


def term_node(coef, scalars, core: Node, flipped: bool) -> Node:
    """The node of one term of `products`."""
    t = Transpose(core) if flipped else core
    for s in reversed(scalars):
        t = Scale(s, t)
    return t if coef == 1 else Scale(Const(coef), t)


def multiply_out(node: Node, depends) -> Node:
    """Products distributed over every sum (or scaled or transposed sum) that depends on
    the map's argument: (dA + dA')*x is dA*x + dA'*x, the form whose terms have
    Kronecker forms. Not simplified (that would factor the terms again). A reading aid,
    not a rewrite of the display form: its result is only read term by term (`products`),
    never shown."""
    memo: dict[Node, Node] = {}
    for n in walk(node):
        new = n.rebuild([memo[c] for c in n.children]) if n.children else n
        if isinstance(new, MatMul):
            fs = new.factors
            i = next((i for i, f in enumerate(fs) if depends(f) and len(products(f)) > 1),
                     None)
            if i is not None:
                new = Add(tuple(MatMul(fs[:i] + (term_node(*t),) + fs[i + 1:])
                                for t in products(fs[i])))
        memo[n] = new
    return memo[node]


def _factors(node: Node) -> list[Node]:
    """The factors of a product chain, transposed products expanded by the transpose
    pusher ((A B)' = B' A', (X')' = X)."""
    if isinstance(node, MatMul):
        return [g for f in node.factors for g in _factors(f)]
    if isinstance(node, Transpose) and isinstance(node.x, (Transpose, MatMul)):
        return _factors(push_transpose(node.x))
    return [node]


def _chain(fs, n) -> Node:
    if not fs:
        return Identity(n) if n != 1 else Const(1)
    return simplify(fs[0] if len(fs) == 1 else MatMul(tuple(fs)))


# ---- numbers (for checks and tests; NumPy imported here only) ----------------------------

def tensor_value(t: Tensor, values, dims, order: tuple[str, ...] | None = None):
    """The tensor's entries as an array with axes in `order` (default `t.free`)."""
    parts = term_values(t, values, dims, order)
    return sum(parts[1:], parts[0])


def term_values(t: Tensor, values, dims, order: tuple[str, ...] | None = None,
                memo=None) -> list:
    """Each term's entries (its coefficient included) as an array with axes in `order`
    (default `t.free`); at least one array (zeros when there is no term). `memo`: node
    values already known (as matcalc.evaluate.evaluate_all returns them), which the
    checker has at hand."""
    import numpy as np

    from .evaluate import evaluate_all, size_of
    order = tuple(order or t.free)
    shape = tuple(size_of(t.sizes[i], dims) for i in order)
    nodes = list({f.node: None for term in t.terms for f in term.factors})
    vals = evaluate_all(nodes, values, dims, memo) if nodes else {}
    parts = []
    for term in t.terms:
        ops, subs = [], []
        for f in term.factors:
            a = vals[f.node]
            ops.append(a.reshape([s for s in a.shape if s != 1]) if f.idx else a.reshape(()))
            subs.append(f.idx)
        present = {i for s in subs for i in s}
        for i in order:
            if i not in present:
                ops.append(np.ones(size_of(t.sizes[i], dims)))
                subs.append((i,))
        part = run_plan(einsum_plan(subs, order), ops) if ops else np.ones(shape)
        parts.append(term.coef * part)
    return parts or [np.zeros(shape)]


def kron_value(k: Kron, values, dims):
    """The matrix d vec(Y)/d vec(X) (or its transpose, for a transposed Kron)."""
    import numpy as np

    from .evaluate import evaluate, shape_of
    total = None
    for t in k.terms:
        left, right = evaluate([t.left, t.right], values, dims)
        m = np.kron(left, right) * t.coef
        if t.scalar is not None:
            m = m * evaluate(t.scalar, values, dims)[0, 0]
        if t.commute is not None:
            kk = commutation(*shape_of(Var("_", k.k_shape), dims))
            m = m @ kk if t.commute == "right" else kk.T @ m
        total = m if total is None else total + m
    return total


def commutation(r: int, c: int):
    """K with K vec(A) = vec(A') for an r x c matrix A (vec column-major)."""
    import numpy as np
    k = np.zeros((r * c, r * c))
    for i in range(r):
        for j in range(c):
            k[j + i * c, i + j * r] = 1.0
    return k
