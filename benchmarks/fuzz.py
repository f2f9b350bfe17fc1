"""Fuzz the whole pipeline: every input either derives or is refused with a MatcalcError.

    python benchmarks/fuzz.py                 # 100,000 inputs, 2 worker processes
    python benchmarks/fuzz.py -n 5000 --workers 1 --deep 0.2

Inputs come from hypothesis strategies, in eleven families (``--family`` picks some):

- ``text``: random Unicode strings, random bytes decoded as UTF-8 (errors="replace"), and
  strings over the characters of matcalc's own language;
- ``grammar``: expressions generated from the grammar with no regard for shapes (mostly
  ill-shaped), over names that are Python keywords and builtins, odd numbers (``1e999``,
  ``nan``, long digit strings), unknown functions and wrong arities;
- ``typed``: programs that are well-shaped by construction (a small type system over
  scalars, rows, columns and matrices), in every layout and mode;
- ``mutation``: valid programs with tokens dropped, duplicated, swapped or replaced,
  operators swapped, arities changed, numbers made huge or infinite, names made Python
  keywords or unusual Unicode letters and combining marks;
- ``options``: valid programs with odd declarations, layouts, kinds, modes and --wrt;
- ``notes``: the spellings of notes and papers (issue 14): well-shaped programs written
  with ^T, ᵀ, X^{-1}, ||x||, σ, Greek letters and implicit products, each of which must
  derive to the very formulas of its program; the same programs printed in LaTeX and read
  back (--from latex); sums, means, softmax and logsumexp along a dimension; and all of
  these mutated (tokens and LaTeX commands dropped, doubled, swapped, replaced).
- ``index``: index notation (issue 16): statements and indexed products over tensors of
  every order (and one too many), with broadcasts, functions, later statements, odd
  declarations and a little breakage.
- ``outer``, ``signs``, ``comments``, ``sizes`` (issue 12): outer-product chains under the
  independent Jacobian/Hessian oracle, scalars whose sign matters under matcalc's check
  and that oracle, comments full of quotes and backslashes in modules imported in a
  watched process, and huge declared sizes under the default check (see their block).

Each input runs the whole pipeline (parse -> shapes -> derive -> simplify -> layout ->
text, LaTeX, NumPy, JSON, steps -> codegen) under a wall-clock limit. The outcome is one of

- ``ok``: derived and printed;
- ``refused``: a ``MatcalcError`` whose ``render()`` works and whose span, where the input
  has one to point at, lies inside the input;
- a finding: ``escape`` (any other exception), ``hang`` (over the hard limit), ``slow``
  (over one second), ``nospan``/``badspan`` (a user error that points nowhere or outside the
  input), ``output`` (a printed formula that is not what it claims: NumPy or generated code
  that does not compile, text that does not parse back), ``misread`` (a spelling of notes
  that derives, but not to the formulas of the program it spells), ``noninert`` (a
  generated module that does more on import than define names), ``verdict`` and
  ``alloc`` (a check at a huge size without a verdict, or allocating at that size).

A check's NOT CHECKED whose reason is that the output does not move with the variable
(every path vanishes, underflows or is subnormal at every point tried) is no finding:
no finite difference can tell a right formula from a wrong one there, and saying so is
the right answer. The exit status is 1 when there is an escape, hang, slow input, misread or
non-inert module.

With ``--deep F`` a fraction F of the derived inputs is also evaluated: every ``numpy``
expression of the JSON on random inputs (it must run and give the shape the JSON states),
the generated module against those expressions, and the finite-difference check. Its
findings (``deep``) are listed apart: they are wrong answers, not crashes.

`tests/test_fuzz.py` imports this module and runs a few thousand inputs with a fixed seed.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import gc
import json
import multiprocessing
import os
import re
import resource
import signal
import sys
import time
import traceback
import zlib

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import matcalc
from matcalc.errors import MatcalcError

SLOW_SECONDS = 1.0        # an input that takes longer is a finding
HARD_LIMIT_SECONDS = 5.0  # an input still running then is stopped and counted as a hang


# =========================================================================================
# Running one input

@dataclasses.dataclass
class Case:
    """One fuzz input: the program and the keyword arguments of `matcalc.derive`."""

    family: str
    program: str
    options: dict = dataclasses.field(default_factory=dict)
    extra: dict = dataclasses.field(default_factory=dict)   # what a family's own check needs
    same_as: str | None = None      # a spelling of this program: the same formulas, or none
    compare: str = "text"           # how: "text" (every line printed), "output" (its IR)
    same_options: dict | None = None    # the options of same_as, if not the case's own

    def __str__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"derive({_short(self.program)}{opts})"


@dataclasses.dataclass
class Outcome:
    case: Case
    status: str                 # ok, refused, escape, hang, slow, nospan, badspan, output,
                                # misread
    seconds: float
    detail: str = ""            # exception type and message, or what is wrong
    derived: bool = False
    deep: list | None = None    # findings of the deep checks (None: not run)
    notes: list = dataclasses.field(default_factory=list)    # tallied, not findings
    modules: list = dataclasses.field(default_factory=list)  # (kind, source) to import

    @property
    def bad(self) -> bool:
        return self.status not in ("ok", "refused")


class HardLimit(BaseException):
    """Raised by the alarm inside a run that takes too long (a BaseException, so that no
    `except Exception` in the core swallows it)."""


def _alarm(signum, frame):
    raise HardLimit()


def _short(text: str, limit: int = 160) -> str:
    r = repr(text)
    return r if len(r) <= limit else r[:limit - 20] + f"...<{len(text)} chars>" + r[-12:]


def _exc_line(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)
    frame = next((f for f in reversed(where) if "/matcalc/" in f.filename
                  or "/rules/" in f.filename), where[-1] if where else None)
    at = f" at {os.path.basename(frame.filename)}:{frame.lineno} ({frame.name})" if frame else ""
    return f"{type(exc).__name__}: {str(exc)[:200]}{at}"


# Messages about the whole input or about an option have nothing in the text to point at.
_SPANLESS = ("empty input", "input too long", "--", "unknown layout", "unknown mode",
             "unknown --kinds", "bad --shape", "bad claim", "the program must be")


def _needs_span(err: MatcalcError, program: str) -> bool:
    if getattr(err, "kind", "") == "option" or not program.strip():
        return False
    return not err.message.startswith(_SPANLESS)


def _check_error(err: MatcalcError, program: str) -> tuple[str, str]:
    """('refused', '') for a well-formed user error, else a finding."""
    try:
        rendered = err.render()
    except Exception as exc:  # noqa: BLE001
        return "escape", f"render() raised {_exc_line(exc)}"
    detail = f"{type(err).__name__}: {rendered}"
    if not isinstance(rendered, str) or not rendered.strip():
        return "badspan", "render() gave no text"
    if "\n" in err.message:
        return "badspan", f"the message itself spans lines; {detail}"
    if err.span is None:
        if _needs_span(err, program):
            return "nospan", detail
        return "refused", detail
    start, end = err.span.start, err.span.end
    if not (0 <= start <= end <= len(program)) or err.source != program:
        return "badspan", f"span {err.span} of a {len(program)}-character input; {detail}"
    lines = rendered.split("\n")
    if len(lines) < 3 or not lines[2].strip() or set(lines[2].strip()) != {"^"}:
        return "badspan", f"no caret line; {detail}"
    return "refused", detail


def _pipeline(case: Case):
    """Derive and print everything; returns the derivation."""
    d = matcalc.derive(case.program, **case.options)
    gradient_mode = case.options.get("mode", "gradient") == "gradient"
    steps = {"steps": True} if gradient_mode else {}
    for name in d:
        der = d[name]
        der.text, der.latex, der.numpy, der.shape  # noqa: B018
    d.text(**steps)
    d.latex(standalone=True, **steps)
    d.numpy_code(**steps)
    json.dumps(d.to_json(**steps), allow_nan=False, ensure_ascii=False)
    if hasattr(d, "codegen"):
        d.codegen()
    return d


def _huge_power(code: str) -> str | None:
    """The first `int ** int` in Python code whose value has over a million digits: Python
    computes it exactly, for seconds to hours, and no signal interrupts it."""
    import ast
    import math

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and all(
                isinstance(v, ast.Constant) and type(v.value) is int
                for v in (node.left, node.right)):
            base, exp = abs(node.left.value), node.right.value
            digits = exp * math.log10(base) if base > 1 and exp > 0 else 0
            if digits > 1_000_000:
                return f"{node.left.value} ** {node.right.value} ({digits:.2g} digits)"
    return None


def _output_problems(d, case: Case) -> list[str]:
    """Printed formulas that are not what they claim (cheap, syntactic)."""
    from matcalc.parse import parse

    problems = []
    gradient_mode = case.options.get("mode", "gradient") == "gradient"
    for name in d:
        der = d[name]
        try:
            compile(der.numpy, "<numpy>", "eval")
        except SyntaxError as exc:
            problems.append(f"numpy of {name} does not compile: {der.numpy!r} ({exc.msg})")
        huge = _huge_power(der.numpy)
        if huge:
            problems.append(f"numpy of {name} computes the integer {huge} exactly")
        text = der.text
        if gradient_mode and "\n" not in text and text.strip():
            try:
                parse(text)
            except MatcalcError as exc:
                problems.append(f"text of {name} does not parse back: {text!r} "
                                f"({exc.message})")
    js = d.to_json()
    renamed = js.get("python_names", {})
    names = list(js["inputs"]) + ([js["upstream"]["name"]] if js.get("upstream") else [])
    spelled = [renamed.get(n, n) for n in names]
    clashes = sorted({p for p in spelled if spelled.count(p) > 1})
    if clashes:
        problems.append(f"two names are spelled {', '.join(clashes)} in NumPy "
                        f"(python_names {renamed})")
    if hasattr(d, "codegen"):
        try:
            compile(d.codegen(), "<codegen>", "exec")
        except SyntaxError as exc:
            problems.append(f"generated code does not compile: line {exc.lineno}: {exc.msg}")
    return problems


def _misread(d, case: Case) -> str:
    """'' if the spelling derives the formulas of the program it spells (compared as text:
    inputs, steps, formulas), else what differs. Names the LaTeX printer writes otherwise
    (x_0 is read back as x0) leave nothing to compare."""
    try:
        canonical = matcalc.derive(case.same_as, notation="matcalc", **_same_options(case))
    except MatcalcError as err:
        return f"the program it spells is refused: {err.message[:160]}"
    if set(canonical.inputs) != set(d.inputs):
        return ""
    if case.compare == "output":         # a program read from LaTeX: its output, inlined
        return _same_value(d.output, canonical.output, case)
    steps = {"steps": True} if case.options.get("mode", "gradient") == "gradient" else {}
    ours, theirs = d.text(**steps), canonical.text(**steps)
    if ours == theirs:
        return ""
    diff = next((f"{a!r} != {b!r}" for a, b in zip(ours.splitlines(), theirs.splitlines())
                 if a != b), "a line more or less")
    return f"derives otherwise than {_short(case.same_as, 100)}: {diff[:240]}"


def _same_options(case: Case) -> dict:
    options = case.same_options if case.same_options is not None else case.options
    return {k: v for k, v in options.items() if k != "notation"}


def _same_value(ours, theirs, case: Case) -> str:
    """'' if two outputs have one value at a random point (every symbolic dimension a size
    of its own, entries in [0.5, 1.5], square matrices made well conditioned), else what
    differs."""
    import numpy as np

    from matcalc.evaluate import evaluate
    from matcalc.expr import variables
    if ours.shape != theirs.shape:
        return f"reads as shape {ours.shape}, not {theirs.shape}"
    shapes = {v.name: v.shape for v in variables(theirs)}
    for v in variables(ours):
        if shapes.get(v.name, v.shape) != v.shape:
            return f"reads {v.name} as {v.shape}, not {shapes[v.name]}"
    rng = np.random.default_rng(zlib.crc32(case.program.encode("utf-8", "replace")))
    dims: dict = {}
    for v in list(variables(ours)) + list(variables(theirs)):
        for d in v.shape:
            if isinstance(d, str) and d not in dims:
                dims[d] = 2 + len(dims) % 4
    values = {}
    for v in list(variables(ours)) + list(variables(theirs)):
        r, c = (dims.get(d, d) for d in v.shape)
        x = rng.uniform(0.5, 1.5, (r, c))
        values[v.name] = x + 3 * np.eye(r) if r == c and r > 1 else x
    with np.errstate(all="ignore"):
        try:
            a, b = evaluate(ours, values, dims), evaluate(theirs, values, dims)
        except (np.linalg.LinAlgError, KeyError, ValueError):
            return ""
    if np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
        return ""
    return f"reads otherwise than {_short(case.same_as, 100)}: {a.ravel()[:3]} != {b.ravel()[:3]}"


def _derives(case: Case) -> bool:
    """Whether the program a spelling spells derives (then the spelling must too)."""
    try:
        matcalc.derive(case.same_as, notation="matcalc", **_same_options(case))
    except MatcalcError:
        return False
    return True


def timed(fn, limit: float = HARD_LIMIT_SECONDS):
    """(value of fn() or None, seconds, the exception it raised or None) under a
    wall-clock limit (a HardLimit when it runs out). The cyclic garbage collector is
    paused meanwhile, so that a full collection of the harness's own heap (hypothesis
    keeps a great deal) is not charged to whichever input triggers it."""
    collecting = gc.isenabled()
    gc.disable()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    value, error = None, None
    try:
        value = fn()
    except (HardLimit, Exception) as exc:  # noqa: BLE001  (RecursionError included)
        error = exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if collecting:
            gc.enable()
    return value, time.perf_counter() - start, error


def run_case(case: Case, deep: bool = False, limit: float = HARD_LIMIT_SECONDS) -> Outcome:
    """Run one input through the whole pipeline under a wall-clock limit, then the checks
    of its family (FAMILY_CHECKS) or, with `deep`, the deep checks."""
    d, seconds, exc = timed(lambda: _pipeline(case), limit)
    if exc is None:
        status, detail = "ok", ""
    elif isinstance(exc, HardLimit):
        status, detail = "hang", f"stopped after {limit:.0f} s in {_exc_line(exc)}"
    elif isinstance(exc, MatcalcError):
        status, detail = _check_error(exc, case.program)
    else:
        status, detail = "escape", _exc_line(exc)
    out = Outcome(case, status, seconds, detail, derived=status == "ok")
    if status == "ok" and case.same_as is not None:
        try:
            misread = _misread(d, case)
        except Exception as exc:  # noqa: BLE001
            out.status, out.detail = "escape", f"comparing the spelling: {_exc_line(exc)}"
            return out
        if misread:
            out.status, out.detail = "misread", misread
            return out
    if status == "refused" and case.same_as is not None and _derives(case):
        out.status = "misread"
        out.detail = f"refused, though {_short(case.same_as, 100)} derives: {detail[:200]}"
        return out
    if status == "ok":
        problems = _output_problems(d, case)
        if problems:
            out.status, out.detail = "output", "; ".join(problems)
        elif seconds > SLOW_SECONDS:
            out.status, out.detail = "slow", f"{seconds:.2f} s"
    elif status == "refused" and seconds > SLOW_SECONDS:
        out.status, out.detail = "slow", f"{seconds:.2f} s (refused: {detail[:200]})"
    if case.family in FAMILY_CHECKS:
        FAMILY_CHECKS[case.family](out, d, deep)
    elif deep and out.derived:
        out.deep = deep_check(d, case)
    return out


# =========================================================================================
# Deep checks: the printed NumPy expressions and the generated code, evaluated

def _sizes_and_values(d, rng):
    """Random sizes for the symbolic dimensions and random values for the inputs and the
    upstream gradient, in the NumPy conventions of SPEC section 4."""
    import numpy as np

    js = d.to_json()
    sizes: dict = {}

    def size(dim):
        # the first dimensions met are the larger (rows before columns, N before d), so
        # that a Gram matrix X'X of a tall X is invertible
        if isinstance(dim, int):
            return dim
        if dim not in sizes:
            sizes[dim] = max(2, 7 - len(sizes)) + (dim[:1].isupper())
        return sizes[dim]

    def value(shape, two_d_row):
        dims = [size(x) for x in shape]
        if not dims:
            return float(rng.uniform(0.5, 1.5))
        if len(dims) == 2 and dims[0] == 1 and not two_d_row:
            dims = [dims[1]]
        v = rng.uniform(0.5, 1.5, size=dims)
        if v.ndim == 2 and v.shape[0] == v.shape[1]:
            v = v + 3 * np.eye(v.shape[0])          # well-conditioned under inv / logdet
        return v

    names = dict(js.get("python_names", {}))
    values = {}
    for name, shape in js["inputs"].items():
        values[names.get(name, name)] = value(shape, True)
    if js.get("upstream"):
        up = js["upstream"]
        values[names.get(up["name"], up["name"])] = value(up["shape"], False)
    return js, sizes, values


def _expected_shape(shape, sizes, two_d) -> tuple:
    dims = [sizes.get(x, x) if isinstance(x, str) else x for x in shape]
    if len(dims) == 2 and dims[0] == 1 and not two_d:
        return (dims[1],)
    return tuple(dims)


def deep_check(d, case: Case) -> list[str]:
    """Evaluate the derivation's NumPy expressions and generated code on random inputs."""
    import numpy as np

    findings = []
    if case.options.get("mode", "gradient") != "gradient":
        return findings
    rng = np.random.default_rng(zlib.crc32(case.program.encode("utf-8", "replace")))
    try:
        js, sizes, values = _sizes_and_values(d, rng)
    except Exception as exc:  # noqa: BLE001
        return [f"to_json failed: {_exc_line(exc)}"]
    evaluated = {}
    keep_2d = getattr(d, "keep_2d", frozenset())
    for name, entry in js["derivatives"].items():
        if _huge_power(entry["numpy"]):
            continue                          # reported as an output problem already
        try:
            with np.errstate(all="ignore"):
                got = eval(entry["numpy"], {"np": np}, dict(values))
        except np.linalg.LinAlgError:
            continue                          # a singular matrix at this point: no verdict
        except Exception as exc:  # noqa: BLE001
            findings.append(f"numpy of {name} fails: {entry['numpy'][:120]!r}: "
                            f"{type(exc).__name__}: {str(exc)[:120]}")
            continue
        # dimensions that no input carries (eye, vector(c)) are sized by the expression
        want = _expected_shape(entry["shape"], sizes, name in keep_2d)
        if any(isinstance(x, str) for x in want):
            continue
        if np.shape(got) != want:
            findings.append(f"numpy of {name} has shape {np.shape(got)}, the JSON says "
                            f"{entry['shape']} = {want}: {entry['numpy'][:120]!r}")
            continue
        evaluated[name] = got
    if hasattr(d, "compile") and d.layout == "denominator" and evaluated and \
            not _huge_power(d.codegen()):
        try:
            module = d.compile()
            up = js.get("upstream")
            args = dict(values)
            with np.errstate(all="ignore"):
                grads = module.gradient(**args)
            for name, want in evaluated.items():
                got = grads.get(name)
                scale = float(np.max(np.abs(want), initial=1.0)) if np.all(
                    np.isfinite(want)) else 1.0
                if scale > 1e6:
                    continue                  # ill-conditioned at this point: no verdict
                if got is None or np.shape(got) != np.shape(want) or not np.allclose(
                        got, want, rtol=1e-7, atol=1e-9 * scale, equal_nan=True):
                    findings.append(f"generated gradient()[{name!r}] differs from the JSON "
                                    f"numpy expression {js['derivatives'][name]['numpy'][:80]!r}"
                                    + (f" (upstream {up['name']})" if up else ""))
        except (MatcalcError, np.linalg.LinAlgError):
            pass
        except Exception as exc:  # noqa: BLE001
            findings.append(f"generated module fails: {_exc_line(exc)}")
    if any(_huge_power(e["numpy"]) for e in js["derivatives"].values()):
        return findings
    try:
        findings += check_findings(d.check(), d)
    except MatcalcError:
        pass
    except Exception as exc:  # noqa: BLE001
        findings.append(f"check() fails: {_exc_line(exc)}")
    return findings


def check_findings(report, d) -> list[str]:
    """What in a check report is a finding: a mismatch, and a NOT CHECKED for any reason
    but that the output does not move with the variable (matcalc's checker says so when
    every path from it vanishes, underflows or is subnormal at every point it tried: then
    no finite difference can tell a right formula from a wrong one, and saying so is the
    right answer)."""
    unsure = [r for r in report.results.values() if not r.ok and not does_not_move(r)]
    if not unsure:
        return []
    summary = "; ".join(r.line() for r in unsure)
    if any(r.status == "MISMATCH" for r in unsure):
        return [f"finite-difference check failed: {summary[:300]}"]
    if _constant(d.output):
        # a constant program (norm2(v - v)) may have no point off its kinks: its zero
        # derivative is right, and not verifiable
        return []
    return [f"finite-difference check could not verify: {summary[:300]}"]


def does_not_move(result) -> bool:
    """Whether a check's verdict is NOT CHECKED because the output does not move with the
    variable at any point tried (a dead relu, an exp that underflows, subnormal values)."""
    from matcalc.check import DEGENERATE_REASON
    return result.status == "NOT CHECKED" and result.message == DEGENERATE_REASON


def _constant(output) -> bool:
    """Whether the program's output, simplified, depends on no variable."""
    from matcalc.expr import variables
    from matcalc.simplify import simplify
    return not list(variables(simplify(output)))


# =========================================================================================
# Strategies

GREEK = ["alpha", "beta", "gamma", "lambda", "sigma", "eta", "theta", "mu", "rho", "tau"]
VECTOR_NAMES = ["x", "y", "z", "b", "w", "a", "h", "u", "v", "q", "b1", "w2", "x_0"]
MATRIX_NAMES = ["A", "B", "C", "W", "X", "Y", "S", "W1", "W2", "M", "K"]
PYTHON_NAMES = ["lambda", "import", "def", "class", "if", "else", "None", "True", "False",
                "not", "and", "or", "is", "in", "for", "while", "return", "yield", "await",
                "async", "match", "case", "type", "_", "np", "print", "len", "sum", "eval",
                "exec", "open", "list", "dict", "id", "input", "range", "os", "sys",
                "math", "numpy", "self", "dtype", "forward", "gradient", "value_and_gradient",
                "SHAPES", "lambda_", "np_", "x_", "dY", "dx", "df", "dy", "d", "f", "t1", "e",
                "pi", "inf", "nan", "NaN", "Infinity", "N", "n", "m", "I", "T", "O", "l"]
ODD_NAMES = ["α", "β", "λ", "Σ", "ℝ", "é", "x\u0301", "a\u0308\u0323", "Ｘ", "𝑥", "ß", "ǅ",
             "İ", "ﬁ", "x\u200b", "x\u00a0", "\u202ex", "ᵀ", "ⅰ", "٣", "x" * 300,
             "_x", "__import__", "x__", "Ä", "Ω", "ΔW", "x\u0000"]
FUNCTIONS = ["exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "sign",
             "sqrt", "sum", "norm1", "norm2", "tr", "det", "logdet", "inv", "diag", "softmax",
             "logsumexp", "vector", "matrix", "eye"]
ODD_FUNCTIONS = ["trace", "log_softmax", "logsoftmax", "Sum", "EXP", "softplus", "max",
                 "mean", "norm", "print", "lambda", "np", "eval", "__import__", "x", "A",
                 "alpha", "N", "sofmax", "sigmod", "transpose"]
NUMBERS = ["0", "1", "2", "3", "0.5", ".5", "2.", "1e3", "1e-3", "2.5E+4", "1e308", "1e-320",
           "1e-400", "1e999", "1E309", "99999999999999999999999", "0" * 40 + "1",
           "1" + "0" * 400, "123456789012345678901234567890.5", "0.0", "00", "1e0",
           "4294967297", "9" * 5000]
BINARY_OPS = ["+", "-", "*", "@", "/", ".*", "./", "^", ".^", "⊙", "∘", ">"]
ODD_OPS = ["**", "<", "==", "=", "//", "%", "&", "|", "!", "~", "..", ".'", "'", ",", ";",
           "×", "·", "÷", "−", "∗", "\\", "$"]
TRANSPOSES = ["'", "ᵀ", ".T"]
LANGUAGE_CHARS = list("xyzAXWab12e.()+-*/^'@,;=>#\n\t _") + ["ᵀ", "⊙", "∘", ".T", ".*",
                                                             "./", ".^", "sum(", "exp(",
                                                             "tr(", "alpha"]


def _space():
    return st.sampled_from(["", "", "", " ", "  ", "\t", " # c\n"])


# ---- family "text" ------------------------------------------------------------------------

def random_text():
    return st.one_of(
        st.text(max_size=40),
        st.binary(max_size=40).map(lambda b: b.decode("utf-8", errors="replace")),
        st.lists(st.sampled_from(LANGUAGE_CHARS), max_size=40).map("".join),
    ).map(lambda s: Case("text", s))


# ---- family "grammar": shape-blind expressions -------------------------------------------

ATOMS = (GREEK + VECTOR_NAMES + MATRIX_NAMES, PYTHON_NAMES, ODD_NAMES, NUMBERS,
         ["eye", "vector(1)", "matrix(0)", "vector(alpha)"])


def _blind(draw, depth: int) -> str:
    """A shape-blind expression over the grammar (and a little outside it)."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(draw(st.sampled_from(ATOMS))))
    how = draw(st.integers(0, 9))
    sub = lambda: _blind(draw, depth - 1)
    if how <= 3:
        space = draw(st.sampled_from(["", "", " ", "\t", " # c\n"]))
        op = draw(st.sampled_from(BINARY_OPS))
        return f"{sub()}{space}{op}{space}{sub()}"
    if how == 4:
        return sub() + draw(st.sampled_from(TRANSPOSES))
    if how == 5:
        return draw(st.sampled_from(["-", "+", "--", "-+"])) + sub()
    if how == 6:
        return f"({sub()})"
    if how in (7, 8):
        f = draw(st.sampled_from(FUNCTIONS + ODD_FUNCTIONS))
        args = [sub() for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2, 3])))]
        return f"{f}({', '.join(args)})"
    return f"{sub()}{draw(st.sampled_from(ODD_OPS))}{sub()}"


@st.composite
def expressions(draw):
    return _blind(draw, draw(st.integers(0, 5)))


@st.composite
def grammar_programs(draw):
    n = draw(st.integers(1, 4))
    lines = []
    for i in range(n):
        expr = draw(expressions())
        if i < n - 1 or draw(st.booleans()):
            name = draw(st.sampled_from(["t", "h", "z", "H", "f", "x", "lambda", "np",
                                         "t1", "s", "exp", "N"]))
            lines.append(f"{name} = {expr}")
        else:
            lines.append(expr)
    sep = draw(st.sampled_from(["; ", "\n", ";", "\n\n", " ;\n"]))
    options = draw(_options(blind=True))
    return Case("grammar", sep.join(lines), options)


# ---- family "typed": well-shaped programs --------------------------------------------------

DIMS = ["n", "m", "k", "N"]
ELEMENTWISE = ["exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "sign",
               "sqrt"]


class _Program:
    """Builds a well-shaped program: types are ('s',), ('c', d), ('r', d), ('m', d1, d2)."""

    def __init__(self, draw):
        self.draw = draw
        self.var_type: dict[str, tuple] = {}
        self.shapes: dict[str, str] = {}
        self.intermediates: dict[str, tuple] = {}

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def chance(self, p) -> bool:
        return self.draw(st.floats(0, 1)) < p

    def dim(self):
        return self.pick(DIMS)

    def new_var(self, t):
        kind = t[0]
        if kind == "s":
            if self.chance(0.2):
                name, decl = self.pick(["c", "k1", "s0"]), "scalar"
            else:
                name, decl = self.pick(GREEK), None
        elif kind == "c":
            name, decl = self.pick(VECTOR_NAMES), t[1]
        else:
            name, decl = self.pick(MATRIX_NAMES), f"{t[1]},{t[2]}"
        if name in self.var_type:
            if self.var_type[name] == t:
                return name
            return None
        if name in self.intermediates:
            return None
        self.var_type[name] = t
        if decl is not None and (decl == "scalar" or self.chance(0.6)):
            self.shapes[name] = decl
        elif decl is not None:
            # undeclared: its dims are inferred; keep the names consistent by declaring
            # them elsewhere or not at all (unification finds a solution either way)
            pass
        return name

    def leaf(self, t):
        kind = t[0]
        same = [n for n, ty in self.intermediates.items() if ty == t]
        if same and self.chance(0.5):
            return self.pick(same)
        if kind == "s" and self.chance(0.3):
            return self.pick(["2", "0.5", "3", "1e-3", "10"])
        if kind == "r":
            name = self.leaf(("c", t[1]))
            return f"{name}'" if _is_atom(name) else f"({name})'"
        for _ in range(4):
            name = self.new_var(t)
            if name is not None:
                return name
        if kind == "c":
            return f"vector({self.leaf(('s',))})"
        if kind == "m" and t[1] == t[2]:
            return "eye"
        return f"matrix({self.leaf(('s',))})" if kind == "m" else self.leaf(("s",))

    def expr(self, t, depth):
        if depth <= 0 or self.chance(0.2):
            return self.leaf(t)
        kind = t[0]
        sub = lambda tt: self.expr(tt, depth - 1)
        choices = ["add", "sub", "had", "scale", "neg", "func", "paren"]
        if kind != "s":
            choices += ["trans", "matmul", "matmul", "div", "pow", "eldiv"]
        else:
            choices += ["reduce", "reduce", "matmul", "spow", "sdiv"]
        if kind == "m":
            choices += ["bcast"]
            if t[1] == t[2]:
                choices += ["square"]
        if kind == "c":
            choices += ["colfn"]
        if kind == "r":
            choices += ["lse"]
        op = self.pick(choices)
        if op in ("add", "sub", "had", "eldiv"):
            sym = {"add": " + ", "sub": " - ", "had": " .* ", "eldiv": " ./ "}[op]
            return f"{_p(sub(t))}{sym}{_p(sub(t))}"
        if op == "scale":
            s = sub(("s",))
            return f"{_p(s)}*{_p(sub(t))}" if self.chance(0.5) else f"{_p(sub(t))}*{_p(s)}"
        if op in ("div", "sdiv"):
            return f"{_p(sub(t))}/{_p(sub(('s',)))}"
        if op == "neg":
            return f"-{_p(sub(t))}"
        if op == "paren":
            return f"({sub(t)})"
        if op == "func":
            f = self.pick(ELEMENTWISE)
            return f"{f}({sub(t)})"
        if op == "pow":
            return f"{_p(sub(t))}.^{self.pick(['2', '3', '0.5', '-1'])}"
        if op == "spow":
            return f"{_p(sub(t))}^{self.pick(['2', '3', '0.5', '-1', '(1/2)'])}"
        if op == "trans":
            tt = ("m", t[2], t[1]) if kind == "m" else ("r" if kind == "c" else "c", t[1])
            return f"{_p(sub(tt))}'"
        if op == "matmul":
            k = self.dim()
            if kind == "s":
                a, b = ("r", k), ("c", k)
            elif kind == "c":
                a, b = ("m", t[1], k), ("c", k)
            elif kind == "r":
                a, b = ("r", k), ("m", k, t[1])
            else:
                if self.chance(0.25):
                    a, b = ("c", t[1]), ("r", t[2])
                else:
                    a, b = ("m", t[1], k), ("m", k, t[2])
            return f"{_p(sub(a))}*{_p(sub(b))}"
        if op == "bcast":
            if self.chance(0.5):
                return f"{_p(sub(t))} + {_p(sub(('r', t[2])))}"
            return f"{_p(sub(('c', t[1])))} + {_p(sub(t))}"
        if op == "square":
            f = self.pick(["inv", "diag", "softmax", "eye", "matrix"])
            if f == "inv":
                return f"inv({sub(t)})"
            if f == "diag":
                return f"diag({sub(('c', t[1]))})"
            if f == "softmax":
                return f"softmax({sub(t)})"
            if f == "eye":
                return "eye"
            return f"matrix({sub(('s',))})"
        if op == "colfn":
            f = self.pick(["softmax", "diag", "inv", "vector"])
            if f == "softmax":
                return f"softmax({sub(t)})"
            if f == "diag":
                return f"diag({sub(('m', t[1], t[1]))})"
            if f == "inv":
                return f"inv({sub(('m', t[1], t[1]))})*{_p(sub(t))}"
            return f"vector({sub(('s',))})"
        if op == "lse":
            return f"logsumexp({sub(('m', self.dim(), t[1]))})"
        if op == "reduce":
            f = self.pick(["sum", "norm1", "norm2", "tr", "det", "logdet", "logsumexp"])
            if f in ("tr", "det", "logdet"):
                d = self.dim()
                return f"{f}({sub(('m', d, d))})"
            if f == "logsumexp":
                return f"logsumexp({sub(('c', self.dim()))})"
            any_t = self.pick([("c", self.dim()), ("m", self.dim(), self.dim()),
                               ("r", self.dim())])
            return f"{f}({sub(any_t)})"
        raise AssertionError(op)

    def random_type(self, scalar_p=0.6):
        if self.chance(scalar_p):
            return ("s",)
        return self.pick([("c", self.dim()), ("r", self.dim()),
                          ("m", self.dim(), self.dim())])


def _is_atom(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*|[0-9.eE+-]+|[A-Za-z]+\(.*\)", text) is not None


def _p(text: str) -> str:
    """Parenthesise a generated subexpression unless it is an atom."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*'?|[0-9][0-9.]*", text):
        return text
    if re.fullmatch(r"[a-z0-9]+\([^()]*\)", text):
        return text
    return f"({text})"


@st.composite
def typed_programs(draw):
    prog = _Program(draw)
    statements = []
    for i in range(draw(st.integers(0, 2))):
        t = prog.random_type(scalar_p=0.3)
        value = prog.expr(t, draw(st.integers(0, 3)))
        name = ["t1", "H1", "z1"][i]
        if name in prog.var_type:
            continue
        prog.intermediates[name] = t
        statements.append(f"{name} = {value}")
    t = prog.random_type()
    value = prog.expr(t, draw(st.integers(1, 4)))
    if re.fullmatch(r"[0-9.e-]+", value):
        value = f"{value}*{prog.leaf(t)}"       # some variable, not only a constant
    statements.append(("f = " if draw(st.booleans()) else "") + value)
    sep = draw(st.sampled_from(["; ", "\n"]))
    options = {}
    if prog.shapes:
        options["shapes"] = dict(prog.shapes)
    options["layout"] = draw(st.sampled_from(["denominator", "numerator", "mixed"]))
    mode = draw(st.sampled_from(["gradient"] * 8 + ["jacobian", "hessian", "hvp"]))
    if mode != "gradient":
        options["mode"] = mode
    if prog.var_type and draw(st.booleans()):
        names = sorted(prog.var_type)
        options["wrt"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3,
                                       unique=True))
    return Case("typed", sep.join(statements), options)


# ---- family "mutation": valid programs, broken a little ----------------------------------

SEEDS = [
    ("x'*A*x", {}), ("Y = X*A' + b'", {"shapes": {"X": "N,n"}}), ("z = x'*A*y", {}),
    ("tr(A*X*B)", {}), ("logdet(X)", {}), ("0.5*norm2(W*x - y)^2", {}),
    ("h = relu(W1*x + b1); s = W2*h + b2; f = logsumexp(s) - y'*s", {}),
    ("sum((X*w - y).^2)/N", {"shapes": {"X": "N,d"}}),
    ("norm2(A*x - b)^2 + lambda*norm2(x)^2", {}), ("sum(exp(x))", {}),
    ("softmax(W*x + b)", {}), ("sigmoid(w'*x + b)", {"shapes": {"b": "scalar"}}),
    ("a'*inv(X)*b", {}), ("x'*diag(a)*x", {}), ("det(X)^2", {}),
    ("P = inv(X'*X); H = X*P*X'; L = tr(H*A)", {"shapes": {"X": "N,d"}}),
    ("Z = X*W1 + b1'; H = relu(Z); S = H*W2 + b2'; f = sum(logsumexp(S')) - sum(Y .* S)",
     {"shapes": {"X": "N,d", "Y": "N,c"}}),
    ("L = -sum(y .* log(softmax(W*x)))", {}),
    ("f = sum(log(sigmoid(X*w)))/N + alpha*w'*w", {"shapes": {"X": "N,d"}}),
    ("c*x + x*c", {"shapes": {"c": "scalar"}}), ("A*x + b", {}), ("x ./ (1 + exp(-x))", {}),
    ("tr(inv(X)*A)", {}), ("y = A*x + b", {}), ("sum(X .* Y)", {}), ("x.^2 .* y", {}),
    ("f = alpha^2*sum(x)", {}), ("X*X'", {}), ("Y = inv(X)", {}), ("relu(x) > 0", {}),
    ("theta'*x - log(sum(exp(x)))", {"shapes": {"theta": "n"}}),
    ("f = norm1(x - y) + norm2(A)", {}), ("eye*x + vector(1)", {}),
]

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+"
                    r"|\.\*|\./|\.\^|\.T|\s+|.", re.DOTALL)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@st.composite
def mutated_programs(draw):
    program, options = draw(st.sampled_from(SEEDS))
    tokens = _tokens(program)
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            tokens = ["x"]
        i = draw(st.integers(0, len(tokens) - 1))
        how = draw(st.sampled_from([
            "drop", "dup", "swap", "op", "insert", "number", "name", "odd_name", "arity",
            "truncate", "char", "combining", "parens", "restate", "transpose", "unicode_op",
        ]))
        tok = tokens[i]
        if how == "drop":
            del tokens[i]
        elif how == "dup":
            tokens.insert(i, tok)
        elif how == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif how == "op":
            ops = [j for j, t in enumerate(tokens) if t in BINARY_OPS + ["'"]]
            j = draw(st.sampled_from(ops)) if ops else i
            tokens[j] = draw(st.sampled_from(BINARY_OPS + ODD_OPS))
        elif how == "insert":
            tokens.insert(i, draw(st.sampled_from(BINARY_OPS + ODD_OPS + ["(", ")", "x",
                                                                          "2", ",", "'"])))
        elif how == "number":
            nums = [j for j, t in enumerate(tokens) if t[:1].isdigit() or t[:1] == "."]
            j = draw(st.sampled_from(nums)) if nums else i
            tokens[j] = draw(st.sampled_from(NUMBERS))
        elif how in ("name", "odd_name"):
            names = [j for j, t in enumerate(tokens) if t[:1].isalpha()]
            j = draw(st.sampled_from(names)) if names else i
            pool = PYTHON_NAMES if how == "name" else ODD_NAMES
            tokens[j] = draw(st.sampled_from(pool))
        elif how == "arity":
            opens = [j for j, t in enumerate(tokens) if t == "(" and j > 0
                     and tokens[j - 1][:1].isalpha()]
            if opens:
                j = draw(st.sampled_from(opens))
                if draw(st.booleans()):
                    tokens.insert(j + 1, draw(st.sampled_from(["x, ", "A, ", "1, ", ", "])))
                else:
                    # drop everything up to the matching ')': no argument at all
                    depth, k = 0, j
                    while k < len(tokens):
                        depth += tokens[k] == "("
                        depth -= tokens[k] == ")"
                        if depth == 0:
                            break
                        k += 1
                    del tokens[j + 1:k]
        elif how == "truncate":
            tokens = tokens[:i]
        elif how == "char":
            tokens.insert(i, draw(st.characters()))
        elif how == "combining":
            tokens.insert(i + 1, draw(st.sampled_from(["\u0301", "\u0308", "\u0323",
                                                       "\u20d7", "\u0332", "\ufe0f"])))
        elif how == "parens":
            k = draw(st.integers(1, 300))
            tokens = ["("] * k + tokens + [")"] * draw(st.sampled_from([k, k, k - 1, k + 1]))
        elif how == "restate":
            tokens = tokens + ["\n"] + _tokens(program)
        elif how == "transpose":
            tokens.insert(i + 1, draw(st.sampled_from(TRANSPOSES + ["''", "'''"])))
        elif how == "unicode_op":
            tokens.insert(i, draw(st.sampled_from(["−", "×", "·", "⋅", "ᵀ", "⊙", "∘", "′",
                                                   "’", "\u00a0", "\u3000", "\r", "\x0c"])))
    return Case("mutation", "".join(tokens), dict(options))


# ---- family "options" ------------------------------------------------------------------

@st.composite
def _options(draw, blind=False):
    options = {}
    if draw(st.integers(0, 3)) == 0:
        options["layout"] = draw(st.sampled_from(["numerator", "denominator", "mixed",
                                                  "row", "", "Numerator"]))
    if draw(st.integers(0, 3)) == 0:
        options["kinds"] = draw(st.sampled_from(["ml", "mc", "xx"]))
    if draw(st.integers(0, 4)) == 0:
        options["mode"] = draw(st.sampled_from(["gradient", "jacobian", "hessian", "hvp",
                                                "grad"]))
    if draw(st.integers(0, 3)) == 0:
        options["shapes"] = draw(st.dictionaries(
            st.sampled_from(["x", "A", "X", "b", "c", "y", "1x", "lambda", "np", "N", "x y",
                             ""]),
            st.sampled_from(["n", "N,n", "m,n", "1,n", "n,1", "scalar", "1", "0", "-1",
                             "n,m,p", "", "n,", "2", "3,3", "n+1", "α", "None", "N, n"]),
            max_size=3))
    if draw(st.integers(0, 3)) == 0:
        options["wrt"] = draw(st.lists(st.sampled_from(["x", "A", "X", "y", "f", "h", "t",
                                                        "lambda", "zz", ""]), max_size=3))
    return options


@st.composite
def option_programs(draw):
    program, options = draw(st.sampled_from(SEEDS))
    extra = draw(_options())
    merged = dict(options)
    merged.update(extra)
    if draw(st.integers(0, 5)) == 0:
        merged["onehot"] = draw(st.lists(st.sampled_from(["y", "Y", "x", "Y=rows", "y=cols",
                                                          "q"]), max_size=2))
    return Case("options", program, merged)


# ---- family "notes": the spellings of notes and LaTeX (issue 14) ----------------------------

GREEK_LETTERS = {"alpha": "α", "beta": "β", "gamma": "γ", "lambda": "λ", "sigma": "σ",
                 "eta": "η", "theta": "θ", "mu": "μ", "rho": "ρ", "tau": "τ"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _respell(draw, program: str) -> str:
    """`program` as notes write it, with the same meaning: transposes ^T, ᵀ, ^{T}; inv(X) as
    X^{-1} or X⁻¹; norm2(x) as ||x||, ‖x‖, ||X||_F; sigmoid as σ; Greek letters; and '*' as a
    space wherever an implicit product means the same (not after .* or ./ in a term, where
    it would group first, and not before a sign)."""
    choose = lambda options: draw(st.sampled_from(options))
    text = re.sub(r"\binv\(([A-Za-z][A-Za-z0-9_]*)\)",
                  lambda m: m.group(1) + choose(["^{-1}", "⁻¹", "^-1", "^(-1)"]), program)
    # a name's kind is its case only if no statement assigns it (t1 = W2 is a matrix)
    assigned = set(re.findall(r"(?:^|[;\n])\s*([A-Za-z_]\w*)\s*=(?!=)", program))
    text = re.sub(r"\bnorm2\(([A-Za-z][A-Za-z0-9_]*)\)", lambda m: m.group() if m.group(1) in
                  assigned else (
        choose([f"||{m.group(1)}||_F", f"‖{m.group(1)}‖_F"]) if m.group(1)[0].isupper()
        else choose([f"||{m.group(1)}||", f"‖{m.group(1)}‖", f"||{m.group(1)}||_2"])), text)
    text = re.sub(r"\bnorm1\(([a-z][a-z0-9_]*)\)", lambda m: m.group() if m.group(1) in
                  assigned else f"||{m.group(1)}||_1", text)
    text = re.sub(r"\bsigmoid\(", lambda m: choose(["σ(", "sigmoid(", "sigma("]), text)
    tokens = _tokens(text)
    out: list[str] = []
    depth_ops: list[str] = [""]          # the last explicit product operator of each term
    for i, tok in enumerate(tokens):
        nxt = next((t for t in tokens[i + 1:] if not t.isspace()), "")
        if tok == "'" and not (out and out[-1].endswith(("'", "ᵀ", "T", "}"))):
            tok = choose(["'", "^T", "ᵀ", "^{T}", "'"])
        elif tok in GREEK_LETTERS and draw(st.booleans()) and not (out and _WORD.fullmatch(
                out[-1][-1:] or " ")):
            tok = GREEK_LETTERS[tok]
        elif tok == "*" and depth_ops[-1] not in (".*", "./") and nxt not in ("-", "+") \
                and not (nxt[:1].isdigit() or nxt[:1] == ".") and draw(st.booleans()):
            out.append(" ")
            continue
        if tok == "(":
            depth_ops.append("")
        elif tok == ")" and len(depth_ops) > 1:
            depth_ops.pop()
        elif tok in ("+", "-", ">", ",", ";", "=", "\n"):
            depth_ops[-1] = ""
        elif tok in ("*", "/", ".*", "./"):
            depth_ops[-1] = tok if tok in (".*", "./") else depth_ops[-1]
        out.append(tok)
    return "".join(out)


@st.composite
def _axis_programs(draw):
    """Sums, means, softmax and logsumexp along a dimension, on declared matrices."""
    prog = _Program(draw)
    f = draw(st.sampled_from(["sum", "mean", "softmax", "logsumexp", "log_softmax"]))
    dim = draw(st.sampled_from(["1", "2", "1", "2", "3", "0", "x", "-1", "2.5"]))
    arg = prog.expr(("m", "N", "n"), draw(st.integers(0, 2)))
    inner = f"{f}({arg}, {dim})"
    outer = draw(st.sampled_from(["sum({})", "sum({}.^2)", "{}", "norm2({})^2",
                                  "sum({} .* Y)"] + ([] if f == "log_softmax" else
                                                     ["sum(log({}))"])))   # log of < 0
    program = outer.format(inner)
    options = {"shapes": {**prog.shapes, "Y": "N,n"} if "Y" in program else dict(prog.shapes)}
    options["layout"] = draw(st.sampled_from(["denominator", "numerator"]))
    return Case("notes", program, options)


def _latex_of(program: str, options: dict) -> tuple[str, dict] | None:
    """The program's output printed in LaTeX (one expression), and the declarations of the
    variables it uses; None if the program is refused."""
    from matcalc.expr import variables
    from matcalc.printing import to_latex
    try:
        d = matcalc.derive(program, **{k: v for k, v in options.items()
                                      if k in ("shapes", "kinds")})
    except MatcalcError:
        return None
    used = {v.name for v in variables(d.output)}
    # the names LaTeX reads back: x_0 is printed x_0, and read as x0
    shapes = {re.sub(r"^([A-Za-z]+)_([0-9]+)$", r"\1\2", k): v
              for k, v in options.get("shapes", {}).items() if k in used}
    return to_latex(d.output), shapes


_LATEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[A-Za-z]|[0-9]+|\s+|.", re.DOTALL)
LATEX_PIECES = [r"\frac{", "}{", "}", "{", r"\left(", r"\right)", r"\|", "||", "^", "_",
                r"^\top", r"^{-1}", r"^{\circ 2}", r"\odot", r"\cdot", r"\mathbf{1}",
                r"\mathbf{x}", r"\sigma(", r"\log", r"\det", r"\operatorname{tr}(",
                r"\sqrt{", r"\lambda", r"\Sigma", "W_{1}", "W^{(1)}", r"\sum_i", "eps", "|",
                r"\lvert", r"\rvert", r"\mathbb{I}[", "]", r"\\", "&=", "e^{", "I", "-",
                r"\frac{\partial L}{\partial Y}", r"\unknown", "%", "$", r"\begin{align*}",
                r"\operatorname{softmax}(", ", 2)", r"\lVert", r"\rVert_F", r"_{1,1}"]


NOTES_PIECES = ["||", "‖", "^T", "ᵀ", "⁻¹", "²", "σ", "λ", " ", "{", "}", "_2", "_F", "(", ")",
                "1'", "*1", "^{-1}", "|", "−", "2", "AX", "z_j", "/N", "e^", "^Tx", "^{-T}",
                "np.", "'fro'", "\\", " sin ", "xTy"]


def _mutate(draw, tokens: list[str], pieces: list[str]) -> str:
    """The tokens with one to three of them dropped, doubled, swapped with the next, or
    with one of `pieces` inserted."""
    tokens = list(tokens)
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            tokens = ["x"]
        i = draw(st.integers(0, len(tokens) - 1))
        how = draw(st.sampled_from(["drop", "dup", "swap", "insert"]))
        if how == "drop":
            del tokens[i]
        elif how == "dup":
            tokens.insert(i, tokens[i])
        elif how == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        else:
            tokens.insert(i, draw(st.sampled_from(pieces)))
    return "".join(tokens)


@st.composite
def notes_programs(draw):
    """The family "notes": respelled typed programs (the same formulas, or a finding),
    their LaTeX read back, axis calls, and mutations of all three."""
    base = draw(typed_programs())
    program, options = base.program, dict(base.options)
    kind = draw(st.sampled_from(["respell", "respell", "latex", "latex", "axis", "wild",
                                 "wild_latex"]))
    if kind == "axis":
        return draw(_axis_programs())
    if kind in ("respell", "wild"):
        spelled = _respell(draw, program)
        if kind == "respell":
            return Case("notes", spelled, options, same_as=program)
        return Case("notes", _mutate(draw, _tokens(spelled), NOTES_PIECES), options)
    found = _latex_of(program, options)
    if found is None:
        return Case("notes", program, options)
    latex, shapes = found
    original = {k: v for k, v in options.items() if k != "wrt"}
    options = {k: v for k, v in options.items() if k not in ("wrt", "shapes")}
    if shapes:                                   # the variables of the output, as declared
        options["shapes"] = shapes
    if kind == "latex":
        statement = draw(st.sampled_from(["", r"\mathrm{f} = ", r"f &= "]))
        return Case("notes", statement + latex, {**options, "notation": "latex"},
                    same_as=program, compare="output", same_options=original)
    return Case("notes", _mutate(draw, _LATEX_TOKEN.findall(latex), LATEX_PIECES), {**options,
                                           "notation": draw(st.sampled_from(["latex",
                                                                             "auto"]))})


# ---- family "index": index notation (issue 16) ----------------------------------------
# Index statements and indexed products: tensors of order 0 to 7 (7 is over the limit),
# einsum terms, broadcasts, elementwise functions, sums and quotients, later statements
# using the result as a matrix, consistent and inconsistent index sizes, missing and
# repeated left indices, declarations that agree or not, and a little breakage.

_IDX = "ijklmn"
_IDX_FUNCS = ["tanh", "exp", "relu", "sigmoid", "abs", "log", "sin", "sum", "softmax", "inv"]


@st.composite
def _indexed(draw, orders: dict, letters: str) -> str:
    name = draw(st.sampled_from(["A", "B", "T", "W", "x", "y", "Z", "U"]))
    order = orders.setdefault(name, draw(st.integers(0, 4)) if draw(st.integers(0, 9)) else
                              draw(st.integers(5, 7)))
    if draw(st.integers(0, 12)) == 0:
        order = draw(st.integers(0, 4))               # used with another number of indices
    if order == 0:
        return draw(st.sampled_from(["alpha", "beta", "N"])) if draw(st.integers(0, 5)) \
            else name
    return f"{name}[{','.join(draw(st.sampled_from(letters)) for _ in range(order))}]"


@st.composite
def _index_term(draw, orders: dict, letters: str, depth: int) -> str:
    factors = [draw(_indexed(orders, letters)) for _ in range(draw(st.integers(1, 3)))]
    if draw(st.integers(0, 4)) == 0:
        factors.insert(0, draw(st.sampled_from(["2", "0.5", "-1", "alpha", "1e999", "N"])))
    if depth > 0 and draw(st.integers(0, 3)) == 0:
        f = draw(st.sampled_from(_IDX_FUNCS))
        factors.append(f"{f}({draw(_index_sum(orders, letters, depth - 1))})")
    if depth > 0 and draw(st.integers(0, 6)) == 0:
        factors.append(f"({draw(_index_sum(orders, letters, depth - 1))})")
    if draw(st.integers(0, 8)) == 0:
        factors.append(f"(X*Y')[{draw(st.sampled_from(letters))},"
                       f"{draw(st.sampled_from(letters))}]")
    op = draw(st.sampled_from(["*", "*", "*", ".*", " "]))
    term = op.join(factors)
    if draw(st.integers(0, 8)) == 0:
        term += draw(st.sampled_from(["^2", ".^3", "/alpha", "/2", "./(1 + T[i,j])", "'"]))
    return term


@st.composite
def _index_sum(draw, orders: dict, letters: str, depth: int = 2) -> str:
    terms = [draw(_index_term(orders, letters, depth)) for _ in range(draw(st.integers(1, 3)))]
    out = terms[0]
    for t in terms[1:]:
        out += draw(st.sampled_from([" + ", " - "])) + t
    return out


@st.composite
def index_programs(draw):
    orders: dict = {}
    letters = _IDX[:draw(st.integers(2, 6))]
    rhs = draw(_index_sum(orders, letters))
    used = sorted(set(re.findall(r"\b([ijklmn])\b", rhs))) or list(letters)
    if draw(st.integers(0, 4)):                              # free indices the right has
        lhs = "".join(draw(st.permutations(used))[:draw(st.integers(0, min(4, len(used))))])
    else:                                                    # any, repeated, missing
        lhs = "".join(draw(st.sampled_from(letters)) for _ in range(draw(st.integers(0, 4))))
    if draw(st.integers(0, 15)) == 0:
        lhs = _IDX[:draw(st.integers(6, 7))]                 # order 6 and 7 results
    program = f"R[{','.join(lhs)}] = {rhs}" if lhs else f"r = {rhs}"
    how = draw(st.integers(0, 5))
    if how == 0:
        program += "; f = sum(R .* R)" if lhs else "; f = r^2"
    elif how == 1:
        program += f"; S[{','.join(lhs[::-1])}] = tanh(R[{','.join(lhs)}])" if lhs else ""
    elif how == 2:
        program += "; f = sum(softmax(R, 2))"
    options = {}
    if draw(st.integers(0, 3)) == 0:
        options["shapes"] = {name: ",".join(draw(st.sampled_from(["n", "m", "p", "2"]))
                                            for _ in range(max(order, 1)))
                             for name, order in orders.items() if draw(st.booleans())}
    if draw(st.integers(0, 3)) == 0:
        options["layout"] = draw(st.sampled_from(["numerator", "denominator", "mixed"]))
    if draw(st.integers(0, 8)) == 0:
        options["mode"] = draw(st.sampled_from(["jacobian", "hessian", "hvp"]))
    if draw(st.integers(0, 6)) == 0:                         # a little breakage
        chars = list(program)
        k = draw(st.integers(0, len(chars) - 1))
        action = draw(st.sampled_from(["drop", "dup", "bracket"]))
        if action == "drop":
            del chars[k]
        elif action == "dup":
            chars.insert(k, chars[k])
        else:
            chars.insert(k, draw(st.sampled_from(["[", "]", ",", "[]", "[i,]"])))
        program = "".join(chars)
    return Case("index", program, options)


FAMILIES = {
    "text": random_text,
    "grammar": grammar_programs,
    "typed": typed_programs,
    "mutation": mutated_programs,
    "options": option_programs,
    "notes": notes_programs,
    "index": index_programs,
}
# how many of every 20 inputs come from each family
MIX = {"text": 2, "grammar": 4, "typed": 4, "mutation": 3, "options": 2, "notes": 5,
       "index": 3}


def all_cases(families=None):
    """Inputs of every family (or of `families`), in the proportions of MIX."""
    return st.one_of(*[FAMILIES[f]() for f, w in MIX.items() for _ in range(w)
                       if families is None or f in families])


def fuzz_settings(n: int, derandomize: bool = False):
    return settings(max_examples=n, database=None, deadline=None, derandomize=derandomize,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


def run_many(strategy, n: int, seed: int | None = None, derandomize: bool = False,
             deep: float = 0.0, on_outcome=None) -> list[Outcome]:
    """Run `n` inputs drawn from `strategy`; returns every outcome."""
    outcomes: list[Outcome] = []
    counter = [0]

    @fuzz_settings(n, derandomize)
    @given(strategy)
    def one(case):
        counter[0] += 1
        out = run_case(case, deep=deep > 0 and (counter[0] * 7919 % 1000) < deep * 1000)
        outcomes.append(out)
        if on_outcome:
            on_outcome(out)

    if seed is not None and not derandomize:
        one = hypothesis_seed(seed)(one)
    one()
    return outcomes


def warm_up() -> None:
    """Build the parser and import NumPy, the printers and codegen once, so that no input
    is charged for them."""
    d = matcalc.derive("h = relu(W*x); f = sum(h) + logdet(A)")
    d.text(steps=True), d.latex(), d.numpy_code(), d.to_json()
    if hasattr(d, "codegen"):
        d.codegen()
    d.check()
    for mode in ("jacobian", "hessian"):
        matcalc.derive("sum(exp(x))", mode=mode).text()
    load_test_module("test_higher_oracle"), load_test_module("test_inert")


# =========================================================================================
# The families of issue 12: outer-product chains, sign-varying scalars, hostile comments,
# huge declared sizes. Each runs the pipeline like the others, then a check of its own
# (FAMILY_CHECKS):
#
# - ``outer``: random programs of tests/test_higher_oracle.py (outer-product chains,
#   scalars times vectors, elementwise functions of outer products) in the jacobian,
#   hessian and hvp modes and every layout; on the --deep fraction, that file's
#   independent oracle (finite differences of the reference evaluator, entry by entry)
#   and matcalc's own check. A disagreement is a ``deep`` finding.
# - ``signs``: such programs times a scalar whose sign or size matters (relu(-alpha),
#   abs(beta), sign, a > b, exp(-1000*u'*u), 1e-320, (u'*u)^2000). matcalc's check runs
#   on every input; whatever it calls verified is compared with the oracle at points of
#   both signs of every scalar, and at points where the factor is alive (u small for
#   exp(-1000*u'*u), u'*u = 1 for (u'*u)^2000). A wrong formula called verified is a
#   ``deep`` finding.
# - ``comments``: valid programs with comments from tests/test_inert.py's
#   hostile_comments() on every line; every generated module (numpy, torch, jax targets;
#   jacobian, hessian, hvp modes) must compile, hold only definitions, carry the
#   comments in its docstring, and import inertly in a fresh process that watches
#   (InertImports, in batches). A module that does not is ``noninert``.
# - ``sizes``: huge declared literal sizes (4 to 151 digits, mixed with small sizes and
#   explicit 1s) with the default check on: derivation and check end within a second
#   (``slow``) with a verdict: verified, or NOT CHECKED with its reason (skipped for
#   size, no valid point, an output that does not move); a MISMATCH or a check cut short
#   is a ``verdict`` finding. It never allocates at the declared size (``alloc``).

import importlib.util
import itertools
import subprocess
import tempfile

LAYOUTS = ("numerator", "denominator", "mixed")


def load_test_module(name: str):
    """tests/<name>.py, loaded once: the oracle and the program generator live in
    test_higher_oracle, the hostile comments and the inert importer in test_inert."""
    key = f"matcalc_fuzz_{name}"
    if key not in sys.modules:
        path = os.path.join(os.path.dirname(HERE), "tests", f"{name}.py")
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def _oracle():
    return load_test_module("test_higher_oracle")


def _picker(draw):
    return lambda seq: draw(st.sampled_from(seq))


# ---- family "outer" ----------------------------------------------------------------------

@st.composite
def outer_programs(draw):
    mode = draw(st.sampled_from(["jacobian", "jacobian", "hessian", "hvp"]))
    text, shapes = _oracle().random_program(_picker(draw), scalar=mode != "jacobian",
                                            depth=draw(st.integers(1, 3)))
    return Case("outer", text, {"mode": mode, "layout": draw(st.sampled_from(LAYOUTS)),
                                "shapes": shapes})


def _outer_check(out: Outcome, d, deep: bool) -> None:
    """On the deep fraction: the independent oracle, then matcalc's own check."""
    if not (deep and out.derived):
        return
    case, findings = out.case, []
    seed = zlib.crc32(case.program.encode())
    try:
        verdict = _oracle().check_program(case.program, case.options["shapes"],
                                          case.options["mode"], case.options["layout"], seed)
        out.notes.append(f"oracle {verdict}")
    except AssertionError as exc:
        findings.append(f"the oracle disagrees: {str(exc)[:400]}")
    except Exception as exc:  # noqa: BLE001
        findings.append(f"the oracle fails: {_exc_line(exc)}")
    try:
        findings += check_findings(d.check(), d)
    except Exception as exc:  # noqa: BLE001
        findings.append(f"check() fails: {_exc_line(exc)}")
    out.deep = findings


# ---- family "signs" ----------------------------------------------------------------------

# (a scalar factor, where the oracle looks: "" at ordinary points, "small NAME" with NAME
# of size 0.03 (exp(-1000*u'*u) alive), "unit NAME" with |NAME| = 1 ((u'*u)^2000 neither
# 0 nor inf), "constant" for a factor below the normal floats (the oracle differences the
# program without it and the formula is divided by it)). {v} is a vector of the program.
SIGN_FACTORS = (
    ("relu(-alpha)", ""), ("relu(alpha)", ""), ("relu(beta - alpha)", ""),
    ("relu(-alpha)^2", ""), ("abs(beta)", ""), ("abs(alpha + beta)", ""),
    ("sign(alpha)", ""), ("sign(-beta)", ""), ("(alpha > 0)", ""), ("(0 > beta)", ""),
    ("(alpha > beta)", ""), ("relu(-alpha)*abs(beta)", ""),
    ("exp(-1000*{v}'*{v})", "small {v}"), ("exp(-1000*norm2({v})^2)", "small {v}"),
    ("exp(-1000*alpha^2)", "small alpha"), ("relu(-alpha)*exp(-1000*{v}'*{v})", "small {v}"),
    ("({v}'*{v})^2000", "unit {v}"), ("(alpha^2)^500", "unit alpha"),
    ("1e-320", "constant"), ("1e-310", "constant"), ("1e-300", "constant"),
    ("1e-250", "constant"),
)
SIGN_FORMS = ("{h}*{p}", "{p}*{h}", "{h}*{p} + {p}", "{p} - {h}*{p}")
CHECK_SECONDS = 5.0           # the check's own limit is 3 s of processor time
SIGN_TOLERANCE = 1e-5         # relative to the largest entry the oracle finds
SUBNORMAL_TOLERANCE = 1e-2    # a formula evaluated below the normal floats keeps ~10 bits


@st.composite
def sign_programs(draw):
    mode = draw(st.sampled_from(["gradient", "jacobian", "jacobian", "hessian", "hvp"]))
    text, shapes = _oracle().random_program(_picker(draw), scalar=mode != "jacobian",
                                            depth=draw(st.integers(1, 2)))
    factor, where = draw(st.sampled_from(SIGN_FACTORS))
    vectors = sorted(n for n, s in shapes.items() if s in ("n", "m"))
    v = draw(st.sampled_from(vectors)) if vectors else "u"
    if "{v}" in factor:
        shapes.setdefault(v, "n")
    factor, where = factor.replace("{v}", v), where.replace("{v}", v)
    for s in ("alpha", "beta"):
        if re.search(rf"\b{s}\b", factor):
            shapes[s] = "scalar"
    p = _oracle()._p(text)
    form = "{h}*{p}" if where == "constant" else draw(st.sampled_from(SIGN_FORMS))
    program = form.format(h=factor, p=p)
    options = {"shapes": shapes}
    if mode != "gradient":
        options.update(mode=mode, layout=draw(st.sampled_from(LAYOUTS)))
    return Case("signs", program, options, {"where": where, "factor": factor, "body": text})


class _Step:
    """The oracle's finite-difference step, set for a while (its module reads STEP)."""

    def __init__(self, step: float):
        self.step = step

    def __enter__(self):
        self.old, _oracle().STEP = _oracle().STEP, self.step

    def __exit__(self, *exc):
        _oracle().STEP = self.old


def _signs_check(out: Outcome, d, deep: bool) -> None:
    """matcalc's check on every input; what it verifies, compared with the oracle."""
    if not out.derived:
        return
    report, seconds, exc = timed(d.check, HARD_LIMIT_SECONDS + 10)
    if exc is not None:
        out.deep = [f"check() fails: {_exc_line(exc)}"]
        return
    out.notes += [verdict_note(r) for r in report.results.values()]
    out.notes.append("check over 1 s" if seconds > 1 else "check under 1 s")
    if seconds > CHECK_SECONDS and out.status == "ok":
        out.status, out.detail = "slow", f"the check took {seconds:.2f} s"
    verified = [key for key, r in report.results.items() if r.ok and key in d.derivatives]
    findings = [f"check says MISMATCH: {r.line()[:300]}" for r in report.results.values()
                if r.status == "MISMATCH"]
    if verified:
        try:
            wrong = _signs_oracle(d, out.case, verified)
        except Exception as exc:  # noqa: BLE001
            wrong = [f"the oracle fails: {_exc_line(exc)}"]
        if wrong is None:
            out.notes.append("oracle: no reliable point")
        else:
            out.notes.append("oracle disagrees" if wrong else "oracle agrees")
            findings += wrong
    out.deep = findings


def verdict_note(r) -> str:
    """A check's verdict on one result, for the tallies."""
    from matcalc.check import CUT_SHORT, UNRELIABLE_REASON
    if r.ok or r.status == "MISMATCH":
        return "verified" if r.ok else "MISMATCH"
    why = ("does not move" if does_not_move(r) else
           "size" if r.message.startswith(SIZE_VERDICTS) else
           "cut short" if r.message == CUT_SHORT else
           "unreliable differences" if r.message == UNRELIABLE_REASON else
           "no valid point" if r.message.startswith("no valid point") else r.message[:40])
    return f"not checked: {why}"


def _signs_oracle(d, case: Case, keys: list[str]) -> list[str] | None:
    """The results `keys` against the oracle at points of both signs of every scalar of
    the factor; the findings (None: the differences were unreliable at every point)."""
    import numpy as np

    from matcalc.parse import parse
    from matcalc.shapes import infer_shapes, parse_shape_option

    oracle = _oracle()
    rng = np.random.default_rng(zlib.crc32(case.program.encode()))
    base = oracle.draw_values(d, rng)
    for v in getattr(d, "directions", {}).values():
        base[v.name] = rng.standard_normal(tuple(oracle.SIZES.get(s, s) for s in v.shape))
    where, _, name = case.extra["where"].partition(" ")
    step, output, factor = oracle.STEP, d.output, 1.0
    if where == "small":
        base[name], step = 0.03 * base[name], 0.03 * step
    elif where == "unit":
        base[name], step = base[name] / np.linalg.norm(base[name]), 1e-6
    elif where == "constant":
        decls = dict(parse_shape_option(f"{n}={s}") for n, s in
                     case.options["shapes"].items())
        output = infer_shapes(parse(case.extra["body"]), decls, "ml").output
        factor = float(case.extra["factor"])
    scalars = [s for s in ("alpha", "beta") if re.search(rf"\b{s}\b", case.extra["factor"])]
    findings, reliable = [], False
    with _Step(step):
        for signs in itertools.product((1.0, -1.0), repeat=len(scalars)):
            values = dict(base)
            for s, sign in zip(scalars, signs):
                values[s] = sign * np.abs(base[s])
            at = ", ".join(f"{s} {'>' if sign > 0 else '<'} 0" for s, sign in
                           zip(scalars, signs)) or "one point"
            for key in keys:
                for accurate in (False, True):
                    try:
                        err = _signs_error(d, key, oracle.Oracle(output, values), values,
                                           factor, accurate, step)
                    except oracle.Unreliable:
                        err = None
                        break
                    if err is None or err[0] <= err[1]:
                        break
                if err is None:
                    continue
                reliable = True
                if err[0] > err[1]:
                    findings.append(f"wrong formula reported as verified: [{key}] "
                                    f"{d.derivatives[key].text[:160]} is off by "
                                    f"{err[0]:.2g} (relative) at {at}")
                    return findings
    return findings if reliable else None


def _signs_error(d, key, oracle, values, factor, accurate, step):
    """(relative error of result `key` against the oracle beyond the round-off of its
    differences, the tolerance)."""
    import numpy as np

    hoc = _oracle()
    r = d.derivatives[key]
    with np.errstate(all="ignore"):
        got = np.asarray(eval(r.numpy, {"np": np}, hoc.numpy_inputs(d, values)),
                         dtype=float) / factor
    mode = getattr(d, "mode", "gradient")

    def dims(name):
        return len([s for s in values[name].shape if s != 1])
    if mode == "hvp":
        want = 0.0
        for b, v in d.directions.items():
            h = oracle.hessian(key, b, accurate)
            vb = hoc._squeeze(values[v.name])
            want = want + (np.tensordot(h, vb, axes=dims(b)) if dims(b) else h * vb)
        order = None
    elif mode == "hessian":
        a, _, b = key.partition(",")
        want = oracle.hessian(a, b or a, accurate)
        order = hoc.layout_order(dims(a), dims(b or a), d.layout)
    elif mode == "jacobian":
        want = oracle.jacobian(key)
        n_out = len([s for s in hoc.values_shape(d.output) if s != 1])
        order = hoc.layout_order(n_out, dims(key), d.layout)
    else:                                   # a gradient has its variable's axes
        want, order = oracle.jacobian(key), None
    want = np.asarray(want, dtype=float)
    if order is not None:
        want = np.transpose(want, order)
    if got.shape != want.shape:
        return np.inf, 0.0
    # the round-off of the differences: eps |f| / h for a first derivative, / h² for a
    # second, |f| the largest value the output is computed from (sign(a)*P + P is 0 at a
    # < 0, give or take the round-off of P)
    f = max(float(np.abs(v).max(initial=0.0)) for v in oracle.base.values())
    noise = 1e3 * 2.2e-16 * f / (step if mode in ("jacobian", "gradient") else step * step)
    size = float(np.abs(want).max(initial=0.0))
    err = max(0.0, float(np.abs(got - want).max(initial=0.0)) - noise)
    tolerance = SUBNORMAL_TOLERANCE if factor != 1.0 else SIGN_TOLERANCE
    return err / max(size, 1e-300), tolerance


# ---- family "comments" -------------------------------------------------------------------

COMMENT_STARTS = ("  #", " #", "#", " # ", "\t#")


@st.composite
def comment_programs(draw):
    hostile = load_test_module("test_inert").hostile_comments()
    mode = draw(st.sampled_from(["gradient", "gradient", "jacobian", "hessian", "hvp"]))
    if mode == "gradient" and draw(st.booleans()):
        program, options = draw(st.sampled_from(SEEDS))
        statements, options = [s.strip() for s in program.split(";")], dict(options)
    else:
        text, shapes = _oracle().random_program(_picker(draw), scalar=mode != "jacobian",
                                                depth=draw(st.integers(1, 2)))
        statements, options = [text], {"shapes": shapes}
    if mode != "gradient":
        options["mode"] = mode
    lines, comments = [], []
    for i, statement in enumerate(statements):
        if draw(st.integers(0, 3)) == 0:                 # a line of its own
            comments.append(draw(hostile))
            lines.append(f"#{comments[-1]}")
        comments.append(draw(hostile))
        lines.append(f"{statement}{draw(st.sampled_from(COMMENT_STARTS))}{comments[-1]}")
    return Case("comments", "\n".join(lines), options,
                {"comments": comments, "plain": "\n".join(statements)})


def _comments_check(out: Outcome, d, deep: bool) -> None:
    """The program without its comments derives the same; every module it generates
    compiles, holds only definitions and carries the comments; the import waits for
    InertImports."""
    case = out.case
    plain, _, exc = timed(lambda: matcalc.derive(case.extra["plain"], **case.options))
    if out.status == "refused":
        if exc is None:
            out.status, out.detail = "output", f"refused only with its comments: {out.detail}"
        return
    if not out.derived:
        return
    if exc is not None or [der.text for der in plain.derivatives.values()] != \
            [der.text for der in d.derivatives.values()]:
        out.status, out.detail = "output", "the comments change the derivatives"
        return
    inert = load_test_module("test_inert")
    kinds = ("numpy", "torch", "jax") if getattr(d, "mode", "gradient") == "gradient" \
        else (d.mode,)
    for kind in kinds:
        source = d.codegen(kind) if kind in ("numpy", "torch", "jax") else d.codegen()
        try:
            compile(source, f"<{kind}>", "exec")
            inert._only_definitions(source)
        except SyntaxError as exc:
            out.status, out.detail = "output", f"the {kind} module does not compile: {exc}"
            return
        except AssertionError as exc:
            out.status = "noninert"
            out.detail = f"the {kind} module does more than define names: {str(exc)[:200]}"
            return
        out.modules.append((kind, source))


# Stand-ins for torch and jax where they are not installed: a generated module only
# subclasses torch.autograd.Function, decorates with jax.custom_vjp and calls its defvjp
# when it is imported.
STAND_INS = r'''
import sys, types

def _stand_in(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module

class _CustomVJP:
    def __init__(self, f):
        self.f = f
    def __call__(self, *args):
        return self.f(*args)
    def defvjp(self, forward, backward):
        self.forward, self.backward = forward, backward

for _lib in sys.argv[3:]:
    try:
        __import__(_lib)
    except ImportError:
        if _lib == "torch":
            _stand_in("torch", autograd=_stand_in("torch.autograd",
                                                  Function=type("Function", (), {})))
        elif _lib == "jax":
            _stand_in("jax", custom_vjp=_CustomVJP, numpy=_stand_in("jax.numpy"),
                      nn=_stand_in("jax.nn"))
'''


class InertImports:
    """Holds back the outcomes whose generated modules wait to be imported; imports them
    BATCH at a time, each batch in one fresh process with tests/test_inert.py's audit
    hook (nothing but compile and exec, no output, only the expected names); then passes
    every outcome on to `on_outcome`, the non-inert ones as findings."""

    BATCH = 400

    def __init__(self, on_outcome=None):
        self.on_outcome = on_outcome or (lambda out: None)
        self.pending: list[Outcome] = []
        self.waiting = 0
        self.batches = 0

    def add(self, out: Outcome) -> None:
        if not out.modules:
            self.on_outcome(out)
            return
        self.pending.append(out)
        self.waiting += len(out.modules)
        if self.waiting >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        inert = load_test_module("test_inert")
        with tempfile.TemporaryDirectory(prefix="matcalc-fuzz-") as tmp:
            paths = {}
            for i, out in enumerate(self.pending):
                for j, (kind, source) in enumerate(out.modules):
                    path = os.path.join(tmp, f"generated_{i}_{j}.py")
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(source)
                    paths[path] = (out, kind)
            report_path = os.path.join(tmp, "report.json")
            run = subprocess.run([sys.executable, "-c", STAND_INS + inert.IMPORTER,
                                  json.dumps(list(paths)), report_path, "numpy", "torch",
                                  "jax"], capture_output=True, text=True, timeout=600,
                                 cwd=tmp, check=False)
            self.batches += 1
            if run.returncode != 0 or "INJECTED" in run.stdout + run.stderr:
                problem = f"the importer failed: {(run.stdout + run.stderr)[-300:]}"
                for out in self.pending:
                    out.status, out.detail = "noninert", problem
            else:
                with open(report_path, encoding="utf-8") as f:
                    report = json.load(f)
                for path, (out, kind) in paths.items():
                    problem = _not_inert(report[path], kind, out.case, inert)
                    out.notes.append(f"imported {kind}")
                    if problem and out.status != "noninert":
                        out.status, out.detail = "noninert", problem
        for out in self.pending:
            out.modules = []
            self.on_outcome(out)
        self.pending, self.waiting = [], 0


def _not_inert(r: dict, kind: str, case: Case, inert) -> str:
    """What is wrong with one imported module, or ''."""
    where = f"the {kind} module"
    if r["error"] is not None:
        return f"{where} does not import: {r['error'][:200]}"
    if r["out"]:
        return f"{where} prints {r['out'][:100]!r} when imported"
    if r["events"] != ["compile", "exec"]:
        return f"{where} raises audit events {r['events'][:6]} when imported"
    allowed = inert.ALLOWED[kind].items()
    extra = sorted(set(r["names"].items()) - set(allowed))
    if extra:
        return f"{where} defines {extra[:4]}"
    doc = "".join((r["doc"] or "").split())
    for comment in case.extra["comments"]:
        # the report comes back as JSON, which joins a high and a low surrogate written
        # next to each other into one character: compare what JSON makes of the comment
        comment = json.loads(json.dumps(comment))
        if "".join(comment.split()) not in doc:
            return f"{where}'s docstring drops the comment {comment!r}"
    return ""


# ---- family "sizes" ----------------------------------------------------------------------

# (program, declarations over the size letters n, m, k): each letter gets a size
SIZE_SEEDS = [
    ("x'*A*x", {"x": "n"}), ("log(det(X))", {"X": "n,n"}), ("logdet(X)", {"X": "n,n"}),
    ("Y = X*A' + b'", {"X": "n,m", "A": "k,m"}), ("tr(A*X*B)", {"X": "n,m"}),
    ("0.5*norm2(W*x - y)^2", {"W": "m,n"}), ("softmax(W*x + b)", {"W": "m,n"}),
    ("sum(exp(x))", {"x": "n"}), ("x'*inv(A)*x", {"x": "n"}),
    ("h = relu(W1*x + b1); s = W2*h + b2; f = logsumexp(s) - y'*s",
     {"W1": "m,n", "W2": "k,m"}),
    ("sum((X*w - y).^2)/N", {"X": "n,m"}), ("r*A*r'", {"r": "1,n"}),
    ("sum(X .* Y)", {"X": "n,m"}), ("f = sum(log(sigmoid(X*w)))", {"X": "n,m"}),
    ("det(A*X*B)", {"A": "k,n", "X": "n,m", "B": "m,k"}), ("x'*x/5000", {"x": "n"}),
    ("u*u'*v", {"u": "n"}), ("norm2(u*u'*v)^2", {"u": "n", "v": "n"}),
    ("x'*A*y", {"x": "n", "y": "m"}), ("c*x", {"c": "1", "x": "n"}),
]
SIZE_VERDICTS = ("skipped for size", "not verified: at the small sizes")   # for the tallies


@st.composite
def size_programs(draw):
    def size():
        kind = draw(st.sampled_from(["huge", "huge", "huge", "small", "one"]))
        if kind == "one":
            return "1"
        if kind == "small":
            return draw(st.sampled_from(["2", "3", "7", "1000", "5000"]))
        digits = draw(st.integers(4, 151))
        body = draw(st.sampled_from(["0", "9", "mixed"]))
        tail = "".join(draw(st.sampled_from("0123456789")) for _ in range(min(digits, 8)))
        rest = (body * (digits - 1) if body != "mixed" else (tail * digits)[:digits - 1])
        return draw(st.sampled_from("123456789")) + rest
    letters = {c: size() for c in "nmk"}
    mode = "gradient"
    if draw(st.booleans()):
        program, declared = draw(st.sampled_from(SIZE_SEEDS))
    else:
        mode = draw(st.sampled_from(["gradient", "jacobian", "hessian", "hvp"]))
        program, declared = _oracle().random_program(
            _picker(draw), scalar=mode != "jacobian", depth=draw(st.integers(1, 2)))
    shapes = {}
    for name, decl in declared.items():
        if decl != "scalar":
            decl = ",".join(letters.get(d, d) for d in decl.split(","))
        shapes[name] = decl
    options = {"shapes": shapes}
    if mode != "gradient":
        options.update(mode=mode, layout=draw(st.sampled_from(LAYOUTS)))
    return Case("sizes", program, options)


def _sizes_check(out: Outcome, d, deep: bool) -> None:
    """The default check, within the second together with the derivation, with a verdict,
    without allocating at the declared size."""
    if not out.derived:
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report, seconds, exc = timed(d.check)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    out.seconds += seconds
    if isinstance(exc, HardLimit):
        out.status, out.detail = "hang", f"the check ran past {HARD_LIMIT_SECONDS:g} s"
    elif exc is not None:
        out.status, out.detail = "escape", f"check: {_exc_line(exc)}"
    elif grew > 100:
        out.status, out.detail = "alloc", f"the check's peak memory grew by {grew:.0f} MB"
    elif out.seconds > SLOW_SECONDS and out.status == "ok":
        out.status = "slow"
        out.detail = f"{out.seconds:.2f} s with the check ({seconds:.2f} s)"
    if exc is not None:
        return
    for r in report.results.values():
        out.notes.append(verdict_note(r))
        if out.status == "ok" and verdict_note(r) in ("MISMATCH", "not checked: cut short"):
            out.status, out.detail = "verdict", f"no verdict at the size: {r.line()[:300]}"


FAMILY_CHECKS = {"outer": _outer_check, "signs": _signs_check, "comments": _comments_check,
                 "sizes": _sizes_check}
FAMILIES.update({"outer": outer_programs, "signs": sign_programs,
                 "comments": comment_programs, "sizes": size_programs})
MIX.update({"outer": 5, "signs": 4, "comments": 4, "sizes": 4})


# =========================================================================================
# The summary

@dataclasses.dataclass
class Summary:
    count: int = 0
    derived: int = 0
    seconds: float = 0.0
    status: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    by_family: dict = dataclasses.field(default_factory=dict)   # family -> Counter
    escapes: dict = dataclasses.field(default_factory=dict)     # type -> [count, examples]
    findings: dict = dataclasses.field(default_factory=dict)    # status -> [count, examples]
    deep: dict = dataclasses.field(default_factory=dict)        # kind -> [count, examples]
    deep_runs: int = 0
    slowest: list = dataclasses.field(default_factory=list)     # (seconds, case, status)
    notes: dict = dataclasses.field(default_factory=dict)       # family -> Counter
    timed_out: list = dataclasses.field(default_factory=list)   # every slow or hung example
    max_rss_mb: float = 0.0

    KEEP = 6
    RETIME = 1000

    def add(self, out: Outcome) -> None:
        self.count += 1
        self.derived += out.derived
        self.seconds += out.seconds
        self.status[out.status] += 1
        self.by_family.setdefault(out.case.family, collections.Counter())[out.status] += 1
        if out.status == "escape":
            key = out.detail.split(":")[0]
            where = re.search(r" at (\S+:\d+)", out.detail)
            key += f" at {where.group(1)}" if where else ""
            _note(self.escapes, key, _example(out))
        elif out.bad:
            _note(self.findings, out.status, _example(out))
        if out.status in ("slow", "hang") and len(self.timed_out) < self.RETIME:
            self.timed_out.append(_example(out))
        self.deep_runs += out.deep is not None
        self.notes.setdefault(out.case.family, collections.Counter()).update(out.notes)
        for f in out.deep or ():
            _note(self.deep, re.sub(r"[:(].*", "", f)[:60], _example(out, f))
        self.slowest.append((out.seconds, str(out.case), out.status))
        self.slowest = sorted(self.slowest, reverse=True)[:10]

    def merge(self, other: Summary) -> None:
        self.count += other.count
        self.derived += other.derived
        self.seconds += other.seconds
        self.deep_runs += other.deep_runs
        self.status.update(other.status)
        for fam, c in other.by_family.items():
            self.by_family.setdefault(fam, collections.Counter()).update(c)
        for fam, c in other.notes.items():
            self.notes.setdefault(fam, collections.Counter()).update(c)
        for mine, theirs in ((self.escapes, other.escapes), (self.findings, other.findings),
                             (self.deep, other.deep)):
            for key, (n, examples) in theirs.items():
                slot = mine.setdefault(key, [0, []])
                slot[0] += n
                slot[1] = (slot[1] + examples)[:self.KEEP]
        self.slowest = sorted(self.slowest + other.slowest, reverse=True)[:10]
        self.timed_out = (self.timed_out + other.timed_out)[:self.RETIME]
        self.max_rss_mb = max(self.max_rss_mb, other.max_rss_mb)

    def report(self) -> str:
        lines = [(f"inputs: {self.count:,}   derived: {self.derived:,} "
                  f"({100 * self.derived / max(1, self.count):.1f}%)   "
                  f"pipeline time: {self.seconds:.0f} s "
                  f"(mean {1000 * self.seconds / max(1, self.count):.1f} ms)   "
                  f"max RSS per worker: {self.max_rss_mb:.0f} MB")]
        lines.append("outcomes: " + ", ".join(f"{k} {v:,}" for k, v in
                                              self.status.most_common()))
        for fam, c in sorted(self.by_family.items()):
            lines.append(f"  {fam:9s} " + ", ".join(f"{k} {v:,}" for k, v in c.most_common()))
        over = sum(1 for s, _, _ in self.slowest if s > SLOW_SECONDS)
        lines.append(f"escapes: {sum(n for n, _ in self.escapes.values()):,}   "
                     f"over {SLOW_SECONDS:g} s: {self.status['slow'] + self.status['hang']:,}"
                     f"   (among the 10 slowest: {over})   "
                     f"non-inert modules: {self.status['noninert']:,}   "
                     f"deep findings: {sum(n for n, _ in self.deep.values()):,}")
        if any(self.notes.values()):
            lines.append("tallies (not findings):")
            for fam, c in sorted(self.notes.items()):
                if c:
                    lines.append(f"  {fam:9s} " + ", ".join(f"{k} {v:,}" for k, v in
                                                          c.most_common()))
        for title, table in (("escapes by exception type", self.escapes),
                             ("other findings", self.findings),
                             (f"deep checks ({self.deep_runs:,} derivations evaluated)",
                              self.deep)):
            if not table:
                continue
            lines.append(f"{title}:")
            for key, (n, examples) in sorted(table.items(), key=lambda kv: -kv[1][0]):
                lines.append(f"  {n:6,}  {key}")
                for case, detail, *_ in examples[:3]:
                    lines.append(f"          {case}")
                    lines.append(f"            -> {detail[:300]}".replace("\n", "\\n"))
        lines.append("slowest inputs:")
        for s, case, status in self.slowest:
            lines.append(f"  {s:7.3f} s  {status:8s} {case}")
        return "\n".join(lines)


def _example(out: Outcome, detail: str | None = None) -> tuple:
    """(shown case, detail, program, options, family, extra): enough to print it and to
    run it again."""
    return (str(out.case), out.detail if detail is None else detail, out.case.program,
            out.case.options, out.case.family, out.case.extra)


def again_alone(case: Case, tries: int = 3) -> Outcome:
    """`case` run again alone, up to `tries` times, to tell load (the machine is shared)
    from cost: the first run within the limit, or the last one if none is."""
    for _ in range(tries):
        out = run_case(case, limit=30.0)
        if out.status not in ("slow", "hang"):
            break
    return out


def retime(summary: Summary, tries: int = 3) -> tuple[list[str], int]:
    """Every slow and hung input run again alone (`again_alone`): a line per input still
    slow, then the count; and how many are still slow."""
    lines, load = [], 0
    for shown, detail, program, options, family, extra in summary.timed_out:
        out = again_alone(Case(family, program, options, extra), tries)
        if out.status in ("slow", "hang"):
            lines.append(f"  {detail[:40]:40s} again: {out.status} in {out.seconds:.2f} s "
                         f"({out.detail[:60]})  {shown[:150]}")
        else:
            load += 1
    still_slow = len(lines)
    if summary.timed_out:
        lines.append(f"  {load} of {len(summary.timed_out)} slow or hung inputs took under "
                     f"{SLOW_SECONDS:g} s alone (load); {still_slow} did not")
    return lines, still_slow


def _note(table: dict, key: str, example) -> None:
    slot = table.setdefault(key, [0, []])
    slot[0] += 1
    if len(slot[1]) < Summary.KEEP:
        slot[1].append(example)


def _chunk(args) -> Summary:
    """One worker's share: `n` inputs with hypothesis seed `seed`."""
    n, seed, deep, families = args
    summary = Summary()
    imports = InertImports(summary.add)
    run_many(all_cases(families), n, seed=seed, deep=deep, on_outcome=imports.add)
    imports.flush()
    summary.max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return summary


def _init_worker():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    warm_up()


def _interrupt(signum, frame):
    """SIGTERM as Ctrl-C: a run in the background (which ignores SIGINT) stopped by `kill`
    still reports the chunks it finished."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=100_000, help="inputs in all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2_000, help="inputs per hypothesis run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--deep", type=float, default=0.05,
                    help="fraction of derived inputs also evaluated numerically")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    ap.add_argument("--family", action="append", choices=sorted(FAMILIES),
                    help="only inputs of this family (repeatable; default: all of MIX)")
    args = ap.parse_args(argv)

    chunks, left, i = [], args.count, 0
    while left > 0:
        n = min(args.chunk, left)
        chunks.append((n, args.seed * 100_003 + i, args.deep, args.family))
        left -= n
        i += 1
    total = Summary()
    start = time.time()
    ctx = multiprocessing.get_context("fork")
    stopped = ""
    with ctx.Pool(args.workers, initializer=_init_worker, maxtasksperchild=None) as pool:
        signal.signal(signal.SIGTERM, _interrupt)       # the workers are forked already
        try:
            for part in pool.imap_unordered(_chunk, chunks):
                total.merge(part)
                print(f"[{time.time() - start:7.0f} s] {total.count:,} inputs, "
                      f"{total.derived:,} derived, "
                      f"{sum(n for n, _ in total.escapes.values())} escapes, "
                      f"{total.status['slow'] + total.status['hang']} over "
                      f"{SLOW_SECONDS:g} s", file=sys.stderr, flush=True)
        except KeyboardInterrupt:       # kill (-INT): the summary of the chunks finished
            pool.terminate()
            stopped = f" (interrupted: {total.count:,} of {args.count:,})"
    print(f"fuzz{stopped}: {total.count:,} inputs in {time.time() - start:.0f} s wall, "
          f"{args.workers} workers, seed {args.seed}")
    print(total.report())
    warm_up()
    again, still_slow = retime(total)
    if again:
        print("slow and hung inputs, run again alone:")
        print("\n".join(again))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"count": total.count, "derived": total.derived,
                       "status": dict(total.status),
                       "escapes": {k: v[0] for k, v in total.escapes.items()},
                       "findings": {k: v for k, v in total.findings.items()},
                       "deep": {k: v for k, v in total.deep.items()},
                       "slowest": total.slowest}, f, indent=1)
    # a slow or hung input counts only if it is slow again alone: the machine may be shared
    bad = sum(total.status[s] for s in ("escape", "noninert", "misread")) + still_slow
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
