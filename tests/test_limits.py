"""Resource limits: huge, deep and long inputs end in well under a second each.

Each input is either derived (and printed as text, LaTeX, NumPy, JSON and generated code)
or refused with a clear `MatcalcError`; never a `RecursionError`, never a blow-up
(quadratic in the input, or exponential in a program that reuses its intermediates).
The limits themselves (`matcalc.parse.MAX_DEPTH`, `MAX_SOURCE_CHARS`) are module
constants, so they can be configured.
"""
import json
import signal
import time

import pytest

import matcalc
import matcalc.parse
from matcalc.errors import MatcalcError

N = 10_000
# Seconds per input, everything included. Here they guard against blow-ups (quadratic or
# exponential time); the times themselves, well under a second on an idle machine, are
# measured by benchmarks/fuzz.py, since test machines are shared and noisy.
BUDGET = 4.0
HARD_STOP = 8.0       # an input still running then is stopped (and fails)


class _Stopped(BaseException):
    pass


def _stop(signum, frame):
    raise _Stopped()


@pytest.fixture(scope="module", autouse=True)
def warm():
    d = matcalc.derive("h = relu(W*x); f = sum(h)")     # build the parser, load NumPy
    d.text(), d.latex(), d.numpy_code(), d.to_json()
    if hasattr(d, "codegen"):
        d.codegen()


def run(program: str):
    """('derived', seconds, text) or ('refused', seconds, rendered message); fails the test
    on any other exception and on an input still running after HARD_STOP seconds."""
    old = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, HARD_STOP)
    start = time.perf_counter()
    stages = []                                    # (stage, seconds since start)
    problem = None
    try:
        d = matcalc.derive(program)
        stages.append(("derive", time.perf_counter() - start))
        text = d.text()
        d.latex()
        d.numpy_code()
        json.dumps(d.to_json())
        stages.append(("print", time.perf_counter() - start))
        # (generated code is not part of these limits yet: on 10,000-term inputs it is
        # slow, a known gap of the code generator, see the closing note of issue 7)
        return "derived", time.perf_counter() - start, text
    except MatcalcError as err:
        return "refused", time.perf_counter() - start, err.render()
    except _Stopped:
        problem = f"still running after {HARD_STOP:g} s"
    except Exception as exc:  # noqa: BLE001
        problem = (f"{type(exc).__name__} escaped after {time.perf_counter() - start:.2f} s: "
                   f"{str(exc)[:200]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    done = ", ".join(f"{stage} done at {t:.2f} s" for stage, t in stages) or "in derive"
    pytest.fail(f"{problem} ({done})", pytrace=False)


def within_budget(seconds: float, status: str) -> None:
    assert seconds < BUDGET, f"{status} in {seconds:.2f} s (the budget is {BUDGET:g} s)"


def chain(n: int, first: str, step: str, last: str, sep: str = "; ") -> str:
    """a1 = first; a2 = step(a1); ...; last(an)"""
    lines = [f"a1 = {first}"] + [f"a{i} = {step.format(p=f'a{i - 1}')}" for i in range(2, n + 1)]
    return sep.join(lines + [last.format(p=f"a{n}")])


# ---- deep nesting: refused at the limit, with the place and a way out ---------------------

NESTED = {
    "parentheses": "(" * N + "x" + ")" * N,
    "calls": "exp(" * N + "x" + ")" * N,
    "signs": "-" * N + "x",
    "powers": "alpha^" * N + "alpha",
    "mixed": "(-exp(" * (N // 3) + "x" + "))" * (N // 3),
}


@pytest.mark.parametrize("program", NESTED.values(), ids=NESTED.keys())
def test_ten_thousand_levels_of_nesting_are_refused_quickly_with_a_clear_message(program):
    status, seconds, message = run(program)
    assert status == "refused"
    first, _, _, hint = message.split("\n")
    assert first.endswith(f"nesting too deep: more than {matcalc.parse.MAX_DEPTH} levels of "
                          "parentheses, calls, signs or powers")
    assert hint == "split the expression into named steps: t = ...; y = ..."
    within_budget(seconds, status)


def test_ten_thousand_postfix_transposes_are_derived_or_refused_quickly():
    status, seconds, _ = run("x" + "'" * N)
    within_budget(seconds, status)


def test_the_nesting_limit_is_configurable(monkeypatch):
    monkeypatch.setattr(matcalc.parse, "MAX_DEPTH", 20)
    status, _, message = run("(" * 21 + "x" + ")" * 21)
    assert status == "refused" and "more than 20 levels" in message
    status, _, _ = run("(" * 20 + "x" + ")" * 20)
    assert status == "derived"


# ---- long programs and wide expressions: derived, linear in their length -----------------

LONG = {
    "statements_separated_by_semicolons": chain(N, "2*x", "2*{p}", "f = sum({p})"),
    "statements_on_new_lines": chain(N, "2*x", "2*{p}", "f = sum({p})", sep="\n"),
    "statements_each_adding_a_variable": chain(N, "x", "{p} + 2*x", "f = sum({p})"),
    "sum_of_one_name": " + ".join(["x"] * N),
    "sum_of_distinct_names": " + ".join(f"x{i}" for i in range(N)),
    "difference_chain": " - ".join(["x"] * N),
    "matrix_product_chain": "*".join(["A"] * N),
    "elementwise_product_chain": " .* ".join(["x"] * N),
    "scalar_product_chain": "*".join(["alpha"] * N),
}


@pytest.mark.parametrize("program", LONG.values(), ids=LONG.keys())
def test_ten_thousand_statements_or_terms_are_derived_in_under_a_second(program):
    status, seconds, _ = run(program)
    within_budget(seconds, status)


def test_ten_thousand_term_sum_derives_to_ten_thousand_times_the_upstream():
    status, _, text = run(" + ".join(["x"] * N))
    assert status == "derived"
    assert text.splitlines()[-1] == "dL/dx = 10000*dy"


# ---- programs that reuse an intermediate twice at every step: a DAG, not a tree ----------
# a_k = a_{k-1} .* a_{k-1} inlines to a tree of 2^k leaves; the IR shares them, so the
# work must stay linear in k.

DOUBLING = {
    "elementwise_square_40_times": chain(40, "x .* x", "{p} .* {p}", "f = sum({p})"),
    "sum_doubled_40_times": chain(40, "x + x", "{p} + {p}", "f = sum({p})"),
    "product_squared_40_times": chain(40, "A*A", "{p}*{p}", "f = tr({p})"),
    "exp_of_sum_doubled_30_times": chain(30, "exp(x)", "exp({p}) + {p}", "f = sum({p})"),
}


@pytest.mark.parametrize("program", DOUBLING.values(), ids=DOUBLING.keys())
def test_reusing_an_intermediate_at_every_step_does_not_blow_up(program):
    status, seconds, _ = run(program)
    within_budget(seconds, status)


# ---- megabyte inputs ------------------------------------------------------------------

MEGABYTE = 1 << 20

BIG = {
    "a_megabyte_sum": (" + ".join(["x"] * (MEGABYTE // 4)))[:MEGABYTE],
    "a_megabyte_comment": "# " + "c" * (MEGABYTE - 20) + "\nsum(x)",
    "just_under_the_limit_comment": "# " + "c" * (matcalc.parse.MAX_SOURCE_CHARS - 20)
                                    + "\nsum(x)",
    "a_megabyte_name": "x" * (matcalc.parse.MAX_SOURCE_CHARS - 10),
    "a_megabyte_number": "1" * (matcalc.parse.MAX_SOURCE_CHARS - 10) + "*x",
    "a_megabyte_of_newlines": "\n" * (MEGABYTE - 10) + "sum(x)",
    "a_megabyte_of_spaces": "sum(x)" + " " * (matcalc.parse.MAX_SOURCE_CHARS - 10),
}


@pytest.mark.parametrize("program", BIG.values(), ids=BIG.keys())
def test_a_megabyte_input_is_derived_or_refused_in_under_a_second(program):
    status, seconds, _ = run(program)
    within_budget(seconds, status)


def test_an_input_over_the_size_limit_is_refused_by_its_length():
    status, seconds, message = run("x + " * (MEGABYTE // 4) + "x")
    assert status == "refused"
    assert message == (f"input too long: {MEGABYTE + 1:,} characters "
                       f"(the limit is {matcalc.parse.MAX_SOURCE_CHARS:,})")
    within_budget(seconds, status)


def test_the_size_limit_is_configurable(monkeypatch):
    monkeypatch.setattr(matcalc.parse, "MAX_SOURCE_CHARS", 100)
    status, _, message = run("x + " * 30 + "x")
    assert status == "refused" and message.startswith("input too long: 121 characters")
