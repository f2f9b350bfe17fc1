"""Canonical forms: the formula a careful person writes.

Rather than a bag of ad hoc rewrites, each node kind has one normaliser that assumes its
operands are already canonical and returns a canonical node of the same shape:

- scalar products are monomials: a numeric coefficient times scalar factors with
  exponents, so `0.5 * 2 * norm2(r) * r / norm2(r)` becomes `r`;
- elementwise products and quotients likewise (`p .* (y ./ p)` is `y`);
- sums are flattened with like terms collected and common leading/trailing matrix factors
  taken out (`A*x + A'*x` is `(A + A')*x`), positive terms first;
- product chains are flat, with scalars pulled out, identities dropped and `1'*G*1`
  recognised as `sum(G)`;
- transposes are pushed to the leaves (`(A*B)'` is `B'*A'`), except that `inv(X)'` stays.

Nodes are interned, so one module-level memo makes simplification of shared
subexpressions free. The traversal is iterative; every rewrite asserts that the shape is
kept.
"""
from __future__ import annotations

import math

from . import ops
from .expr import (
    SCALAR,
    Add,
    Broadcast,
    Const,
    Det,
    DiagMat,
    DiagVec,
    DimValue,
    Divide,
    Func,
    Hadamard,
    Identity,
    Inv,
    LogDet,
    MatMul,
    Node,
    Norm1,
    Norm2,
    Ones,
    Power,
    Scale,
    Sum,
    Trace,
    Transpose,
    Tril,
    Triu,
    Zero,
    walk,
)

_MEMO: dict[Node, Node] = {}
ONE = Const(1)
_ZERO = Const(0)


def simplify(root: Node) -> Node:
    """The canonical form of `root` (same shape, same value)."""
    memo = _MEMO
    hit = memo.get(root)
    if hit is not None:
        return hit
    for node in walk(root, known=memo):
        kids = node.children
        if kids:
            canonical = tuple([memo[k] for k in kids])
            memo[node] = _norm(node if canonical == kids else node.rebuild(canonical))
        else:
            memo[node] = _norm(node)
    return memo[root]


def _norm(n: Node) -> Node:
    """Normalise a node whose children are canonical."""
    hit = _MEMO.get(n)
    if hit is not None:
        return hit
    f = _NORMALISERS.get(type(n))
    out = f(n) if f else n
    if out.shape != n.shape:
        raise AssertionError(f"simplify changed a shape: {n} {n.shape} -> {out} {out.shape}")
    _MEMO[n] = out
    _MEMO.setdefault(out, out)
    return out


def mk(cls, *args) -> Node:
    """Build a node from canonical parts and normalise it."""
    return _norm(cls(*args))


# ---- small predicates and builders ---------------------------------------------------

def is_zero(x: Node) -> bool:
    return x is _ZERO or type(x) is Zero          # Const(0) is one interned node


def zero(shape) -> Node:
    return Const(0) if shape == SCALAR else Zero(shape)


def const_value(x: Node):
    return x.value if isinstance(x, Const) else None


# ---- scalar monomials ------------------------------------------------------------------

def _scalar_factors(s: Node, coef, facs: dict[Node, float]):
    """Accumulate a canonical scalar `s` as coef * prod(base^exp)."""
    stack = [(s, 1)]
    while stack:
        x, e = stack.pop()
        if isinstance(x, Const) and (x.value != 0 or e > 0):
            coef = coef * (x.value ** e if e != 1 else x.value)
        elif isinstance(x, Scale):
            stack.append((x.x, e))
            stack.append((x.s, e))
        elif isinstance(x, Power) and isinstance(x.p, Const) and x.x.shape == SCALAR \
                and (e == 1 or isinstance(x.p.value, int)):
            facs[x.x] = facs.get(x.x, 0) + x.p.value * e
        else:
            facs[x] = facs.get(x, 0) + e
    return coef


def _sigmoids(facs: dict[Node, float]) -> None:
    """exp(u) / (1 + exp(u)) is sigmoid(u), and 1 / (1 + exp(u)) is sigmoid(-u): the
    logistic function in its own name (and computed stably by the printers)."""
    for b, e in list(facs.items()):
        if e != -1 or b not in facs:
            continue
        u = one_plus_exp(b)
        if u is None:
            continue
        del facs[b]
        ex = Func("exp", u)
        if facs.get(ex, 0) >= 1:
            facs[ex] -= 1
            s = mk(Func, "sigmoid", u)
        else:
            s = mk(Func, "sigmoid", mk(Scale, Const(-1), u))
        facs[s] = facs.get(s, 0) + 1
    # sigmoid(w) exp(-w) = sigmoid(-w): the pair a bottom-up pass leaves behind
    changed = True
    while changed:
        changed = False
        for b, e in list(facs.items()):
            if e >= 1 and isinstance(b, Func) and b.name == "sigmoid":
                v = mk(Scale, Const(-1), b.x)
                ex = Func("exp", v)
                if facs.get(ex, 0) >= 1:
                    for k in (b, ex):
                        facs[k] -= 1
                        if facs[k] == 0:
                            del facs[k]
                    s = mk(Func, "sigmoid", v)
                    facs[s] = facs.get(s, 0) + 1
                    changed = True
                    break


def one_plus_exp(b: Node) -> Node | None:
    """u if b is 1 + exp(u), in either order (sums keep the order they were written in),
    the one a number, ones or a broadcast 1: the argument of a softplus log(1 + exp(u)),
    and of a sigmoid exp(u) ./ (1 + exp(u))."""
    if not isinstance(b, Add) or len(b.terms) != 2:
        return None
    one = [t for t in b.terms if isinstance(t, Ones) or t is ONE
           or (isinstance(t, Broadcast) and t.x is ONE)]
    ex = [t for t in b.terms if isinstance(t, Func) and t.name == "exp"]
    return ex[0].x if len(one) == 1 and len(ex) == 1 else None


def _rebuild_scaled(coef, facs: dict[Node, float], core: Node | None, shape) -> Node:
    _sigmoids(facs)
    if coef == 0:
        return zero(shape)
    items = sorted(((b, e) for b, e in facs.items() if e != 0),
                   key=lambda be: (size(be[0]), be[0].sort_key))       # smaller first
    # a numeric base folds into the coefficient
    parts: list[Node] = []
    for b, e in items:
        parts.append(b if e == 1 else Power(b, Const(e)))
    if core is None:
        if not parts:
            return Const(coef)
        core = parts.pop()
    for p in reversed(parts):
        core = Scale(p, core)
    if coef != 1:
        core = Scale(Const(coef), core)
    return core


def _norm_scale(n: Scale) -> Node:
    s, x = n.s, n.x
    if is_zero(s) or is_zero(x):
        return zero(n.shape)
    if s is Const(-1) and isinstance(x, Add):
        return mk(Add, tuple(mk(Scale, s, t) for t in x.terms))   # -(a - b) = b - a
    facs: dict[Node, float] = {}
    coef = _scalar_factors(s, 1, facs)
    while isinstance(x, Scale):
        coef = _scalar_factors(x.s, coef, facs)
        x = x.x
    core: Node | None = x
    if x.shape == SCALAR:
        coef = _scalar_factors(x, coef, facs)
        core = None
    return _rebuild_scaled(coef, facs, core, n.shape)


def _times(c, x: Node) -> Node:
    """mk(Scale, Const(c), x) for a canonical x, without building the Scale node where no
    rewrite applies to it (x not scalar, not zero, not scaled, not a sum negated)."""
    if type(x) is Scale or x.shape == SCALAR or c == 0 or is_zero(x) or \
            c == -1 and type(x) is Add:
        return mk(Scale, Const(c), x)
    return x if c == 1 else Scale(Const(c), x)


def split_scale(x: Node) -> tuple[Node | None, Node]:
    """(scalar part or None, core) of a canonical Scale chain."""
    if isinstance(x, Scale) and x.shape != SCALAR:
        scalars = []
        while isinstance(x, Scale):
            scalars.append(x.s)
            x = x.x
        s = scalars[-1]
        for t in reversed(scalars[:-1]):
            s = Scale(t, s)
        return s, x
    return None, x


def scaled(s: Node | None, x: Node) -> Node:
    return x if s is None else mk(Scale, s, x)


# ---- sums --------------------------------------------------------------------------------

def _split_coef(t: Node):
    if isinstance(t, Const):
        return t.value, ONE
    if isinstance(t, Scale) and isinstance(t.s, Const):
        return t.s.value, t.x
    return 1, t


def _norm_add(n: Add) -> Node:
    coefs: dict[Node, float] = {}
    for t in n.terms:
        if is_zero(t):
            continue
        c, rest = _split_coef(t)
        coefs[rest] = coefs.get(rest, 0) + c
    terms = []
    for rest, c in coefs.items():
        if c == 0:
            continue
        terms.append(rest if c == 1 else _times(c, rest))
    terms = _expand_if_smaller(terms)
    terms = _factor_common(terms)
    if not terms:
        return zero(n.shape)
    if len(terms) == 1:
        return terms[0]
    common = _common_scalar(terms)
    if common is not None:                                        # a/N - b/N = (a - b)/N
        facs, inner = common
        return mk(Scale, _rebuild_scaled(1, facs, None, SCALAR), mk(Add, tuple(inner)))
    pos = [t for t in terms if not _negative(t)]
    neg = [t for t in terms if _negative(t)]
    out = Add(tuple(pos + neg))
    # (a' + b') is written (a + b)' when that needs fewer transposes
    return _fewer_transposes(out)


def _common_scalar(terms: list[Node]):
    """Symbolic scalar factors (with exponents) shared by every term, and the terms
    without them; None if there are none."""
    split = []
    for t in terms:
        if not isinstance(t, Scale) or t.shape == SCALAR:
            return None
        facs: dict[Node, float] = {}
        coef = 1
        x = t
        while isinstance(x, Scale):
            coef = _scalar_factors(x.s, coef, facs)
            x = x.x
        split.append((coef, facs, x))
    shared = dict(split[0][1])
    for _, facs, _ in split[1:]:
        shared = {b: e for b, e in shared.items() if facs.get(b) == e}
    if not shared:
        return None
    inner = []
    for coef, facs, core in split:
        rest = {b: e for b, e in facs.items() if b not in shared}
        inner.append(_rebuild_scaled(coef, rest, core, core.shape))
    return shared, inner


def _fewer_transposes(n: Add) -> Node:
    """A sum of transposed terms is written (a + b)' when that needs fewer transposes."""
    if transposes(n) < 2:                 # nothing to gain: no transposed copy of the terms
        return n
    flipped = [mk(Transpose, t) for t in n.terms]       # terms only: no loop through Add
    if 1 + sum(map(transposes, flipped)) < transposes(n):
        return Transpose(Add(tuple(flipped)))
    return n


_TCOUNT: dict[Node, int] = {}


def transposes(n: Node) -> int:
    """Number of transpose nodes in the tree of n (shared subtrees counted each time)."""
    hit = _TCOUNT.get(n)
    if hit is not None:
        return hit
    for m in walk(n, known=_TCOUNT):
        _TCOUNT[m] = isinstance(m, Transpose) + sum(_TCOUNT[c] for c in m.children)
    return _TCOUNT[n]


_SIZE: dict[Node, int] = {}


def size(n: Node) -> int:
    """Tree size of n (shared subtrees counted each time): the readability measure."""
    hit = _SIZE.get(n)
    if hit is not None:
        return hit
    for m in walk(n, known=_SIZE):
        _SIZE[m] = 1 + sum(_SIZE[c] for c in m.children)
    return _SIZE[n]


def _expand_if_smaller(terms: list[Node]) -> list[Node]:
    """Multiply out elementwise products of sums when the terms then cancel:
    -y .* (1 - p) + (1 - y) .* p  is  p - y  (sigmoid with binary cross-entropy)."""
    if len(terms) < 2 or not any(_has_sum_factor(t) for t in terms) or \
            sum(map(size, terms)) > EXPAND_LIMIT:
        return terms
    expanded: list[Node] = []
    for t in terms:
        s, core = split_scale(t)
        if _has_sum_factor(t):
            i = next(i for i, f in enumerate(core.factors) if isinstance(f, Add))
            rest = core.factors[:i] + core.factors[i + 1:]
            expanded += [scaled(s, mk(Hadamard, rest + (u,))) for u in core.factors[i].terms]
        else:
            expanded.append(t)
    coefs: dict[Node, float] = {}
    for t in expanded:
        c, rest = _split_coef(t)
        coefs[rest] = coefs.get(rest, 0) + c
    out = [rest if c == 1 else mk(Scale, Const(c), rest) for rest, c in coefs.items() if c != 0]
    if sum(map(size, out)) < sum(map(size, terms)):
        return out
    return terms


# Multiplying out is tried only on formulas up to this tree size: the trial normalises
# the candidate, which may multiply out again, and on a DAG whose tree is exponential
# (a_k = exp(a_{k-1}) + a_{k-1}) that search would be exponential too. At 400 the chain
# a_k = (a_{k-1} + x) .* (a_{k-1} - x) took a second on the polynomials it multiplies out.
EXPAND_LIMIT = 200


def _has_sum_factor(t: Node) -> bool:
    _, core = split_scale(t)
    return isinstance(core, Hadamard) and any(isinstance(f, Add) for f in core.factors)


def _negative(t: Node) -> bool:
    c, _ = _split_coef(t)
    return c < 0


def _chain(t: Node) -> tuple[Node | None, list[Node]]:
    s, core = split_scale(t)
    if isinstance(core, MatMul):
        return s, list(core.factors)
    return s, [core]


def _factor_common(terms: list[Node]) -> list[Node]:
    """Take a common trailing (or leading) matrix factor out of two or more terms."""
    changed = True
    while changed and len(terms) >= 2:
        changed = False
        for side in (-1, 0):
            groups: dict[Node, list[int]] = {}
            for i, t in enumerate(terms):
                _, fs = _chain(t)
                if len(fs) >= 2:
                    groups.setdefault(fs[side], []).append(i)
            pick = next((f for f, idx in groups.items() if len(idx) >= 2), None)
            if pick is None:
                continue
            idx = groups[pick]
            inner = []
            for i in idx:
                s, fs = _chain(terms[i])
                rest = fs[:-1] if side == -1 else fs[1:]
                r = rest[0] if len(rest) == 1 else mk(MatMul, tuple(rest))
                inner.append(scaled(s, r))
            inner.sort(key=transposes)                # (A + A')*x: the plain term first
            summed = mk(Add, tuple(inner))
            new = mk(MatMul, (summed, pick) if side == -1 else (pick, summed))
            first = idx[0]
            terms = [new if i == first else t for i, t in enumerate(terms) if i not in idx[1:]]
            changed = True
            break
    return terms


# ---- products -----------------------------------------------------------------------------

def _norm_matmul(n: MatMul) -> Node:
    scalars: list[Node] = []
    out: list[Node] = []
    for f in n.factors:
        if is_zero(f):
            return zero(n.shape)
        s, f = split_scale(f)
        if s is not None:
            scalars.append(s)
        if f.shape == SCALAR:
            scalars.append(f)
            continue
        if isinstance(f, Identity):
            continue
        if isinstance(f, MatMul):
            out.extend(f.factors)
        else:
            out.append(f)
    out = _reduce_chain(out)
    if not out:
        core: Node = Identity(n.shape[0]) if n.shape != SCALAR else ONE
    elif len(out) == 1:
        core = out[0]
    else:
        core = MatMul(tuple(out))
    if not scalars:
        return core
    if len(scalars) == 1 and type(scalars[0]) is Const:
        return _times(scalars[0].value, core)
    s = scalars[0]
    for t in scalars[1:]:
        s = Scale(t, s)
    return mk(Scale, _norm(s) if len(scalars) > 1 else s, core)


def _reduce_chain(fs: list[Node]) -> list[Node]:
    """Local identities on a flat chain: 1'G1 = sum(G), X^-1 X = I, diag(a)*v = a .* v."""
    changed = True
    while changed:
        changed = False
        for i in range(len(fs) - 1):
            a, b = fs[i], fs[i + 1]
            rep = None
            if isinstance(a, Ones) and isinstance(b, Ones):
                if a.shape[1] == 1 or b.shape[0] == 1:
                    rep = [Ones((a.shape[0], b.shape[1]))]       # 1 1' = all-ones
                else:
                    rep = [mk(Scale, dim_value(a.shape[1]), Ones((a.shape[0], b.shape[1])))]
            elif isinstance(a, Inv) and a.x is b or isinstance(b, Inv) and b.x is a:
                rep = []                                          # X^-1 X = I
            elif isinstance(a, DiagMat) and isinstance(b, DiagMat):
                rep = [mk(DiagMat, mk(Hadamard, (a.x, b.x)))]
            elif isinstance(a, DiagMat) and b.shape[1] == 1:
                rep = [mk(Hadamard, (a.x, b))]                    # diag(a) v = a .* v
            if rep is not None:
                fs = fs[:i] + rep + fs[i + 2:]
                changed = True
                break
        if len(fs) >= 2 and isinstance(fs[0], Ones) and fs[0].shape[0] == 1 and \
                fs[-1].shape[1] == 1 and (len(fs) == 2 or isinstance(fs[-1], Ones)):
            mid = fs[1:-1] if isinstance(fs[-1], Ones) and len(fs) > 2 else fs[1:]
            body = mid[0] if len(mid) == 1 else mk(MatMul, tuple(mid))
            return [mk(Sum, body)]                                # 1' G 1 = sum(G)
    return fs


def dim_value(d) -> Node:
    return Const(d) if isinstance(d, int) else DimValue(d)


# ---- transposes: pushed to the leaves ------------------------------------------------------

def _norm_transpose(n: Transpose) -> Node:
    x = n.x
    if x.shape == SCALAR:
        return x                                                  # s' = s
    if isinstance(x, Transpose):
        return x.x                                                # (X')' = X
    if isinstance(x, MatMul):
        return mk(MatMul, tuple(mk(Transpose, f) for f in reversed(x.factors)))  # (AB)' = B'A'
    if isinstance(x, Scale):
        return mk(Scale, x.s, mk(Transpose, x.x))
    # sums and elementwise operations commute with ' : push it in only where it cancels
    if isinstance(x, Add):
        pushed = mk(Add, tuple(mk(Transpose, t) for t in x.terms))
    elif isinstance(x, Hadamard):
        pushed = mk(Hadamard, tuple(mk(Transpose, f) for f in x.factors))
    elif isinstance(x, Divide):
        pushed = mk(Divide, mk(Transpose, x.a), mk(Transpose, x.b))
    elif isinstance(x, Func):           # f(X)' stays, unless X is itself a transpose
        return mk(Func, x.name, x.x.x) if isinstance(x.x, Transpose) else n
    elif isinstance(x, Power):          # likewise (X.^p)'
        return mk(Power, x.x.x, x.p) if isinstance(x.x, Transpose) else n
    else:
        pushed = None
    if pushed is not None:
        return pushed if transposes(pushed) < transposes(n) else n
    if isinstance(x, (Ones, Zero)):
        return type(x)((x.shape[1], x.shape[0]))
    if isinstance(x, (Identity, DiagMat)):
        return x
    if isinstance(x, Broadcast):
        return mk(Broadcast, mk(Transpose, x.x), (x.shape[1], x.shape[0]))
    if isinstance(x, Inv) and is_symmetric(x.x):
        return x                                    # inv(S)' = inv(S), S = S' (X'*X, A + A')
    return n


def is_symmetric(s: Node) -> bool:
    """Whether S' = S is visible in canonical form: X'*X, A + A', X*D*X' with D = D'."""
    t = mk(Transpose, s)
    if t == s:
        return True
    return isinstance(s, Add) and isinstance(t, Add) and \
        sorted(map(id, s.terms)) == sorted(map(id, t.terms))


# ---- elementwise monomials -----------------------------------------------------------------

def _ew_factors(x: Node, e, facs: dict[Node, float], sc: list):
    stack = [(x, e)]
    while stack:
        x, e = stack.pop()
        if isinstance(x, Hadamard):
            for f in reversed(x.factors):
                stack.append((f, e))
        elif isinstance(x, Divide):
            stack.append((x.b, -e))
            stack.append((x.a, e))
        elif isinstance(x, Power) and isinstance(x.p, Const) and \
                (e == 1 or isinstance(x.p.value, int)):
            facs[x.x] = facs.get(x.x, 0) + x.p.value * e
        elif isinstance(x, Scale) and x.shape != SCALAR:
            s, core = split_scale(x)
            sc.append(s if e == 1 else mk(Power, s, Const(e)))
            stack.append((core, e))
        elif isinstance(x, Ones):
            continue
        else:
            facs[x] = facs.get(x, 0) + e


def _norm_elementwise(n: Node) -> Node:
    if n.shape == SCALAR:                      # scalars: one monomial form, as Scale chains
        if isinstance(n, Hadamard):
            s = n.factors[0]
            for f in n.factors[1:]:
                s = Scale(f, s)
            return _norm(s)
        if isinstance(n, Divide):
            return mk(Scale, mk(Power, n.b, Const(-1)), n.a)
    if isinstance(n, Power):
        return _norm_power(n)
    kids = n.factors if isinstance(n, Hadamard) else (n.a, n.b)
    if any(is_zero(k) for k in (kids if isinstance(n, Hadamard) else (n.a,))):
        return zero(n.shape)
    facs: dict[Node, float] = {}
    sc: list[Node] = []
    _ew_factors(n, 1, facs, sc)
    _sigmoids(facs)
    # commutative: factors in a stable order, the smaller first (da .* (z > 0))
    order = sorted(facs.items(), key=lambda be: (size(be[0]), be[0].sort_key))
    num = [b if e == 1 else Power(b, Const(e)) for b, e in order if e > 0]
    den = [b if e == -1 else Power(b, Const(-e)) for b, e in order if e < 0]

    def prod(xs):
        if not xs:
            return Ones(n.shape)
        return xs[0] if len(xs) == 1 else Hadamard(tuple(xs))
    core = prod(num) if not den else Divide(prod(num), prod(den))
    s = None
    for t in sc:
        s = t if s is None else Scale(t, s)
    out = core if s is None else mk(Scale, _norm(s), core)
    if isinstance(core, Hadamard):
        out = _distribute(out, core)
    return out


def _distribute(out: Node, core: Hadamard) -> Node:
    """a .* (b + c) = a .* b + a .* c, kept only where the result is smaller
    (p .* (s 1 - y ./ p) becomes s p - y; sigmoid(z) .* (1 - sigmoid(z)) stays)."""
    if size(out) > EXPAND_LIMIT or _monomials(core) > DISTRIBUTE_LIMIT:
        return out
    for i, f in enumerate(core.factors):
        if isinstance(f, Add):
            rest = core.factors[:i] + core.factors[i + 1:]
            terms = tuple(mk(Hadamard, rest + (t,)) for t in f.terms)
            s, _ = split_scale(out)
            cand = scaled(s, mk(Add, terms))
            if size(cand) < size(out):
                return cand
    return out


# Distributing is tried only over products that multiply out to at most this many terms
# (two binomials, or one sum of up to four terms): each trial normalises its candidates,
# which distribute again, so a product of k sums is a search over k! orders of 2^k terms
# unless bounded (the derivative of tanh(tanh(...(x))) at depth 8 took 2.8 s, a chain of
# (a + x) .* (a + y) .* (a + z) 11 s at 16 terms). The products that do get smaller are
# of this kind (sigmoid with binary cross-entropy: s .* (1 - s) .* (y ./ s - (1 - y) ./
# (1 - s)) is s - y).
DISTRIBUTE_LIMIT = 4


def _monomials(core: Hadamard) -> int:
    """The number of terms of `core` multiplied out (its sum factors' term counts' product)."""
    count = 1
    for f in core.factors:
        if isinstance(f, Add):
            count *= len(f.terms)
    return count


def _norm_power(n: Power) -> Node:
    x, p = n.x, n.p
    if isinstance(x, Transpose):
        return mk(Transpose, mk(Power, x.x, p))                  # (X').^p = (X.^p)'
    pv = const_value(p)
    if pv is not None:
        if pv == 0:
            return Ones(n.shape) if n.shape != SCALAR else ONE
        if pv == 1:
            return x
        xv = const_value(x)
        if xv is not None:
            v = _fold_power(xv, pv)
            if v is not None:
                return Const(v)
        if isinstance(x, Power) and isinstance(x.p, Const) and isinstance(pv, int):
            return mk(Power, x.x, Const(x.p.value * pv))
        if x.shape == SCALAR:
            if isinstance(x, Scale) and isinstance(pv, int):     # (c f)^k = c^k f^k
                facs: dict[Node, float] = {}
                coef = _scalar_factors(x, 1, facs)
                return _rebuild_scaled(coef ** pv, {b: e * pv for b, e in facs.items()},
                                       None, SCALAR)
            return n
        if isinstance(x, Ones):
            return x
        if isinstance(x, Scale) and isinstance(pv, int):
            s, core = split_scale(x)
            return mk(Scale, mk(Power, s, p), mk(Power, core, p))
    return n


# ---- functions, reductions, matrix functions ---------------------------------------------

def _fold_power(a, b):
    """a^b as a number when it is a modest real number (never a huge exact power)."""
    try:
        f = math.pow(a, b)
    except OverflowError:
        from .errors import LimitError
        raise LimitError(f"the constant {a}^{b} is out of the range of double precision "
                         f"(about 1.8e308)") from None
    except (ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(f) or abs(f) > 1e15:
        return None
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a ** b                        # exact, and small by the test above
    return f


def _norm_func(n: Func) -> Node:
    # the facts about each function are its registry entry's (matcalc.ops)
    op = ops.ELEMENTWISE[n.name]
    x = n.x
    if isinstance(x, Transpose):
        return mk(Transpose, mk(Func, n.name, x.x))                # f(X') = f(X)'
    if is_zero(x):
        if op.at_zero == 0:                                      # sin 0 = 0
            return zero(n.shape)
        if op.at_zero == 1:                                      # exp 0 = 1
            return Ones(n.shape) if n.shape != SCALAR else ONE
    if isinstance(x, Func) and x.name == op.undoes:
        return x.x                                               # log(exp(x)) = x
    if isinstance(x, Const) and op.fold is not None:
        return Const(op.fold(x.value))                           # exact: no rounding
    return n


def _pull_scale(n: Node, linear=True) -> Node | None:
    """f(s X) = s f(X) for a linear reduction f."""
    s, core = split_scale(n.x)
    if s is not None and linear:
        return mk(Scale, s, mk(type(n), core))
    return None


def _norm_sum(n: Sum) -> Node:
    x = n.x
    if x.shape == SCALAR:
        return x
    if is_zero(x):
        return Const(0)
    if isinstance(x, Ones):
        return _dims_product(x.shape)
    if isinstance(x, Identity):
        return dim_value(x.n)
    if isinstance(x, Transpose):
        return mk(Sum, x.x)
    r = _pull_scale(n)
    if r is not None:
        return r
    if isinstance(x, Power) and x.p is Const(2) and 1 in x.shape:
        a = b = x.x                                              # sum(x.^2) = x'x
    elif isinstance(x, Hadamard) and len(x.factors) == 2:
        a, b = x.factors
    else:
        a = b = None
    if a is not None and a.shape[0] != 1 and a.shape[1] != 1:
        for m, o in ((a, b), (b, a)):          # sum(M .* (u v')) = u' M v
            if isinstance(o, MatMul) and o.factors[0].shape[1] == 1 and \
                    o.factors[-1].shape[0] == 1 and len(o.factors) == 2:
                u, v = o.factors
                return mk(MatMul, (mk(Transpose, u), m, mk(Transpose, v)))
    if a is not None:
        if a.shape[1] == 1:
            return mk(MatMul, (mk(Transpose, a), b))              # sum(a .* b) = a'b
        if a.shape[0] == 1:
            return mk(MatMul, (a, mk(Transpose, b)))
    if isinstance(x, DiagMat):
        return mk(Sum, x.x)
    return n


def _dims_product(shape) -> Node:
    r, c = shape
    parts = [d for d in (r, c) if d != 1]
    if not parts:
        return ONE
    if len(parts) == 1:
        return dim_value(parts[0])
    return mk(Scale, dim_value(parts[0]), dim_value(parts[1]))


def _norm_trace(n: Trace) -> Node:
    x = n.x
    if x.shape == SCALAR:
        return x
    if is_zero(x):
        return Const(0)
    if isinstance(x, Identity):
        return dim_value(x.n)
    if isinstance(x, Transpose):
        return mk(Trace, x.x)
    if isinstance(x, DiagMat):
        return mk(Sum, x.x)
    r = _pull_scale(n)
    if r is not None:
        return r
    if isinstance(x, MatMul):
        fs = x.factors
        for i, f in enumerate(fs):                               # tr(x y' A) = y' A x
            if f.shape[1] == 1:
                return mk(MatMul, fs[i + 1:] + fs[:i + 1])
    return n


def _norm_same_under_transpose(n: Node) -> Node:
    if isinstance(n.x, Transpose):
        return mk(type(n), n.x.x)                                # det X' = det X, ...
    return n


def _norm_norm(n: Node) -> Node:
    x = n.x
    if is_zero(x):
        return Const(0)
    if isinstance(x, Transpose):
        return mk(type(n), x.x)
    s, core = split_scale(x)
    if isinstance(s, Const):
        return mk(Scale, Const(abs(s.value)), mk(type(n), core))
    return n


def _norm_inv(n: Inv) -> Node:
    x = n.x
    if isinstance(x, Inv):
        return x.x
    if isinstance(x, Identity):
        return x
    if isinstance(x, Transpose):
        return mk(Transpose, mk(Inv, x.x))                       # inv(X') = inv(X)'
    s, core = split_scale(x)
    if s is not None:
        return mk(Scale, mk(Power, s, Const(-1)), mk(Inv, core))
    if isinstance(x, DiagMat):
        return mk(DiagMat, mk(Divide, Ones(x.x.shape), x.x))
    return n


def _norm_diagvec(n: DiagVec) -> Node:
    x = n.x
    if isinstance(x, DiagMat):
        return x.x
    if isinstance(x, Transpose):
        return mk(DiagVec, x.x)
    if isinstance(x, Identity):
        return Ones(n.shape)
    if is_zero(x):
        return zero(n.shape)
    r = _pull_scale(n)
    if r is not None:
        return r
    if isinstance(x, MatMul) and len(x.factors) == 2 and x.factors[0].shape[1] == 1:
        a, b = x.factors                                         # diag(a b') = a .* b
        return mk(Hadamard, (a, mk(Transpose, b)))
    return n


def _norm_diagmat(n: DiagMat) -> Node:
    x = n.x
    if x.shape == SCALAR:                                        # diag(s) = s, a 1 x 1
        return x
    if isinstance(x, Ones):
        return Identity(n.shape[0])
    if is_zero(x):
        return zero(n.shape)
    r = _pull_scale(n)
    if r is not None:
        return r
    return n


def _norm_triangle(n: Node) -> Node:
    x = n.x
    if isinstance(x, (type(n), Identity, DiagMat)) or is_zero(x):
        return x                                                 # tril(tril(X)) = tril(X)
    r = _pull_scale(n)
    return n if r is None else r


def _norm_broadcast(n: Broadcast) -> Node:
    x = n.x
    if x.shape == SCALAR:
        if is_zero(x):
            return Zero(n.shape)
        return Ones(n.shape) if x is ONE else mk(Scale, x, Ones(n.shape))  # s 1
    if is_zero(x):
        return Zero(n.shape)
    if isinstance(x, Ones):
        return Ones(n.shape)
    s, core = split_scale(x)
    if s is not None:
        return mk(Scale, s, mk(Broadcast, core, n.shape))
    return n


def _norm_leaf_shape(n: Node) -> Node:
    if n.shape == SCALAR:
        if isinstance(n, Zero):
            return Const(0)
        return ONE                          # Ones((1,1)), Identity(1)
    return n


def _norm_dimvalue(n: DimValue) -> Node:
    return Const(n.dim) if isinstance(n.dim, int) else n


_NORMALISERS = {
    Scale: _norm_scale, Add: _norm_add, MatMul: _norm_matmul, Transpose: _norm_transpose,
    Hadamard: _norm_elementwise, Divide: _norm_elementwise, Power: _norm_elementwise,
    Func: _norm_func, Sum: _norm_sum, Trace: _norm_trace, Det: _norm_same_under_transpose,
    LogDet: _norm_same_under_transpose, Norm1: _norm_norm, Norm2: _norm_norm, Inv: _norm_inv,
    DiagVec: _norm_diagvec, DiagMat: _norm_diagmat, Broadcast: _norm_broadcast,
    Tril: _norm_triangle, Triu: _norm_triangle,
    Zero: _norm_leaf_shape, Ones: _norm_leaf_shape, Identity: _norm_leaf_shape,
    DimValue: _norm_dimvalue,
}
