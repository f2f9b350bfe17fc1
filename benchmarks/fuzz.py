"""Fuzz the whole pipeline: every input either derives or is refused with a MatcalcError.

    python benchmarks/fuzz.py                 # 100,000 inputs, 2 worker processes
    python benchmarks/fuzz.py -n 5000 --workers 1 --deep 0.2

Inputs come from hypothesis strategies, in six families:

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
- ``index``: index notation: statements and indexed products over tensors of every order
  (and one too many), with broadcasts, functions, later statements and odd declarations.

Each input runs the whole pipeline (parse -> shapes -> derive -> simplify -> layout ->
text, LaTeX, NumPy, JSON, steps -> codegen) under a wall-clock limit. The outcome is one of

- ``ok``: derived and printed;
- ``refused``: a ``MatcalcError`` whose ``render()`` works and whose span, where the input
  has one to point at, lies inside the input;
- a finding: ``escape`` (any other exception), ``hang`` (over the hard limit), ``slow``
  (over one second), ``nospan``/``badspan`` (a user error that points nowhere or outside the
  input), ``output`` (a printed formula that is not what it claims: NumPy or generated code
  that does not compile, text that does not parse back).

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

    def __str__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"derive({_short(self.program)}{opts})"


@dataclasses.dataclass
class Outcome:
    case: Case
    status: str                 # ok, refused, escape, hang, slow, nospan, badspan, output
    seconds: float
    detail: str = ""            # exception type and message, or what is wrong
    derived: bool = False
    deep: list | None = None    # findings of the deep checks (None: not run)

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


def run_case(case: Case, deep: bool = False, limit: float = HARD_LIMIT_SECONDS) -> Outcome:
    """Run one input through the whole pipeline under a wall-clock limit. The cyclic
    garbage collector is paused meanwhile, so that a full collection of the harness's own
    heap (hypothesis keeps a great deal) is not charged to whichever input triggers it."""
    collecting = gc.isenabled()
    gc.disable()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    start = time.perf_counter()
    d = None
    try:
        d = _pipeline(case)
        seconds = time.perf_counter() - start
        status, detail = "ok", ""
    except HardLimit as exc:
        seconds = time.perf_counter() - start
        status, detail = "hang", f"stopped after {limit:.0f} s in {_exc_line(exc)}"
    except MatcalcError as err:
        seconds = time.perf_counter() - start
        status, detail = _check_error(err, case.program)
    except RecursionError as exc:
        seconds = time.perf_counter() - start
        status, detail = "escape", _exc_line(exc)
    except Exception as exc:  # noqa: BLE001
        seconds = time.perf_counter() - start
        status, detail = "escape", _exc_line(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if collecting:
            gc.enable()
    out = Outcome(case, status, seconds, detail, derived=status == "ok")
    if status == "ok":
        problems = _output_problems(d, case)
        if problems:
            out.status, out.detail = "output", "; ".join(problems)
        elif seconds > SLOW_SECONDS:
            out.status, out.detail = "slow", f"{seconds:.2f} s"
    elif status == "refused" and seconds > SLOW_SECONDS:
        out.status, out.detail = "slow", f"{seconds:.2f} s (refused: {detail[:200]})"
    if deep and out.derived:
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
        report = d.check()
        if not report.ok:
            summary = report.summary().replace("\n", "; ")
            verdict = ("finite-difference check failed" if re.search(
                r"MISMATCH|WRONG|FAIL", summary) else "finite-difference check could not verify")
            if verdict.endswith("failed") or not _constant(d.output):
                # a constant program (norm2(v - v)) may have no point off its kinks: its
                # zero derivative is right, and not verifiable; anything else is a finding
                findings.append(f"{verdict}: {summary[:300]}")
    except MatcalcError:
        pass
    except Exception as exc:  # noqa: BLE001
        findings.append(f"check() fails: {_exc_line(exc)}")
    return findings


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
    "index": index_programs,
}
# how many of every 20 inputs come from each family
MIX = {"text": 3, "grammar": 5, "typed": 6, "mutation": 4, "options": 2, "index": 4}


def all_cases():
    return st.one_of(*[FAMILIES[f]() for f, w in MIX.items() for _ in range(w)])


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
    max_rss_mb: float = 0.0

    KEEP = 6

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
        self.deep_runs += out.deep is not None
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
        for mine, theirs in ((self.escapes, other.escapes), (self.findings, other.findings),
                             (self.deep, other.deep)):
            for key, (n, examples) in theirs.items():
                slot = mine.setdefault(key, [0, []])
                slot[0] += n
                slot[1] = (slot[1] + examples)[:self.KEEP]
        self.slowest = sorted(self.slowest + other.slowest, reverse=True)[:10]
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
                     f"   (among the 10 slowest: {over})")
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
    """(shown case, detail, program, options): enough to print it and to run it again."""
    return (str(out.case), out.detail if detail is None else detail, out.case.program,
            out.case.options)


def retime(summary: Summary) -> list[str]:
    """Run the slow and hung examples again, one at a time, to tell load from cost."""
    lines = []
    for status in ("slow", "hang"):
        for shown, detail, program, options in summary.findings.get(status, [0, []])[1]:
            out = run_case(Case("retime", program, options), limit=30.0)
            lines.append(f"  {status:5s} {detail[:40]:40s} again: {out.status} in "
                         f"{out.seconds:.2f} s  {shown[:150]}")
    return lines


def _note(table: dict, key: str, example) -> None:
    slot = table.setdefault(key, [0, []])
    slot[0] += 1
    if len(slot[1]) < Summary.KEEP:
        slot[1].append(example)


def _chunk(args) -> Summary:
    """One worker's share: `n` inputs with hypothesis seed `seed`."""
    n, seed, deep, family = args
    summary = Summary()
    strategy = FAMILIES[family]() if family else all_cases()
    run_many(strategy, n, seed=seed, deep=deep, on_outcome=summary.add)
    summary.max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return summary


def _init_worker():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    warm_up()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--count", type=int, default=100_000, help="inputs in all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2_000, help="inputs per hypothesis run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family", choices=sorted(FAMILIES), help="one family only")
    ap.add_argument("--deep", type=float, default=0.05,
                    help="fraction of derived inputs also evaluated numerically")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
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
    with ctx.Pool(args.workers, initializer=_init_worker, maxtasksperchild=None) as pool:
        for part in pool.imap_unordered(_chunk, chunks):
            total.merge(part)
            print(f"[{time.time() - start:7.0f} s] {total.count:,} inputs, "
                  f"{total.derived:,} derived, "
                  f"{sum(n for n, _ in total.escapes.values())} escapes, "
                  f"{total.status['slow'] + total.status['hang']} over "
                  f"{SLOW_SECONDS:g} s", file=sys.stderr, flush=True)
    print(f"fuzz: {total.count:,} inputs in {time.time() - start:.0f} s wall, "
          f"{args.workers} workers, seed {args.seed}")
    print(total.report())
    warm_up()
    again = retime(total)
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
                       "slowest": total.slowest}, f, indent=1, ensure_ascii=False)
    bad = total.status["escape"] + total.status["hang"] + total.status["slow"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
