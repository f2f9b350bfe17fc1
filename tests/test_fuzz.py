"""Fuzzing: every input is derived or refused with a MatcalcError, in under a second.

The harness lives in `benchmarks/fuzz.py` (which runs 100,000 inputs with a summary); here
it runs a few thousand with a fixed seed (hypothesis's `derandomize`), family by family, so
that a failure names the kind of input that caused it. Each test collects every bad outcome
of its run and reports them all at once, instead of stopping at the first.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"
_spec = importlib.util.spec_from_file_location("matcalc_benchmark_fuzz", _PATH)
fuzz = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fuzz
_spec.loader.exec_module(fuzz)


@pytest.fixture(scope="module", autouse=True)
def warm():
    fuzz.warm_up()       # build the parser, import NumPy: no input is charged for it


def _describe(bad) -> str:
    lines = [f"{len(bad)} bad outcomes:"]
    seen = set()
    for out in bad:
        key = (out.status, out.detail.split("\n")[0][:80])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"  [{out.status}] {out.case}\n      {out.detail[:400]}")
        if len(seen) >= 15:
            break
    return "\n".join(lines)


def _fuzz(strategy, n: int, deep: float = 0.0):
    outcomes = fuzz.run_many(strategy, n, derandomize=True, deep=deep)
    assert len(outcomes) >= n * 0.9
    bad = [o for o in outcomes if o.bad]
    if bad:
        pytest.fail(_describe(bad), pytrace=False)
    return outcomes


def test_random_text_and_bytes_are_derived_or_refused_with_a_span():
    _fuzz(fuzz.random_text(), 800)


def test_shape_blind_grammar_expressions_are_derived_or_refused_with_a_span():
    _fuzz(fuzz.grammar_programs(), 600)


def test_well_shaped_programs_derive_in_every_layout_and_mode():
    outcomes = _fuzz(fuzz.typed_programs(), 600)
    # well-shaped by construction: refusals are only the modes' own limits (a Hessian of
    # a non-scalar output) and constants whose size no variable fixes (sum(vector(2)))
    refused = [o for o in outcomes if o.status == "refused"
               and "needs a scalar output" not in o.detail and "is not fixed" not in o.detail]
    if refused:
        pytest.fail(_describe(refused), pytrace=False)


def test_mutated_programs_are_derived_or_refused_with_a_span():
    _fuzz(fuzz.mutated_programs(), 700)


def test_odd_options_are_derived_or_refused():
    _fuzz(fuzz.option_programs(), 300)


def test_printed_numpy_and_generated_code_agree_on_random_inputs():
    # the `numpy` field of the JSON runs and has the shape the JSON states; the generated
    # module's gradient() gives the same numbers; the finite-difference check passes
    outcomes = fuzz.run_many(fuzz.typed_programs(), 120, derandomize=True, deep=1.0)
    wrong = [o for o in outcomes if o.deep]
    if wrong:
        pytest.fail(f"{len(wrong)} of {len(outcomes)} derivations compute wrongly:\n" +
                    "\n".join(f"{o.case}\n    " + "\n    ".join(o.deep) for o in wrong[:12]),
                    pytrace=False)


# Inputs that once escaped, hung or printed something that does not compute: each must be
# derived (and its NumPy and generated code must run) or refused with a spanned message.
HARD = [
    ("2^9999999999*alpha", {}),                 # constant folding of a huge power
    ("alpha^(2^99999)", {}),                     # an exponent no float holds
    ("1e308*1e308*x", {}),                       # folds to inf, printed as a name `inf`
    ("f = sum(1e308*x)*1e308", {}),
    ("2", {}),                                   # no variable at all
    ("f = 2", {}),
    ("x = 1; f = x", {}),
    ("vector(10)", {}),                          # a size that no variable gives
    ("logdet(2*eye) + sum(x)", {}),
    ("np = -+matrix(0)", {}),
    ("f = sum(dtype .* x)", {}),                 # a variable named like codegen's locals
    ("f = sum(forward .* gradient) + sum(SHAPES)", {}),
    ("f = lambda*sum(np) + sum(import) + sum(print)", {}),
    ("lambda_/lambda", {}),                      # lambda is spelled lambda_ in Python...
    ("f = sum(lambda .* lambda_)", {}),          # ...and so is the variable lambda_
    ("t1 = vector(3)\n2", {}),                   # a size no variable gives, unused
    ("f = sum((x # the input\n + x) * y)", {}),  # an operand quoted across lines
    ("h = beta^(1/2); sum(C)", {}),              # variables the output does not use
    ("h = 2*x; f = sum(y)", {}),
    ("x = 2*x", {}),
    ("h = w; z = x'; 2", {}),
    ("h = b'\nz = (K/gamma)*(inv(W/lambda)*(-w2))\nf = (sum(matrix(eta)))*(z .* x_0)",
     {"shapes": {"K": "m,n", "W": "n,n", "w2": "n"}, "layout": "mixed"}),
    ("9" * 5000 + "*x", {}),
    ("1" + "0" * 400 + "*x", {}),
    ("x^" * 150 + "x", {}),
    ("-" * 150 + "x", {}),
]


@pytest.mark.parametrize("program, options", HARD, ids=[p[:40] for p, _ in HARD])
def test_hard_input_is_derived_and_computes_or_is_refused(program, options):
    out = fuzz.run_case(fuzz.Case("hard", program, dict(options)), deep=True)
    if out.bad:
        pytest.fail(f"[{out.status}] {out.detail}", pytrace=False)
    if out.deep:
        pytest.fail("\n".join(out.deep), pytrace=False)


def test_index_notation_is_derived_or_refused_with_a_span():
    outcomes = _fuzz(fuzz.index_programs(), 600, deep=0.2)
    assert sum(o.status == "ok" for o in outcomes) > 60     # not only refusals

