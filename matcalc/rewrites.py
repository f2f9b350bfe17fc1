"""The rewrite table: every algebraic identity matcalc rewrites by, one case per rewrite.

Each case is an equation read left to right, its algebra in the comment above it (the
machinery is `matcalc.patterns`): a pattern, the right-hand side built from the names it
binds, the side condition under which the identity holds (`when`) and, apart from the
equation, a rule set's preferences (`only`, `keep`). The cases are grouped in named rule
sets, each read by one caller:

- `CANONICAL`: the display form, the simplifier's identities per node kind
  (`matcalc.simplify` is the engine: it brings a node's operands to canonical form first,
  keeps like terms and monomials collected, and normalises what a right-hand side built);
  `CHAIN`: identities of two adjacent factors of a product chain (and of a whole chain);
  `FACTORS`: identities of the factors of a monomial (the logistic function);
- `TRANSPOSE`: how a transpose moves one level down, read by `push_transpose`, the one
  transpose pusher (the display form takes these where they remove transposes);
- `STABLE_FORMS` (three passes, `stable_forms`): the forms generated code computes
  stably (log softmax through logsumexp, the logistic function by name);
- `EXPANDED`, `PAIRED`, `DIAGONALS`: the display of Jacobians and Hessians (products
  multiplied out where that is no larger, a term beside its transpose, diagonals
  collected).

A new identity is one case here (in the rule set whose caller should apply it) and one
line in tests/test_rewrites.py, which checks every case on a literal example, before and
after, by evaluating both numerically.
"""
from __future__ import annotations

import math

from . import ops
from .errors import LimitError
from .expr import (
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
    LogSumExp,
    MatMul,
    Node,
    Norm1,
    Norm2,
    Ones,
    Power,
    Scale,
    Softmax,
    Sum,
    Trace,
    Transpose,
    Tril,
    Triu,
    Var,
    Zero,
    add,
    broadcast_to,
)
from .patterns import (
    Alt,
    Lit,
    Many,
    Name,
    P,
    Rewrite,
    RuleSet,
    Test,
    dag_order,
    dag_size,
    fewer_transposes,
    names,
    rewrite_dag,
    size,
    transposes,
)

# ---- the vocabulary of the rules -------------------------------------------------------------

ONE = Const(1)
MINUS_ONE = Const(-1)
_ZERO = Const(0)


def is_zero(x) -> bool:
    return x is _ZERO or type(x) is Zero          # Const(0) is one interned node


def zero(shape) -> Node:
    return Const(0) if shape == SCALAR else Zero(shape)


def ones(shape) -> Node:
    return ONE if shape == SCALAR else Ones(shape)


def dim_value(d) -> Node:
    """A dimension as a scalar: the number, or the symbol's value."""
    return Const(d) if isinstance(d, int) else DimValue(d)


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


def scalar(x: Node) -> bool:
    return x.shape == SCALAR


def column(x: Node) -> bool:
    return x.shape[1] == 1


def row(x: Node) -> bool:
    return x.shape[0] == 1


def matrix(x: Node) -> bool:
    return x.shape[0] != 1 and x.shape[1] != 1


def swapped(shape) -> tuple:
    return (shape[1], shape[0])


def _pull_scale(kind: type[Node], x: Node) -> Node:
    s, core = split_scale(x)
    return Scale(s, kind(core))


def _dims_product(shape) -> Node:
    """The number of entries of `shape` (any order), as a product of its dimensions."""
    parts = [d for d in shape if d != 1]
    if not parts:
        return ONE
    out = dim_value(parts[0])
    for d in parts[1:]:
        out = Scale(out, dim_value(d))
    return out


def _fold_power(a, b):
    """a^b as a number when it is a modest real number (never a huge exact power)."""
    try:
        f = math.pow(a, b)
    except OverflowError:
        raise LimitError(f"the constant {a}^{b} is out of the range of double precision "
                         f"(about 1.8e308)") from None
    except (ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(f) or abs(f) > 1e15:
        return None
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a ** b                        # exact, and small by the test above
    return f


def symmetric(s: Node, canonical) -> bool:
    """Whether S' = S is visible in canonical form: X'*X, A + A', X*D*X' with D = D'."""
    if len(s.shape) != 2:                   # a tensor has no transpose
        return False
    t = canonical(Transpose(s))
    if t == s:
        return True
    return isinstance(s, Add) and isinstance(t, Add) and \
        sorted(map(id, s.terms)) == sorted(map(id, t.terms))


# the names of the patterns (a name binds a node, or a field: f a function's name, shape a
# broadcast's shape); fs and ts bind the operands of a product chain or a sum
X, A, B, M, S, a, b, c, d, f, g, k, n, p, s, u, v, w, x, y, shape = names(
    "X A B M S a b c d f g k n p s u v w x y shape")
fs, ts = Many("fs"), Many("ts")
ZERO = Test(is_zero, "Z", kinds=(Const, Zero))

# 1 + exp(u), in either order (sums keep the order they were written in), the 1 a number,
# ones, or a broadcast one: the denominator of the logistic function, the argument of a
# softplus. The one recogniser of it in the package.
_ONE = Alt(P.Ones(), Lit(ONE), P.Broadcast(Alt(Lit(ONE), P.Ones())))
ONE_PLUS_EXP = Alt(P.Add(_ONE, P.Func("exp", u)), P.Add(P.Func("exp", u), _ONE))
# 1 - sigmoid(u): a 1 (ones, or the number) and a negated sigmoid, in that order
ONE_MINUS_SIGMOID = P.Add(Alt(P.Ones(), Lit(ONE)), P.Scale(Lit(MINUS_ONE), P.Func("sigmoid", u)))


def matched(pattern, node: Node, name: str = "u") -> Node | None:
    """The node bound to `name` if `node` matches `pattern`, else None."""
    env: dict = {}
    return env[name] if pattern.match(node, env) else None


def one_plus_exp(x: Node) -> Node | None:
    """u if x is 1 + exp(u)."""
    return matched(ONE_PLUS_EXP, x)


def one_minus_sigmoid(x: Node) -> Node | None:
    """u if x is 1 - sigmoid(u) (which is sigmoid(-u))."""
    return matched(ONE_MINUS_SIGMOID, x)


# ---- transposes ----------------------------------------------------------------------------
# `t` is the transpose of an operand as the caller wants it: raw, canonical, or looked up.

TRANSPOSE = RuleSet("transpose", [
    # s' = s
    Rewrite("s' = s", P.Transpose(x), lambda x: x, when=lambda x: scalar(x)),
    # (X')' = X
    Rewrite("(X')' = X", P.Transpose(P.Transpose(X)), lambda X: X),
    # (A B)' = B' A'
    Rewrite("(A B)' = B' A'", P.Transpose(P.MatMul(fs)),
            lambda fs, t: MatMul(tuple(t(f) for f in reversed(fs)))),
    # (s X)' = s X'
    Rewrite("(s X)' = s X'", P.Transpose(P.Scale(s, X)), lambda s, X, t: Scale(s, t(X))),
    # (A + B)' = A' + B'
    Rewrite("(A + B)' = A' + B'", P.Transpose(P.Add(ts)),
            lambda ts, t: Add(tuple(t(x) for x in ts))),
    # (A .* B)' = A' .* B'
    Rewrite("(A .* B)' = A' .* B'", P.Transpose(P.Hadamard(fs)),
            lambda fs, t: Hadamard(tuple(t(x) for x in fs))),
    # (A ./ B)' = A' ./ B'
    Rewrite("(A ./ B)' = A' ./ B'", P.Transpose(P.Divide(A, B)),
            lambda A, B, t: Divide(t(A), t(B))),
    # f(X)' = f(X')  (f elementwise)
    Rewrite("f(X)' = f(X')", P.Transpose(P.Func(f, X)), lambda f, X, t: Func(f, t(X))),
    # (X .^ p)' = X' .^ p
    Rewrite("(X .^ p)' = X' .^ p", P.Transpose(P.Power(X, p)),
            lambda X, p, t: Power(t(X), p)),
    # 1' = 1, 0' = 0 (of the transposed shape)
    Rewrite("1' = 1", P.Transpose(Name("On", P.of(Ones, Zero)())),
            lambda On: type(On)(swapped(On.shape))),
    # I' = I, diag(x)' = diag(x)
    Rewrite("diag(x)' = diag(x)", P.Transpose(Name("D", P.of(Identity, DiagMat)())),
            lambda D: D),
    # (x 1')' = 1 x': a broadcast's transpose is the transpose broadcast
    Rewrite("broadcast(x)' = broadcast(x')", P.Transpose(P.Broadcast(x, shape)),
            lambda x, shape, t: Broadcast(t(x), swapped(shape))),
    # (sum_k A_ik B_kj)' = sum_k A_jk B_ki: a contraction with two free indices, swapped
    Rewrite("contraction' = its free indices swapped",
            P.Transpose(Test(lambda n: len(n.out) == 2, "C", kinds=(Contract,))),
            lambda C: Contract(C.operands, C.spec[:-2] + C.out[::-1])),
])

_PUSH: dict[type, tuple[Rewrite, ...]] = {}


def push_transpose(x: Node, t=Transpose) -> Node | None:
    """x' with the transpose moved one level down by `TRANSPOSE` (the operands' transposes
    made by `t`: the raw node by default), or None where no identity applies (x' stays)."""
    rules = _PUSH.get(type(x))
    if rules is None:
        rules = _PUSH[type(x)] = tuple(
            r for r in TRANSPOSE
            if (k := r.lhs.first_operand().kinds()) is None or type(x) in k)
    for r in rules:
        env: dict = {}
        if r.lhs.first_operand().match(x, env) and r.holds(env, None, t, None):
            return r.build(env, t=t)
    return None


_T = {r.law: r for r in TRANSPOSE}


# ---- the canonical (display) form, per node kind ---------------------------------------------

# f(X') = f(X)'
_FUNC_OF_TRANSPOSE = Rewrite("f(X') = f(X)'", P.Func(f, P.Transpose(X)),
                             lambda f, X: Transpose(Func(f, X)))


def _registry(f: str):
    return ops.ELEMENTWISE[f]


def _paired(ts: tuple) -> tuple:
    """The terms of a sum with each term's transpose right after it (A + A', not A' + A)."""
    used = [False] * len(ts)
    out: list[Node] = []
    for i, t in enumerate(ts):
        if used[i]:
            continue
        partner = next((j for j, p in enumerate(ts) if not used[j] and j != i
                        and isinstance(t, Transpose) and p is t.x), None)
        if partner is not None:
            out.append(ts[partner])
            used[partner] = True
        out.append(t)
        used[i] = True
    return tuple(out)


# A' + A = A + A': a term before its transpose (commutativity, for reading), the one order
# of symmetric sums in every layout and every display
_PAIR = Rewrite("A' + A = A + A'", P.Add(ts), lambda ts: Add(_paired(ts)),
                when=lambda ts: _paired(ts) != tuple(ts))


def _coefficient(t: Node):
    """(c, rest) with t = c rest, c a number (1 if there is none)."""
    if isinstance(t, Scale) and isinstance(t.s, Const) and t.shape != SCALAR:
        return t.s.value, t.x
    return 1, t


def _common_coefficient(ts: tuple):
    """The number every term of a sum is a multiple of, up to its sign (negative if every
    term is negative), or None: 2 A + 2 B, -A/2 - B/2, but not A + 2 B or A - B."""
    cs = [_coefficient(t)[0] for t in ts]
    size_ = abs(cs[0])
    if size_ in (0, 1) or any(abs(c) != size_ for c in cs):
        return None
    return -size_ if all(c < 0 for c in cs) else size_


CANONICAL = RuleSet("canonical", [
    # -- transposes: pushed down where that removes transposes, inv(X)' kept
    _T["s' = s"], _T["(X')' = X"], _T["(A B)' = B' A'"], _T["(s X)' = s X'"],
    _T["(A + B)' = A' + B'"].prefer(keep=fewer_transposes),
    _T["(A .* B)' = A' .* B'"].prefer(keep=fewer_transposes),
    _T["(A ./ B)' = A' ./ B'"].prefer(keep=fewer_transposes),
    # (f(X)' and (X.^p)' stay: their canonical operands are never transposes, since
    # f(X') = f(X)' and (X').^p = (X.^p)')
    _T["1' = 1"], _T["diag(x)' = diag(x)"], _T["broadcast(x)' = broadcast(x')"],
    _T["contraction' = its free indices swapped"],
    # inv(S)' = inv(S) where S = S' (X'*X, A + A')
    Rewrite("inv(S)' = inv(S)", P.Transpose(Name("Id", P.Inv(S))), lambda Id: Id,
            when=lambda S, ctx: symmetric(S, ctx)),

    # -- sums (like terms collected, zeros dropped, common factors out: the engine's)
    # c A + c B = c (A + B): a common number out of the sum (A/2 + A'/2 = (A + A')/2)
    Rewrite("c A + c B = c (A + B)", P.Add(ts),
            lambda ts: Scale(Const(_common_coefficient(ts)),
                             Add(tuple(Scale(Const(_coefficient(t)[0] / _common_coefficient(ts)),
                                             _coefficient(t)[1]) for t in ts))),
            when=lambda ts: not scalar(ts[0]) and _common_coefficient(ts) is not None),
    _PAIR,

    # -- scaling (the rest is the monomial form)
    # 0 X = 0
    Rewrite("0 X = 0", P.Scale(ZERO, X), lambda X: zero(X.shape)),
    # s 0 = 0
    Rewrite("s 0 = 0", P.Scale(s, ZERO), lambda Z: zero(Z.shape)),
    # -(A + B) = -A - B
    Rewrite("-(A + B) = -A - B", P.Scale(Lit(MINUS_ONE), P.Add(ts)),
            lambda ts: Add(tuple(Scale(MINUS_ONE, x) for x in ts))),
    # exp(x) / sum(exp(x)) = softmax(x), x a column
    Rewrite("exp(x)/sum(exp(x)) = softmax(x)",
            P.Scale(P.Power(P.Sum(P.Func("exp", x)), Lit(MINUS_ONE)), P.Func("exp", x)),
            lambda x: Softmax(x), when=lambda x: column(x)),

    # -- elementwise products and quotients (the rest is the monomial form)
    # 0 .* X = 0
    Rewrite("0 .* X = 0", P.Hadamard(fs), lambda fs: zero(fs[0].shape),
            when=lambda fs: any(is_zero(x) for x in fs)),
    # 0 ./ X = 0
    Rewrite("0 ./ X = 0", P.Divide(ZERO, X), lambda Z: zero(Z.shape)),
    # (X').^p = (X.^p)'
    Rewrite("(X').^p = (X.^p)'", P.Power(P.Transpose(X), p), lambda X, p: Transpose(Power(X, p))),
    # X.^0 = 1
    Rewrite("X.^0 = 1", P.Power(X, Lit(Const(0))), lambda X: ones(X.shape)),
    # X.^1 = X
    Rewrite("X.^1 = X", P.Power(X, Lit(ONE)), lambda X: X),
    # a^b = the number a^b, where it is a modest real number
    Rewrite("a^b = its value", P.Power(P.Const(a), P.Const(b)),
            lambda a, b: Const(_fold_power(a, b)), when=lambda a, b: _fold_power(a, b) is not None),
    # (X.^a).^k = X.^(a k), k an integer
    Rewrite("(X.^a).^k = X.^(a k)", P.Power(P.Power(X, P.Const(a)), P.Const(k)),
            lambda X, a, k: Power(X, Const(a * k)), when=lambda k: isinstance(k, int)),
    # 1.^p = 1 (a scalar base is the monomial form's)
    Rewrite("1.^p = 1", P.Power(Name("On", P.Ones()), P.Const(p)), lambda On: On),
    # (s X).^k = s^k X.^k, k an integer
    Rewrite("(s X).^k = s^k X.^k", P.Power(Name("SC", P.Scale()), Name("k", P.Const(n))),
            lambda SC, k: Scale(Power(split_scale(SC)[0], k), Power(split_scale(SC)[1], k)),
            when=lambda SC, n: not scalar(SC) and isinstance(n, int)),

    # -- elementwise functions, by their registry entries (matcalc.ops)
    _FUNC_OF_TRANSPOSE,
    # f(0) = 0 where it is (sin 0 = 0)
    Rewrite("f(0) = 0", P.Func(f, ZERO), lambda Z: zero(Z.shape),
            when=lambda f: _registry(f).at_zero == 0),
    # f(0) = 1 where it is (exp 0 = 1)
    Rewrite("f(0) = 1", P.Func(f, ZERO), lambda Z: ones(Z.shape),
            when=lambda f: _registry(f).at_zero == 1),
    # f(g(X)) = X where f undoes g (log(exp(X)) = X)
    Rewrite("log(exp(X)) = X", P.Func(f, P.Func(g, X)), lambda X: X,
            when=lambda f, g: _registry(f).undoes == g),
    # log(sum(exp(x))) = logsumexp(x), x a column
    Rewrite("log(sum(exp(x))) = logsumexp(x)", P.Func("log", P.Sum(P.Func("exp", x))),
            lambda x: LogSumExp(x), when=lambda x: column(x)),
    # f(c) = the number f(c), where exact
    Rewrite("f(c) = its value", P.Func(f, P.Const(c)), lambda f, c: Const(_registry(f).fold(c)),
            when=lambda f: _registry(f).fold is not None),

    # -- sums of entries
    # sum(s) = s
    Rewrite("sum(s) = s", P.Sum(x), lambda x: x, when=lambda x: scalar(x)),
    # sum(0) = 0
    Rewrite("sum(0) = 0", P.Sum(ZERO), lambda: Const(0)),
    # sum(1) = the number of entries
    Rewrite("sum(1) = m n", P.Sum(Name("On", P.Ones())), lambda On: _dims_product(On.shape)),
    # sum(I) = n
    Rewrite("sum(I) = n", P.Sum(P.Identity(n)), lambda n: dim_value(n)),
    # sum(X') = sum(X)
    Rewrite("sum(X') = sum(X)", P.Sum(P.Transpose(X)), lambda X: Sum(X)),
    # sum(s X) = s sum(X)
    Rewrite("sum(s X) = s sum(X)", P.Sum(Name("SC", P.Scale())), lambda SC: _pull_scale(Sum, SC)),
    # sum(M .* (u v')) = u' M v
    Rewrite("sum(M .* (u v')) = u' M v", P.Sum(P.Hadamard(M, P.MatMul(u, v))),
            lambda M, u, v: MatMul((Transpose(u), M, Transpose(v))),
            when=lambda M, u, v: matrix(M) and column(u) and row(v)),
    # sum((u v') .* M) = u' M v
    Rewrite("sum((u v') .* M) = u' M v", P.Sum(P.Hadamard(P.MatMul(u, v), M)),
            lambda M, u, v: MatMul((Transpose(u), M, Transpose(v))),
            when=lambda M, u, v: matrix(M) and column(u) and row(v)),
    # sum(x .^ 2) = x'x (x a column)
    Rewrite("sum(x .^ 2) = x'x", P.Sum(P.Power(x, Lit(Const(2)))),
            lambda x: MatMul((Transpose(x), x)), when=lambda x: column(x)),
    # sum(x .^ 2) = x x' (x a row)
    Rewrite("sum(x .^ 2) = x x'", P.Sum(P.Power(x, Lit(Const(2)))),
            lambda x: MatMul((x, Transpose(x))), when=lambda x: row(x)),
    # sum(a .* b) = a'b (columns)
    Rewrite("sum(a .* b) = a'b", P.Sum(P.Hadamard(a, b)), lambda a, b: MatMul((Transpose(a), b)),
            when=lambda a: column(a)),
    # sum(a .* b) = a b' (rows)
    Rewrite("sum(a .* b) = a b'", P.Sum(P.Hadamard(a, b)), lambda a, b: MatMul((a, Transpose(b))),
            when=lambda a: row(a)),
    # sum(diag(x)) = sum(x)
    Rewrite("sum(diag(x)) = sum(x)", P.Sum(P.DiagMat(x)), lambda x: Sum(x)),
    # sum(a + b) = sum(a) + sum(b), where the sums then cancel or shrink: the entries of a
    # centred vector sum to 0 (sum(x - 1 sum(x)/n) = sum(x) - n sum(x)/n)
    Rewrite("sum(a + b) = sum(a) + sum(b)", P.Sum(P.Add(ts)),
            lambda ts: Add(tuple(Sum(t) for t in ts)),
            keep=lambda before, after: size(after) < size(before)),
    # sum(softmax(x)) = 1: a softmax is a probability vector (of a matrix: 1 per column)
    Rewrite("sum(softmax(x)) = 1", P.Sum(P.Softmax(x)), lambda x: dim_value(x.shape[1])),
    # sum(I .* M) = tr(M): the identity keeps the diagonal (the canonical order of an
    # elementwise product puts I first)
    Rewrite("sum(I .* M) = tr(M)", P.Sum(P.Hadamard(P.Identity(n), M)), lambda M: Trace(M)),

    # -- traces
    # tr(s) = s
    Rewrite("tr(s) = s", P.Trace(x), lambda x: x, when=lambda x: scalar(x)),
    # tr(0) = 0
    Rewrite("tr(0) = 0", P.Trace(ZERO), lambda: Const(0)),
    # tr(I) = n
    Rewrite("tr(I) = n", P.Trace(P.Identity(n)), lambda n: dim_value(n)),
    # tr(X') = tr(X)
    Rewrite("tr(X') = tr(X)", P.Trace(P.Transpose(X)), lambda X: Trace(X)),
    # tr(diag(x)) = sum(x)
    Rewrite("tr(diag(x)) = sum(x)", P.Trace(P.DiagMat(x)), lambda x: Sum(x)),
    # tr(s X) = s tr(X)
    Rewrite("tr(s X) = s tr(X)", P.Trace(Name("SC", P.Scale())), lambda SC: _pull_scale(Trace, SC)),
    # tr(A x B) = B A x for a column x (cyclic: a scalar)
    Rewrite("tr(A x B) = B A x", P.Trace(P.MatMul(fs)), lambda fs: MatMul(_cycled(fs)),
            when=lambda fs: any(column(x) for x in fs)),

    # -- determinants, norms: unchanged by a transpose
    # det(X') = det(X), logdet(X') = logdet(X)
    Rewrite("det(X') = det(X)", Name("N", P.of(Det, LogDet)(P.Transpose(X))),
            lambda N, X: type(N)(X)),
    # norm(0) = 0
    Rewrite("norm(0) = 0", P.of(Norm1, Norm2)(ZERO), lambda: Const(0)),
    # norm(X') = norm(X)
    Rewrite("norm(X') = norm(X)", Name("N", P.of(Norm1, Norm2)(P.Transpose(X))),
            lambda N, X: type(N)(X)),
    # norm(c X) = |c| norm(X), c a number
    Rewrite("norm(c X) = |c| norm(X)", Name("N", P.of(Norm1, Norm2)(Name("SC", P.Scale()))),
            lambda N, SC: Scale(Const(abs(split_scale(SC)[0].value)), type(N)(split_scale(SC)[1])),
            when=lambda SC: isinstance(split_scale(SC)[0], Const)),

    # -- inverses
    # inv(inv(X)) = X
    Rewrite("inv(inv(X)) = X", P.Inv(P.Inv(X)), lambda X: X),
    # inv(I) = I
    Rewrite("inv(I) = I", P.Inv(Name("Id", P.Identity())), lambda Id: Id),
    # inv(X') = inv(X)'
    Rewrite("inv(X') = inv(X)'", P.Inv(P.Transpose(X)), lambda X: Transpose(Inv(X))),
    # inv(s X) = s^-1 inv(X)
    Rewrite("inv(s X) = s^-1 inv(X)", P.Inv(Name("SC", P.Scale())),
            lambda SC: Scale(Power(split_scale(SC)[0], MINUS_ONE), Inv(split_scale(SC)[1])),
            when=lambda SC: not scalar(SC)),
    # inv(diag(x)) = diag(1 ./ x)
    Rewrite("inv(diag(x)) = diag(1 ./ x)", P.Inv(P.DiagMat(x)),
            lambda x: DiagMat(Divide(Ones(x.shape), x))),

    # -- diagonals
    # diag(diag(x)) = x
    Rewrite("diag(diag(x)) = x", P.DiagVec(P.DiagMat(x)), lambda x: x),
    # diag(X') = diag(X)
    Rewrite("diag(X') = diag(X)", P.DiagVec(P.Transpose(X)), lambda X: DiagVec(X)),
    # diag(I) = 1
    Rewrite("diag(I) = 1", P.DiagVec(P.Identity(n)), lambda n: Ones((n, 1))),
    # diag(0) = 0 (of a matrix)
    Rewrite("diag(0) = 0 (of a matrix)", P.DiagVec(ZERO), lambda Z: zero((Z.shape[0], 1))),
    # diag(s X) = s diag(X)
    Rewrite("diag(s X) = s diag(X)", P.DiagVec(Name("SC", P.Scale())),
            lambda SC: _pull_scale(DiagVec, SC)),
    # diag(1) = 1: the diagonal of a square matrix of ones
    Rewrite("diag(1 1') = 1", P.DiagVec(Name("On", P.Ones())), lambda On: Ones((On.shape[0], 1))),
    # diag(A + B) = diag(A) + diag(B)
    Rewrite("diag(A + B) = diag(A) + diag(B)", P.DiagVec(P.Add(ts)),
            lambda ts: Add(tuple(DiagVec(t) for t in ts))),
    # diag(M 1 1') = M 1: each row of M 1 1' repeats the row sum of M
    Rewrite("diag(M 1 1') = M 1", P.DiagVec(P.MatMul(fs)),
            lambda fs: MatMul(fs[:-1] + (Ones((fs[-1].shape[0], 1)),)),
            when=lambda fs: isinstance(fs[-1], Ones) and matrix(fs[-1])),
    # diag(1 1' M) = M' 1: each column of 1 1' M repeats the column sum of M
    Rewrite("diag(1 1' M) = M' 1", P.DiagVec(P.MatMul(fs)),
            lambda fs: Transpose(MatMul((Ones((1, fs[0].shape[1])),) + fs[1:])),
            when=lambda fs: isinstance(fs[0], Ones) and matrix(fs[0])),
    # diag(a b') = a .* b
    Rewrite("diag(a b') = a .* b", P.DiagVec(P.MatMul(a, b)),
            lambda a, b: Hadamard((a, Transpose(b))), when=lambda a: column(a)),
    # diag(M a b') = (M a) .* b: a chain that ends in a row is an outer product
    Rewrite("diag(M a b') = (M a) .* b", P.DiagVec(P.MatMul(fs)),
            lambda fs: Hadamard((MatMul(fs[:-1]), Transpose(fs[-1]))),
            when=lambda fs: len(fs) > 2 and row(fs[-1])),
    # diag(a b' M) = a .* (M' b): a chain that starts with a column is an outer product
    Rewrite("diag(a b' M) = a .* (M' b)", P.DiagVec(P.MatMul(fs)),
            lambda fs: Hadamard((fs[0], Transpose(MatMul(fs[1:])))),
            when=lambda fs: len(fs) > 2 and column(fs[0])),
    # diag(s) = s (of a 1 x 1)
    Rewrite("diag(s) = s", P.DiagMat(x), lambda x: x, when=lambda x: scalar(x)),
    # diag(1) = I
    Rewrite("diag(1) = I", P.DiagMat(Name("On", P.Ones())), lambda On: Identity(On.shape[0])),
    # diag(0) = 0 (of a vector)
    Rewrite("diag(0) = 0 (of a vector)", P.DiagMat(ZERO),
            lambda Z: zero((Z.shape[0], Z.shape[0]))),
    # diag(s x) = s diag(x)
    Rewrite("diag(s x) = s diag(x)", P.DiagMat(Name("SC", P.Scale())),
            lambda SC: _pull_scale(DiagMat, SC)),

    # -- triangles (tril, triu)
    # tril(tril(X)) = tril(X)
    Rewrite("tril(tril(X)) = tril(X)",
            Name("Tr", P.of(Tril, Triu)(Name("T", P.of(Tril, Triu)()))), lambda T: T,
            when=lambda Tr, T: type(Tr) is type(T)),
    # tril(I) = I, tril(diag(x)) = diag(x)
    Rewrite("tril(diag(x)) = diag(x)", P.of(Tril, Triu)(Name("D", P.of(Identity, DiagMat)())),
            lambda D: D),
    # tril(0) = 0
    Rewrite("tril(0) = 0", P.of(Tril, Triu)(ZERO), lambda Z: Z),
    # tril(s X) = s tril(X)
    Rewrite("tril(s X) = s tril(X)", Name("Tr", P.of(Tril, Triu)(Name("SC", P.Scale()))),
            lambda Tr, SC: _pull_scale(type(Tr), SC),
            when=lambda SC: split_scale(SC)[0] is not None),

    # -- broadcasts
    # broadcast(0) = 0
    Rewrite("broadcast(0) = 0", P.Broadcast(ZERO, shape), lambda shape: Zero(shape)),
    # broadcast(1) = 1
    Rewrite("broadcast(1) = 1", P.Broadcast(Alt(Lit(ONE), P.Ones()), shape),
            lambda shape: Ones(shape)),
    # broadcast(s) = s 1
    Rewrite("broadcast(s) = s 1", P.Broadcast(s, shape), lambda s, shape: Scale(s, Ones(shape)),
            when=lambda s: scalar(s)),
    # broadcast(s X) = s broadcast(X)
    Rewrite("broadcast(s X) = s broadcast(X)", P.Broadcast(Name("SC", P.Scale()), shape),
            lambda SC, shape: Scale(split_scale(SC)[0], Broadcast(split_scale(SC)[1], shape)),
            when=lambda SC: not scalar(SC)),

    # -- 1 x 1 leaves are numbers
    # 0 (1 x 1) = 0
    Rewrite("0 (1 x 1) = 0", P.Zero(Lit(SCALAR)), lambda: Const(0)),
    # 1 (1 x 1) = 1, I (1 x 1) = 1
    Rewrite("1 (1 x 1) = 1", Alt(P.Ones(Lit(SCALAR)), P.Identity(Lit(1))), lambda: ONE),
    # n = the number n, for a numeric dimension
    Rewrite("dim n = n", P.DimValue(d), lambda d: Const(d), when=lambda d: isinstance(d, int)),
], doc="the display form: the simplifier's identities, per node kind")


def _cycled(fs: tuple) -> tuple:
    """tr(P x Q) = Q P x: the chain rotated to end at its first column factor."""
    i = next(i for i, f in enumerate(fs) if column(f))
    return fs[i + 1:] + fs[:i + 1]


# ---- two adjacent factors of a product chain (the right-hand side: the factors that
# replace them), and whole chains ----------------------------------------------------------

CHAIN = RuleSet("chain", [
    # 1 1' = 1: ones times ones, an outer product, is ones
    Rewrite("1 1' = 1", P.MatMul(Name("a", P.Ones()), Name("b", P.Ones())),
            lambda a, b: (Ones((a.shape[0], b.shape[1])),),
            when=lambda a, b: column(a) or row(b)),
    # 1_{m x n} 1_{n x p} = n 1_{m x p}
    Rewrite("1 1 = n 1", P.MatMul(Name("a", P.Ones()), Name("b", P.Ones())),
            lambda a, b: (Scale(dim_value(a.shape[1]), Ones((a.shape[0], b.shape[1]))),)),
    # X^-1 X = I
    Rewrite("X^-1 X = I", P.MatMul(P.Inv(X), X), lambda: ()),
    # X X^-1 = I
    Rewrite("X X^-1 = I", P.MatMul(X, P.Inv(X)), lambda: ()),
    # X^-T X' = I  ((X X^-1)' = I)
    Rewrite("X^-T X' = I", P.MatMul(P.Transpose(P.Inv(X)), P.Transpose(X)), lambda: ()),
    # X' X^-T = I  ((X^-1 X)' = I)
    Rewrite("X' X^-T = I", P.MatMul(P.Transpose(X), P.Transpose(P.Inv(X))), lambda: ()),
    # diag(a) diag(b) = diag(a .* b)
    Rewrite("diag(a) diag(b) = diag(a .* b)", P.MatMul(P.DiagMat(a), P.DiagMat(b)),
            lambda a, b: (DiagMat(Hadamard((a, b))),)),
    # diag(a) 1 = a 1': row i of diag(a) 1 is a_i times ones
    Rewrite("diag(a) 1 = a 1'", P.MatMul(P.DiagMat(a), Name("On", P.Ones())),
            lambda a, On: (a, Ones((1, On.shape[1]))), when=lambda On: not column(On)),
    # 1 diag(b) = 1 b': column j of 1 diag(b) is b_j times ones
    Rewrite("1 diag(b) = 1 b'", P.MatMul(Name("On", P.Ones()), P.DiagMat(b)),
            lambda b, On: (Transpose(b),) if row(On) else (Ones((On.shape[0], 1)), Transpose(b))),
    # diag(a) v = a .* v
    Rewrite("diag(a) v = a .* v", P.MatMul(P.DiagMat(a), v), lambda a, v: (Hadamard((a, v)),),
            when=lambda v: column(v)),
], doc="identities of two adjacent factors of a product chain")

WHOLE_CHAIN = RuleSet("whole chain", [
    # 1' g = sum(g), g a column
    Rewrite("1' g = sum(g)", P.MatMul(Name("o", P.Ones()), g), lambda g: (Sum(g),),
            when=lambda o, g: row(o) and column(g)),
    # 1' G 1 = sum(G)
    Rewrite("1' G 1 = sum(G)", P.MatMul(fs), lambda fs: (Sum(_product(fs[1:-1])),),
            when=lambda fs: len(fs) > 2 and isinstance(fs[0], Ones) and row(fs[0])
            and isinstance(fs[-1], Ones) and column(fs[-1])),
], doc="identities of a whole product chain")


def _product(fs) -> Node:
    return fs[0] if len(fs) == 1 else MatMul(tuple(fs))


# ---- the factors of a monomial: each case is a quotient (a factor of exponent -1, with
# the numerator factor it needs) or a product of two factors ---------------------------------

FACTORS = RuleSet("factors", [
    # exp(u) ./ (1 + exp(u)) = sigmoid(u)
    Rewrite("exp(u) ./ (1 + exp(u)) = sigmoid(u)", P.Divide(P.Func("exp", u), ONE_PLUS_EXP),
            lambda u: Func("sigmoid", u)),
    # 1 ./ (1 + exp(u)) = sigmoid(-u)
    Rewrite("1 ./ (1 + exp(u)) = sigmoid(-u)", P.Divide(Lit(ONE), ONE_PLUS_EXP),
            lambda u: Func("sigmoid", -u)),
    # sigmoid(w) .* exp(-w) = sigmoid(-w)
    Rewrite("sigmoid(w) .* exp(-w) = sigmoid(-w)",
            P.Hadamard(P.Func("sigmoid", w), P.Func("exp", P.Scale(Lit(MINUS_ONE), w))),
            lambda w: Func("sigmoid", -w)),
    # sigmoid(u) .* sigmoid(-u) = sigmoid(u) .* (1 - sigmoid(u)): the derivative of the
    # logistic function as textbooks write it (sigmoid(-u) = 1 - sigmoid(u))
    Rewrite("sigmoid(u) .* sigmoid(-u) = sigmoid(u) .* (1 - sigmoid(u))",
            P.Hadamard(P.Func("sigmoid", u), P.Func("sigmoid", P.Scale(Lit(MINUS_ONE), u))),
            lambda u: Hadamard((Func("sigmoid", u),
                                Add((ones(u.shape), Scale(MINUS_ONE, Func("sigmoid", u))))))
            if not scalar(u) else
            Scale(Func("sigmoid", u), Add((ONE, Scale(MINUS_ONE, Func("sigmoid", u))))),
            # of a zero, -u is u: sigmoid(0) .* sigmoid(0) stays (rewriting it would loop)
            when=lambda u: not is_zero(u)),
    # sign(u) .* u = abs(u)  (d|u|/du u = |u|: log|det X| has the gradient X^-T)
    Rewrite("sign(u) .* u = abs(u)", P.Hadamard(P.Func("sign", u), u),
            lambda u: Func("abs", u)),
], doc="identities of the factors of a monomial: the logistic function by name")


# ---- stable forms for generated code -------------------------------------------------------

def tr(x: Node) -> Node:
    """x' without a double transpose (a scalar is its own transpose)."""
    return push_transpose(x) if scalar(x) or isinstance(x, Transpose) else Transpose(x)


def _log_softmax(z: Node) -> Node:
    # log softmax(z) = z - logsumexp(z), column by column: never log of an underflowed 0
    return add(z, -broadcast_to(LogSumExp(z), z.shape))


def strip_transposes(x: Node) -> Node:
    """x with its outer transposes removed."""
    while isinstance(x, Transpose):
        x = x.x
    return x


def sum_of_arguments(x: Node) -> bool:
    """A sum of matrices that are arguments (or their transposes, scaled): computing it is
    all cost, no sharing."""
    if not isinstance(x, Add) or 1 in x.shape:
        return False
    for t in x.terms:
        while isinstance(t, Scale) and t.s.shape == SCALAR and isinstance(t.s, Const):
            t = t.x
        if not isinstance(strip_transposes(t), Var):
            return False
    return True


_SIGMOID = FACTORS.rules[0]

STABLE_FORMS = (
    RuleSet("stable forms", [
        # (x')' = x: a forward x'' is not .T.T
        _T["(X')' = X"],
        # step(z) = step(relu(z)): relu'(z) read off the activation, where it is computed
        Rewrite("step(z) = step(relu(z))", P.Func("step", x),
                lambda x: Func("step", Func("relu", x)), when=lambda old, ctx: old.x in ctx),
        # log(softmax(z)) = z - logsumexp(z), column by column
        Rewrite("log(softmax(z)) = z - logsumexp(z)", P.Func("log", P.Softmax(x)),
                lambda x: _log_softmax(x), when=lambda x: not row(x)),
        # log(softmax(z)') = z' - logsumexp(z)'
        Rewrite("log(softmax(z)') = z' - logsumexp(z)'",
                Name("L", P.Func("log", P.Transpose(P.Softmax(x)))),
                lambda L, x: add(tr(x), -broadcast_to(tr(LogSumExp(x)), L.shape)),
                when=lambda x: not row(x)),
        # exp(u) ./ (1 + exp(u)) = sigmoid(u): no inf/inf for large u
        _SIGMOID,
        # a .* exp(u) ./ (1 + exp(u)) = a .* sigmoid(u)
        Rewrite("a .* exp(u) ./ (1 + exp(u)) = a .* sigmoid(u)",
                P.Divide(P.Hadamard(fs), ONE_PLUS_EXP),
                lambda fs, u: Hadamard((*_without(fs, Func("exp", u)), Func("sigmoid", u))),
                when=lambda fs, u: Func("exp", u) in fs),
    ], doc="pass 1: relu', log softmax, the logistic function"),
    RuleSet("stable forms, products", [
        # (A + B) x = A x + B x: two matrix-vector products, not a matrix sum
        Rewrite("(A + B) x = A x + B x", P.MatMul(Name("S", P.Add(ts)), x),
                lambda ts, x: Add(tuple(MatMul((a, x)) for a in ts)),
                when=lambda S, x: sum_of_arguments(S) and column(x)),
        # x'(A + B) = x'A + x'B
        Rewrite("x'(A + B) = x'A + x'B", P.MatMul(x, Name("S", P.Add(ts))),
                lambda ts, x: Add(tuple(MatMul((x, a)) for a in ts)),
                when=lambda S, x: sum_of_arguments(S) and row(x)),
    ], doc="pass 2: matrix sums of arguments times a vector"),
    RuleSet("stable forms, softmax", [
        # softmax(z) = exp(z - logsumexp(z)), where logsumexp(z) is computed anyway
        Rewrite("softmax(z) = exp(z - logsumexp(z))", P.Softmax(x),
                lambda x: Func("exp", _log_softmax(x)), when=lambda x, ctx: x in ctx),
    ], doc="pass 3: softmax through the logsumexp the loss computes"),
)


def _without(fs: tuple, one: Node) -> list:
    rest = list(fs)
    rest.remove(one)
    return rest


def stable_forms(roots: list[Node]) -> list[Node]:
    """The roots in the forms generated code computes stably (`STABLE_FORMS`, in three
    passes over the DAG): relu'(z) read off the activation, log-softmax and softmax
    through logsumexp, the logistic function by name, (A + B) x as A x + B x."""
    first, products, softmax = STABLE_FORMS
    relu_args = {n.x for n in dag_order(roots) if isinstance(n, Func) and n.name == "relu"}
    roots = rewrite_dag(roots, first, ctx=relu_args)
    roots = rewrite_dag(roots, products)
    lse_args = {n.x for n in dag_order(roots) if isinstance(n, LogSumExp) and n.x.shape[0] != 1}
    if not lse_args:
        return roots
    return rewrite_dag(roots, softmax, ctx=lse_args)


# (x')' = x and f(x') = f(x)': where transposes meet, they cancel (generated code)
MEET = RuleSet("transposes meet", [_T["(X')' = X"], _FUNC_OF_TRANSPOSE])


# ---- the display of Jacobians and Hessians -------------------------------------------------

def _spread(fs: tuple) -> Node:
    """A product chain multiplied out over its first sum factor."""
    i = next(i for i, f in enumerate(fs) if isinstance(f, Add))
    return Add(tuple(MatMul(fs[:i] + (t,) + fs[i + 1:]) for t in fs[i].terms))


def _no_larger(before: Node, after: Node) -> bool:
    """Counting a repeated subexpression once (it will be named), then transposes."""
    return (dag_size(after), transposes(after)) <= (dag_size(before), transposes(before))


def _has_sum(fs) -> bool:
    return any(isinstance(f, Add) for f in fs)


EXPANDED = RuleSet("expanded", [
    # P (A + B) Q = P A Q + P B Q, where that is no larger
    Rewrite("P (A + B) Q = P A Q + P B Q", P.MatMul(fs), lambda fs: _spread(fs),
            when=lambda fs: _has_sum(fs), keep=_no_larger),
    # s P (A + B) Q = s (P A Q + P B Q), where that is no larger
    Rewrite("s P (A + B) Q = s (P A Q + P B Q)", P.Scale(s, P.MatMul(fs)),
            lambda s, fs: Scale(s, _spread(fs)), when=lambda fs: _has_sum(fs), keep=_no_larger),
], doc="Jacobians: products multiplied out where the formula is no larger (diag(p) - p*p')")


def _polynomial(ts: tuple, f: str, powers: dict) -> Node | None:
    """u if the terms are exactly sum(c * f(u).^k for k, c in powers), else None."""
    have: dict = {}
    u = None
    for t in ts:
        c, rest = _coefficient(t)
        k = 1
        if isinstance(rest, Power) and isinstance(rest.p, Const):
            rest, k = rest.x, rest.p.value
        if not (isinstance(rest, Func) and rest.name == f) or (u is not None and rest.x is not u):
            return None
        u = rest.x
        have[k] = have.get(k, 0) + c
    return u if have == powers else None


_SIGMOID_2 = {1: 1, 2: -3, 3: 2}        # s - 3 s^2 + 2 s^3
_TANH_2 = {1: 1, 3: -1}                 # t - t^3 (tanh'' = -2 (t - t^3))


def _one_minus(x: Node) -> Node:
    return Add((ones(x.shape), Scale(MINUS_ONE, x)))


PAIRED = RuleSet("paired", [
    # A' + A = A + A': a term before its transpose (commutativity, for reading)
    _PAIR,
    # s - 3 s^2 + 2 s^3 = s .* (1 - s) .* (1 - 2 s), s = sigmoid(u): the logistic
    # function's second derivative, factored as textbooks write it
    Rewrite("s - 3 s^2 + 2 s^3 = s (1 - s) (1 - 2 s)", P.Add(ts),
            lambda ts: Hadamard((Func("sigmoid", _polynomial(ts, "sigmoid", _SIGMOID_2)),
                                 _one_minus(Func("sigmoid", _polynomial(ts, "sigmoid",
                                                                        _SIGMOID_2))),
                                 _one_minus(Scale(Const(2), Func("sigmoid", _polynomial(
                                     ts, "sigmoid", _SIGMOID_2)))))),
            when=lambda ts: not scalar(ts[0]) and
            _polynomial(ts, "sigmoid", _SIGMOID_2) is not None),
    # t - t^3 = t (1 - t^2), t = tanh(u): tanh's second derivative (-2 of it), factored
    Rewrite("t - t^3 = t (1 - t^2)", P.Add(ts),
            lambda ts: Hadamard((
                Func("tanh", _polynomial(ts, "tanh", _TANH_2)),
                _one_minus(Power(Func("tanh", _polynomial(ts, "tanh", _TANH_2)), Const(2))))),
            when=lambda ts: not scalar(ts[0]) and _polynomial(ts, "tanh", _TANH_2) is not None),
], doc="Jacobians and Hessians: a term before its transpose, derivative polynomials factored")


def _diagonal_and_rest(p: Node, canonical) -> tuple[Node | None, Node | None]:
    """(d, R) with p = diag(d)*R (R None for the identity)."""
    c = None
    while isinstance(p, Scale):
        c = p.s if c is None else Scale(p.s, c)
        p = p.x
    n = p.shape[0]
    if isinstance(p, Identity):
        d, rest = Ones((n, 1)), None
    elif isinstance(p, DiagMat):
        d, rest = p.x, None
    elif isinstance(p, MatMul) and isinstance(p.factors[0], DiagMat):
        fs = p.factors
        d, rest = fs[0].x, (fs[1] if len(fs) == 2 else MatMul(fs[1:]))
    else:
        d, rest = Ones((n, 1)), p
    return (d if c is None else canonical(Scale(c, d))), rest


def _collected(ts: tuple, canonical) -> Node:
    split = [_diagonal_and_rest(p, canonical) for p in ts]
    d = canonical(Add(tuple(d for d, _ in split)))
    rest = split[0][1]
    return DiagMat(d) if rest is None else DiagMat(d) @ rest


def _same_rest(ts: tuple, canonical) -> bool:
    split = [_diagonal_and_rest(p, canonical) for p in ts]
    rest = split[0][1]
    return all(r is rest for _, r in split[1:])


DIAGONALS = RuleSet("diagonals", [
    # diag(a) R + diag(b) R = diag(a + b) R  (R alone is diag(1) R)
    Rewrite("diag(a) R + diag(b) R = diag(a + b) R", P.Add(ts),
            lambda ts, ctx: _collected(ts, ctx), when=lambda ts, ctx: _same_rest(ts, ctx)),
], doc="the matrix of a linear map: diagonals collected (W - 2*diag(s)*W = diag(1 - 2*s)*W)")


# ---- what the user assumes of a variable (matcalc.assumptions): `ctx` is the labels,
# (one-hot: name -> the axis that sums to one, signs: names of -1/+1 variables) ------------

def _sign(y: Node, ctx) -> bool:
    y = y.x if isinstance(y, Transpose) else y
    return isinstance(y, Var) and y.name in ctx[1]


def _even(p) -> bool:
    return float(p).is_integer() and int(p) % 2 == 0


def _odd(p) -> bool:
    return float(p).is_integer() and int(p) % 2 == 1


def _label(x: Node, onehot: dict[str, str]):
    """(name, axis that sums to one, seen in x's orientation) if x is a label or its '."""
    flip = {"columns": "rows", "rows": "columns"}
    if isinstance(x, Var) and x.name in onehot:
        return x.name, onehot[x.name]
    if isinstance(x, Transpose) and isinstance(x.x, Var) and x.x.name in onehot:
        return x.x.name, flip[onehot[x.x.name]]
    return None, None


def _ones_for_sums(fs: tuple, onehot: dict[str, str]) -> tuple | None:
    """The chain with its first label sum replaced by ones, or None if it has none."""
    for i in range(len(fs) - 1):
        a, b = fs[i], fs[i + 1]
        y, axis = _label(b, onehot)
        if isinstance(a, Ones) and a.shape[0] == 1 and y is not None and axis == "columns":
            return fs[:i] + (Ones((1, b.shape[1])),) + fs[i + 2:]    # 1'Y = 1'
        y, axis = _label(a, onehot)
        if isinstance(b, Ones) and b.shape[1] == 1 and y is not None and axis == "rows":
            return fs[:i] + (Ones((a.shape[0], 1)),) + fs[i + 2:]    # Y 1 = 1
    return None


ASSUMED = RuleSet("assumed", [
    # sum(y) = 1, y a one-hot (probability) vector
    Rewrite("sum(y) = 1 (one-hot)", P.Sum(Name("Y", P.Var(n))), lambda: ONE,
            when=lambda Y, n, ctx: n in ctx[0] and column(Y)),
    # 1'Y = 1' (Y one-hot by columns), Y 1 = 1 (by rows): the first label sum of a chain
    Rewrite("1'Y = 1', Y 1 = 1 (one-hot)", P.MatMul(fs),
            lambda fs, ctx: _product(_ones_for_sums(fs, ctx[0])),
            when=lambda fs, ctx: bool(ctx[0]) and _ones_for_sums(fs, ctx[0]) is not None),
    # y.^(2k) = 1, y in {-1, 1}
    Rewrite("y.^(2k) = 1 (signs)", P.Power(y, P.Const(p)), lambda y: Ones(y.shape),
            when=lambda y, p, ctx: _sign(y, ctx) and _even(p)),
    # y.^(2k+1) = y, y in {-1, 1}
    Rewrite("y.^(2k+1) = y (signs)", P.Power(y, P.Const(p)), lambda y: y,
            when=lambda y, p, ctx: _sign(y, ctx) and _odd(p)),
    # abs(y) = 1, y in {-1, 1}
    Rewrite("abs(y) = 1 (signs)", P.Func("abs", y), lambda y: Ones(y.shape),
            when=lambda y, ctx: _sign(y, ctx)),
    # sign(y) = y, y in {-1, 1}
    Rewrite("sign(y) = y (signs)", P.Func("sign", y), lambda y: y,
            when=lambda y, ctx: _sign(y, ctx)),
], doc="what the user assumes: label sums are ones, squared signs are ones")

RULE_SETS = (CANONICAL, CHAIN, WHOLE_CHAIN, FACTORS, TRANSPOSE, *STABLE_FORMS, MEET,
             EXPANDED, PAIRED, DIAGONALS, ASSUMED)
