"""Numerical stability: softmax, logsumexp, log-softmax, sigmoid, log-sigmoid and
cross-entropy stay finite and accurate for inputs of magnitude 1e3.

Each program's derivatives are evaluated from the JSON `numpy` field (SPEC section 4) and
from the generated module, with every floating-point warning an error
(`np.errstate(all="raise")`, underflow aside, and warnings as errors), and compared with closed forms written
the stable way (max-shifted exponentials, sigmoid from exp(-|x|), softplus via logaddexp),
which need no extended precision.
"""
import warnings

import numpy as np
import pytest

import matcalc

# ---- closed forms, stable by construction ------------------------------------------------


def softmax(v, axis=0):
    e = np.exp(v - np.max(v, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def logsumexp(v, axis=0):
    m = np.max(v, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)), axis=axis)


def log_softmax(v, axis=0):
    return v - np.expand_dims(logsumexp(v, axis=axis), axis)


def sigmoid(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def softplus(v):                 # log(1 + exp(v))
    return np.logaddexp(0, v)


# ---- inputs of magnitude 1e3, of both signs ------------------------------------------------

x = np.array([1000.0, -1000.0, 999.0, 0.5, -999.5])
z = np.array([800.0, -800.0, 1000.0, -0.25, 3.0])
y = np.array([0.1, 0.2, 0.3, 0.25, 0.15])              # probabilities: they sum to one
onehot = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
labels = np.array([1.0, 0.0, 0.0, 1.0, 1.0])             # binary labels
dy = np.array([0.3, -1.2, 0.7, 2.0, -0.4])               # an upstream gradient
rng = np.random.default_rng(7)
W = rng.normal(size=(3, 5))                               # W @ x is of magnitude 1e3
Wx = W @ x
y3 = np.array([0.0, 0.0, 1.0])
X = 1000 * rng.normal(size=(4, 5))                        # a minibatch of 4 rows, 5 features
W2 = rng.normal(size=(5, 3))
S = X @ W2                                                # logits of magnitude 1e3
Y = np.eye(3)[[0, 2, 1, 2]]                               # one-hot rows
XT = 1000 * rng.normal(size=(5, 3))                       # a matrix of logits, per column
YT = np.eye(5)[:, [1, 4, 0]]

# (id, program, options, inputs, {variable: its derivative}, the output's value or None)
CASES = [
    ("logsumexp", "f = logsumexp(x)", {}, {"x": x},
     {"x": softmax(x)}, logsumexp(x)),
    ("softmax_backprop", "s = softmax(x)", {}, {"x": x, "ds": dy},
     {"x": softmax(x) * (dy - dy @ softmax(x))}, None),
    ("cross_entropy", "L = -y'*log(softmax(x))", {}, {"x": x, "y": y},
     {"x": np.sum(y) * softmax(x) - y, "y": -log_softmax(x)}, -y @ log_softmax(x)),
    ("cross_entropy_onehot", "L = -y'*log(softmax(x))", {"onehot": ["y"]},
     {"x": x, "y": onehot},
     {"x": softmax(x) - onehot, "y": -log_softmax(x)}, -onehot @ log_softmax(x)),
    ("cross_entropy_as_logsumexp", "L = logsumexp(x) - y'*x", {}, {"x": x, "y": y},
     {"x": softmax(x) - y, "y": -x}, logsumexp(x) - y @ x),
    ("log_softmax_backprop", "Y = log(softmax(x))", {}, {"x": x, "dY": dy},
     {"x": dy - np.sum(dy) * softmax(x)}, None),
    ("log_sigmoid", "f = sum(log(sigmoid(x)))", {}, {"x": x},
     {"x": sigmoid(-x)}, -np.sum(softplus(-x))),
    ("log_one_minus_sigmoid", "f = sum(log(vector(1) - sigmoid(x)))", {}, {"x": x},
     {"x": -sigmoid(x)}, -np.sum(softplus(x))),
    ("sigmoid", "f = sum(sigmoid(x))", {}, {"x": x},
     {"x": sigmoid(x) * sigmoid(-x)}, np.sum(sigmoid(x))),
    ("sigmoid_backprop", "s = sigmoid(x)", {}, {"x": x, "ds": dy},
     {"x": dy * sigmoid(x) * sigmoid(-x)}, None),
    ("binary_cross_entropy",
     "L = -sum(t .* log(sigmoid(z)) + (vector(1) - t) .* log(vector(1) - sigmoid(z)))", {},
     {"z": z, "t": labels},
     {"z": sigmoid(z) - labels, "t": -z},
     np.sum(labels * softplus(-z) + (1 - labels) * softplus(z))),
    ("softplus", "f = sum(log(1 + exp(x)))", {}, {"x": x},
     {"x": sigmoid(x)}, np.sum(softplus(x))),
    ("softplus_written_backwards", "f = sum(log(exp(x) + 1))", {}, {"x": x},
     {"x": sigmoid(x)}, np.sum(softplus(x))),
    # the column of ones repeated across the matrix: still a softplus, never log(1 + inf)
    ("softplus_of_a_matrix", "f = sum(log(vector(1) + exp(X)))", {}, {"X": XT},
     {"X": sigmoid(XT)}, np.sum(softplus(XT))),
    ("linear_cross_entropy", "L = logsumexp(W*x) - y'*W*x", {}, {"W": W, "x": x, "y": y3},
     {"W": np.outer(softmax(Wx) - y3, x), "x": W.T @ (softmax(Wx) - y3), "y": -Wx},
     logsumexp(Wx) - y3 @ Wx),
    ("minibatch_cross_entropy", "S = X*W; L = sum(logsumexp(S')) - sum(Y .* S)",
     {"shapes": {"X": "N,d", "Y": "N,c"}}, {"X": X, "W": W2, "Y": Y},
     {"X": (softmax(S, axis=1) - Y) @ W2.T, "W": X.T @ (softmax(S, axis=1) - Y), "Y": -S},
     np.sum(logsumexp(S, axis=1)) - np.sum(Y * S)),
    ("logsumexp_per_column", "f = sum(logsumexp(X))", {}, {"X": XT},
     {"X": softmax(XT, axis=0)}, np.sum(logsumexp(XT, axis=0))),
    ("log_softmax_per_column", "f = sum(log(softmax(X)) .* Y)", {}, {"X": XT, "Y": YT},
     {"X": YT - softmax(XT, axis=0) * YT.sum(axis=0), "Y": log_softmax(XT, axis=0)},
     np.sum(log_softmax(XT, axis=0) * YT)),
]
IDS = [c[0] for c in CASES]


def strict(fn, what):
    """fn() with every floating-point warning an error: overflow, division by zero and
    invalid operations raise. (Underflow to zero, which is how exp(x - max(x)) is meant to
    vanish, is no warning by NumPy's default and stays allowed.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            try:
                return fn()
            except FloatingPointError as exc:
                problem = f"{what}\n  raises {exc}"
    pytest.fail(problem, pytrace=False)


def close(got, want, what):
    got = np.asarray(got, dtype=float)
    assert np.all(np.isfinite(got)), f"{what} is not finite: {got}"
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9 * scale, err_msg=what)


@pytest.mark.parametrize("case_id, program, options, inputs, grads, value", CASES, ids=IDS)
def test_json_numpy_derivatives_are_finite_and_exact_at_magnitude_1e3(
        case_id, program, options, inputs, grads, value):
    d = matcalc.derive(program, **options)
    derivatives = d.to_json()["derivatives"]
    assert set(grads) <= set(derivatives)
    for name, want in grads.items():
        code = derivatives[name]["numpy"]
        got = strict(lambda code=code: eval(code, {"np": np}, dict(inputs)),
                     f"d{name}: {code}")
        close(got, want, f"d{name}: {code}")


@pytest.mark.parametrize("case_id, program, options, inputs, grads, value", CASES, ids=IDS)
def test_generated_code_is_finite_and_exact_at_magnitude_1e3(
        case_id, program, options, inputs, grads, value):
    d = matcalc.derive(program, **options)
    if not hasattr(d, "compile"):
        pytest.skip("no code generation")
    module = d.compile()
    out, got = strict(lambda: module.value_and_gradient(**inputs), "value_and_gradient()")
    if value is not None:
        close(out, value, "the output's value")
    for name, want in grads.items():
        close(got[name], want, f"gradient()[{name!r}]")
    forward = strict(lambda: module.forward(**{k: v for k, v in inputs.items()
                                                if k in d.inputs}), "forward()")
    if value is not None:
        close(forward, value, "forward()")


def test_log_sigmoid_gradient_keeps_its_relative_precision_in_the_tail():
    # d/dx log(sigmoid(x)) = sigmoid(-x): written as 1 - sigmoid(x) it cancels to exactly
    # zero from x = 37 on, though the true value is about 1e-16 .. 1e-18 there
    t = np.array([20.0, 37.0, 40.0])
    code = matcalc.derive("f = sum(log(sigmoid(x)))")["x"].numpy
    got = strict(lambda: eval(code, {"np": np}, {"x": t}), code)
    np.testing.assert_allclose(got, sigmoid(-t), rtol=1e-6, err_msg=code)


def test_generated_logistic_hessian_module_is_finite_at_magnitude_1e3():
    # the Hessian module's forward is the softplus, never log(1 + exp(.)), which overflows
    Xh = 1000 * rng.normal(size=(6, 3))
    yh = rng.choice([-1.0, 1.0], size=6)
    wh = rng.normal(size=3)
    d = matcalc.derive("f = sum(log(vector(1) + exp(-y .* (X*w))))", mode="hessian",
                       wrt=["w"], signs=["y"])
    module = d.compile()
    m = -yh * (Xh @ wh)
    close(strict(lambda: module.forward(y=yh, X=Xh, w=wh), "forward()"),
          np.sum(softplus(m)), "forward()")
    s = sigmoid(m)
    close(strict(lambda: module.hessian(y=yh, X=Xh, w=wh)["w"], "hessian()"),
          (Xh.T * (s * (1 - s))) @ Xh, "hessian()")
