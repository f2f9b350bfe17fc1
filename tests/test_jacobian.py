"""Jacobians, Hessians and Hessian-vector products (matcalc.jacobian, issue 6).

Every example of the issue, spelled as stated (up to the canonical spelling documented in
matcalc/jacobian.py), in every layout; each result is checked three ways: by matcalc's own
finite-difference check (`d.check()`), and here, entry by entry, against SymPy (an
independent interpreter of the IR, tests/oracle.py) on small concrete shapes, through the
NumPy code the result prints. Layouts are checked against each other: the numerator form
is the transpose (or, for tensors, the axis permutation) of the denominator form.
"""
import itertools
import json

import numpy as np
import pytest
import sympy
from click.testing import CliRunner
from oracle import assign_dims, concrete, draw_point, to_sympy

import matcalc
from matcalc import expr as E
from matcalc.errors import MatcalcError

LAYOUTS = ("numerator", "denominator", "mixed")


def derive(program, mode="jacobian", layout="denominator", **kw):
    d = matcalc.derive(program, layout=layout, mode=mode, **kw)
    report = d.check()
    assert report.ok, report.summary()
    return d


# ---- SymPy, entry by entry -------------------------------------------------------------------

def _numpy_values(d, values):
    """2-D oracle values in the NumPy convention of the printed code."""
    out = {}
    variables = dict(d.inputs)
    variables.update({v.name: v for v in d.directions.values()})
    for name, v in variables.items():
        a = values[name]
        if v.shape == E.SCALAR:
            out[name] = float(a[0, 0])
        elif 1 in v.shape:
            out[name] = a.ravel()
        else:
            out[name] = a
    return out


def _with_symbol(env, name, value, entry, symbol):
    m = sympy.Matrix(value.shape[0], value.shape[1], [sympy.Float(float(e)) for e in value.flat])
    m[entry] = symbol
    env[name] = m


def _base_env(values, dims):
    env = dict(dims)
    for name, v in values.items():
        env[name] = sympy.Matrix(v.shape[0], v.shape[1], [sympy.Float(float(e)) for e in v.flat])
    return env


def _squeeze_letters(shape, letters):
    """The axes of a 2-D shape that carry an index, with their letters."""
    return [(axis, letters[n]) for n, axis in enumerate(i for i, s in enumerate(shape) if s != 1)]


def sympy_jacobian(output, var, values, dims):
    """[∂Y_ab/∂X_cd] as a 4-D array (Y's axes, then X's), exactly, at `values`."""
    t = sympy.Symbol("t", real=True)
    ys, xs = concrete(output.shape, dims), concrete(var.shape, dims)
    out = np.zeros(ys + xs)
    for c in range(xs[0]):
        for e in range(xs[1]):
            env = _base_env(values, dims)
            _with_symbol(env, var.name, values[var.name], (c, e), t)
            y = to_sympy(output, env)
            x0 = values[var.name][c, e]
            for a in range(ys[0]):
                for b in range(ys[1]):
                    out[a, b, c, e] = float(sympy.N(y[a, b].diff(t).subs(t, x0), 17))
    return out


def sympy_hessian(output, x, y, values, dims):
    """[∂²f/∂x_ab ∂y_cd] as a 4-D array, exactly, at `values`."""
    s, t = sympy.symbols("s t", real=True)
    xs, ys = concrete(x.shape, dims), concrete(y.shape, dims)
    out = np.zeros(xs + ys)
    for a, b in np.ndindex(*xs):
        for c, e in np.ndindex(*ys):
            env = _base_env(values, dims)
            if x.name == y.name and (a, b) == (c, e):
                _with_symbol(env, x.name, values[x.name], (a, b), s)
                f = to_sympy(output, env)[0, 0]
                val = f.diff(s, 2).subs(s, values[x.name][a, b])
            else:
                _with_symbol(env, x.name, values[x.name], (a, b), s)
                if x.name == y.name:
                    env[x.name][c, e] = t
                else:
                    _with_symbol(env, y.name, values[y.name], (c, e), t)
                f = to_sympy(output, env)[0, 0]
                val = f.diff(s).diff(t).subs({s: values[x.name][a, b], t: values[y.name][c, e]})
            out[a, b, c, e] = float(sympy.N(val, 17))
    return out


def arrange(full, out_shape, in_shape, axis_letters):
    """A 4-D (output axes, input axes) array as the result lays it out: singleton axes
    dropped, the output's axes named i, j, the input's k, l, in `axis_letters` order."""
    squeezed = [(a, l) for a, l in _squeeze_letters(out_shape, "ij")] + \
        [(2 + a, l) for a, l in _squeeze_letters(in_shape, "kl")]
    keep = [a for a, _ in squeezed]
    arr = full.reshape(full.shape)
    drop = tuple(i for i in range(4) if i not in keep)
    arr = arr.squeeze(axis=drop) if drop else arr
    letters = [l for _, l in squeezed]
    return np.transpose(arr, [letters.index(c) for c in axis_letters])


def assert_matches_sympy(d, name, values, dims, signed=False):
    got = np.asarray(eval(d[name].numpy, {"np": np}, _numpy_values(d, values)), dtype=float)
    der = d[name]
    if der.kind == "jacobian":
        full = sympy_jacobian(d.output, der.wrt, values, dims)
        want = arrange(full, full.shape[:2], full.shape[2:], der.axis_letters)
    elif der.kind == "hessian":
        a, b = name.split(",") if "," in name else (name, name)
        full = sympy_hessian(d.output, d.inputs[a], d.inputs[b], values, dims)
        want = arrange(full, full.shape[:2], full.shape[2:], der.axis_letters)
    else:                                      # (H v)_x = Σ_y ∂²f/∂x ∂y v_y
        x = d.inputs[name]
        want = np.zeros(concrete(x.shape, dims))
        for y, v in d.directions.items():
            full = sympy_hessian(d.output, x, d.inputs[y], values, dims)
            want += np.tensordot(full, values[v.name], axes=2)
        want = want.reshape(got.shape)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    err = float(np.abs(got - want).max(initial=0))
    assert err <= 1e-9 * scale, f"{name}: error {err:.3g}\n got {got}\n want {want}"


def check_against_sympy(program, mode, wrt=None, shapes=None, layouts=LAYOUTS, seed=0):
    """Derive in every layout; each result's NumPy tensor equals SymPy's entry by entry,
    and the matcalc finite-difference check passes."""
    for layout in layouts:
        d = derive(program, mode, layout, wrt=wrt, shapes=shapes)
        roots = [d.output] + list(d.directions.values())
        dims = assign_dims(*roots)
        values = draw_point(d.output, dims, seed)
        rng = np.random.default_rng(seed)
        for v in d.directions.values():
            values[v.name] = rng.standard_normal(concrete(v.shape, dims))
        for name in d.derivatives:
            assert_matches_sympy(d, name, values, dims)


# ---- issue item 1: Jacobians -------------------------------------------------------------------

def texts(d):
    return {n: x.text for n, x in d.derivatives.items()}


def test_jacobian_of_a_linear_map_is_the_matrix():
    # d(W x)/dx = W (numerator: m x n), W' (denominator), W (mixed: vector by vector)
    assert texts(derive("W*x", wrt=["x"], layout="numerator")) == {"x": "W"}
    assert texts(derive("W*x", wrt=["x"], layout="denominator")) == {"x": "W'"}
    assert texts(derive("W*x", wrt=["x"], layout="mixed")) == {"x": "W"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_jacobian_of_elementwise_exp_is_diagonal(layout):
    # d exp(x)/dx = diag(exp(x))
    assert derive("exp(x)", layout=layout)["x"].text == "diag(exp(x))"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_jacobian_of_softmax(layout):
    # d softmax(x)/dx = diag(p) - p p', p = softmax(x) (symmetric: the same in every layout)
    d = derive("softmax(x)", layout=layout)
    assert d["x"].text == "diag(p) - p*p'"
    assert d["x"].where == {"p": "softmax(x)"}
    assert "where p = softmax(x)" in d.text()


def test_jacobian_of_a_product_of_linear_maps():
    # d((A x) .* (B y))/dx = diag(B y) A
    assert derive("(A*x) .* (B*y)", wrt=["x"], layout="numerator")["x"].text == "diag(B*y)*A"
    assert derive("(A*x) .* (B*y)", wrt=["x"], layout="denominator")["x"].text == \
        "A'*diag(B*y)"


def test_vector_by_scalar_follows_the_layout_table():
    # dy/dalpha for y in R^n: a column in numerator (and mixed), a row in denominator
    num = derive("x*alpha", wrt=["alpha"], layout="numerator")["alpha"]
    den = derive("x*alpha", wrt=["alpha"], layout="denominator")["alpha"]
    mix = derive("x*alpha", wrt=["alpha"], layout="mixed")["alpha"]
    assert (num.text, num.shape) == ("x", ["n"])
    assert (den.text, den.shape) == ("x'", [1, "n"])
    assert (mix.text, mix.shape) == ("x", ["n"])


def test_scalar_by_matrix_follows_the_layout_table():
    # d(x'Ay)/dA: x y' (p x q, denominator and mixed), y x' (q x p, numerator)
    assert derive("x'*A*y", wrt=["A"], layout="denominator")["A"].text == "x*y'"
    assert derive("x'*A*y", wrt=["A"], layout="mixed")["A"].text == "x*y'"
    assert derive("x'*A*y", wrt=["A"], layout="numerator")["A"].text == "y*x'"


def test_scalar_by_vector_is_a_row_in_numerator_layout():
    num = derive("x'*A*x", wrt=["x"], layout="numerator")["x"]
    assert (num.text, num.shape) == ("x'*(A + A')", [1, "n"])
    assert derive("x'*A*x", wrt=["x"])["x"].text == "(A + A')*x"


def test_matrix_by_matrix_is_a_tensor_in_three_notations():
    # Y = X A':  dY = dX A',  d vec(Y)/d vec(X) = A ⊗ I,  ∂Y_ij/∂X_kl = δ_ik A_jl
    d = derive("Y = X*A'", layout="numerator", shapes={"X": "N,n"}, wrt=["X"])
    x = d["X"]
    assert x.text == x.map == "dX ↦ dX*A'"
    assert x.kron_text == "A ⊗ I_N"
    assert x.index == "∂Y_ij/∂X_kl = δ_ik A_jl"
    assert x.shape == ["N", "m", "N", "n"] and x.axis_letters == ("i", "j", "k", "l")
    assert x.numpy == "np.einsum('ik,jl->ijkl', np.eye(X.shape[0]), A)"
    den = derive("Y = X*A'", layout="denominator", shapes={"X": "N,n"}, wrt=["X"])["X"]
    assert den.shape == ["N", "n", "N", "m"] and den.axis_letters == ("k", "l", "i", "j")
    assert den.kron_text == "A' ⊗ I_N"                  # the transpose of the numerator form
    assert den.index == x.index                          # index notation names, not positions


def test_vector_by_matrix_in_index_notation():
    # y = W x:  ∂y_i/∂W_kl = δ_ik x_l;  d y/d vec(W) = x' ⊗ I
    d = derive("W*x", wrt=["W"], layout="numerator")
    assert d["W"].index == "∂y_i/∂W_kl = δ_ik x_l"
    assert d["W"].kron_text == "x' ⊗ I_n"              # W is n x m
    assert d["W"].map == "dW ↦ dW*x"


def test_transpose_is_the_commutation_matrix():
    assert derive("X'", layout="numerator")["X"].kron_text == "K"


def test_inverse_jacobian():
    # d inv(X) = -inv(X) dX inv(X):  -(inv(X)' ⊗ inv(X))
    d = derive("inv(X)", layout="numerator")
    assert d["X"].map == "dX ↦ -inv(X)*dX*inv(X)"
    assert d["X"].kron_text == "-(inv(X)' ⊗ inv(X))"
    assert d["X"].index == "∂Y_ij/∂X_kl = -inv(X)_ik inv(X)_lj"


# ---- issue item 3: Hessians ---------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessian_of_quadratic_form(layout):
    # d²(x'Ax)/dx² = A + A'
    assert derive("x'*A*x", "hessian", layout, wrt=["x"])["x"].text == "A + A'"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessian_of_least_squares(layout):
    # d²(½|Ax - y|²)/dx² = A'A
    assert derive("0.5*norm2(A*x - y)^2", "hessian", layout, wrt=["x"])["x"].text == "A'*A"


LOGISTIC = "sum(log(vector(1) + exp(-y .* (X*w))))"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessian_of_logistic_loss(layout):
    # d²/dw² Σ log(1 + exp(-y_i x_i'w)) = X' diag(y.^2 .* s .* (1 - s)) X, s = σ(-y .* Xw);
    # for labels in {-1, 1}, y.^2 = 1 and this is the textbook X' diag(s .* (1 - s)) X
    d = derive(LOGISTIC, "hessian", layout, wrt=["w"])
    assert d["w"].text == "X'*diag(y.^2 .* s .* (1 - s))*X"
    assert d["w"].where == {"s": "sigmoid(-y .* (X*w))"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_logistic_hessian_with_labels_declared_signs_is_the_textbook_form(layout):
    # with y in {-1, 1} (signs=...), y.^2 = 1; the check draws such labels, so the form is
    # verified where it holds (with ordinary labels it would fail the check)
    d = derive(LOGISTIC, "hessian", layout, wrt=["w"], signs=["y"])
    assert d["w"].text == "X'*diag(s .* (1 - s))*X"
    assert d["w"].where == {"s": "sigmoid(-y .* (X*w))"}
    assert "# assuming y: labels -1 or +1" in d.text()
    assert d.to_json()["assumptions"] == {"y": "signs"}


def test_sign_labels_square_to_ones_and_keep_odd_powers():
    d = matcalc.derive("f = sum(y.^2 .* x) + sum(abs(y) .* z) + sum(y.^3 .* u)",
                       wrt=["x", "z", "u"], signs=["y"], check=True)
    assert [d[n].text for n in ("x", "z", "u")] == ["vector(1)", "vector(1)", "y"]


@pytest.mark.parametrize("program, options, want", [
    # an assumption holds at the label values only: second derivatives with respect to the
    # labels differentiate the exact gradient, then the assumption applies to the result
    ("f = sum((X*w .* y).^2)", {"signs": ["y"], "wrt": ["w", "y"]},
     {"w": "2*X'*X", "w,y": "4*diag(y .* (X*w))*X", "y": "2*diag((X*w).^2)"}),
    ("f = sum(y.^3)", {"signs": ["y"]}, {"y": "6*diag(y)"}),
    ("f = sum(y)^2 + sum(y .* x)", {"onehot": ["y"]},
     {"y": "2*matrix(1)", "y,x": "eye", "x": "matrix(0)"}),
])
def test_hessians_with_respect_to_labels_are_exact(program, options, want):
    d = derive(program, "hessian", **options)
    assert {k: x.text for k, x in d.derivatives.items()} == want


def test_one_hot_hessian_is_checked_with_one_hot_labels():
    # softmax cross-entropy: under --onehot the gradient is A'*(p - y), whose Jacobian is
    # A'*(diag(p) - p*p')*A; both are only right for labels summing to one, and the check
    # of the Hessian (and of the gradient it differentiates) must draw such labels
    d = derive("f = -y'*log(softmax(A*x))", "hessian", wrt=["x"], onehot=["y"])
    assert d["x"].text == "A'*(diag(p) - p*p')*A"


def test_label_options_are_validated():
    with pytest.raises(MatcalcError, match="--signs q: the program has no variable q"):
        matcalc.derive(LOGISTIC, signs=["q"])
    with pytest.raises(MatcalcError, match="already one-hot"):
        matcalc.derive(LOGISTIC, signs=["y"], onehot=["y"])
    from matcalc.cli.main import cli
    r = CliRunner().invoke(cli, ["derive", LOGISTIC, "--signs", "q"])
    assert r.exit_code == 2 and "--signs q" in r.output


def test_logistic_hessian_code_uses_the_structure():
    # X' diag(a) X as a scaling of X, never a materialised n x n diagonal
    code = derive(LOGISTIC, "hessian", wrt=["w"])["w"].numpy
    assert "np.diag" not in code
    assert code.endswith("@ X)[-1]") and "X.T * (" in code


@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessian_of_logsumexp(layout):
    d = derive("logsumexp(x)", "hessian", layout)
    assert d["x"].text == "diag(p) - p*p'" and d["x"].where == {"p": "softmax(x)"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessian_of_log_det_is_a_fourth_order_tensor(layout):
    # d² log det X: dX ↦ -X^-T dX' X^-T;  vec: -(X^-1 ⊗ X^-T) K;
    # ∂²f/∂X_ij∂X_kl = -(X^-1)_li (X^-1)_jk
    x = derive("log(det(X))", "hessian", layout)["X"]
    assert x.text == "dX ↦ -inv(X)'*dX'*inv(X)'"
    assert x.kron_text == "-(inv(X) ⊗ inv(X)')*K"
    assert x.index == "∂²f/∂X_ij∂X_kl = -inv(X)_li inv(X)_jk"
    assert x.shape == ["n"] * 4


def test_log_det_tensor_code_computes_the_inverse_once():
    code = derive("log(det(X))", "hessian")["X"].numpy
    assert code == "(t := np.linalg.inv(X), -np.einsum('li,jk->klij', t, t))[-1]"


def test_program_names_are_reused_for_repeated_parts():
    d = derive("z = X*w; s = sigmoid(z); f = sum(log(s))", "hessian", wrt=["w"])
    assert d["w"].text == "-X'*diag(s .* (1 - s))*X"
    assert d["w"].where == {"s": "sigmoid(X*w)"}


def test_log_det_index_form_entry_by_entry():
    # the index form, read literally, against second differences of log det
    rng = np.random.default_rng(1)
    X = np.eye(3) * 3 + rng.uniform(0.1, 0.5, (3, 3))
    inv = np.linalg.inv(X)
    h = 1e-4
    def f(ij, kl, a, b):
        Y = X.copy()
        Y[ij] += a
        Y[kl] += b
        return np.log(np.linalg.det(Y))
    for i, j, k, l in [(0, 1, 2, 0), (1, 1, 0, 2), (2, 0, 2, 1), (0, 0, 0, 0)]:
        second = (f((i, j), (k, l), h, h) - f((i, j), (k, l), h, -h)
                  - f((i, j), (k, l), -h, h) + f((i, j), (k, l), -h, -h)) / (4 * h * h)
        assert abs(second - (-inv[l, i] * inv[j, k])) < 1e-6


def test_hessian_of_sum_of_quadratic_and_exp():
    d = derive("x'*A*x + sum(exp(x))", "hessian")
    assert d["x"].text == "A + A' + diag(exp(x))"
    assert d["A"].text == "dA ↦ matrix(0)"


def test_mixed_second_derivatives():
    # f = x'Ay:  d²f/dx dy = A (numerator: [i, k] = ∂²f/∂x_i∂y_k), A' (denominator)
    num = derive("x'*A*y", "hessian", "numerator", wrt=["x", "y"])
    assert texts(num) == {"x": "matrix(0)", "x,y": "A", "y": "matrix(0)"}
    assert texts(derive("x'*A*y", "hessian", "denominator", wrt=["x", "y"]))["x,y"] == "A'"


def test_hessian_needs_a_scalar_output():
    with pytest.raises(MatcalcError, match="--hessian needs a scalar output"):
        matcalc.derive("W*x", mode="hessian")


# ---- issue item 4: Hessian-vector products ---------------------------------------------------------

def test_hvp_of_logistic_loss_never_forms_the_hessian():
    d = derive(LOGISTIC, "hvp", wrt=["w"])
    assert d["w"].text == "X'*(y.^2 .* (X*v) .* s .* (1 - s))"
    assert d["w"].where == {"s": "sigmoid(-y .* (X*w))"}
    assert "@ v" in d["w"].numpy and "np.diag" not in d["w"].numpy


def test_hvp_direction_name_avoids_taken_names():
    d = derive("v'*A*v", "hvp", wrt=["v"])
    assert d.directions["v"].name == "v_"
    assert d["v"].text == "(A + A')*v_"


def test_hvp_of_log_det_is_the_linear_map():
    assert derive("log(det(X))", "hvp")["X"].text == "-inv(X)'*V'*inv(X)'"


def test_hvp_of_several_variables():
    d = derive("x'*A*y", "hvp", wrt=["x", "y"])
    assert texts(d) == {"x": "A*v_y", "y": "A'*v_x"}


# ---- issue item 5: SymPy, component by component, every layout ---------------------------------

JACOBIANS = [
    ("W*x", ["x", "W"], None),
    ("exp(x)", None, None),
    ("softmax(x)", None, None),
    ("(A*x) .* (B*y)", ["x", "y", "A"], None),
    ("x*alpha", None, None),
    ("x'*A*y", ["A", "x"], None),
    ("Y = X*A'", None, {"X": "N,n"}),
    ("inv(X)", None, None),
    ("A*X*B", ["X"], None),
    ("X'", None, None),
    ("tanh(W*x + b)", None, None),
    ("x*x'", None, None),
    ("r*A", None, {"r": "1,n"}),
    ("logsumexp(X)", None, None),
    ("softmax(X)", None, None),
    ("X*x/N", None, {"X": "N,n"}),
    ("det(X)*x", ["X"], None),
    ("x/norm2(x)", None, None),
]


@pytest.mark.parametrize("program,wrt,shapes", JACOBIANS, ids=[j[0] for j in JACOBIANS])
def test_jacobians_match_sympy(program, wrt, shapes):
    check_against_sympy(program, "jacobian", wrt, shapes)


HESSIANS = [
    ("x'*A*x", None),
    ("0.5*norm2(A*x - y)^2", ["x", "A"]),
    (LOGISTIC, ["w", "X"]),
    ("logsumexp(x)", None),
    ("log(det(X))", None),
    ("x'*A*x + sum(exp(x))", None),
    ("x'*A*y", None),
    ("tr(X*A*X')", ["X"]),
    ("sum(sigmoid(W*x))", ["W", "x"]),
]


@pytest.mark.parametrize("program,wrt", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessians_match_sympy(program, wrt):
    check_against_sympy(program, "hessian", wrt)


@pytest.mark.parametrize("program,wrt", HESSIANS[:6], ids=[h[0] for h in HESSIANS[:6]])
def test_hvps_match_sympy(program, wrt):
    check_against_sympy(program, "hvp", wrt, layouts=("denominator",))


# ---- layouts against each other ---------------------------------------------------------------------

@pytest.mark.parametrize("program,wrt,shapes", JACOBIANS[:10], ids=[j[0] for j in JACOBIANS[:10]])
def test_numerator_and_denominator_are_transposes(program, wrt, shapes):
    num = matcalc.derive(program, wrt=wrt, shapes=shapes, layout="numerator", mode="jacobian")
    den = matcalc.derive(program, wrt=wrt, shapes=shapes, layout="denominator", mode="jacobian")
    dims = assign_dims(num.output)
    values = draw_point(num.output, dims)
    vals = _numpy_values(num, values)
    for name in num.derivatives:
        a = np.asarray(eval(num[name].numpy, {"np": np}, vals))
        b = np.asarray(eval(den[name].numpy, {"np": np}, vals))
        perm = [num[name].axis_letters.index(c) for c in den[name].axis_letters]
        np.testing.assert_allclose(np.transpose(a, perm) if a.ndim > 1 else a, b,
                                   rtol=1e-12, atol=1e-12)


# ---- output formats ------------------------------------------------------------------------------

def test_json_has_every_notation_of_a_tensor():
    out = derive("log(det(X))", "hessian").to_json()
    assert out["mode"] == "hessian" and out["upstream"] is None
    x = out["derivatives"]["X"]
    assert set(x) >= {"shape", "text", "latex", "numpy", "index", "kron", "map", "axes"}
    json.dumps(out)


def test_json_numpy_is_one_self_contained_expression():
    # eval(numpy, {"np": numpy}, values) returns the derivative, named parts included
    d = derive(LOGISTIC, "hessian", wrt=["w"])
    rng = np.random.default_rng(0)
    X, y, w = rng.standard_normal((5, 3)), np.sign(rng.standard_normal(5)), rng.standard_normal(3)
    got = eval(d.to_json()["derivatives"]["w"]["numpy"], {"np": np}, {"X": X, "y": y, "w": w})
    s = 1 / (1 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(got, X.T @ ((s * (1 - s))[:, None] * X), rtol=1e-12)


def test_latex_shows_the_kronecker_and_index_forms():
    tex = derive("log(det(X))", "hessian").latex()
    assert "\\otimes" in tex and "K" in tex and "(X^{-1})_{li}" in tex
    # the transpose sign follows the caller's style everywhere, Kronecker forms included
    tex_t = derive("log(det(X))", "hessian").latex(transpose="T")
    assert "\\top" not in tex_t and "X^{-T}" in tex_t
    assert "K^T" in derive("X'", "jacobian").latex(transpose="T")
    assert derive("softmax(x)").latex().count("\\text{where }") == 1


def test_text_states_layout_axes_and_conventions():
    text = derive("Y = X*A'", shapes={"X": "N,n"}, wrt=["X"]).text()
    assert "# layout: denominator" in text
    assert "entry [k, l, i, j] = ∂Y_ij/∂X_kl" in text
    assert "column-major" in text and "K vec(A) = vec(A')" in text


def test_codegen_module_computes_the_hessian():
    d = derive(LOGISTIC, "hessian", wrt=["w"])
    mod = d.compile()
    rng = np.random.default_rng(0)
    X, y, w = rng.standard_normal((6, 4)), np.sign(rng.standard_normal(6)), rng.standard_normal(4)
    h = mod.hessian(X=X, y=y, w=w)["w"]
    s = 1 / (1 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(h, X.T @ ((s * (1 - s))[:, None] * X), rtol=1e-12)
    assert d.codegen().startswith("# Generated by matcalc")


def test_cli_hessian_prints_and_checks():
    from matcalc.cli.main import cli
    r = CliRunner().invoke(cli, ["derive", "log(det(X))", "--hessian"])
    assert r.exit_code == 0, r.output
    assert "dX ↦ -inv(X)'*dX'*inv(X)'" in r.output and "check: " in r.output
    r = CliRunner().invoke(cli, ["derive", "W*x", "--jacobian", "--wrt", "x",
                                 "--layout", "numerator", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.split("\ncheck:")[0])["derivatives"]["x"]["text"] == "W"
    r = CliRunner().invoke(cli, ["derive", "W*x", "--hessian"])
    assert r.exit_code == 2 and "scalar output" in r.output


# ---- issue 12: reading a matrix off a VJP; index names beyond the alphabet ----------------------

def test_cli_prints_the_right_jacobian_of_an_outer_product_chain_without_a_check():
    # d(u (u'v))/du = (u'v) I + u v' (numerator); the product u*u'*v has u in two places
    from matcalc.cli.main import cli
    r = CliRunner().invoke(cli, ["derive", "u*u'*v", "--jacobian", "--wrt", "u", "--no-check",
                                 "--layout", "numerator"])
    assert r.exit_code == 0, r.output
    assert "dy/du = (u'*v)*eye + u*v'" in r.output, r.output


def test_matrix_of_reads_nodes_built_while_reading():
    # (du u' + u du') v = ((u'v) I + u v') du: splitting the product over the sum builds
    # du*u'*v and u*du'*v, which a dependency set taken at the start would not know
    from matcalc.evaluate import evaluate
    from matcalc.jacobian import matrix_of
    u, v, du = (E.Var(n, ("n", 1)) for n in ("u", "v", "du"))
    node = E.MatMul((E.Add((E.MatMul((du, E.Transpose(u))), E.MatMul((u, E.Transpose(du))))), v))
    m = matrix_of(node, du)
    rng = np.random.default_rng(0)
    vals = {"u": rng.standard_normal((3, 1)), "v": rng.standard_normal((3, 1))}
    want = (vals["u"].T @ vals["v"]).item() * np.eye(3) + vals["u"] @ vals["v"].T
    np.testing.assert_allclose(evaluate(m, vals, {"n": 3}), want, rtol=1e-12)


def test_a_repeated_summed_delta_counts_once():
    # ∂ tr(diag(u))/∂u_k = Σ_a δ_aa δ_ak = 1, not n
    from matcalc.tensor import index_form, tensor_value
    u = E.Var("u", ("n", 1))
    t = index_form(E.Trace(E.DiagMat(u)), u, (), ("k",))
    np.testing.assert_allclose(tensor_value(t, {"u": np.ones((4, 1))}, {"n": 4}), np.ones(4))


def _power_chain(n_factors: int):
    """tr(X*X*...*X) with n_factors factors."""
    return "tr(" + "*".join(["X"] * n_factors) + ")"


def test_hessian_with_more_summed_indices_than_letters():
    # d²tr(X^26)/dX_ij dX_kl has terms with 24 summed indices: a, ..., z, then a₁, ...
    d = matcalc.derive(_power_chain(26), mode="hessian")
    x = d["X"]
    assert "a₁" in x.index and "a_{1}" in x.index_latex
    rng = np.random.default_rng(0)
    X = np.eye(3) + 0.1 * rng.standard_normal((3, 3))
    # the Hessian of tr(X^p) applied to dX is p Σ_{a+b=p-2} (X^a dX X^b)' (as a map)
    dX = rng.standard_normal((3, 3))
    want = 26 * sum(np.linalg.matrix_power(X, a) @ dX @ np.linalg.matrix_power(X, 24 - a)
                    for a in range(25)).T
    got = np.tensordot(eval(x.numpy, {"np": np}, {"X": X}), dX, axes=2)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert d.check().ok


def test_hessian_of_a_deep_tanh_chain():
    # 14 layers of tanh(W*...): 29 indices in a term (a StopIteration in _tidy_term before)
    s = "x"
    for _ in range(14):
        s = f"tanh(W*{s})"
    d = matcalc.derive(f"sum({s})", mode="hessian", wrt=["x"])
    assert d.check().ok


def test_contraction_beyond_the_letters_of_einsum():
    # a chain of 60 matrices, (X^60)_ik = X_ia X_ab ... X_zk: 61 indices, more than the 52
    # labels np.einsum takes; values and NumPy code contract pairwise
    from matcalc.printing.index import einsum_code
    from matcalc.tensor import Factor, Tensor, Term, tensor_value, tidy
    X = E.Var("X", ("n", "n"))
    idx = ["i"] + [f"_{n}" for n in range(59)] + ["k"]
    chain = tuple(Factor(X, pair) for pair in itertools.pairwise(idx))
    t = tidy(Tensor(("i", "k"), (Term(1, chain),), {i: "n" for i in idx}))
    assert len({i for f in t.terms[0].factors for i in f.idx}) == 61
    rng = np.random.default_rng(1)
    X0 = np.eye(3) + 0.05 * rng.standard_normal((3, 3))
    want = np.linalg.matrix_power(X0, 60)
    np.testing.assert_allclose(tensor_value(t, {"X": X0}, {"n": 3}, ("i", "k")), want, rtol=1e-12)
    code = einsum_code(t, ("i", "k"), lambda n: n.name, lambda d: "X.shape[0]")
    np.testing.assert_allclose(eval(code, {"np": np}, {"X": X0}), want, rtol=1e-12)


def test_vec_form_of_a_transposed_map():
    # H(dX) = (X (4 X dX + 4 dX X) + 4 dX X X)' for tr(X^4): each term transposed,
    # (L dX R)' = R' dX' L', so vec H = 4 (XX ⊗ I) K + 4 (X ⊗ X') K + 4 (I ⊗ X'X') K
    x = derive("tr(X*X*X*X)", "hessian")["X"]
    assert x.kron_text == "4*((X*X) ⊗ I_n)*K + 4*(X ⊗ X')*K + 4*(I_n ⊗ (X'*X'))*K"
