"""Canonical forms: the formula a careful person writes.

This is the engine; the identities it rewrites by are a table (`matcalc.rewrites`,
rule sets `CANONICAL`, `CHAIN`, `WHOLE_CHAIN` and `FACTORS`). Each node kind has one
normaliser that assumes its operands are already canonical, applies the table's
identities for its kind, and keeps the canonical forms that are not one identity but a
way of writing a whole kind:

- scalar products are monomials: a numeric coefficient times scalar factors with
  exponents, so `0.5 * 2 * norm2(r) * r / norm2(r)` becomes `r` (the table's `FACTORS`
  apply to the factors: exp(u) ./ (1 + exp(u)) is sigmoid(u));
- elementwise products and quotients likewise (`p .* (y ./ p)` is `y`);
- sums are flattened with like terms collected and common leading/trailing matrix factors
  taken out (`A*x + A'*x` is `(A + A')*x`), positive terms first;
- product chains are flat, with scalars pulled out, identities dropped and the table's
  `CHAIN` identities applied to adjacent factors (`1'*G*1` is `sum(G)`);
- transposes are pushed to the leaves (`(A*B)'` is `B'*A'`) where that removes
  transposes, except that `inv(X)'` stays.

A right-hand side of the table is built of raw nodes; the engine normalises what it built
(its new nodes, bottom-up) and nothing it bound. Nodes are interned, so one module-level
memo makes simplification of shared subexpressions free. The traversal is iterative;
every rewrite asserts that the shape is kept.
"""
from __future__ import annotations

from .expr import (
    node_memo,
    SCALAR,
    Add,
    Broadcast,
    Const,
    Contract,
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
from .patterns import Lit, Rewrite, size, transposes
from .rewrites import (
    CANONICAL,
    CHAIN,
    FACTORS,
    ONE,
    WHOLE_CHAIN,
    dim_value,
    is_zero,
    split_scale,
    symmetric,
    zero,
)

# what other modules read here: the engine, and the measures it ranks forms by
__all__ = [
    "DISTRIBUTE_LIMIT",
    "EXPAND_LIMIT",
    "dim_value",
    "is_symmetric",
    "is_zero",
    "mk",
    "scaled",
    "simplify",
    "size",
    "split_scale",
    "transposes",
    "zero",
]

_MEMO: dict[Node, Node] = node_memo()


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


def is_symmetric(s: Node) -> bool:
    """Whether S' = S is visible in canonical form (the table's `symmetric`): X'*X, A + A',
    X*D*X' with D = D'. The transpose is normalised as one node (its operand taken as it
    is, as `mk` does), not simplified."""
    return symmetric(s, _norm)


# ---- the table: identities for a node kind, and what their right-hand sides built --------

def _rules(n: Node) -> Node | None:
    """n rewritten by the first identity of `CANONICAL` that applies to it (its new
    nodes normalised), or None."""
    for r in CANONICAL.candidates(n):
        out = _apply(r, n)
        if out is not None:
            return out
    return None


def _apply(r: Rewrite, n: Node) -> Node | None:
    env = r.match(n, simplify, Transpose)
    if env is None:
        return None
    out = _finish(r.build(env, simplify, Transpose), env)
    return out if r.keep is None or r.keep(n, out) else None


def apply_rule(r: Rewrite, n: Node) -> Node | None:
    """`n` (its operands canonical) rewritten by one identity of the simplifier's rule
    sets as the engine applies it, or None where it does not apply: a product of two
    factors (or a whole chain) for `CHAIN` (`WHOLE_CHAIN`), a quotient or a product of
    two factors for `FACTORS`, any node for `CANONICAL`."""
    if r in CHAIN or r in WHOLE_CHAIN:
        env = r.match_operands(n.factors)
        if env is None:
            return None
        fs = [_finish(x, env) for x in r.build(env)]
        return Identity(n.shape[0]) if not fs else fs[0] if len(fs) == 1 else MatMul(tuple(fs))
    if r in FACTORS:
        first, second = r.lhs.fields[::-1] if r.lhs.kind is Divide else r.lhs.operands
        matched, other = n.args[::-1] if isinstance(n, Divide) else n.args[0]
        env: dict = {}
        if type(n) is not r.lhs.kind or not first.match(matched, env):
            return None
        if isinstance(second, Lit):          # 1 ./ b: a numerator of ones
            ok = other is ONE or isinstance(other, Ones)
        else:
            ok = _partner(second, env) is other
        return _finish(r.build(env), env) if ok else None
    return _apply(r, n)


def _by_rules(n: Node) -> Node:
    out = _rules(n)
    return n if out is None else out


def _finish(out: Node, env: dict) -> Node:
    """A right-hand side with the nodes it built normalised, bottom-up; what the pattern
    bound is kept as it is (as the old node had it)."""
    hit = _MEMO.get(out)
    if hit is out:                         # canonical already (a bound operand, mostly)
        return out
    return _canonical(out, tuple(env.values()), hit)


def _bound(x: Node, values: tuple) -> bool:
    for v in values:
        if v is x or (type(v) is tuple and x in v):
            return True
    return False


def _canonical(x: Node, values: tuple, hit: Node | None) -> Node:
    if _bound(x, values):
        return x
    if hit is not None:
        return hit
    kids = x.children
    if kids:
        memo = _MEMO
        new = []
        for k in kids:
            h = memo.get(k)
            new.append(k if h is k else _canonical(k, values, h))
        new = tuple(new)
        if new != kids:
            x = x.rebuild(new)
    return _norm(x)


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


_QUOTIENTS = tuple(r for r in FACTORS if r.lhs.kind is Divide)
_PRODUCTS = tuple(r for r in FACTORS if r.lhs.kind is Hadamard)
_DENOMINATORS = frozenset(k for r in _QUOTIENTS for k in r.lhs.fields[1].kinds())
_FIRSTS = frozenset(k for r in _PRODUCTS for k in r.lhs.operands[0].kinds())


def _factor_rules(facs: dict[Node, float]) -> None:
    """The table's `FACTORS` on a monomial, in place: a quotient's denominator (a factor
    of exponent -1) with the numerator factor it needs, if present; then products of two
    factors, until none applies."""
    for b, e in list(facs.items()):
        if e != -1 or type(b) not in _DENOMINATORS or b not in facs:
            continue
        for r in _QUOTIENTS:
            num, den = r.lhs.fields
            env: dict = {}
            if not den.match(b, env):
                continue
            partner = None if isinstance(num, Lit) else _partner(num, env)
            if partner is not None and facs.get(partner, 0) < 1:
                continue
            del facs[b]
            _replace(facs, () if partner is None else (partner,), _finish(r.build(env), env))
            break
    changed = True
    while changed:
        changed = False
        for b, e in list(facs.items()):
            if e < 1 or type(b) not in _FIRSTS:
                continue
            for r in _PRODUCTS:
                first, second = r.lhs.operands
                env = {}
                if not first.match(b, env):
                    continue
                partner = _partner(second, env)
                if facs.get(partner, 0) >= 1 and r.holds(env, None, None, None):
                    _replace(facs, (b, partner), _finish(r.build(env), env))
                    changed = True
                    break
            if changed:
                break


def _partner(pattern, env: dict) -> Node:
    """The factor a case needs beside the one it matched, built from the names bound: its
    operands normalised, itself as built (the monomial holds it so)."""
    node = pattern.build(env)
    kids = tuple(_finish(k, env) for k in node.children)
    return node.rebuild(kids) if kids != node.children else node


def _replace(facs: dict[Node, float], used: tuple[Node, ...], new: Node) -> None:
    for k in used:
        facs[k] -= 1
        if facs[k] == 0:
            del facs[k]
    facs[new] = facs.get(new, 0) + 1


def _rebuild_scaled(coef, facs: dict[Node, float], core: Node | None, shape) -> Node:
    _factor_rules(facs)
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
    out = _rules(n)                             # 0 X = 0, -(a - b) = b - a, ...
    if out is not None:
        return out
    s, x = n.s, n.x
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
    rewritten = _rules(out)               # the table's identities of a sum (CANONICAL)
    if rewritten is not None:
        return rewritten
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
    if transposes(n) < 2 or len(n.shape) != 2:   # nothing to gain, or a tensor
        return n
    flipped = [mk(Transpose, t) for t in n.terms]       # terms only: no loop through Add
    if 1 + sum(map(transposes, flipped)) < transposes(n):
        # the flipped terms' like terms collected (the terms were collected, but their
        # transposes may meet: X' inv(X)' - inv(X)' flips to I inv(X) - inv(X), which is 0)
        coefs: dict[Node, float] = {}
        for t in flipped:
            c, rest = _split_coef(t)
            coefs[rest] = coefs.get(rest, 0) + c
        if len(coefs) < len(flipped):
            kept = [rest if c == 1 else _times(c, rest) for rest, c in coefs.items() if c != 0]
            if not kept:
                return zero(n.shape)
            if len(kept) == 1:
                return mk(Transpose, kept[0])
            flipped = kept
        return Transpose(Add(tuple(flipped)))
    return n


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
    """The table's `CHAIN` identities on adjacent factors (the leftmost first, until none
    applies), and its `WHOLE_CHAIN` identities after each: X^-1 X = I, 1'G1 = sum(G)."""
    pairs = CHAIN.pair_candidates
    changed = True
    while changed:
        changed = False
        for i in range(len(fs) - 1):
            rules = pairs(fs[i], fs[i + 1])
            rep = _pair_rule(rules, fs[i], fs[i + 1]) if rules else None
            if rep is not None:
                fs = fs[:i] + rep + fs[i + 2:]
                changed = True
                break
        if len(fs) >= 2:
            for r in WHOLE_CHAIN:
                env = r.match_operands(tuple(fs))
                if env is not None:
                    return [_finish(x, env) for x in r.build(env)]
    return fs


def _pair_rule(rules, a: Node, b: Node) -> list[Node] | None:
    for r in rules:
        env = r.match_operands((a, b))
        if env is not None:
            return [_finish(x, env) for x in r.build(env)]
    return None


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
    out = _rules(n)                                  # 0 .* X = 0, 0 ./ X = 0
    if out is not None:
        return out
    facs: dict[Node, float] = {}
    sc: list[Node] = []
    _ew_factors(n, 1, facs, sc)
    _factor_rules(facs)
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
            summed = mk(Add, terms)
            # smaller without the scalar in front, which stays either way: a sign is not
            # a reason to multiply out (-s .* (1 - s) stays, not s.^2 - s)
            if size(summed) < size(core):
                return scaled(s, summed)
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
    out = _rules(n)                      # (X').^p = (X.^p)', X.^0 = 1, X.^1 = X, ...
    if out is not None:
        return out
    x, p = n.x, n.p
    pv = const_value(p)
    if pv is not None and x.shape == SCALAR and isinstance(x, Scale) and isinstance(pv, int):
        facs: dict[Node, float] = {}                             # (c f)^k = c^k f^k
        coef = _scalar_factors(x, 1, facs)
        if coef == 0 and pv < 0:                  # (0 f)^-1: kept, as 0^(-1) is
            return n
        return _rebuild_scaled(coef ** pv, {b: e * pv for b, e in facs.items()}, None, SCALAR)
    return n


def _norm_contract(n: Node) -> Node:
    from .einsum import normalize        # einsum, in matrix notation where it has one
    return normalize(n, simplify)


# The normaliser of each node kind: the engine's canonical forms (which apply the table
# where they need it), or the table's identities alone.
_NORMALISERS = {
    Scale: _norm_scale, Add: _norm_add, MatMul: _norm_matmul, Hadamard: _norm_elementwise,
    Divide: _norm_elementwise, Power: _norm_elementwise,
    **{kind: _by_rules for kind in (Transpose, Func, Sum, Trace, Det, LogDet, Norm1, Norm2,
                                    Inv, DiagVec, DiagMat, Tril, Triu, Broadcast, Zero, Ones,
                                    Identity, DimValue)},
    Contract: _norm_contract,
}
