r"""LaTeX input: formulas from notes read as the same programs, and matcalc's own LaTeX read
back to the same derivatives (LaTeX out, LaTeX in, the same program).

Each spelling is compared with its canonical form in matcalc's language by the IR both
build (interned: equal programs are the same node). The round trips derive every example
(tests/test_latex.py's table) and a dozen more programs, print every derivative and step in
LaTeX, read each back, and compare it with the text formula read back. Random expressions
printed in LaTeX must read back to the same value.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_latex import SHOWN
from test_printing import draw, read_back_random, ref

import matcalc
from matcalc.errors import MatcalcError, ParseError
from matcalc.expr import Const, Power, Scale, Var
from matcalc.parse import parse
from matcalc.printing import to_latex
from matcalc.shapes import infer_shapes, parse_shape_option
from matcalc.simplify import simplify


def ir(source: str, notation: str = "auto", shapes=()):
    decls = dict(parse_shape_option(d) for d in shapes)
    return infer_shapes(parse(source, notation), decls).output


# ---- the spellings of notes and papers ------------------------------------------------------

SPELLINGS = [
    # (LaTeX, the same program in matcalc's language, declarations)
    (r"\frac{1}{2}\|W\mathbf{x} - \mathbf{y}\|_2^2 + \frac{\lambda}{2}\|W\|_F^2",
     "1/2*norm2(W*x - y)^2 + lambda/2*norm2(W)^2", ()),
    (r"\operatorname{tr}(X^\top A X)", "tr(X'*A*X)", ()),
    (r"\log\det \Sigma", "logdet(Sigma)", ()),
    (r"\log \det(\Sigma)", "logdet(Sigma)", ()),
    (r"\log(\det(X))", "log(det(X))", ()),
    (r"\sigma(W^{(1)} x + b^{(1)})", "sigmoid(W1*x + b1)", ()),
    (r"\sigma\left(W_1 \mathbf{x} + \mathbf{b}_1\right)", "sigmoid(W1*x + b1)", ()),
    (r"A \odot B", "A .* B", ()),
    (r"A \circ B", "A .* B", ()),
    (r"\mathbf{1}^\top X", "vector(1)'*X", ()),
    (r"x^\top A x", "x'*A*x", ()),
    (r"x^T A x", "x'*A*x", ()),
    (r"x^{T} A x", "x'*A*x", ()),
    (r"\mathbf{x}^{\top} \mathbf{A} \mathbf{x}", "x'*A*x", ()),
    (r"\boldsymbol{\theta}^\top \mathbf{x}", "theta'*x", (r"theta=n",)),
    (r"\operatorname{tr}(X^{-1} A)", "tr(inv(X)*A)", ()),
    (r"\operatorname{tr}(X^{-\top} A)", "tr(inv(X)'*A)", ()),
    (r"\mathrm{tr}(A X B)", "tr(A*X*B)", ()),
    (r"\text{tr}(A X B)", "tr(A*X*B)", ()),
    (r"\frac{1}{N}\mathbf{1}^\top \log(\mathbf{p})", "vector(1)'*log(p)/N", ("X=N,n", "p=N")),
    (r"\sqrt{x^\top x + \epsilon}", "sqrt(x'*x + epsilon)", ()),
    (r"e^{-x^\top x}", "exp(-x'*x)", ()),
    (r"\exp(-\|x - \mu\|^2)", "exp(-norm2(x - mu)^2)", ("mu=n",)),
    (r"\lVert x \rVert_1 + \lambda \lVert x \rVert_2^2", "norm1(x) + lambda*norm2(x)^2", ()),
    (r"\lVert X \rVert_{1,1}", "norm1(X)", ()),
    (r"\left\| W x - y \right\|_2", "norm2(W*x - y)", ()),
    (r"\|X\|_{\mathrm{F}}", "norm2(X)", ()),
    (r"\lvert x \rvert", "abs(x)", ()),
    (r"\mathbb{I}[z > 0] \odot g", "(z > 0) .* g", ()),
    (r"x^{\circ 2} \oslash (1 + x^{\circ 2})", "x.^2 ./ (1 + x.^2)", ()),
    (r"\operatorname{softmax}(S, 2)", "softmax(S, 2)", ()),
    (r"\operatorname{relu}(W x) \cdot 2", "relu(W*x)*2", ()),
    (r"W_{\mathrm{out}} h", "W_out*h", ()),
    (r"-\frac{1}{m} \mathbf{y}^\top \log \hat{\mathbf{y}}", "-y'*log(yhat)/m",
     ("y=m", "yhat=m", "X=m,n")),
    (r"\frac{\partial L}{\partial Y} W^\top", "dY*W'", ("dY=N,m",)),
    (r"\mathbf{1}_{N \times n} \odot X", "matrix(1) .* X", ("X=N,n",)),
    (r"(X^\top X + \lambda I)^{-1} X^\top y", "inv(X'*X + lambda*eye)*X'*y", ()),
    (r"\mathrm{reg} \, \|W\|_F^2", "reg*norm2(W)^2", ("reg=scalar",)),
    (r"\alpha \|w\|^2 + \beta\, \mathbf{1}^\top w", "alpha*norm2(w)^2 + beta*vector(1)'*w", ()),
    (r"\cos(x)^\top \sin(x)", "cos(x)'*sin(x)", ()),
    (r"\tanh(W x)", "tanh(W*x)", ()),
    (r"h = \sigma(W x) \\ f = \mathbf{1}^\top h", "h = sigmoid(W*x); f = vector(1)'*h", ()),
    ("h = \\sigma(W x)\nf = \\mathbf{1}^\\top h", "h = sigmoid(W*x); f = vector(1)'*h", ()),
    (r"\frac{1}{2} x^\top x", "1/2*x'*x", ()),
    (r"\frac{\lambda}{2m} \|w\|^2", "lambda/(2*m)*norm2(w)^2", ("X=m,n",)),
    (r"\operatorname{diag}(x) A", "diag(x)*A", ()),
    (r"2.5 \cdot 10^{2} x", "2.5*10^2*x", ()),
]


@pytest.mark.parametrize("latex, program, shapes", SPELLINGS, ids=[s[1] for s in SPELLINGS])
def test_a_formula_from_notes_reads_as_its_program(latex, program, shapes):
    # the same program: the same IR in the simplifier's canonical form
    assert simplify(ir(latex, "auto", shapes)) is simplify(ir(program, "matcalc", shapes))


def test_the_spellings_are_many():
    assert len(SPELLINGS) >= 40


def test_a_backslash_selects_latex_and_from_latex_forces_it():
    # x^T A x has no backslash: matcalc's language reads it (implicit products) all the same
    assert simplify(ir("x^T A x", "latex")) is simplify(ir("x'*A*x"))
    # in LaTeX, letters side by side are a product, as typeset
    assert simplify(ir("Wx + b", "latex")) is simplify(ir("W*x + b"))
    assert simplify(ir(r"\mathrm{Wx} + b", "auto", ("Wx=m,n",))) is \
        simplify(ir("Wx + b", "matcalc", ("Wx=m,n",)))


# ---- refused, with the span in the LaTeX source -----------------------------------------------

@pytest.mark.parametrize("latex, span_text, fragment", [
    (r"\sqrt{x^\top x + eps}", "eps", r"write \mathrm{eps} for one name"),
    (r"\sum_i x_i", r"\sum_i", "a sum over an index needs a statement"),
    (r"\prod_i x_i", r"\prod", "a product over an index is not in the language"),
    (r"z_i = \sum_k \tanh(W_{ik} x_k)", r"\sum_k", "covers more than a product"),
    (r"\frac{1}{2}\|W x - y\|_\infty", r"_\infty", "cannot read the norm's subscript"),
    (r"\frac{1}{2} \|W x - y", r"\|", "never closed"),
    (r"\operatorname{tr}(X^\top A X", "(", "never closed"),
    (r"\|X\|_2 + \mathbf{1}^\top x", r"\|X\|_2", "spectral norm"),
    (r"\frac{1}{2} x^2", "x^2", "x.^2"),
    (r"\frac{1}{2} \mathbf{A} \mathbf{x} + B", r"\frac{1}{2} \mathbf{A} \mathbf{x} + B", "cannot add"),
    (r"\unknowncommand x", r"\unknowncommand", "unknown LaTeX command"),
])
def test_an_error_in_latex_points_at_the_latex_source(latex, span_text, fragment):
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(latex, shapes={"A": "m,n", "B": "p,q"} if "cannot add" in fragment
                       else None)
    err = info.value
    assert err.source == latex
    assert latex[err.span.start:err.span.end] == span_text, err.render()
    assert fragment in err.render()
    if err.fix is not None:                        # the suggestion derives
        matcalc.derive(err.fix.program, shapes=dict(err.fix.shapes))


@pytest.mark.parametrize("latex", [r"k_", r"\mathbf", r"x^", r"\hat"])
def test_an_error_at_the_end_of_latex_points_inside_it(latex):
    # as the grammar's own "unexpected end of input": an empty span at the end, not past it
    with pytest.raises(ParseError) as info:
        matcalc.derive(latex, notation="latex")
    span = info.value.span
    assert 0 <= span.start <= span.end <= len(latex), span
    assert info.value.render().split("\n")[2].strip() == "^"


def test_lowercase_letters_side_by_side_are_refused_with_a_rewrite_that_derives():
    with pytest.raises(ParseError) as info:
        matcalc.derive(r"\frac{1}{2}\|W x - y\|^2 + lr \|W\|_F^2")
    assert info.value.fix.program == r"\frac{1}{2}\|W x - y\|^2 + \mathrm{lr} \|W\|_F^2"
    d = matcalc.derive(info.value.fix.program)
    assert "lr" in d.inputs


# ---- LaTeX out, LaTeX in: the same derivatives ----------------------------------------------

MORE = [
    ("x'*A*x", {}),
    ("tr(A*X*B)", {}),
    ("log(det(X))", {}),
    ("logdet(S) - tr(inv(S)*C)", {}),
    ("0.5*norm2(W*x - y)^2 + alpha*norm1(w)", {"shapes": {"w": "m"}}),
    ("S = Q*K'/sqrt(d); P = softmax(S, 2); O = P*V", {"shapes": {"d": "scalar"}}),
    ("Y = X*A' + b'", {"shapes": {"X": "N,n"}, "layout": "numerator"}),
    ("sum(sigmoid(x)) + sum(tanh(x).^2)", {}),
    ("x'*X^2*y + tr(X^-1)", {}),
    ("mean(x) + sum(X, 1)*w + sum(X, 2)'*v", {}),
    ("-y'*log(softmax(W*x + b))", {"onehot": ["y"]}),
    ("h = relu(W1*x + b1); f = sum(exp(W2*h)) + 10^-8*sum(h)", {}),
    ("L = sigmoid(x'*w)*sigma + abs(sum(w))", {}),
    ("Z = x + y'; f = sum(Z .* Z)", {}),
    ("sum(x.^y)", {}),
    ("sum(X)*lambda + sum(diag(X))", {}),
]

ROUND_TRIPS = [(program, options) for shown in SHOWN.values() for program, options in shown] \
    + MORE


def _namespace(d) -> list[str]:
    """Declarations of every name a formula of `d` may use, with its shape."""
    names = list(d.inputs.values()) + list(d.typed.intermediates.values())
    if d.upstream is not None:
        names.append(d.upstream)
    names += [matcalc.expr.Var(st.name, st.node.shape) for st in d.steps]
    names += [v for der in d.derivatives.values() for v, _ in getattr(der, "where", ())]
    return [f"{v.name}=" + ("scalar" if v.shape == (1, 1) else f"{v.shape[0]},{v.shape[1]}")
            for v in names]


def _formulas(d):
    yield from ((name, der) for name, der in d.derivatives.items())
    yield from ((st.name, st.derivative) for st in d.steps)


@pytest.mark.parametrize("program, options", ROUND_TRIPS,
                         ids=[p.strip().split("\n")[-1][:40] for p, _ in ROUND_TRIPS])
def test_the_latex_of_every_derivative_reads_back_to_the_same_formula(program, options):
    options = dict(options)
    options.pop("wrt", None)
    d = matcalc.derive(program, **options)
    for name, der in _formulas(d):
        if any(isinstance(n, matcalc.expr.Contract) for n in matcalc.expr.walk(der.node)):
            continue            # index notation: LaTeX input does not read X_{ij} (issue 16)
        # typed as `result = formula`, result of the derivative's shape, so that a constant
        # such as vector(1) takes its size from it, as a claim does
        r, c = der.node.shape
        shapes = _namespace(d) + ["result=" + ("scalar" if (r, c) == (1, 1) else f"{r},{c}")]
        from_text = simplify(ir(f"result = {der.text}", "matcalc", shapes))
        from_latex = simplify(ir(rf"\mathrm{{result}} = {der.latex}", "latex", shapes))
        assert from_latex is from_text, f"{name}: {der.latex}  read back  {der.text}"


def test_the_round_trips_cover_every_example_and_a_dozen_more():
    assert len(MORE) >= 12 and len(ROUND_TRIPS) >= len(MORE) + 7


@pytest.mark.parametrize("seed", range(200))
def test_latex_of_random_expressions_reads_back_to_the_same_value(seed):
    e, back = read_back_random(np.random.default_rng(seed),
                               lambda e, decls: ir(to_latex(e), "latex", decls))
    values = draw(e)
    np.testing.assert_allclose(ref(back, values), ref(e, values), rtol=1e-10, atol=1e-12,
                               err_msg=to_latex(e))


@pytest.mark.parametrize("scale", [Const(0.5), Var("alpha", (1, 1))])
def test_a_number_in_a_denominator_is_set_apart_and_reads_back(scale):
    # x / (s * 2): printed `\frac{x}{0.5 2}` it read back as x / 0.52
    x = Var("x", ("n", 1))
    e = Scale(Power(scale, Const(-1)), Scale(Power(Const(2), Const(-1)), x))
    latex = to_latex(e)
    assert r"\cdot 2}" in latex
    back = ir(latex, "latex", ["x=n"])
    values = draw(e, positive=True)
    np.testing.assert_allclose(ref(back, values), ref(e, values), rtol=1e-12, err_msg=latex)


# ---- index notation, as the seeds write it (issue 16) ---------------------------------------

INDEX_SPELLINGS = [
    # (LaTeX, the same program in matcalc's index notation, declarations)
    # seed 002: "z_i = \sum_{k=1}^d W_{ik}^{(1)} x_k + b_i^{(1)}"
    (r"z_i = \sum_{k=1}^d W_{ik}^{(1)} x_k + b_i^{(1)}", "z[i] = W1[i,k]*x[k] + b1[i]", ()),
    (r"s_i = \sum_{k=1}^m W_{ik}^{(2)} a_k + b_i^{(2)}", "s[i] = W2[i,k]*a[k] + b2[i]", ()),
    (r"z_i = \sum_k W^{(1)}_{ik} x_k", "z[i] = W1[i,k]*x[k]", ()),
    # seed 001's bilinear layer, Einstein's convention (no \sum), no backslash at all
    ("Z_{ij} = X_{ik} A_{jkl} Y_{il} + b_j", "Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]",
     ("A=L,n,m",)),
    (r"Z_{i,j} = \sum_{k,l} X_{i,k} A_{j,k,l} Y_{i,l} + b_j",
     "Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", ("A=L,n,m",)),
    (r"f = \sum_i x_i y_i", "f = x'*y", ()),
    (r"f = \sum_{i=1}^{n} \sum_{j=1}^{n} A_{ij} x_i x_j", "f = x'*A*x", ()),
    (r"z_i = \sum_k A_{ik} x_k + \sum_k B_{ik} y_k", "z[i] = A[i,k]*x[k] + B[i,k]*y[k]", ()),
    (r"H_{ij} = \mathrm{relu}(X_{ik} W_{jk} + c_j)", "H[i,j] = relu(X[i,k]*W[j,k] + c[j])",
     ()),
    (r"z_i = \tanh\left(\sum_k W_{ik} x_k + c_i\right)", "z[i] = tanh(W[i,k]*x[k] + c[i])",
     ()),
    (r"z_i = \sum_k a_k \tanh(W_{ik} x_k)", "z[i] = a[k]*tanh(W[i,k]*x[k])", ()),
    (r"y_i = \sum_{j,k} T_{ijk} x_j x_k \\ f = y^\top y",
     "y[i] = T[i,j,k]*x[j]*x[k]; f = y'*y", ("T=n,m,m",)),
    (r"f = \sum_k \alpha x_k", "f = alpha*(x'*vector(1))", ()),
]


@pytest.mark.parametrize("latex, program, shapes", INDEX_SPELLINGS,
                         ids=[s[0] for s in INDEX_SPELLINGS])
def test_index_notation_in_latex_reads_as_the_index_statement(latex, program, shapes):
    assert simplify(ir(latex, "auto", shapes)) is simplify(ir(program, "matcalc", shapes))


@pytest.mark.parametrize("latex, program", [
    # subscripts that are names, as before: not every name on the right is indexed
    (r"y_i = W x_i + b", "y_i = W*x_i + b"),
    (r"h_t = \tanh(W h_s + U x_t)", "h_t = tanh(W*h_s + U*x_t)"),
    # the left side's index is not on the right: names
    (r"z_i = W_{jk} x_k", "z_i = W_jk*x_k"),
    # a subscript naming a role is in one factor only (no Einstein sum): names
    (r"h_t = W_h x_t", "h_t = W_h*x_t"),
    (r"y_i = W_{hh} x_i", "y_i = W_hh*x_i"),
])
def test_a_subscript_stays_part_of_a_name_outside_index_statements(latex, program):
    assert simplify(ir(latex, "latex")) is simplify(ir(program, "matcalc"))


@pytest.mark.parametrize("latex, span_text, fragment", [
    (r"z_i = \sum_k (a_k + b_i)", r"\sum_k", "covers more than a product of indexed factors"),
    (r"f = \sum_k x_k^2", r"\sum_k", "covers more than a product of indexed factors"),
    (r"z_i = \sum_i W_{ik} x_k", "i", "is an index of the left side"),
    (r"z_i = a_k \sum_k W_{ik} x_k", "k", "used beside the term it sums"),
    (r"\sum_i x_i y_i", r"\sum_i", "a sum over an index needs a statement"),
    # a part of an axis: an einsum sums the whole of it
    (r"f = \sum_{k=2}^{n} x_k y_k", r"\sum_{k=2}^{n}", "a sum over part of an axis"),
    (r"f = \sum_{k=1}^{n-1} x_k y_k", r"\sum_{k=1}^{n-1}", "a sum over part of an axis"),
    (r"f = \sum_{k=0}^{n} x_k y_k", r"\sum_{k=0}^{n}", "a sum over part of an axis"),
])
def test_a_sum_that_index_notation_would_misread_is_refused(latex, span_text, fragment):
    # Σ_k (a_k + b_i) is Σ a + d b_i, Σ_k x_k² is not (Σ x)²: an einsum per term would
    # read them otherwise, so they are refused, pointing at the sum
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(latex)
    err = info.value
    assert latex[err.span.start:err.span.end] == span_text, err.render()
    assert fragment in err.render()
    if err.fix is not None:
        matcalc.derive(err.fix.program)


def test_the_seeds_hidden_layer_in_latex_derives_the_backprop_of_its_notes():
    # seed 002: dJ/dW_ij = dJ/dz_i x_j, the bias gradient the upstream itself
    d = matcalc.derive(r"z_i = \sum_{k=1}^d W_{ik}^{(1)} x_k + b_i^{(1)}", check=True)
    assert d["W1"].text == "dz*x'"
    assert d["b1"].text == "dz"


@pytest.mark.parametrize("latex, fix", [
    (r"\sum_i x_i y_i", r"f = \sum_i x_i y_i"),      # not \operatorname{sum}(x) y_i
    (r"\sum_i x_i", r"\operatorname{sum}(x)"),
    (r"w^\top w + \sum_{i=1}^{n} x_i", r"w^\top w + \operatorname{sum}(x)"),
])
def test_a_bare_sum_is_refused_with_a_rewrite_of_the_same_sum(latex, fix):
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(latex)
    assert info.value.fix.program == fix
    assert matcalc.derive(fix).is_scalar


# ---- random index statements: LaTeX with \sum reads as the index statement ------------------

_ORDERS = {"a": 1, "b": 1, "x": 1, "y": 1, "A": 2, "B": 2, "W": 2, "X": 2, "T": 3, "U": 3}


@st.composite
def _index_statement(draw):
    """(matcalc's index statement, the same in LaTeX with a \\sum per term): products of
    names over the indices i, j, k, l (every size n), some wrapped in tanh where none of
    their indices is summed."""
    free = draw(st.sampled_from(["i", "ij", "ji", "j"]))
    text_terms, tex_terms = [], []
    for _ in range(draw(st.integers(1, 3))):
        factors = []
        for _ in range(draw(st.integers(1, 3))):
            name = draw(st.sampled_from(sorted(_ORDERS)))
            factors.append((name, draw(st.lists(st.sampled_from("ijkl"), min_size=_ORDERS[name],
                                                max_size=_ORDERS[name]))))
        summed = sorted({x for _, idx in factors for x in idx} - set(free))
        funcs = [draw(st.booleans()) and not set(idx) & set(summed) for _, idx in factors]
        text = "*".join((f"tanh({n}[{','.join(idx)}])" if f else f"{n}[{','.join(idx)}]")
                        for (n, idx), f in zip(factors, funcs))
        tex = " ".join((rf"\tanh({n}_{{{''.join(idx)}}})" if f else f"{n}_{{{''.join(idx)}}}")
                       for (n, idx), f in zip(factors, funcs))
        if summed:
            tex = rf"\sum_{{{','.join(summed)}}} {tex}"
        text_terms.append(text)
        tex_terms.append(tex)
    lhs_text = f"Z[{','.join(free)}]"
    lhs_tex = f"Z_{{{''.join(free)}}}"
    return f"{lhs_text} = {' + '.join(text_terms)}", f"{lhs_tex} = {' + '.join(tex_terms)}"


def _derived(program, notation):
    import re
    used = set(re.findall(r"\b([A-Za-z])(?:\[|_\{)", program))
    shapes = {n: ("n",) * k for n, k in _ORDERS.items() if n in used}
    try:
        d = matcalc.derive(program, shapes=shapes, notation=notation)
    except MatcalcError as e:
        return f"error: {e.message}"
    return {n: r.text for n, r in d.derivatives.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_index_statement())
def test_random_index_statements_in_latex_derive_as_in_matcalcs_language(pair):
    text, tex = pair
    got, want = _derived(tex, "latex"), _derived(text, "matcalc")
    if isinstance(want, str):                     # refused in the language: so in LaTeX
        assert isinstance(got, str), f"{tex!r} derived, but {text!r} is {want}"
    else:
        assert got == want, f"{tex!r} read otherwise than {text!r}"
