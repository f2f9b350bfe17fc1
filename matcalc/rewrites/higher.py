"""The display of Jacobians and Hessians, read by `matcalc.matrix_reading`: products
multiplied out where that is no larger (`EXPANDED`), a term beside its transpose and
derivative polynomials factored (`PAIRED`), diagonals collected (`DIAGONALS`).
"""
from __future__ import annotations

from ..expr import Add, Const, DiagMat, Func, Hadamard, Identity, MatMul, Node, Ones, Power, Scale
from ..patterns import P, Rewrite, RuleSet, dag_size, transposes
from .display import _PAIR, _coefficient
from .vocabulary import MINUS_ONE, fs, ones, s, scalar, ts

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
