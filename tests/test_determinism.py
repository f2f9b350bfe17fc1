"""Determinism: the same input gives the same bytes, whatever ran before and whatever the seed.

Text, LaTeX, NumPy, JSON and generated code are compared byte for byte: in one process
(derived twice, and after other programs have filled the interning table), and across
processes run with different `PYTHONHASHSEED`s and in a different order, so that no
output depends on a `set`'s order, on `id()`s or on what was derived first.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import matcalc

ROOT = Path(__file__).resolve().parent.parent

# (program, options): chosen to exercise commutative sums of many terms, many variables,
# broadcasting, steps, names renamed in Python, every layout and the higher modes
PROGRAMS = [
    ("Y = X*A' + b'", {"shapes": {"X": "N,n"}}),
    ("x'*A*x + b'*x + c'*x + d'*x + gamma", {}),
    ("h = relu(W1*x + b1); s = W2*h + b2; f = logsumexp(s) - y'*s", {}),
    ("Z = X*W1 + b1'; H = relu(Z); S = H*W2 + b2'; f = sum(logsumexp(S')) - sum(Y .* S)",
     {"shapes": {"X": "N,d", "Y": "N,c"}, "onehot": ["Y=rows"]}),
    ("f = lambda*sum(np) + sum(import .* x) + tr(A*B*C*D)", {}),
    ("P = inv(X'*X); H = X*P*X'; L = tr(H*A)", {"shapes": {"X": "N,d"}, "layout": "numerator"}),
    ("0.5*(x - c)'*inv(S)*(x - c) + 0.5*logdet(S)", {"layout": "mixed"}),
    ("f = sum(sigmoid(X*w)) + alpha*norm2(w)^2 + beta*norm1(w)", {"shapes": {"X": "N,d"}}),
    ("y = softmax(W*x + b)", {"mode": "jacobian"}),
    ("x'*A*x + sum(exp(x))", {"mode": "hessian"}),
    ("a + b + c + d + e + f1 + g + h + k + m + p + q + r + s + t + u + v + w + z", {}),
]

# Print every output of every program (in the order given on the command line) as JSON.
SCRIPT = r"""
import json, sys
import matcalc
programs = json.loads(sys.argv[1])
out = {}
for key, program, options in programs:
    d = matcalc.derive(program, **options)
    gradient = options.get("mode", "gradient") == "gradient"
    steps = {"steps": True} if gradient else {}
    entry = {
        "text": d.text(**steps),
        "latex": d.latex(standalone=True, **steps),
        "numpy": d.numpy_code(**steps),
        "json": json.dumps(d.to_json(**steps), indent=2, ensure_ascii=False),
        "repr": repr(d),
    }
    if gradient and hasattr(d, "codegen"):
        entry["codegen"] = d.codegen()
    out[key] = entry
sys.stdout.write(json.dumps(out, sort_keys=True))
"""


def outputs_in_a_process(seed: str, order) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    programs = [(str(i), PROGRAMS[i][0], PROGRAMS[i][1]) for i in order]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(programs)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def first_run():
    return outputs_in_a_process("0", range(len(PROGRAMS)))


@pytest.fixture(scope="module")
def second_run():
    # another hash seed, and the programs in reverse order
    return outputs_in_a_process("4242", reversed(range(len(PROGRAMS))))


@pytest.mark.parametrize("i", range(len(PROGRAMS)), ids=[p[:30] for p, _ in PROGRAMS])
def test_outputs_are_byte_identical_across_hash_seeds_and_orders(i, first_run, second_run):
    a, b = first_run[str(i)], second_run[str(i)]
    assert a.keys() == b.keys()
    for fmt in a:
        assert a[fmt] == b[fmt], f"{fmt} differs between PYTHONHASHSEED=0 and 4242"


def test_generated_code_is_produced_for_the_gradient_programs(first_run):
    with_code = [k for k, v in first_run.items() if "codegen" in v]
    assert len(with_code) >= 8


def _all_outputs(program, options) -> dict:
    d = matcalc.derive(program, **options)
    gradient = options.get("mode", "gradient") == "gradient"
    steps = {"steps": True} if gradient else {}
    out = {"text": d.text(**steps), "latex": d.latex(**steps),
           "numpy": d.numpy_code(**steps), "json": json.dumps(d.to_json(**steps))}
    if gradient and hasattr(d, "codegen"):
        out["codegen"] = d.codegen()
    return out


@pytest.mark.parametrize("program, options", PROGRAMS, ids=[p[:30] for p, _ in PROGRAMS])
def test_deriving_again_in_the_same_process_gives_the_same_bytes(program, options):
    first = _all_outputs(program, options)
    for other, other_options in PROGRAMS:            # fill the interning table with others
        matcalc.derive(other, **other_options)
    assert _all_outputs(program, options) == first


def test_variable_order_follows_the_text_not_a_hash():
    d = matcalc.derive("zeta*sum(q) + sum(b) + sum(M*a) + alpha*sum(c)")
    assert list(d) == ["zeta", "q", "b", "M", "a", "alpha", "c"]
    assert list(d.to_json()["inputs"]) == list(d)
