"""The spellings of notes in matcalc's own language (issue 14): how they parse, what is
read as what, what is refused, and what is said about guesses.

The gallery (tests/gallery.txt, test_gallery.py) compares whole derivations; here each rule
is pinned down by itself: the AST a spelling parses to, the implicit products and where they
are refused, the comment line of inputs, the notes on standard error, the command line's
EXPR starting with a minus, and the elementwise power with an array exponent.
"""
import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc import expr as E
from matcalc.cli.main import cli
from matcalc.errors import MatcalcError, ParseError
from matcalc.evaluate import evaluate
from matcalc.parse import parse
from matcalc.rules import VJP
from matcalc.syntax import unparse


def read(source: str) -> str:
    """The last statement's expression, written back fully in matcalc's language."""
    return unparse(parse(source).statements[-1].expr)


# ---- how notes spellings parse ---------------------------------------------------------------

@pytest.mark.parametrize("source, read_as", [
    ("x^T*A*x", "x'*A*x"),
    ("x^{T} A x", "x'*A*x"),
    ("X^{-1}", "X^(-1)"),
    ("X^-1", "X^(-1)"),
    ("X⁻¹", "X^(-1)"),
    ("x²", "x^2"),
    ("X⁻ᵀ", "(X^(-1))'"),
    ("||x||^2", "norm2(x)^2"),
    ("‖x‖²", "norm2(x)^2"),
    ("||x||_2 + ||X||_F + ||x||_1", "norm2(x) + norm2(X) + norm1(x)"),
    ("||x||_{2}", "norm2(x)"),
    ("||a - ||b||*c||", "norm2(a - norm2(b)*c)"),
    ("σ(z)", "sigmoid(z)"),
    ("σ (z)", "sigmoid(z)"),
    ("σ*z", "sigma*z"),
    ("λx + Σ", "lambda*x + Sigma"),
    ("x − y", "x - y"),
    # implicit products: across whitespace, after ' or ), a number before a name
    ("x' A x", "x'*A*x"),
    ("x'A", "x'*A"),
    ("(A + B)x", "(A + B)*x"),
    ("(a)(b)", "a*b"),
    ("2x", "2*x"),
    ("2(x + y)", "2*(x + y)"),
    ("W (x + b)", "W*(x + b)"),
    ("exp (x)", "exp(x)"),
    ("a||x|| ||y||", "a*norm2(x)*norm2(y)"),
    # they group first, except that a division takes their first factor only
    ("y .* X w", "y .* (X*w)"),
    ("1/2 x' A x", "1/2*x'*A*x"),
    ("lambda/2 w'w", "lambda/2*w'*w"),
    ("-x y", "-(x*y)"),
    ("x^-2 y", "x^(-2)*y"),
])
def test_a_notes_spelling_parses_as(source, read_as):
    assert read(source) == read_as


@pytest.mark.parametrize("source, message", [
    ("x'2", "missing operator"),
    ("2 3", "missing operator"),
    ("(a+b)2", "missing operator"),
    ("1/2x", "is ambiguous"),
    ("||x", "never closed"),
    ("||_2 x||", "a norm's subscript follows its closing bars"),
    ("(x}", "the '(' before it is not closed"),
    ("|x|", "for absolute values write abs(x)"),
])
def test_what_could_be_misread_is_refused(source, message):
    with pytest.raises(ParseError) as info:
        parse(source)
    assert message in info.value.render()


def test_a_transpose_written_x_T_is_refused_when_T_is_a_name_too():
    with pytest.raises(MatcalcError) as info:
        matcalc.derive("x^T*A*x + sum(T)")
    assert "T is also a name" in info.value.render()
    assert info.value.fix.program == "x'*A*x + sum(T)"
    matcalc.derive("alpha^(T)", shapes={"T": "scalar"})      # with parentheses, a power


# ---- what a name or a number is read as ------------------------------------------------------

def test_a_transposed_one_is_the_ones_vector():
    # 1'*exp(x) sums exp(x): 1 is not taken for a scalar (issue 14)
    d = matcalc.derive("1'*exp(x)")
    assert d.output_shape == (1, 1) and d["x"].text == "exp(x)"


def test_capital_greek_names_are_matrices_and_small_ones_scalars():
    d = matcalc.derive("logdet(Sigma) + lambda*tr(Sigma)")
    assert d.inputs["Sigma"].shape == ("n", "n") and d.inputs["lambda"].shape == (1, 1)


def test_the_inputs_line_says_where_each_kind_came_from():
    d = matcalc.derive("sqrt(sum(x.^2) + eps)*alpha + sum(X*w)", shapes={"X": "N,n"})
    assert d.text().splitlines()[1] == (
        "# inputs: x m (vector by its name), eps p (vector by its name), alpha scalar "
        "(scalar by its name), X N x n (declared), w n (vector by its name)")
    mc = matcalc.derive("a*x", kinds="mc")
    assert mc.text().splitlines()[1] == (
        "# inputs: a scalar (scalar by its letter, --kinds mc), x n (vector by its letter, "
        "--kinds mc)")


def test_a_name_whose_case_decides_the_output_kind_gets_a_note():
    d = matcalc.derive("sqrt(sum(x.^2) + eps)")
    assert d.typed.notes == [
        "eps is a vector by its name, and so the output is a vector (with eps a scalar it "
        "would be a scalar); if eps is a scalar, declare --shape eps=scalar"]
    assert matcalc.derive("sqrt(sum(x.^2) + eps)", shapes={"eps": "scalar"}).typed.notes == []
    # a vector that is meant (its length is the output's, and no scalar is spread over it)
    assert matcalc.derive("sigmoid(x)").typed.notes == []
    assert matcalc.derive("x + y'").typed.notes == []


def test_a_count_as_a_divisor_is_matched_to_a_dimension():
    with pytest.raises(MatcalcError) as info:
        matcalc.derive("norm2(X*w - y)^2/(2*N)")
    err = info.value
    assert "if it counts the rows of X, name that dimension: --shape X=N,n" in err.render()
    assert err.fix.shapes == (("X", "N,n"),)
    d = matcalc.derive(err.fix.program, shapes=dict(err.fix.shapes))
    assert "N" not in d.inputs                   # N is the dimension, not a variable


def test_a_name_made_of_other_names_is_read_as_one_name_only_when_declared():
    with pytest.raises(MatcalcError) as info:
        matcalc.derive("tr(AX)")
    assert info.value.render().splitlines()[0] == (
        "line 1, column 4: AX is read as one name; for the product write A*X")
    assert matcalc.derive("tr(AX)", shapes={"AX": "n,n"}).inputs["AX"].shape == ("n", "n")
    # names of a program that are not made of the others: W1, b2, Wq
    matcalc.derive("Q = X*Wq; f = sum(Q*W1) + sum(b2)")


def test_subscripted_names_are_refused_with_the_index_statement_they_mean():
    # seed 001's z_j = x_i' A_j y_i + b_j: indices are written in brackets (issue 16)
    with pytest.raises(MatcalcError) as info:
        matcalc.derive("z_j = x'*A_j*y + b_j")
    err = info.value
    assert err.fix.program == "z[j] = x[k]*A[j,k,l]*y[l] + b[j]" and err.fix.shapes == ()
    assert matcalc.derive(err.fix.program).inputs["A"].shape == ("m", "n", "p")
    matcalc.derive("y_i = W*x_i + b")               # a name per sample is a name


# ---- sums and functions along a dimension: the IR they are --------------------------------------

@pytest.mark.parametrize("program, same_as, shapes", [
    ("sum(X, 1)", "vector(1)'*X", {}),
    ("sum(X, 2)", "X*vector(1)", {}),
    ("sum(x, 1)", "sum(x)", {}),
    ("sum(x, 2)", "x", {}),
    ("sum(r', 1)", "r'", {}),
    ("mean(X, 1)", "vector(1)'*X/N", {"X": "N,n"}),
    ("mean(x)", "sum(x)/N", {"x": "N"}),
    ("mean(x')", "sum(x)/N", {"x": "N"}),
    ("softmax(S, 1)", "softmax(S)", {}),
    ("softmax(S, 2)", "softmax(S')'", {}),
    ("logsumexp(S, 2)", "logsumexp(S')'", {}),
    ("log_softmax(S, 2)", "log(softmax(S')')", {}),
    ("softplus(x)", "log(1 + exp(x))", {}),
])
def test_a_function_along_a_dimension_is_the_ir_of_its_definition(program, same_as, shapes):
    from matcalc.simplify import simplify
    assert simplify(matcalc.derive(program, shapes=shapes).output) is \
        simplify(matcalc.derive(same_as, shapes=shapes).output)


def test_the_printers_write_those_forms_with_the_axis():
    steps = matcalc.derive("Y = X*A' + b'; Z = softmax(Y, 2)", shapes={"X": "N,n"}).steps
    assert [st.text for st in steps if st.name in ("dY", "db")] == [
        "Z .* (dZ - sum(Z .* dZ, 2))", "sum(dY, 1)'"]
    assert matcalc.derive("Z = W*X + b")["b"].text == "sum(dZ, 2)"
    assert matcalc.derive("Y = X*A' + b'")["b"].text == "sum(dY, 1)'"
    assert matcalc.derive("Y = X*A' + b'", layout="numerator")["b"].text == "sum(dY, 2)'"
    assert matcalc.derive("softmax(S, 2)")["S"].latex.startswith(r"\operatorname{softmax}(S, 2)")


# ---- x.^Y with an array exponent --------------------------------------------------------------

def test_an_array_exponent_is_read_entry_by_entry():
    # x.^y = exp(y .* log(x)) wherever x > 0, the domain of x.^y for every real y
    d = matcalc.derive("sum(x.^y)", check=True)
    assert d["y"].text == "log(x) .* exp(y .* log(x))"
    assert d.check().ok


def test_the_power_node_takes_an_array_exponent_and_its_rule_is_right():
    # d x.^p = p .* x.^(p - 1) dx + x.^p .* log(x) dp, entry by entry (no sum for an array p)
    x, p, g = E.Var("x", ("n", 1)), E.Var("p", ("n", 1)), E.Var("g", ("n", 1))
    y = E.Power(x, p)
    rng = np.random.default_rng(0)
    values = {"x": rng.uniform(0.5, 2, (4, 1)), "p": rng.normal(size=(4, 1)),
              "g": rng.normal(size=(4, 1))}
    np.testing.assert_allclose(evaluate(y, values, {"n": 4}), values["x"] ** values["p"])
    dx, dp = (rule(g, y, x, p) for rule in VJP[E.Power])
    assert dp.shape == ("n", 1)
    h = 1e-6
    for name, adjoint in (("x", dx), ("p", dp)):
        step = rng.normal(size=(4, 1))
        plus, minus = dict(values), dict(values)
        plus[name] = values[name] + h * step
        minus[name] = values[name] - h * step
        slope = (values["g"] * (evaluate(y, plus, {"n": 4}) - evaluate(y, minus, {"n": 4}))
                 ).sum() / (2 * h)
        np.testing.assert_allclose((evaluate(adjoint, values, {"n": 4}) * step).sum(), slope,
                                   rtol=1e-6)


# ---- the command line --------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_a_program_starting_with_a_minus_is_the_expression():
    result = run("derive", "-y'*log(softmax(s))", "--onehot", "y", "--no-check")
    assert result.exit_code == 0, result.output
    assert "df/ds = softmax(s) - y" in result.output


def test_options_after_double_dash_and_the_expression_are_read():
    result = run("derive", "--", "-y'*log(softmax(s))", "--onehot", "y", "--layout",
                 "numerator", "--no-check")
    assert result.exit_code == 0, result.output
    assert "# layout: numerator" in result.output and "softmax(s) - y" in result.output


def test_codegen_still_reads_o_and_an_expression_with_a_minus():
    result = run("codegen", "-x'*A*x", "--no-check")
    assert result.exit_code == 0, result.output
    assert "def gradient(" in result.output


def test_from_latex_and_the_notes_on_standard_error():
    result = run("derive", "x^T A x", "--from", "latex", "--format", "latex", "--no-check")
    assert result.exit_code == 0 and r"(A + A^\top) x" in result.output
    noted = CliRunner().invoke(cli, ["derive", "sqrt(sum(x.^2) + eps)", "--no-check"])
    assert noted.exit_code == 0
    assert noted.stderr.startswith("note: eps is a vector by its name")
    assert "note:" not in noted.stdout


def test_an_unknown_option_is_still_an_error():
    result = run("derive", "x'*A*x", "--colour", "red")
    assert result.exit_code == 2 and "No such option" in result.output


@pytest.mark.parametrize("spelling, program", [
    # found by the notes fuzz family: the mark after a power's braces was read as the
    # exponent's, and X^({-1}') refused with a suggestion that did not derive
    ("softmax(A^{-1}')", "softmax(inv(A)')"),
    ("A^{-1}'*x", "inv(A)'*x"),
    ("A^2'*x", "(A*A)'*x"),
])
def test_a_transpose_after_a_numeric_exponent_is_the_powers(spelling, program):
    shapes = {"A": ("N", "N")}
    assert matcalc.derive(spelling, shapes=shapes).output is \
        matcalc.derive(program, shapes=shapes).output


def test_a_function_spelling_that_is_also_a_variable_of_the_program_is_refused():
    # found by the fuzz (all families): with sigma a value of the program (b1/sigma),
    # `sigma (s0 - 2)` was read as sigmoid(s0 - 2); which one is meant is not said
    program = "t1 = b1/sigma; H1 = sigma (s0 - 2)"
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(program, shapes={"s0": "scalar"})
    err = info.value
    assert "sigma is a variable of this program" in err.message
    assert program[err.span.start:err.span.end] == "sigma"
    assert err.fix.program == "t1 = b1/sigma; H1 = sigma*(s0 - 2)"
    matcalc.derive(err.fix.program, shapes={"s0": "scalar"})
    # alone, sigma(z) is still the logistic function
    assert matcalc.derive("sum(sigma(z))")["z"].text == "sigmoid(z) .* (1 - sigmoid(z))"


@pytest.mark.parametrize("program", [
    "t1 = b1/sigma; H1 = sigma(s0 - 2)",                  # written as a call: the function
    r"\frac{\|x\|^2}{\sigma} + \sigma(w^\top x)",        # LaTeX's \sigma(z), as documented
])
def test_sigma_called_without_a_space_is_the_logistic_function(program):
    assert "sigmoid(" in matcalc.derive(program, shapes={"s0": "scalar"} if "s0" in program
                                        else None).text()
