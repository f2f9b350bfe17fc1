"""How a transpose moves one level down (`TRANSPOSE`, read by `push_transpose`: the one
transpose pusher of the package), and the law that moves it up through a function.

Other rule sets take these cases by their law (`_T`): the display form where they remove
transposes, generated code where transposes meet.
"""
from __future__ import annotations

from ..expr import (
    Add,
    Broadcast,
    Contract,
    DiagMat,
    Divide,
    Func,
    Hadamard,
    Identity,
    MatMul,
    Node,
    Ones,
    Power,
    Scale,
    Transpose,
    Zero,
)
from ..patterns import Name, P, Rewrite, RuleSet, Test
from .vocabulary import A, B, X, f, fs, p, s, scalar, shape, swapped, ts, x

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


# f(X') = f(X)'
_FUNC_OF_TRANSPOSE = Rewrite("f(X') = f(X)'", P.Func(f, P.Transpose(X)),
                             lambda f, X: Transpose(Func(f, X)))
