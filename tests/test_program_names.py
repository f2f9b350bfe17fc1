"""The program's own names in its derivatives (matcalc.program_names).

A derivative is shown with the names the program gave its values, as the lecture notes
write it; `inline=True` (`--inline`) shows the one self-contained formula in terms of the
inputs. Either way `node` (what NumPy, codegen and the check use) is in terms of the
inputs, and the named form is checked against it by finite differences.
"""
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.main import cli

MLP = "z = W1*x + b1; a = relu(z); o = W2*a + b2; J = 0.5*(y - o)'*(y - o)"


@pytest.mark.parametrize("wrt, named, inlined", [
    # the seeds' two-layer network: dJ/dW2 = (o - y) a', dJ/dz = (z > 0) .* (W2'(o - y))
    ("W2", "(o - y)*a'", "(W2*relu(W1*x + b1) + b2 - y)*relu(W1*x + b1)'"),
    ("b2", "o - y", "W2*relu(W1*x + b1) + b2 - y"),
    ("b1", "(z > 0) .* (W2'*(o - y))",
     "(W1*x + b1 > 0) .* (W2'*(W2*relu(W1*x + b1) + b2 - y))"),
])
def test_a_program_s_derivatives_use_its_names(wrt, named, inlined):
    d = matcalc.derive(MLP, wrt=[wrt])
    assert d[wrt].text == named
    assert matcalc.derive(MLP, wrt=[wrt], inline=True)[wrt].text == inlined
    assert d.verify_claim(f"{wrt} = {d[wrt].text}").ok          # the named form is right
    assert d[wrt].node is matcalc.derive(MLP, wrt=[wrt], inline=True)[wrt].node


@pytest.mark.parametrize("wrt, layout, named", [
    ("b2", "numerator", "(o - y)'"),       # the row dJ/db2, in the numerator layout
    ("y", "denominator", "y - o"),         # -(W2*a + b2) found as -o
])
def test_a_named_value_is_found_negated_and_transposed(wrt, layout, named):
    d = matcalc.derive(MLP, wrt=[wrt], layout=layout)
    assert d[wrt].text == named
    assert d.verify_claim(f"{wrt} = {d[wrt].text}").ok


def test_a_named_vector_output_is_used_but_not_a_scalar_one():
    # sigmoid backward as CS231n writes it, from the cached output: dy .* y .* (1 - y)
    assert matcalc.derive("y = sigmoid(W*x + b)", wrt=["b"])["b"].text == \
        "dy .* y .* (1 - y)"
    # a scalar output is not folded back into its own gradient
    assert matcalc.derive("f = exp(-x'*x)", wrt=["x"])["x"].text == "-2*exp(-(x'*x))*x"


def test_latex_and_json_use_the_names_and_numpy_the_inputs():
    d = matcalc.derive(MLP, wrt=["W2"])
    assert d["W2"].latex == r"(o - y) a^\top"
    j = d.to_json()["derivatives"]["W2"]
    assert j["text"] == "(o - y)*a'"
    assert "relu" in j["numpy"] or "maximum" in j["numpy"]      # self-contained


def test_the_cli_inline_option():
    named = CliRunner().invoke(cli, ["derive", MLP, "--wrt", "W2"])
    inlined = CliRunner().invoke(cli, ["derive", MLP, "--wrt", "W2", "--inline"])
    assert named.exit_code == inlined.exit_code == 0
    assert "dJ/dW2 = (o - y)*a'" in named.output
    assert "dJ/dW2 = (W2*relu(W1*x + b1) + b2 - y)*relu(W1*x + b1)'" in inlined.output


def test_generated_code_comments_use_the_names():
    source = matcalc.derive(MLP).codegen()
    assert "dW2 = np.outer(db2, t1)  # (o - y)*a'" in source
    assert "np.maximum(t1, 0, out=t1)  # relu(z)" in source      # never `# a` for a itself
    inlined = matcalc.derive(MLP, inline=True).codegen()
    assert "# (W2*relu(W1*x + b1) + b2 - y)*relu(W1*x + b1)'" in inlined
    mod = matcalc.derive(MLP).compile()                       # the code itself is unchanged
    assert mod.gradient.__doc__


NEURON = "L = sigmoid(w1*x1 + w2*x2 + b)"
SCALARS = {n: "scalar" for n in ("w1", "x1", "w2", "x2", "b")}


def test_a_long_repeated_subexpression_gets_a_where_name():
    # the seeds' sigmoid neuron: dL/dw1 = x1 s (1 - s), s = sigmoid(w1 x1 + w2 x2 + b)
    d = matcalc.derive(NEURON, shapes=SCALARS)
    assert d["w1"].text == "x1*s*(1 - s)"
    assert d["w1"].where_text == {"s": "sigmoid(w1*x1 + w2*x2 + b)"}
    assert d.text().endswith("dL/db = s*(1 - s)\nwhere s = sigmoid(w1*x1 + w2*x2 + b)")
    assert d.text().count("where") == 1                       # defined once, not per line
    tex = d.latex()
    assert tex.count(r"\text{where }") == 1 and r"&\text{where } s = \sigma(w_1 x_1" in tex
    j = d.to_json()["derivatives"]["w1"]
    assert j["text"] == "x1*s*(1 - s)" and j["where"] == {"s": "sigmoid(w1*x1 + w2*x2 + b)"}
    assert "sigmoid" in j["numpy"] or "exp" in j["numpy"]      # NumPy stays self-contained
    # inline: one self-contained formula, no names
    flat = matcalc.derive(NEURON, shapes=SCALARS, inline=True)
    assert flat["w1"].text == "x1*sigmoid(w1*x1 + w2*x2 + b)*(1 - sigmoid(w1*x1 + w2*x2 + b))"
    assert flat["w1"].where == [] and "where" not in flat.to_json()["derivatives"]["w1"]


def test_a_short_repeated_subexpression_is_written_out():
    # sigma(x)(1 - sigma(x)) as Bishop prints it: nothing to gain from a name
    d = matcalc.derive("sum(sigmoid(x))")
    assert d["x"].text == "sigmoid(x) .* (1 - sigmoid(x))" and d["x"].where == []


def test_a_claim_s_correct_formula_defines_its_where_names():
    d = matcalc.derive(NEURON, shapes=SCALARS)
    verdict = d.verify_claim("w1 = x1")
    assert not verdict.ok
    assert verdict.correct == "x1*s*(1 - s) where s = sigmoid(w1*x1 + w2*x2 + b)"


def test_a_scaled_value_is_found_inside_a_product():
    # layer norm: dgamma = dy'*xhat, xhat = xc/sqrt(v + epsilon) (the scalar joins xc)
    d = matcalc.derive("mu = sum(x)/n; xc = x - mu; v = sum(xc.^2)/n; "
                       "xhat = xc/sqrt(v + epsilon); y = gamma*xhat + beta",
                       wrt=["gamma"], shapes={"x": "n"})
    assert d["gamma"].text == "dy'*xhat"
    assert d.verify_claim("gamma = dy'*xhat").ok
    # a negated name is not a scale to find: the softmax's backward pass keeps its sign
    assert matcalc.derive("y = softmax(x)")["x"].text == "y .* (dy - dy'*y)"


def test_a_named_quotient_is_found_inside_an_elementwise_product():
    # batch norm (Ioffe and Szegedy 2015): dgamma = sum over the batch of dY .* Xhat
    d = matcalc.derive("mu = X'*vector(1)/N; Xc = X - vector(1)*mu'; "
                       "v = (Xc.^2)'*vector(1)/N; Xhat = Xc ./ (vector(1)*sqrt(v + epsilon)'); "
                       "Y = Xhat .* (vector(1)*g') + vector(1)*b'",
                       wrt=["g"], shapes={"X": "N,d"})
    assert d["g"].text == "sum(dY .* Xhat, 1)'"
    assert d.verify_claim(f"g = {d['g'].text}").ok
