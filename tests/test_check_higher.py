"""The check of Jacobians, Hessians and Hessian-vector products (matcalc.check_higher):
a result it calls verified agrees with an independent oracle (plain central differences
of the NumPy evaluator, entry by entry, at points of its own); a wrong result that is
right wherever the output does not move is caught; what cannot be checked is NOT
CHECKED; and the check is fast (issue 12, items 5, 9 and 11)."""
import time

import numpy as np
import pytest

import matcalc
from matcalc import check
from matcalc import expr as E
from matcalc.evaluate import evaluate


def jacobian_by_differences(d, name, values, dims, h=1e-6):
    """J[i, k] = d y_i / d x_k by central differences of the output, at `values`."""
    x = values[name]
    cols = []
    for k in range(x.size):
        up, down = dict(values), dict(values)
        up[name], down[name] = x.copy(), x.copy()
        up[name].flat[k] += h
        down[name].flat[k] -= h
        diff = (evaluate(d.output, up, dims) - evaluate(d.output, down, dims)) / (2 * h)
        cols.append(diff.ravel(order="F"))
    return np.array(cols).T


# points where the outputs below move: alpha < 0, x small (exp(-1000 x'x) x x' y is 0
# to double precision at |x| ~ 1)
ORACLE_POINTS = {
    "relu(-alpha)*x*x'*y": {"alpha": [[-0.7]], "x": [[0.5], [-1.0]], "y": [[2.0], [0.3]]},
    "exp(-1000*x'*x)*x*x'*y": {"x": [[0.01], [-0.02]], "y": [[2.0], [0.3]]},
    "u*u'*v": {"u": [[0.5], [-1.0]], "v": [[2.0], [0.3]]},
    "A*x*x'*y": {"A": [[1.0, 2.0], [0.5, -1.0]], "x": [[0.5], [-1.0]], "y": [[2.0], [0.3]]},
}


@pytest.mark.parametrize("program", sorted(ORACLE_POINTS))
def test_a_jacobian_the_check_verifies_agrees_with_an_oracle(program):
    wrt = "u" if "u*" in program else "x"
    d = matcalc.derive(program, mode="jacobian", wrt=[wrt])
    report = d.check()
    if not report.ok:                # a wrong formula must not pass: failing is right
        assert report.mismatch or "NOT CHECKED" in report.summary()
        return
    values = {k: np.array(v, dtype=float) for k, v in ORACLE_POINTS[program].items()}
    dims = {s: 2 for v in d.inputs.values() for s in v.shape if isinstance(s, str)}
    jac = d.derivatives[wrt]                  # the matrix printed, as J[i, k] = dy_i/dx_k
    got = evaluate(jac.node, values, dims)
    got = got if jac.numerator_form else got.T
    want = jacobian_by_differences(d, wrt, values, dims)
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-5,
                               atol=1e-8 * np.abs(want).max())


def _inject(d, key, other):
    """Make d[key] say what `other` (a Jacobian of the same variable) says, in every form."""
    mine, theirs = d.derivatives[key], other.derivatives[key]
    for attr in ("tensor", "node", "jvp", "dvar", "kron"):
        setattr(mine, attr, getattr(theirs, attr))
    mine.__dict__["numpy"] = theirs.numpy


def test_a_jacobian_right_only_where_a_relu_is_off_is_caught():
    # relu(-alpha) x x'y + x has the Jacobian I wherever alpha > 0: a checker that only
    # draws alpha > 0 calls I verified
    d = matcalc.derive("relu(-alpha)*x*x'*y + x", mode="jacobian", wrt=["x"])
    _inject(d, "x", matcalc.derive("x", mode="jacobian", wrt=["x"]))
    for seed in range(3):
        report = d.check(seed=seed)
        assert report.results["x"].status == "MISMATCH", report.summary()


def test_a_jacobian_wrong_where_the_output_underflows_is_caught():
    # exp(-1000 x'x) x: its Jacobian doubled is wrong everywhere, invisibly so at |x| ~ 1
    d = matcalc.derive("exp(-1000*x'*x)*x", mode="jacobian", wrt=["x"])
    assert d.check().ok
    _inject(d, "x", matcalc.derive("2*exp(-1000*x'*x)*x", mode="jacobian", wrt=["x"]))
    assert d.check().results["x"].status == "MISMATCH"


def test_values_below_double_precision_are_not_checked():
    d = matcalc.derive("1e-320*x*x'*y", mode="jacobian", wrt=["x"])
    r = d.check().results["x"]
    assert r.status == "NOT CHECKED" and "does not move" in r.message


def test_a_subnormal_hessian_vector_product_is_not_checked_rather_than_failed():
    # (H v)_w = 1e-320*(V_A*x + A*v_x): the gradient in w ignores w, and the moves of A
    # and x change it only by subnormal amounts; it once counted as an exact comparison
    # (w ignored) and failed with a relative error of 1 (found by benchmarks/fuzz.py)
    d = matcalc.derive("1e-320*(w'*A*x)", mode="hvp")
    report = d.check()
    assert not report.mismatch, report.summary()
    assert all(r.ok or "does not move" in r.message for r in report.results.values())


def test_a_hessian_block_of_a_gradient_without_the_variable_is_zero():
    # f = sum(y)^2 + sum(y .* x): the gradient in x is y, so d2f/dx2 = 0, exactly
    d = matcalc.derive("f = sum(y)^2 + sum(y .* x)", mode="hessian")
    report = d.check()
    assert report.ok, report.summary()


TANH6 = "sum(tanh(W6*tanh(W5*tanh(W4*tanh(W3*tanh(W2*tanh(W1*x)))))))"


@pytest.mark.parametrize("wrt", [["x"], None])
def test_a_six_layer_tanh_hessian_is_checked_in_seconds(wrt):
    d = matcalc.derive(TANH6, mode="hessian", wrt=wrt)
    start = time.process_time()
    report = d.check()
    seconds = time.process_time() - start
    assert report.ok, report.summary()
    assert seconds < check.TIME_LIMIT


def test_a_hessian_at_large_declared_sizes_is_checked_at_small_ones():
    d = matcalc.derive("x'*A*x", mode="hessian", shapes={"x": "5000"})
    start = time.process_time()
    report = d.check()
    assert report.ok, report.summary()
    assert time.process_time() - start < 2
    assert all(v < 30 for v in report.dims.values())
    assert "numpy" not in report.results["x"].message     # its code spells 5000


def test_hessian_vector_products_are_checked_with_both_signs_of_scalars():
    d = matcalc.derive("relu(-alpha)*x'*x", mode="hvp", wrt=["x"])
    report = d.check()
    assert report.ok, report.summary()
    # the product doubled is right only where relu(-alpha) = 0
    node = d.derivatives["x"].node
    d.derivatives["x"].node = E.Scale(E.Const(2), node)
    d.derivatives["x"].__dict__["numpy"] = f"2 * ({d.derivatives['x'].numpy})"
    assert d.check().results["x"].status == "MISMATCH"
