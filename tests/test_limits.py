"""Resource limits: huge, deep and long inputs end in well under a second each.

Each input is either derived (and printed as text, LaTeX, NumPy, JSON and generated code)
or refused with a clear `MatcalcError`; never a `RecursionError`, never a blow-up
(quadratic in the input, or exponential in a program that reuses its intermediates).
The limits themselves are module constants, so they can be configured:
`matcalc.parse.MAX_SOURCE_CHARS` (1,000,000 characters), `MAX_TOKENS` (100,000 names,
numbers and operators), `MAX_STATEMENTS` (2,000), `MAX_DEPTH` (200 levels of nesting),
`matcalc.shapes.MAX_VARIABLES` (10,000), `matcalc.expr.WORK_LIMIT` (operands built by one
derivation) and `matcalc.derivation.PRINT_LIMIT` (terms of one printed formula).
"""
import json
import signal
import time

import pytest
from cpu_budget import budget as scaled
from cpu_budget import own_work

import matcalc
import matcalc.parse
import matcalc.shapes
from matcalc.errors import MatcalcError

N = 10_000
# Seconds of this process's CPU time per input, everything included (CPU time, not wall
# time: the machines are shared, and another process's load must not fail a test). Here
# they guard against blow-ups (quadratic or exponential time); the times themselves, well
# under a second on an idle machine, are measured by benchmarks/fuzz.py. A machine slower
# than the development one gets proportionally more (`cpu_budget.budget`).
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
    hard_stop = scaled(HARD_STOP)
    old = signal.signal(signal.SIGPROF, _stop)
    signal.setitimer(signal.ITIMER_PROF, hard_stop)
    start = time.process_time()
    stages = []                                    # (stage, seconds since start)
    problem = None
    try:
        with own_work():                  # the input's own work (tests/cpu_budget.py)
            d = matcalc.derive(program)
            stages.append(("derive", time.process_time() - start))
            text = d.text()
            d.latex()
            d.numpy_code()
            json.dumps(d.to_json())
            stages.append(("print", time.process_time() - start))
        # (generated code is not part of these limits yet: on 10,000-term inputs it is
        # slow, a known gap of the code generator, see the closing note of issue 7)
        return "derived", time.process_time() - start, text
    except MatcalcError as err:
        return "refused", time.process_time() - start, err.render()
    except _Stopped:
        problem = f"still running after {hard_stop:.3g} s"
    except Exception as exc:  # noqa: BLE001
        problem = (f"{type(exc).__name__} escaped after {time.process_time() - start:.2f} s: "
                   f"{str(exc)[:200]}")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    done = ", ".join(f"{stage} done at {t:.2f} s" for stage, t in stages) or "in derive"
    pytest.fail(f"{problem} ({done})", pytrace=False)


def within_budget(seconds: float, status: str) -> None:
    limit = scaled(BUDGET)
    assert seconds < limit, f"{status} in {seconds:.2f} s (the budget is {limit:.3g} s)"


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


# ---- at the limits: derived, or refused by the limit's own message ----------------------

def test_the_two_ten_thousand_term_sums_are_derived_and_printed_as_text():
    # (as text: NumPy code for 10,000 variables is quadratic today, 4 s here, see issue 7)
    for program, last in [(" + ".join(f"x{i}'*x{i}" for i in range(N)), "df/dx9999 = 2*x9999"),
                          (" + ".join(["x'*A*x"] * N), "df/dA = 10000*x*x'")]:
        with own_work():
            start = time.process_time()
            text = matcalc.derive(program).text()
            seconds = time.process_time() - start
        assert text.splitlines()[-1] == last
        within_budget(seconds, "derived")


def test_a_program_at_the_statement_limit_is_derived_and_one_more_is_refused():
    n = matcalc.parse.MAX_STATEMENTS - 1
    program = "; ".join([f"t{i} = x{i}'*A*x{i}" for i in range(n)]
                        + ["f = " + " + ".join(f"t{i}" for i in range(n))])
    status, seconds, text = run(program)
    lines = text.splitlines()
    # the layout and inputs lines, then a formula for each variable
    assert status == "derived" and len(lines) == 2 + n + 1
    assert lines[1].startswith("# inputs: x0 n (vector by its name), A n x n (matrix by its ")
    assert lines[2] == "df/dx0 = (A + A')*x0" and lines[-1] == "df/dx1998 = (A + A')*x1998"
    assert lines[3].startswith("df/dA = x0*x0' + x1*x1' + ") and lines[3].endswith(" + x1998*x1998'")
    within_budget(seconds, status)
    status, _, message = run(program + "; g = f")
    assert status == "refused" and "program too long: more than 2,000 statements" in message


def test_nesting_at_the_limit_is_derived():
    depth = matcalc.parse.MAX_DEPTH
    status, seconds, text = run("(" * (depth // 2) + "-(" * (depth // 4) + "x'*x"
                                + ")" * (depth // 4) + ")" * (depth // 2))
    assert status == "derived" and text.splitlines()[-1] == "df/dx = 2*x"
    within_budget(seconds, status)


def test_a_megabyte_of_names_and_operators_is_refused_by_their_count():
    program = " + ".join(["sum(x)"] * 111_111)                  # 999,996 characters
    status, seconds, message = run(program)
    assert status == "refused"
    assert message.splitlines()[0].endswith(
        "input too long: more than 100,000 names, numbers and operators "
        "(matcalc.parse.MAX_TOKENS)")
    within_budget(seconds, status)


def test_the_token_limit_is_configurable(monkeypatch):
    monkeypatch.setattr(matcalc.parse, "MAX_TOKENS", 10)
    status, _, message = run("a + b + c + d + e + f")
    assert status == "refused"
    assert message.splitlines()[0] == ("line 1, column 21: input too long: more than 10 names, "
                                       "numbers and operators (matcalc.parse.MAX_TOKENS)")
    status, _, _ = run("a + b + c + d + e")
    assert status == "derived"


def test_more_variables_than_the_limit_are_refused_at_the_first_one_too_many(monkeypatch):
    monkeypatch.setattr(matcalc.shapes, "MAX_VARIABLES", 3)
    status, _, message = run("sum(a + b) + sum(c) + sum(d)")
    assert status == "refused"
    assert message.splitlines() == [
        "line 1, column 27: too many variables: more than 3 (matcalc.shapes.MAX_VARIABLES)",
        "  sum(a + b) + sum(c) + sum(d)",
        "                            ^"]
    status, _, _ = run("sum(a + b) + sum(c) + sum(a)")
    assert status == "derived"
