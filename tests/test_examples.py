"""Every file in examples/ runs, and shows what the seeds' authors derived by hand."""
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def run(path: Path) -> str:
    out = subprocess.run([sys.executable, path.name], cwd=EXAMPLES, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_there_is_an_example_per_seed_derivation():
    assert {p.stem for p in FILES} >= {"linear_layer", "bilinear_form", "d2l_mlp_l2",
                                        "cs231n_two_layer", "notes_sigmoid_softmax",
                                        "sigmoid_neuron"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_example_runs_and_checks(path):
    out = run(path)
    assert "check: all ok" in out
    assert "FAILED" not in out


def test_linear_layer_bias_gradient_is_the_column_sum():
    out = run(EXAMPLES / "linear_layer.py")
    assert "dL/db = dY'*vector(1)" in out
    assert "A: WRONG SHAPE" in out          # the transpose-order mistake


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
