"""The display form: the simplifier's identities per node kind (`CANONICAL`), of two
adjacent factors of a product chain and of a whole chain (`CHAIN`, `WHOLE_CHAIN`), and
of the factors of a monomial (`FACTORS`: the logistic function by name).

`matcalc.simplify` is the engine that applies them: it brings a node's operands to
canonical form first, keeps like terms and monomials collected, and normalises what a
right-hand side built.
"""
from __future__ import annotations

from .. import ops
from ..expr import (
    SCALAR,
    Add,
    Broadcast,
    Const,
    Det,
    DiagMat,
    DiagVec,
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
    Zero,
)
from ..patterns import Alt, Lit, Name, P, Rewrite, RuleSet, fewer_transposes, size
from .transpose import _FUNC_OF_TRANSPOSE, _T
from .vocabulary import (
    MINUS_ONE,
    ONE,
    ONE_PLUS_EXP,
    ZERO,
    M,
    S,
    X,
    _dims_product,
    _fold_power,
    _product,
    _pull_scale,
    a,
    b,
    c,
    column,
    d,
    dim_value,
    f,
    fs,
    g,
    is_zero,
    k,
    matrix,
    n,
    ones,
    p,
    row,
    s,
    scalar,
    shape,
    split_scale,
    symmetric,
    ts,
    u,
    v,
    w,
    x,
    zero,
)

# ---- the canonical (display) form, per node kind ---------------------------------------------


def _registry(f: str):
    return ops.ELEMENTWISE[f]


def _paired(ts: tuple) -> tuple:
    """The terms of a sum with each term's transpose right after it (A + A', not A' + A)."""
    used = [False] * len(ts)
    places: dict[int, list[int]] = {}        # id of a term: its places, last first
    for j in reversed(range(len(ts))):
        places.setdefault(id(ts[j]), []).append(j)
    out: list[Node] = []
    for i, t in enumerate(ts):
        if used[i]:
            continue
        if isinstance(t, Transpose):         # its first unused operand goes before it
            free = places.get(id(t.x), [])
            while free and used[free[-1]]:
                free.pop()
            if free:
                partner = free.pop()
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
