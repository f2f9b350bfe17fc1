"""The absolute scales of the checker (matcalc.magnitude): every node kind has a rule in
both tables; a magnitude bounds the value and survives cancellation; a sensitivity is an
entrywise bound on |dL/dX| (checked against finite differences of L along each axis) and
is 0 exactly when every path from X to the output is cut at the point."""
import numpy as np
import pytest

from matcalc.evaluate import evaluate_all
from matcalc.expr import (
    LEAVES,
    NODE_KINDS,
    Const,
    Func,
    Hadamard,
    Norm2,
    Power,
    Scale,
    Softmax,
    Sum,
    Var,
)
from matcalc.magnitude import MAGNITUDE, SENSITIVITY, magnitudes, sensitivities

x = Var("x", ("n", 1))
alpha = Var("alpha", (1, 1))
dims = {"n": 3}


def test_every_node_kind_has_a_magnitude_and_every_operation_a_sensitivity():
    assert set(NODE_KINDS) <= set(MAGNITUDE)
    assert set(NODE_KINDS) - set(LEAVES) <= set(SENSITIVITY)


def at(roots, **values):
    return evaluate_all(roots, {k: np.asarray(v, dtype=float) for k, v in values.items()},
                        dims)


def test_a_magnitude_keeps_the_size_of_terms_that_cancel():
    # x'x - norm2(x)^2 is 0 (to round-off) with magnitude 2|x|^2
    xx = Sum(Hadamard((x, x)))
    f = xx - Power(Norm2(x), Const(2))
    v = np.array([[1.0], [-2.0], [0.5]])
    memo = at([f], x=v)
    mags = magnitudes(memo, dims)
    assert abs(memo[f][0, 0]) < 1e-14
    assert mags[f][0, 0] >= 2 * float((v * v).sum()) * 0.999


@pytest.mark.parametrize("seed", range(5))
def test_a_sensitivity_bounds_every_partial_derivative(seed):
    rng = np.random.default_rng(seed)
    f = Sum(Softmax(Func("tanh", x) * Scale(alpha, x))) + Power(Norm2(x), Const(3)) \
        + Sum(Func("exp", Scale(alpha, x)))
    v = {"x": rng.standard_normal((3, 1)), "alpha": rng.standard_normal((1, 1))}
    sens = sensitivities(f, np.ones((1, 1)), at([f], **v), dims)
    for name in ("x", "alpha"):
        for i in range(v[name].size):
            h = 1e-6
            up, down = dict(v), dict(v)
            up[name] = v[name].copy()
            up[name].flat[i] += h
            down[name] = v[name].copy()
            down[name].flat[i] -= h
            fd = (at([f], **up)[f] - at([f], **down)[f])[0, 0] / (2 * h)
            assert abs(fd) <= sens[name].flat[i] * (1 + 1e-6) + 1e-9


def test_a_path_cut_at_the_point_has_no_sensitivity():
    # relu(-alpha) x'x: with alpha > 0 nothing moves the output; with alpha < 0, both do
    f = Scale(Func("relu", -alpha), Sum(Hadamard((x, x))))
    v = np.array([[1.0], [2.0], [3.0]])
    off = sensitivities(f, np.ones((1, 1)), at([f], x=v, alpha=[[0.5]]), dims)
    assert not off["x"].any() and not off["alpha"].any()
    on = sensitivities(f, np.ones((1, 1)), at([f], x=v, alpha=[[-0.5]]), dims)
    assert on["x"].all() and on["alpha"].all()


def test_an_underflow_cuts_the_path():
    f = Sum(Func("exp", Scale(Const(-1000), Sum(Hadamard((x, x))))) * x)
    sens = sensitivities(f, np.ones((1, 1)), at([f], x=[[1.0], [1.0], [1.0]]), dims)
    assert not sens["x"].any()


def test_a_function_of_sign_keeps_a_scale():
    # sign is flat but jumps: its zero derivative is verifiable, so it keeps a size
    f = Sum(Func("sign", x) * x)
    sens = sensitivities(f, np.ones((1, 1)), at([f], x=[[1.0], [-2.0], [3.0]]), dims)
    assert (sens["x"] > 0).all()


def test_constants_and_unused_variables_get_nothing():
    y = Var("y", ("n", 1))
    f = Sum(Scale(Const(2), x))
    sens = sensitivities(f, np.ones((1, 1)), at([f, y], x=np.ones((3, 1)), y=np.ones((3, 1))),
                         dims)
    assert set(sens) == {"x"}
