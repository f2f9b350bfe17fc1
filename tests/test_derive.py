"""The textbook identities, in every layout, spelled canonically (see README, 'Canonical
spelling'): each is also checked by finite differences."""
import pytest

import matcalc


def derive(program, layout="denominator", **kw):
    d = matcalc.derive(program, layout=layout, **kw)
    assert d.check().ok, d.check().summary()
    return {name: der.text for name, der in d.derivatives.items()}


def test_linear_layer_backprop():
    # Y = X A' + b':  dL/dX = dY A,  dL/dA = dY' X,  dL/db = dY' 1, the column sums of dY
    # as a column, which matcalc writes sum(dY, 1)' (MATLAB's numbering: along dim 1)
    got = derive("Y = X*A' + b'", shapes={"X": "N,n"})
    assert got == {"X": "dY*A", "A": "dY'*X", "b": "sum(dY, 1)'"}


def test_linear_layer_numerator_layout_is_the_transpose():
    # numerator layout: dY is m x N and every derivative is the transpose
    got = derive("Y = X*A' + b'", layout="numerator", shapes={"X": "N,n"})
    assert got == {"X": "A'*dY", "A": "X'*dY'", "b": "sum(dY, 2)'"}     # 1' dY' = (dY 1)'


def test_bilinear_form():
    # z = x' A y:  dz/dx = A y,  dz/dy = A' x,  dz/dA = x y'
    assert derive("z = x'*A*y") == {"x": "A*y", "A": "x*y'", "y": "A'*x"}


def test_bilinear_form_numerator():
    assert derive("z = x'*A*y", "numerator") == {"x": "y'*A'", "A": "y*x'", "y": "x'*A"}


def test_quadratic_form():
    # d x'Ax / dx = (A + A') x   (Matrix Cookbook eq. 81)
    assert derive("x'*A*x")["x"] in ("(A + A')*x", "(A' + A)*x")


def test_trace_of_product():
    # d tr(A X B) / dX = A' B'   (Matrix Cookbook eq. 102)
    assert derive("tr(A*X*B)")["X"] == "A'*B'"


def test_least_squares():
    # d 0.5 ||W x - y||^2 / dW = (W x - y) x'
    got = derive("0.5*norm2(W*x - y)^2")
    assert got["W"] == "(W*x - y)*x'"
    assert got["y"] == "y - W*x"


def test_log_det():
    # d log det X / dX = X^-T   (Matrix Cookbook eq. 57)
    assert derive("log(det(X))") == {"X": "inv(X)'"}
    assert derive("log(det(X))", "numerator") == {"X": "inv(X)"}
    assert derive("logdet(X)") == {"X": "inv(X)'"}


@pytest.mark.parametrize("layout", ["denominator", "mixed"])
def test_mixed_layout_agrees_with_denominator_for_gradients(layout):
    assert derive("x'*A*y", layout) == derive("x'*A*y", "denominator")


def test_scalar_variable_gradient_is_a_scalar():
    d = matcalc.derive("alpha*x'*x")
    assert d["alpha"].text == "x'*x"
    assert d["alpha"].shape == []


def test_bias_gradient_of_a_batch_is_a_column_sum():
    # the seeds' minibatch form: Z = W X + b 1', b's gradient sums dZ over the batch
    got = derive("Z = W*X + b*vector(1)'")
    assert got["b"] == "sum(dZ, 2)"                   # dZ 1: the row sums of dZ


def test_batch_mean_uses_the_dimension_symbol():
    got = derive("sum(X*w)/N", shapes={"X": "N,D"})
    assert got["w"] == "sum(X, 1)'/N"                 # X' 1 / N: X's mean row


def test_elementwise_functions_are_written_as_in_textbooks():
    assert derive("sum(exp(x))") == {"x": "exp(x)"}
    assert derive("sum(tanh(x))") == {"x": "1 - tanh(x).^2"}
    assert derive("sum(sigmoid(x))") == {"x": "sigmoid(x) .* (1 - sigmoid(x))"}
    assert derive("sum(relu(x))") == {"x": "(x > 0)"}
    assert derive("logsumexp(x)") == {"x": "softmax(x)"}


def test_output_is_deterministic():
    a = matcalc.derive("z = W1*x + b1; a = relu(z); J = 0.5*norm2(W2*a - y)^2").to_json()
    b = matcalc.derive("z = W1*x + b1; a = relu(z); J = 0.5*norm2(W2*a - y)^2").to_json()
    assert a == b


def test_text_output_parses_back_to_the_same_formula():
    d = matcalc.derive("z = W1*x + b1; a = sigmoid(z); J = 0.5*norm2(W2*a - y)^2")
    for name, der in d.derivatives.items():
        again = d.verify_claim(f"{name} = {der.text}")
        assert again.ok, again.message


@pytest.mark.parametrize("program, wrt, want", [
    # the inverse of a symmetric matrix is symmetric: never written inv(S)'
    ("x'*inv(A + A')*x", "x", "2*inv(A + A')*x"),
    ("logdet(X'*X + eye)", "X", "2*X*inv(X'*X + eye)"),
    ("P = inv(X'*X); H = X*P*X'; L = tr(H*A)", "A", "X*inv(X'*X)*X'"),
])
def test_a_symmetric_inverse_is_not_transposed(program, wrt, want):
    d = matcalc.derive(program, wrt=[wrt], check=True, inline=True)
    assert d[wrt].text == want
