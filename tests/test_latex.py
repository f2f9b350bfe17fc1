"""LaTeX for notes: the blocks a derivation prints, their options, golden files for every
example, and every example compiled by pdflatex and rendered by pdftoppm.

Golden files: tests/golden/latex/<example>.tex is the standalone document of the
derivations examples/<example>.py shows, with their steps. The table SHOWN repeats the
programs and options of the examples' `show(...)` calls; a test checks that every program
still stands in its example and that every example is in the table. After a deliberate
change of the LaTeX, regenerate the golden files and review the diff:

    python tests/test_latex.py
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.main import cli
from matcalc.errors import MatcalcError
from matcalc.expr import Add, Const, Func, Inv, MatMul, Norm2, Power, Scale, Transpose, Var
from matcalc.printing.latex import LatexStyle, standalone, to_latex

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "latex"
REGENERATE = "python tests/test_latex.py"

PDFLATEX, PDFTOPPM = shutil.which("pdflatex"), shutil.which("pdftoppm")
needs_tex = pytest.mark.skipif(PDFLATEX is None or PDFTOPPM is None,
                               reason="no TeX engine: pdflatex and pdftoppm are not installed "
                                      "(Debian: texlive-latex-base poppler-utils; .ci/run "
                                      "installs them)")

MLP = "z = W1*x + b1; a = relu(z); o = W2*a + b2; J = 0.5*norm2(y - o)^2"


# ---- the examples --------------------------------------------------------------------------

def example_files() -> list[Path]:
    """The example scripts: examples/*.py but the helpers (_*.py) and generated modules."""
    from matcalc.codegen import GENERATED_MARKER
    return sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")
                  and not p.read_text(encoding="utf-8").startswith(GENERATED_MARKER))


# What each example shows, in order: (program, options), as in its `show(...)` calls.
SCALARS = {n: "scalar" for n in ("w1", "x1", "w2", "x2", "b")}
BILINEAR = {"X": "N,n", "Y": "N,m", "A": "L,n,m", "b": "L"}
SHOWN = {
    "linear_layer": [("Y = X*A' + b'", {"shapes": {"X": "N,n", "A": "m,n", "b": "m"}})],
    "bilinear_form": [("z = x'*A*y", {}), ("z = x'*A*y", {"layout": "numerator"})],
    "bilinear_layer": [("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", {"shapes": BILINEAR}),
                       ("U[i,j,l] = X[i,k]*A[j,k,l]\nZ[i,j] = U[i,j,l]*Y[i,l] + b[j]",
                        {"shapes": BILINEAR})],
    "d2l_mlp_l2": [("""
z = W1*x
h = relu(z)
o = W2*h
J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)
""", {})],
    "cs231n_two_layer": [("""
H = relu(X*W1 + b1')
S = H*W2 + b2'
P = softmax(S')'
L = -sum(Y .* log(P))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)
""", {"shapes": {"X": "N,D", "W1": "D,K", "W2": "K,C", "Y": "N,C", "reg": "scalar"},
      "onehot": ["Y=rows"]})],
    "notes_sigmoid_softmax": [("""
z1 = W1*x + b1
h = sigmoid(z1)
z2 = W2*h + b2
E = -y'*log(softmax(z2))
""", {"onehot": ["y"]}), ("""
Z1 = W1*X + b1*vector(1)'
A1 = sigmoid(Z1)
Z2 = W2*A1 + b2*vector(1)'
J = -sum(Y .* log(softmax(Z2)))/m + lambda/(2*m)*(norm2(W1)^2 + norm2(W2)^2)
""", {"shapes": {"X": "n,m", "Y": "c,m"}, "onehot": ["Y"], "wrt": ["W1", "W2", "b2"]})],
    "sigmoid_neuron": [("L = sigmoid(w1*x1 + w2*x2 + b)", {"shapes": SCALARS})],
}


def example_document(path: Path) -> str:
    """The golden document of an example: each derivation it shows, with its steps, under
    its program as comment lines."""
    parts = []
    for program, options in SHOWN[path.stem]:
        d = matcalc.derive(program, **options)
        parts.append("".join(f"% {line}\n" for line in program.strip().splitlines())
                     + d.latex(steps=True))
    return standalone("\n\n".join(parts))


EXAMPLE_FILES = example_files()


def test_the_table_covers_every_example_and_matches_its_show_calls():
    assert sorted(SHOWN) == [p.stem for p in EXAMPLE_FILES]
    for path in EXAMPLE_FILES:
        source = path.read_text(encoding="utf-8")
        assert source.count("show(") == len(SHOWN[path.stem]), path.name
        for program, _ in SHOWN[path.stem]:
            assert program in source, f"{path.name} no longer shows {program!r}"
    goldens = {p.stem for p in GOLDEN.glob("*.tex")}
    assert goldens == set(SHOWN), f"stale or missing golden files: run {REGENERATE}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_latex_matches_its_golden_file(path):
    golden = GOLDEN / f"{path.stem}.tex"
    assert golden.exists(), f"no golden file {golden.name}; run {REGENERATE}"
    assert example_document(path) == golden.read_text(encoding="utf-8"), \
        f"the LaTeX of {path.name} changed; if on purpose, run {REGENERATE} and review the diff"


# ---- compiled by pdflatex, rendered by pdftoppm ----------------------------------------------

LOG_PROBLEMS = ("Undefined control sequence", "Missing", "Double superscript",
                "Double subscript", "Extra }", "Extra \\right", "LaTeX Error")


def compile_tex(source: str, where: Path) -> Path:
    """Compile `source` with pdflatex; fail on an error or a problem in the log."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "doc.tex").write_text(source, encoding="utf-8")
    done = subprocess.run([PDFLATEX, "-halt-on-error", "-interaction=nonstopmode",
                           "-no-shell-escape", "doc.tex"], cwd=where, capture_output=True,
                          text=True, errors="replace", timeout=120, check=False)
    log = (where / "doc.log").read_text(encoding="latin-1") if (where / "doc.log").exists() \
        else done.stdout
    errors = [line for line in log.splitlines() if line.startswith("!")
              or any(p in line for p in LOG_PROBLEMS)]
    assert done.returncode == 0 and not errors, "\n".join(errors) or done.stdout[-2000:]
    return where / "doc.pdf"


@needs_tex
@pytest.mark.parametrize("bad", [r"\mathds{1}[z > 0]", r"W^{(1)}^\top", r"\left( x"])
def test_the_compile_check_catches_what_a_reader_would(bad, tmp_path):
    with pytest.raises(AssertionError):
        compile_tex(standalone(f"\\begin{{align*}}\nx &= {bad}\n\\end{{align*}}"), tmp_path)


@needs_tex
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_standalone_latex_compiles(path, tmp_path):
    compile_tex(example_document(path), tmp_path)


@needs_tex
def test_every_option_compiles(tmp_path):
    # W^{(1)} transposed and inverted, \bar on every adjoint, shapes: no double superscript
    bodies = [matcalc.derive(program, **options).latex(
        steps=True, transpose="T", numbered="superscript", upstream="bar", shapes=True)
        for shown in SHOWN.values() for program, options in shown]
    bodies.append(matcalc.derive("f = sum(inv(W1)*x) + x'*W1'*W1*x").latex(
        numbered="superscript", upstream="bar"))
    compile_tex(standalone("\n\n".join(bodies)), tmp_path)


@needs_tex
def test_jacobians_and_hessians_compile(tmp_path):
    bodies = [matcalc.derive(p, mode=mode, **kw).latex(numbered="superscript", shapes=True)
              for p, mode, kw in [("Y = X*W1", "jacobian", {}),
                                  ("softmax(x)", "jacobian", {}),
                                  ("log(det(X))", "hessian", {}),
                                  ("x'*A1*x + sum(exp(x))", "hvp", {})]]
    compile_tex(standalone("\n\n".join(bodies)), tmp_path)


def read_pgm(path: Path) -> np.ndarray:
    """The pixels of a binary PGM (P5, 8 bits), as pdftoppm -gray writes it."""
    data = path.read_bytes()
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert m, "not a binary PGM"
    w, h, top = (int(g) for g in m.groups())
    assert top == 255
    return np.frombuffer(data, np.uint8, w * h, m.end()).reshape(h, w)


@needs_tex
def test_a_compiled_page_renders_to_a_picture_with_formulas_on_it(tmp_path):
    pdf = compile_tex(example_document(EXAMPLES / "linear_layer.py"), tmp_path)
    subprocess.run([PDFTOPPM, "-gray", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    pixels = read_pgm(tmp_path / "page.pgm")
    h, w = pixels.shape
    assert (w, h) in ((425, 550), (413, 585)), (w, h)     # a letter or A4 page at 50 dpi
    ink = pixels < 200                                    # anti-aliased glyphs are grey
    assert ink.sum() < 0.1 * ink.size                     # not a black page
    top = ink[: h // 2]                                   # the formulas, above the folio
    assert top.sum() > 200                                # not a blank one
    rows = np.flatnonzero(top.any(axis=1))
    assert rows.max() - rows.min() > 40                   # several lines of them


def test_the_readme_picture_source_is_todays_latex():
    spec = importlib.util.spec_from_file_location("latex_render", EXAMPLES / "latex" / "render.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    assert render.document() == (EXAMPLES / "latex" / "readme.tex").read_text(encoding="utf-8"), \
        "examples/latex/readme.tex is stale: run python examples/latex/render.py"


@needs_tex
def test_the_readme_picture_source_compiles(tmp_path):
    compile_tex((EXAMPLES / "latex" / "readme.tex").read_text(encoding="utf-8"), tmp_path)


# ---- the blocks ------------------------------------------------------------------------------

def test_linear_layer_reads_like_the_notes():
    d = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"})
    assert d.latex() == r"""% layout: denominator
% \frac{\partial L}{\partial Y} is the upstream gradient (N x m) of a scalar loss L
\begin{align*}
\frac{\partial L}{\partial X} &= \frac{\partial L}{\partial Y} A \\
\frac{\partial L}{\partial A} &= \left(\frac{\partial L}{\partial Y}\right)^\top X \\
\frac{\partial L}{\partial b} &= \left(\frac{\partial L}{\partial Y}\right)^\top \mathbf{1}
\end{align*}"""


def test_bilinear_form_reads_like_the_notes():
    assert matcalc.derive("z = x'*A*y").latex() == r"""% layout: denominator
\begin{align*}
\frac{\partial z}{\partial x} &= A y \\
\frac{\partial z}{\partial A} &= x y^\top \\
\frac{\partial z}{\partial y} &= A^\top x
\end{align*}"""


def test_mlp_steps_are_the_backprop_equations_then_the_derivatives():
    tex = matcalc.derive(MLP).latex(steps=True)
    steps, inlined = tex.split("\\intertext{and in terms of the inputs:}\n")
    assert steps.splitlines()[2:] == [
        r"\frac{\partial J}{\partial y} &= y - o \\",
        r"\frac{\partial J}{\partial o} &= o - y \\",
        r"\frac{\partial J}{\partial W_2} &= \frac{\partial J}{\partial o} a^\top \\",
        r"\frac{\partial J}{\partial b_2} &= \frac{\partial J}{\partial o} \\",
        r"\frac{\partial J}{\partial a} &= W_2^\top \frac{\partial J}{\partial o} \\",
        r"\frac{\partial J}{\partial z} &= \frac{\partial J}{\partial a} \odot \mathbb{I}[z > 0] \\",
        r"\frac{\partial J}{\partial W_1} &= \frac{\partial J}{\partial z} x^\top \\",
        r"\frac{\partial J}{\partial x} &= W_1^\top \frac{\partial J}{\partial z} \\",
        r"\frac{\partial J}{\partial b_1} &= \frac{\partial J}{\partial z} \\"]
    assert inlined.splitlines()[0] == (
        r"\frac{\partial J}{\partial W_1} &= (\mathbb{I}[W_1 x + b_1 > 0] \odot (W_2^\top "
        r"(W_2 \operatorname{relu}(W_1 x + b_1) + b_2 - y))) x^\top \\")
    assert len(inlined.splitlines()) == 7                   # six derivatives, \end{align*}


def test_the_layout_is_stated_in_a_comment_line():
    for layout in ("numerator", "denominator", "mixed"):
        assert matcalc.derive("x'*A*x", layout=layout).latex().startswith(
            f"% layout: {layout}\n\\begin{{align*}}")


def test_numerator_layout_writes_the_upstream_in_its_own_layout():
    d = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"}, layout="numerator")
    assert d["A"].latex == r"X^\top \left(\frac{\partial L}{\partial Y}\right)^\top"
    assert "(m x N)" in d.latex().splitlines()[1]


def test_assumptions_are_stated_in_comment_lines():
    d = matcalc.derive("E = -y'*log(softmax(z))", onehot=["y"])
    assert "% assuming y: one-hot labels (each column sums to 1)\n" in d.latex()


def test_standalone_is_the_block_in_a_document_that_needs_amsmath_and_amssymb_only():
    d = matcalc.derive(MLP)
    doc = d.latex(standalone=True, steps=True)
    assert doc == standalone(d.latex(steps=True))
    assert doc.startswith("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n")
    assert d.latex(steps=True) in doc and doc.endswith("\\end{document}\n")
    packages = re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", doc)
    assert packages == ["amsmath,amssymb", "geometry"]       # geometry only sets the page


# ---- options ---------------------------------------------------------------------------------

def test_transpose_T():
    tex = matcalc.derive("f = x'*inv(S)*y").latex(transpose="T")
    assert r"\top" not in tex
    assert r"\frac{\partial f}{\partial S} &= -S^{-T} x y^T S^{-T}" in tex
    ones = matcalc.derive("Y = X*A' + b'", layout="numerator").latex(transpose="T")
    assert r"\frac{\partial L}{\partial b} &= \mathbf{1}^T " in ones and r"\top" not in ones


def test_numbered_names_as_superscripts():
    d = matcalc.derive(MLP)
    tex = d.latex(numbered="superscript", steps=True)
    assert r"\frac{\partial J}{\partial W^{(1)}} &= \frac{\partial J}{\partial z} x^\top" in tex
    assert r"W^{(2)\top} \frac{\partial J}{\partial o}" in tex      # one superscript
    assert "W_1" not in tex and "b_2" not in tex
    inv = matcalc.derive("f = sum(inv(W1)*x)").latex(numbered="superscript")
    assert r"(W^{(1)})^{-\top}" in inv


def test_upstream_as_a_bar():
    d = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"})
    tex = d.latex(upstream="bar")
    assert r"\frac{\partial L}{\partial A} &= \bar{Y}^\top X \\" in tex
    assert r"&\text{where } \bar{Y} = \frac{\partial L}{\partial Y}" in tex
    assert "% \\bar{Y} is the upstream gradient (N x m) of a scalar loss L" in tex
    steps = matcalc.derive(MLP).latex(steps=True, upstream="bar", numbered="superscript")
    assert r"\bar{W}^{(2)} &= \bar{o} a^\top \\" in steps
    assert r"\bar{a} &= W^{(2)\top} \bar{o} \\" in steps
    assert r"\text{where } \bar{v} = \frac{\partial J}{\partial v}" in steps


def test_shapes_on_request():
    d = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"})
    rows = d.latex(shapes=True).splitlines()[3:7]
    assert rows == [r"X &\in \mathbb{R}^{N \times n} \\", r"A &\in \mathbb{R}^{m \times n} \\",
                    r"b &\in \mathbb{R}^{m} \\",
                    r"\frac{\partial L}{\partial Y} &\in \mathbb{R}^{N \times m} \\"]
    scalar_and_row = matcalc.derive("f = alpha*r*x", shapes={"r": "1,n"}).latex(shapes=True)
    assert r"\alpha &\in \mathbb{R} \\" in scalar_and_row
    assert r"r &\in \mathbb{R}^{1 \times n} \\" in scalar_and_row
    assert r"\in" not in matcalc.derive("f = alpha*r*x", shapes={"r": "1,n"}).latex()


def test_steps_with_shapes_name_the_intermediates_in_program_order():
    tex = matcalc.derive(MLP).latex(steps=True, shapes=True)
    declared = [line.split(" &")[0] for line in tex.splitlines() if r"&\in" in line]
    assert declared == ["W_1", "x", "b_1", "W_2", "b_2", "y", "z", "a", "o"]


def test_bad_option_values_are_user_errors():
    d = matcalc.derive("x'*A*x")
    for bad in ({"transpose": "t"}, {"numbered": "paren"}, {"upstream": "delta"},
                {"shapes": {"x": "n"}}):
        with pytest.raises(MatcalcError, match="LaTeX"):
            d.latex(**bad)


def test_a_variable_named_sigma_keeps_the_logistic_function_apart():
    assert matcalc.derive("f = sum(sigmoid(x))")["x"].latex.startswith(r"\sigma(x)")
    tex = matcalc.derive("f = sigma*sum(sigmoid(x))").latex()
    assert r"\operatorname{sigmoid}(x)" in tex and r"\sigma(x)" not in tex


def test_jacobian_and_hessian_blocks_take_the_options():
    jac = matcalc.derive("Y = X*W1", mode="jacobian")
    tex = jac.latex(numbered="superscript", transpose="T", shapes=True)
    assert (r"\frac{\partial Y}{\partial W^{(1)}} &: \mathrm{d}W^{(1)} \mapsto "
            r"X \, \mathrm{d}W^{(1)}") in tex
    assert r"W^{(1)} &\in \mathbb{R}^{m \times p} \\" in tex
    assert r"\frac{\partial Y_{ij}}{\partial W^{(1)}_{kl}}" in tex
    hes = matcalc.derive("log(det(X))", mode="hessian").latex(transpose="T")
    assert r"\mathrm{d}X \mapsto -X^{-T} (\mathrm{d}X)^T X^{-T}" in hes
    with pytest.raises(MatcalcError, match="steps"):
        jac.latex(steps=True)


# ---- parentheses only where precedence needs them ---------------------------------------------

N, n = "N", "n"
A, B, S = Var("A", (n, n)), Var("B", (n, n)), Var("S", (n, n))
x, y = Var("x", (n, 1)), Var("y", (n, 1))
W1 = Var("W1", (n, n))
dY = Var("dY", (n, n))
UPSTREAM = LatexStyle(adjoints=(("dY", "L", "Y"),))
SUPERSCRIPT = LatexStyle(numbered="superscript")


def neg(e):
    return Scale(Const(-1), e)


@pytest.mark.parametrize("node,style,want", [
    (MatMul((Add((A, B)), x)), None, r"(A + B) x"),
    (Add((A, MatMul((B, S)))), None, r"A + B S"),
    (neg(Add((x, y))), None, r"-(x + y)"),
    (Add((x, neg(Add((y, neg(x)))))), None, r"x - (y - x)"),
    (MatMul((A, neg(B))), None, r"A (-B)"),
    (Transpose(Add((x, y))), None, r"(x + y)^\top"),
    (Transpose(MatMul((A, B))), None, r"(A B)^\top"),
    (Power(Add((x, y)), Const(2)), None, r"(x + y)^{\circ 2}"),
    (Inv(MatMul((A, B))), None, r"(A B)^{-1}"),
    (MatMul((dY, A)), UPSTREAM, r"\frac{\partial L}{\partial Y} A"),
    (MatMul((Transpose(dY), A)), UPSTREAM, r"\left(\frac{\partial L}{\partial Y}\right)^\top A"),
    (neg(dY), UPSTREAM, r"-\frac{\partial L}{\partial Y}"),
    (Scale(Power(Var("m", (1, 1)), Const(-1)), dY), UPSTREAM,
     r"\frac{1}{m} \frac{\partial L}{\partial Y}"),
    (Func("exp", dY), UPSTREAM, r"\exp\left(\frac{\partial L}{\partial Y}\right)"),
    (Norm2(dY), UPSTREAM, r"\left\lVert \frac{\partial L}{\partial Y}\right\rVert_F"),   # of a matrix: Frobenius
    (Func("exp", Add((x, y))), None, r"\exp(x + y)"),
    (Transpose(W1), SUPERSCRIPT, r"W^{(1)\top}"),
    (Inv(W1), SUPERSCRIPT, r"(W^{(1)})^{-1}"),
    (Power(W1, Const(2)), SUPERSCRIPT, r"(W^{(1)})^{\circ 2}"),
    (MatMul((W1, x)), SUPERSCRIPT, r"W^{(1)} x"),
])
def test_parentheses_come_from_precedence(node, style, want):
    assert to_latex(node, style) == want


# ---- Jupyter ----------------------------------------------------------------------------------

def test_repr_latex_of_a_derivation_and_a_derivative():
    d = matcalc.derive("Y = X*A' + b'")
    assert d._repr_latex_() == (
        r"$\begin{aligned}\frac{\partial L}{\partial X} &= \frac{\partial L}{\partial Y} A \\ "
        r"\frac{\partial L}{\partial A} &= \left(\frac{\partial L}{\partial Y}\right)^\top X \\ "
        r"\frac{\partial L}{\partial b} &= \left(\frac{\partial L}{\partial Y}\right)^\top "
        r"\mathbf{1}\end{aligned}$")
    assert d["X"]._repr_latex_() == \
        r"$\displaystyle \frac{\partial L}{\partial X} = \frac{\partial L}{\partial Y} A$"


def test_repr_latex_of_jacobian_and_hessian_results():
    jac = matcalc.derive("softmax(x)", mode="jacobian")
    assert jac["x"]._repr_latex_() == (r"$\displaystyle \frac{\partial y}{\partial x} = "
                                       r"\operatorname{diag}(p) - p p^\top, \quad "
                                       r"p = \operatorname{softmax}(x)$")
    assert jac._repr_latex_() == (r"$\begin{aligned}\frac{\partial y}{\partial x} &= "
                                  r"\operatorname{diag}(p) - p p^\top\end{aligned}$")
    hes = matcalc.derive("x'*A*x", mode="hessian", wrt=["x"])
    assert hes._repr_latex_() == \
        r"$\begin{aligned}\frac{\partial^2 f}{\partial x^2} &= A + A^\top\end{aligned}$"
    assert hes["x"]._repr_latex_() == r"$\displaystyle \frac{\partial^2 f}{\partial x^2} = A + A^\top$"


# ---- the command line -----------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_cli_latex_options_reach_the_block():
    result = run("derive", "Y = X*W1", "--format", "latex", "--no-check", "--latex-transpose",
                 "T", "--latex-numbered", "superscript", "--latex-upstream", "bar",
                 "--latex-shapes")
    assert result.exit_code == 0, result.output
    d = matcalc.derive("Y = X*W1")
    assert result.stdout == d.latex(transpose="T", numbered="superscript", upstream="bar",
                                    shapes=True) + "\n"


@pytest.mark.parametrize("option", [["--latex-transpose", "T"], ["--latex-numbered",
                                    "superscript"], ["--latex-upstream", "bar"],
                                    ["--latex-shapes"], ["--standalone"]])
def test_cli_latex_options_need_the_latex_format(option):
    result = run("derive", "x'*A*x", "--no-check", *option)
    assert result.exit_code == 2
    assert f"{option[0]} applies only to --format latex" in result.stderr


def test_cli_rejects_an_unknown_option_value():
    result = run("derive", "x'*A*x", "--format", "latex", "--latex-numbered", "paren")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def regenerate() -> None:
    """Write the golden file of every example."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for path in example_files():
        (GOLDEN / f"{path.stem}.tex").write_text(example_document(path), encoding="utf-8")
        print(f"wrote {GOLDEN / path.stem}.tex")


if __name__ == "__main__":
    regenerate()


def test_a_number_joins_the_fraction_beside_a_tall_factor():
    # not \frac{1}{N} \cdot 2 X^\top ...: the number goes over N
    tex = matcalc.derive("Y = 2*X*A/N", shapes={"X": "N,n"}).latex()
    assert r"\frac{2}{N} X^\top \frac{\partial L}{\partial Y}" in tex
    assert r"\cdot" not in tex


# ---- as an author writes it (issue 15) ---------------------------------------------------

def test_halves_and_means_are_written_as_fractions():
    # matrixcalculus.org's first example: d(x'Ax/2)/dx = (A + A')x/2, with \frac{1}{2}
    tex = matcalc.derive("x'*A*x/2", wrt=["A"]).latex()
    assert r"\frac{\partial f}{\partial A} &= \frac{1}{2} x x^\top" in tex and "0.5" not in tex
    # the mean squared error: a leading \frac{2}{N}, not a bar over the whole product
    mse = matcalc.derive("sum((X*w - y).^2)/N", wrt=["w"], shapes={"X": "N,d"}).latex()
    assert r"&= \frac{2}{N} X^\top (X w - y)" in mse


def test_shapes_list_inputs_then_the_intermediates_the_formulas_name():
    tex = matcalc.derive(MLP, wrt=["W2"]).latex(shapes=True)
    declared = [line.split(" &")[0] for line in tex.splitlines() if r"&\in" in line]
    assert declared == ["W_1", "x", "b_1", "W_2", "b_2", "y", "a", "o"]
    assert r"\frac{\partial J}{\partial W_2} &= (o - y) a^\top" in tex


def test_notes_as_visible_text_on_request(tmp_path):
    d = matcalc.derive("-sum(Y .* log(softmax(S)))", onehot=["Y"])
    tex = d.latex(notes=True)
    assert "% layout: denominator\n" in tex                           # still a comment
    assert ("\\noindent Layout: denominator; assuming Y: one-hot labels (each column sums "
            "to 1).\n\n\\begin{align*}") in tex
    assert r"\noindent" not in d.latex()
    up = matcalc.derive("Y = X*W_out + b'").latex(notes=True)
    assert (r"$\frac{\partial L}{\partial Y} \in \mathbb{R}^{n \times p}$ is the upstream "
            "gradient of a scalar loss $L$.") in up
    hess = matcalc.derive("x'*A*x", mode="hessian").latex(notes=True)
    assert "\\noindent Layout: denominator.\n" in hess
    if PDFLATEX:
        compile_tex(standalone(tex + "\n" + up), tmp_path)
    result = CliRunner().invoke(cli, ["derive", "x'*A*x", "--format", "latex",
                                      "--latex-notes", "--no-check"])
    assert result.exit_code == 0 and "\\noindent Layout: denominator." in result.output
    assert CliRunner().invoke(cli, ["derive", "x'*A*x", "--latex-notes"]).exit_code == 2


def test_a_hessian_states_its_where_names_once():
    tex = matcalc.derive("sum(sigmoid(X*w))", mode="hessian").latex()
    assert tex.count(r"\text{where }") == 1
    assert tex.rstrip().endswith("&\\text{where } s = \\sigma(X w)\n\\end{align*}")
