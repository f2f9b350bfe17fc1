"""Every file in examples/ runs and shows what the seeds' authors derived by hand; beside
each example lies the module `matcalc codegen` writes for it (examples/_generate.py), which
is today's output byte for byte and computes the hand-derived gradients."""
import importlib.util
import keyword
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from matcalc.cli.main import cli
from matcalc.codegen import GENERATED_MARKER

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _generated(path: Path) -> bool:
    with open(path, encoding="utf-8") as f:
        return f.readline().startswith(GENERATED_MARKER)


FILES = sorted(p for p in EXAMPLES.glob("*.py")
               if not p.name.startswith("_") and not _generated(p))


def run(path: Path) -> str:
    out = subprocess.run([sys.executable, path.name], cwd=EXAMPLES, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_there_is_an_example_per_seed_derivation():
    assert {p.stem for p in FILES} == {"linear_layer", "bilinear_form", "bilinear_layer",
                                       "d2l_mlp_l2",
                                       "cs231n_two_layer", "notes_sigmoid_softmax",
                                       "sigmoid_neuron"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_example_runs_and_checks(path):
    out = run(path)
    assert "check: all ok" in out
    assert "FAILED" not in out


def test_linear_layer_bias_gradient_is_the_column_sum():
    out = run(EXAMPLES / "linear_layer.py")
    assert "dL/db = sum(dY, 1)'" in out
    assert "A: WRONG SHAPE" in out          # the transpose-order mistake


def test_bilinear_layer_is_derived_and_agrees_with_torch():
    out = run(EXAMPLES / "bilinear_layer.py")
    assert "dL/dA[i,j,k] = dZ[p,i]*X[p,j]*Y[p,k]" in out
    assert "dU[i,j,k] = Y[i,k]*dZ[i,j]" in out                  # a step of an intermediate
    assert "fix: z[j] = x[k]*A[j,k,l]*y[l] + b[j]" in out
    assert "A: RIGHT" in out and "Y: WRONG SHAPE" in out
    assert "index: ∂Z_ij/∂A_klm = δ_jk X_il Y_im" in out       # the seed's Jacobian
    assert "A: ok (" in out
    import importlib.util as u
    if u.find_spec("torch") is not None:
        assert out.count("torch.nn.Bilinear autograd") == 4


def test_mlp_steps_read_like_the_notes():
    out = run(EXAMPLES / "d2l_mlp_l2.py")
    for line in ("do = o - y", "dh = W2'*do", "dz = dh .* (z > 0)"):
        assert line in out


def test_notes_regularisation_mistake_is_rejected_and_the_fix_accepted():
    out = run(EXAMPLES / "notes_sigmoid_softmax.py")
    assert "W2: WRONG (relative error" in out
    assert "W2: RIGHT" in out
    assert "dz2 = softmax(z2) - y" in out


def test_cs231n_batch_gradients_match_the_hand_written_reference():
    out = run(EXAMPLES / "cs231n_two_layer.py")
    for name in ("W1", "b1", "W2", "b2"):
        assert f"{name}: matches the hand-written NumPy reference" in out


def test_sigmoid_neuron_at_the_lecture_numbers():
    out = run(EXAMPLES / "sigmoid_neuron.py")
    assert "dL/dx1 at the lecture's point = 0.393" in out
    assert "dL/dw1 at the lecture's point = -0.197" in out


# ---- the generated modules beside the examples ------------------------------------------------

def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load("_generate")
MODULE_NAMES = [m for names in generate.MODULES.values() for m in names]


@pytest.fixture(scope="module")
def commands():
    return {path.stem: args for path, args in generate.commands()}


def test_every_example_has_its_modules_and_no_other_generated_file_lies_there():
    assert set(generate.MODULES) == {p.stem for p in FILES}
    on_disk = {p.stem for p in EXAMPLES.glob("*.py") if _generated(p)}
    assert on_disk == set(MODULE_NAMES)


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_committed_module_is_what_matcalc_codegen_writes_today(name, commands):
    # regenerate with the CLI, in memory: a change to matcalc that changes the code makes
    # this fail until `python examples/_generate.py` is run again
    result = CliRunner().invoke(cli, commands[name] + ["--no-check"])
    assert result.exit_code == 0, result.output
    committed = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    assert result.stdout == committed, f"stale: run python examples/_generate.py ({name})"


def test_writing_with_o_gives_the_committed_bytes(tmp_path, commands):
    path = tmp_path / "linear_layer_gradient.py"
    result = CliRunner().invoke(cli, commands["linear_layer_gradient"] + ["-o", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == (EXAMPLES / "linear_layer_gradient.py").read_bytes()


def _finite_differences(mod, args: dict, grads: dict, upstream=None, numerator=False):
    """Central differences of mod.forward (of <upstream, Y> for a non-scalar Y) along a
    random direction per variable, against the module's derivative along it."""
    rng = np.random.default_rng(1)

    def loss(a):
        y = mod.forward(**a)
        return float(y) if upstream is None else float(np.sum(upstream * y))
    for name, g in grads.items():
        key = name + "_" if keyword.iskeyword(name) else name
        x = np.asarray(args[key], dtype=float)
        v = rng.standard_normal(x.shape)
        h = 1e-6
        fd = (loss({**args, key: x + h * v}) - loss({**args, key: x - h * v})) / (2 * h)
        g = np.asarray(g)
        exact = float(np.sum((g.T if numerator and g.ndim == 2 else g) * v))
        assert abs(fd - exact) <= 1e-6 * max(1.0, abs(exact)), (name, fd, exact)


def _assert_close(got: dict, want: dict):
    assert set(want) <= set(got)
    for name, w in want.items():
        assert np.shape(got[name]) == np.shape(w), name
        np.testing.assert_allclose(got[name], w, rtol=1e-10, atol=1e-12, err_msg=name)


def test_linear_layer_module_gives_the_notes_backward_pass():
    mod = _load("linear_layer_gradient")
    rng = np.random.default_rng(0)
    X, A, b, dY = (rng.standard_normal(s) for s in ((5, 3), (4, 3), 4, (5, 4)))
    Y, grads = mod.value_and_gradient(X, A, b, dY=dY)
    np.testing.assert_allclose(Y, X @ A.T + b)
    # dX = dY A, dA = dY' X, db = dY' 1_N
    _assert_close(grads, {"X": dY @ A, "A": dY.T @ X, "b": dY.sum(axis=0)})
    _finite_differences(mod, {"X": X, "A": A, "b": b}, grads, upstream=dY)


@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_bilinear_form_modules_give_the_textbook_gradients(layout):
    numerator = layout == "numerator"
    mod = _load("bilinear_form_numerator_gradient" if numerator else "bilinear_form_gradient")
    rng = np.random.default_rng(1)
    x, A, y = rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal(4)
    z, grads = mod.value_and_gradient(x, A, y)
    assert z == pytest.approx(x @ A @ y)
    # dz/dx = A y, dz/dy = A' x; dz/dA = x y' (denominator), y x' (numerator layout)
    _assert_close(grads, {"x": A @ y, "y": A.T @ x,
                          "A": np.outer(y, x) if numerator else np.outer(x, y)})
    _finite_differences(mod, {"x": x, "A": A, "y": y}, grads, numerator=numerator)


def test_d2l_module_gives_the_books_equations():
    mod = _load("d2l_mlp_l2_gradient")
    rng = np.random.default_rng(2)
    W1, x, W2, y = (rng.standard_normal(s) for s in ((4, 3), 3, (2, 4), 2))
    lam = 0.3
    J, grads = mod.value_and_gradient(W1, x, W2, y, lam)
    z = W1 @ x
    h = np.maximum(z, 0)
    o = W2 @ h
    assert J == pytest.approx(0.5 * (o - y) @ (o - y) + lam / 2 * (np.sum(W1**2) +
                                                                 np.sum(W2**2)))
    dz = (W2.T @ (o - y)) * (z > 0)                  # eq. 4.7.12 and the relu mask
    _assert_close(grads, {
        "W2": np.outer(o - y, h) + lam * W2,         # eq. 4.7.11
        "W1": np.outer(dz, x) + lam * W1,            # eq. 4.7.14
        "x": W1.T @ dz, "y": y - o,
        "lambda": 0.5 * (np.sum(W1**2) + np.sum(W2**2)),
    })
    _finite_differences(mod, {"W1": W1, "x": x, "W2": W2, "y": y, "lambda_": lam}, grads)


def test_cs231n_module_matches_the_examples_hand_written_reference():
    # the very batch and reference the example script computes
    mod = _load("cs231n_two_layer_gradient")
    _, ns = generate.run("cs231n_two_layer")
    args = {k: ns[k] for k in ("X", "W1", "b1", "W2", "b2", "Y", "reg")}
    L, grads = mod.value_and_gradient(**args)
    scores = ns["scores"]
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    reg, W1, W2 = args["reg"], args["W1"], args["W2"]
    want_L = -np.sum(args["Y"] * log_p) / len(scores) + \
        0.5 * reg * (np.sum(W1**2) + np.sum(W2**2))
    assert L == pytest.approx(want_L, rel=1e-12)
    _assert_close(grads, ns["ref"])
    _finite_differences(mod, args, grads)


def test_notes_one_sample_module_gives_softmax_minus_y():
    mod = _load("notes_sigmoid_softmax_gradient")
    rng = np.random.default_rng(3)
    W1, x, b1, W2, b2 = (rng.standard_normal(s) for s in ((4, 3), 3, 4, (5, 4), 5))
    y = np.eye(5)[2]
    E, grads = mod.value_and_gradient(W1, x, b1, W2, b2, y)
    h = 1 / (1 + np.exp(-(W1 @ x + b1)))
    z2 = W2 @ h + b2
    p = np.exp(z2 - z2.max())
    p /= p.sum()
    assert E == pytest.approx(-np.log(p[2]))
    dz2 = p - y                                      # the notes' dz2 = softmax(z2) - y
    dz1 = (W2.T @ dz2) * h * (1 - h)
    _assert_close(grads, {"W2": np.outer(dz2, h), "b2": dz2, "W1": np.outer(dz1, x),
                          "b1": dz1, "x": W1.T @ dz1})
    args = {"W1": W1, "x": x, "b1": b1, "W2": W2, "b2": b2, "y": y}
    _finite_differences(mod, args, grads)


def test_notes_batch_module_gives_the_corrected_regularisation():
    mod = _load("notes_sigmoid_softmax_batch_gradient")
    rng = np.random.default_rng(4)
    n, p, c, m = 3, 4, 5, 6
    W1, X, b1 = rng.standard_normal((p, n)), rng.standard_normal((n, m)), rng.standard_normal(p)
    W2, b2, lam = rng.standard_normal((c, p)), rng.standard_normal(c), 0.2
    Y = np.eye(c)[:, rng.integers(0, c, m)]
    J, grads = mod.value_and_gradient(W1, X, b1, W2, b2, Y, lam)
    A1 = 1 / (1 + np.exp(-(W1 @ X + b1[:, None])))
    Z2 = W2 @ A1 + b2[:, None]
    P = np.exp(Z2 - Z2.max(axis=0))
    P /= P.sum(axis=0)
    assert J == pytest.approx(-np.sum(Y * np.log(P)) / m +
                              lam / (2 * m) * (np.sum(W1**2) + np.sum(W2**2)))
    dZ2 = P - Y
    dZ1 = (W2.T @ dZ2) * A1 * (1 - A1)
    # lambda/m W, not the notes' lambda/(2m) W
    _assert_close(grads, {"W2": dZ2 @ A1.T / m + lam / m * W2, "b2": dZ2.sum(axis=1) / m,
                          "W1": dZ1 @ X.T / m + lam / m * W1})
    assert set(grads) == {"W1", "W2", "b2"}
    args = {"W1": W1, "X": X, "b1": b1, "W2": W2, "b2": b2, "Y": Y, "lambda_": lam}
    _finite_differences(mod, args, grads)


def test_sigmoid_neuron_module_at_the_lecture_numbers():
    mod = _load("sigmoid_neuron_gradient")
    _, ns = generate.run("sigmoid_neuron")
    L, grads = mod.value_and_gradient(**ns["point"])
    assert L == pytest.approx(0.7311, abs=1e-4)      # sigmoid(1)
    assert grads["x1"] == pytest.approx(0.393, abs=1e-3)
    assert grads["w1"] == pytest.approx(-0.197, abs=1e-3)
    s = L * (1 - L)                                  # sigma' = sigma (1 - sigma)
    p = ns["point"]
    _assert_close(grads, {"w1": s * p["x1"], "x1": s * p["w1"], "w2": s * p["x2"],
                          "x2": s * p["w2"], "b": s})
    _finite_differences(mod, p, grads)
