"""How big the parts of an expression are at a point: the absolute scales the checker
measures its comparisons against.

A finite-difference check compares two small numbers, and the question that decides a
verdict is whether they are small *relative to what*. Comparing a number only with its
partner accepts 0 = 0 whenever both sides vanish: a dead relu, an exp that underflows, a
factor that is 0 at this point. Two scales answer it, both read off the IR at the point:

- `magnitudes`: per node, the size of the terms that make its value (|a| + |b| for
  a + b, |A| |B| for a product, and for a function f(u) its value plus |f'(u)| times
  the terms of u). Round-off in a computed value is a few eps times this, however much
  the terms cancel: x'*x - norm2(x)^2 is 0 with magnitude 2|x|^2.
- `sensitivities`: per variable, an entrywise bound on |dL/dX| for L = <W, root>, by
  reverse mode with absolute values (every factor and every local derivative replaced
  by its absolute value, no cancellation allowed). <S_X, |V|> bounds the directional
  derivative along V by the sizes of all the paths from X to the root: it is 0 exactly
  when every path is cut at this point (a relu that is off, a product with 0, an exp
  that underflows), and then no finite difference can tell a right formula from a
  wrong one here. A path cut by cancellation (x'*x - norm2(x)^2) keeps its size, so a
  zero derivative of a constant function is still verified as zero.

Both follow the house pattern: one small function per node kind, in a table; the slope
|f'(u)| of an elementwise function comes from the rules' derivative table.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from matcalc import ops
from matcalc.evaluate import evaluate_over, multiply_chain
from matcalc.expr import (
    Add,
    Broadcast,
    Const,
    Det,
    DiagMat,
    DiagVec,
    Tril,
    Triu,
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
    Var,
    Zero,
    walk,
)

Memo = Mapping[Node, np.ndarray]


class Slopes:
    """|f'(u)| for the elementwise nodes f(u) of a point, from the derivative table of
    the rules (matcalc.rules.elementwise.DERIVATIVE) evaluated at the values at hand,
    each once. sign and step are flat but jump: their slope is that of a unit jump at
    the distance of u from 0, so that a function of sign(u) keeps a scale and its zero
    derivative can be verified."""

    def __init__(self, memo: Memo, dims):
        self.memo, self.dims, self.done = memo, dims, {}

    def __call__(self, node: Func) -> np.ndarray:
        if node not in self.done:
            from matcalc.rules.elementwise import DERIVATIVE
            derivative = DERIVATIVE[node.name](node.x, node)
            u = self.memo[node.x]
            if isinstance(derivative, Zero):
                slope = 1 / np.maximum(np.abs(u), np.finfo(float).tiny)
            else:
                slope = np.abs(np.broadcast_to(
                    evaluate_over(derivative, self.memo, self.dims), u.shape))
            self.done[node] = slope
        return self.done[node]


def _softmax_of(u: np.ndarray) -> np.ndarray:
    return ops.BY_NODE[Softmax].evaluate(u)             # the registry's softmax


# ---- round-off scale: (node, child values, child magnitudes, value) -> magnitude --------

def _mag_leaf(n, xs, ms, y, slope):
    return np.abs(y)


def _mag_power(n, xs, ms, y, slope):
    (x, p), (mx, mp) = xs, ms
    p = p[0, 0]
    with np.errstate(all="ignore"):
        slope = np.abs(p * x ** (p - 1)) if p != 0 else np.zeros_like(x)
        by_p = np.abs(y * np.log(np.abs(x))) * mp[0, 0] if not isinstance(n.p, Const) else 0
    return np.abs(y) + slope * mx + by_p


def _mag_det(n, xs, ms, y, slope):
    inv = np.linalg.inv(xs[0])
    return np.abs(y) * (1 + np.linalg.norm(inv) * np.linalg.norm(ms[0]))


def _mag_logdet(n, xs, ms, y, slope):
    return np.abs(y) + np.linalg.norm(np.linalg.inv(xs[0])) * np.linalg.norm(ms[0])


def _mag_softmax(n, xs, ms, y, slope):
    p = np.abs(y)
    return p * (1 + ms[0] + (p * ms[0]).sum(axis=0, keepdims=True))


def _mag_logsumexp(n, xs, ms, y, slope):
    return np.abs(y) + (_softmax_of(xs[0]) * ms[0]).sum(axis=0, keepdims=True)


MAGNITUDE = {
    Add:       lambda n, xs, ms, y, slope: sum(ms[1:], ms[0]),
    Scale:     lambda n, xs, ms, y, slope: ms[0][0, 0] * ms[1],
    MatMul:    lambda n, xs, ms, y, slope: multiply_chain(ms),
    Transpose: lambda n, xs, ms, y, slope: ms[0].T,
    Broadcast: lambda n, xs, ms, y, slope: np.broadcast_to(ms[0], y.shape).copy(),
    Hadamard:  lambda n, xs, ms, y, slope: np.prod(ms, axis=0),
    Divide:    lambda n, xs, ms, y, slope: (ms[0] + np.abs(y) * ms[1]) / np.abs(xs[1]),
    Power:     _mag_power,
    Func:      lambda n, xs, ms, y, slope: np.abs(y) + slope(n) * ms[0],
    Sum:       lambda n, xs, ms, y, slope: np.full((1, 1), ms[0].sum()),
    Trace:     lambda n, xs, ms, y, slope: np.full((1, 1), np.trace(ms[0])),
    Norm1:     lambda n, xs, ms, y, slope: np.full((1, 1), ms[0].sum()),
    Norm2:     lambda n, xs, ms, y, slope: np.full((1, 1), np.linalg.norm(ms[0])),
    Det:       _mag_det,
    LogDet:    _mag_logdet,
    Inv:       lambda n, xs, ms, y, slope: np.abs(y) + np.abs(y) @ ms[0] @ np.abs(y),
    DiagMat:   lambda n, xs, ms, y, slope: np.diag(ms[0][:, 0]),
    DiagVec:   lambda n, xs, ms, y, slope: np.diag(ms[0]).reshape(-1, 1),
    Tril:      lambda n, xs, ms, y, slope: np.tril(ms[0]),
    Triu:      lambda n, xs, ms, y, slope: np.triu(ms[0]),
    Softmax:   _mag_softmax,
    LogSumExp: _mag_logsumexp,
}
for _leaf in (Var, Const, DimValue, Zero, Ones, Identity):
    MAGNITUDE[_leaf] = _mag_leaf


@np.errstate(all="ignore")
def magnitudes(memo: Memo, dims, known: Memo | None = None,
               slopes: Slopes | None = None) -> dict[Node, np.ndarray]:
    """The round-off scale of every node in `memo` (which lists children before parents,
    as evaluate_all returns it, at the sizes `dims`): an array of the node's shape,
    >= |value|, and >= the smallest normal float: below it the spacing of the floats
    stops shrinking (eps * tiny is the subnormals' spacing), so that 1e-320*B, computed,
    is off by 1e-4 of itself, and so is exp(v'*B*v)*(1e-320*B)*v, whatever its size."""
    slope = slopes or Slopes(memo, dims)
    mags: dict[Node, np.ndarray] = dict(known or {})
    for node, y in memo.items():
        if node not in mags:
            mags[node] = np.maximum(TINY, MAGNITUDE[type(node)](
                node, [memo[c] for c in node.children], [mags[c] for c in node.children],
                y, slope))
    return mags


TINY = float(np.finfo(np.float64).tiny)


# ---- sensitivity: reverse mode in absolute values ------------------------------------------
# (node, its absolute adjoint s, child values, value) -> absolute adjoint of each child

def _sens_matmul(n, s, xs, y, slope):
    ab = [np.abs(x) for x in xs]
    out = []
    for i in range(len(ab)):
        left = multiply_chain(ab[:i]).T @ s if i else s
        out.append(left @ multiply_chain(ab[i + 1:]).T if i + 1 < len(ab) else left)
    return out


def _sens_hadamard(n, s, xs, y, slope):
    ab = [np.abs(x) for x in xs]
    return [s * np.prod(ab[:i] + ab[i + 1:], axis=0) for i in range(len(ab))]


def _sens_broadcast(n, s, xs, y, slope):
    r, c = xs[0].shape
    if r == 1:
        s = s.sum(axis=0, keepdims=True)
    if c == 1:
        s = s.sum(axis=1, keepdims=True)
    return [s]


def _sens_power(n, s, xs, y, slope):
    x, p = xs
    q = p[0, 0]
    return [s * (np.abs(q * x ** (q - 1)) if q != 0 else 0 * x),
            np.full((1, 1), np.sum(s * np.abs(y * np.log(np.abs(x)))))]


def _sens_softmax(n, s, xs, y, slope):
    p = np.abs(y)
    return [p * (s + (p * s).sum(axis=0, keepdims=True))]


def _sens_inv(n, s, xs, y, slope):
    a = np.abs(y).T
    return [a @ s @ a]


SENSITIVITY = {
    Add:       lambda n, s, xs, y, slope: [s] * len(xs),
    Scale:     lambda n, s, xs, y, slope: [np.full((1, 1), np.sum(s * np.abs(xs[1]))),
                                    abs(xs[0][0, 0]) * s],
    MatMul:    _sens_matmul,
    Transpose: lambda n, s, xs, y, slope: [s.T],
    Broadcast: _sens_broadcast,
    Hadamard:  _sens_hadamard,
    Divide:    lambda n, s, xs, y, slope: [s / np.abs(xs[1]), s * np.abs(y / xs[1])],
    Power:     _sens_power,
    Func:      lambda n, s, xs, y, slope: [s * slope(n)],
    Sum:       lambda n, s, xs, y, slope: [np.full(xs[0].shape, s[0, 0])],
    Trace:     lambda n, s, xs, y, slope: [s[0, 0] * np.eye(xs[0].shape[0])],
    Norm1:     lambda n, s, xs, y, slope: [np.full(xs[0].shape, s[0, 0])],
    Norm2:     lambda n, s, xs, y, slope: [s[0, 0] * np.abs(xs[0]) / y[0, 0]],
    Det:       lambda n, s, xs, y, slope: [s[0, 0] * np.abs(y[0, 0] * np.linalg.inv(xs[0]).T)],
    LogDet:    lambda n, s, xs, y, slope: [s[0, 0] * np.abs(np.linalg.inv(xs[0]).T)],
    Inv:       _sens_inv,
    DiagMat:   lambda n, s, xs, y, slope: [np.diag(s).reshape(-1, 1)],
    DiagVec:   lambda n, s, xs, y, slope: [np.diag(s[:, 0])],
    Tril:      lambda n, s, xs, y, slope: [np.tril(s)],
    Triu:      lambda n, s, xs, y, slope: [np.triu(s)],
    Softmax:   _sens_softmax,
    LogSumExp: lambda n, s, xs, y, slope: [_softmax_of(xs[0]) * s],
}

CONSTANT = (Const, DimValue, Zero, Ones, Identity)


@np.errstate(all="ignore")
def sensitivities(root: Node, weight: np.ndarray, memo: Memo, dims,
                  slopes: Slopes | None = None) -> dict[str, np.ndarray]:
    """For L = <W, root> (W = `weight`, of the root's shape): each variable's entrywise
    bound on |dL/dX|, by reverse mode over absolute values (see the module docstring),
    at the values `memo` and the sizes `dims`. Constants pass nothing on; a variable the
    root does not use is absent."""
    slope = slopes or Slopes(memo, dims)
    order = [n for n in walk(root) if not isinstance(n, CONSTANT)]
    adjoint: dict[Node, np.ndarray] = {root: np.abs(np.asarray(weight, dtype=float))}
    out: dict[str, np.ndarray] = {}
    for node in reversed(order):
        s = adjoint.pop(node, None)
        if s is None:
            continue
        if isinstance(node, Var):
            out[node.name] = s
            continue
        xs = [memo[c] for c in node.children]
        for child, sc in zip(node.children,
                             SENSITIVITY[type(node)](node, s, xs, memo[node], slope)):
            if isinstance(child, CONSTANT):
                continue
            sc = np.asarray(sc, dtype=float)
            if not np.all(np.isfinite(sc)):     # 0 * inf: a path of unknown size
                sc = np.nan_to_num(sc, nan=np.inf, posinf=np.inf)
            adjoint[child] = adjoint[child] + sc if child in adjoint else sc
    return out

