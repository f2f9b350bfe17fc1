"""The command line: options, input, output formats and exit statuses.

Most tests stand a fake `matcalc.derive` in for the core, so they test the shell alone
(what it passes to the API, what it prints, how it exits); the rest run real derivations.
"""
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.main import cli
from matcalc.codegen import GENERATED_MARKER


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


# --- a stand-in for the core ---------------------------------------------------------------

class FakeReport:
    def __init__(self, ok):
        self.ok = ok

    def summary(self):
        return "X ok (2.1e-10)" if self.ok else "X FAILED (0.7)"


class FakeVerdict:
    def __init__(self, ok, message):
        self.ok, self.message = ok, message


class FakeDerivation:
    def __init__(self, program, check_ok):
        self.program = program
        self.check_ok = check_ok
        self.checked = False
        self.calls = []

    def text(self, **kw):
        self.calls.append(("text", kw))
        return f"text of {self.program}\n"

    def latex(self, standalone=False, **kw):
        self.calls.append(("latex", dict(kw, standalone=standalone)))
        return "\\documentclass{article}" if standalone else "\\frac{\\partial f}{\\partial X}"

    def numpy_code(self, **kw):
        self.calls.append(("numpy", kw))
        return "dX = dY @ A"

    def to_json(self, **kw):
        self.calls.append(("json", kw))
        return {"program": self.program, "derivatives": {"X": {"text": "dY A"}}}

    def check(self):
        self.checked = True
        return FakeReport(self.check_ok)

    def verify_claim(self, claim):
        ok = "wrong" not in claim
        return FakeVerdict(ok, f"{claim}: {'correct' if ok else 'WRONG'}")

    def codegen(self, target="numpy"):
        return f"{GENERATED_MARKER} from {self.program!r}\nTARGET = {target!r}\n"


class FakeCore:
    """Records each call of `matcalc.derive`; `.last` is the Derivation it returned."""

    def __init__(self):
        self.check_ok = True
        self.error = None
        self.calls = []
        self.last = None

    def derive(self, program, **kw):
        self.calls.append((program, kw))
        if self.error is not None:
            raise self.error
        self.last = FakeDerivation(program, self.check_ok)
        return self.last

    @property
    def program(self):
        return self.calls[-1][0]

    @property
    def kw(self):
        return self.calls[-1][1]


@pytest.fixture
def fake(monkeypatch):
    core = FakeCore()
    monkeypatch.setattr(matcalc, "derive", core.derive, raising=False)
    return core


# --- options passed to the API -----------------------------------------------------------

def test_defaults_passed_to_the_api(fake):
    result = run("derive", "x'*A*x")
    assert result.exit_code == 0, result.output
    assert fake.program == "x'*A*x"
    assert fake.kw == {"wrt": None, "layout": "denominator", "shapes": {}, "kinds": "ml",
                       "check": False, "notation": "auto"}


def test_options_passed_to_the_api(fake):
    result = run("derive", "Y = X*A' + b'", "--wrt", "X", "--wrt", "A,b",
                 "--layout", "numerator", "--shape", "X=N,n", "--shape", "b = m",
                 "--kinds", "mc", "--no-check")
    assert result.exit_code == 0, result.output
    assert fake.kw == {"wrt": ["X", "A", "b"], "layout": "numerator",
                       "shapes": {"X": "N,n", "b": "m"}, "kinds": "mc", "check": False,
                       "notation": "auto"}


@pytest.mark.parametrize("flag", ["--jacobian", "--hessian", "--hvp"])
def test_jacobian_hessian_hvp_select_a_mode(fake, flag):
    assert run("derive", "x'*A*x", flag).exit_code == 0
    assert fake.kw["mode"] == flag[2:]


def test_jacobian_and_hessian_exclude_one_another(fake):
    result = run("derive", "x'*A*x", "--jacobian", "--hessian")
    assert result.exit_code == 2
    assert "exclude one another" in result.stderr
    assert fake.calls == []


def test_unknown_layout_is_a_usage_error(fake):
    result = run("derive", "x'*A*x", "--layout", "sideways")
    assert result.exit_code == 2
    assert "Invalid value for '--layout'" in result.stderr
    assert fake.calls == []


def test_unknown_option_is_a_usage_error(fake):
    result = run("derive", "x'*A*x", "--colour")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


@pytest.mark.parametrize("value", ["X", "=N,n", "X=", "X:N,n"])
def test_shape_without_name_and_dims_is_a_usage_error(fake, value):
    result = run("derive", "X*x", "--shape", value)
    assert result.exit_code == 2
    assert "NAME=DIMS" in result.stderr
    assert fake.calls == []


def test_shape_declared_twice_is_a_usage_error(fake):
    result = run("derive", "X*x", "--shape", "X=N,n", "--shape", "X=n,n")
    assert result.exit_code == 2
    assert "X is declared twice" in result.stderr


def test_standalone_needs_latex(fake):
    result = run("derive", "x'*A*x", "--standalone")
    assert result.exit_code == 2
    assert "--standalone applies only to --format latex" in result.stderr


# --- reading EXPR ------------------------------------------------------------------------

def test_dash_reads_standard_input(fake):
    result = run("derive", "-", input="h = W*x\nf = sum(h)\n")
    assert result.exit_code == 0, result.output
    assert fake.program == "h = W*x\nf = sum(h)"


def test_at_file_reads_a_file(fake, tmp_path):
    path = tmp_path / "layer.mc"
    path.write_text("Y = X*Aᵀ + b'\r\n\r\n", encoding="utf-8")
    result = run("derive", f"@{path}")
    assert result.exit_code == 0, result.output
    assert fake.program == "Y = X*Aᵀ + b'"


def test_missing_at_file_is_a_clean_error(fake, tmp_path):
    result = run("derive", f"@{tmp_path / 'absent.mc'}")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot read ")
    assert "No such file" in result.stderr
    assert "Traceback" not in result.output
    assert fake.calls == []


def test_double_dash_lets_an_expression_start_with_a_minus(fake):
    result = run("derive", "--format", "numpy", "--", "-x'*A*x")
    assert result.exit_code == 0, result.output
    assert fake.program == "-x'*A*x"


# --- output ------------------------------------------------------------------------------

def test_text_is_the_default_format(fake):
    result = run("derive", "x'*A*x")
    assert result.stdout == "text of x'*A*x\n"


def test_json_format_prints_to_json(fake):
    result = run("derive", "x'*A*x", "--format", "json")
    assert json.loads(result.stdout) == {"program": "x'*A*x",
                                         "derivatives": {"X": {"text": "dY A"}}}


def test_latex_standalone_and_steps_reach_the_printer(fake):
    result = run("derive", "x'*A*x", "--format", "latex", "--standalone", "--steps")
    assert result.stdout == "\\documentclass{article}\n"
    assert fake.last.calls == [("latex", {"standalone": True, "steps": True})]


def test_numpy_format(fake):
    result = run("derive", "x'*A*x", "--format", "numpy")
    assert result.stdout == "dX = dY @ A\n"


# --- checking ----------------------------------------------------------------------------

def test_derive_checks_by_default_and_reports_on_stderr(fake):
    result = run("derive", "x'*A*x")
    assert result.exit_code == 0
    assert fake.last.checked
    assert result.stderr == "check: X ok (2.1e-10)\n"


def test_no_check_skips_the_check(fake):
    result = run("derive", "x'*A*x", "--no-check")
    assert result.exit_code == 0
    assert not fake.last.checked
    assert result.stderr == ""


def test_failed_check_exits_1_after_printing(fake):
    fake.check_ok = False
    result = run("derive", "x'*A*x")
    assert result.exit_code == 1
    assert result.stdout == "text of x'*A*x\n"
    assert "warning: the derivation failed its finite-difference check" in result.stderr


def test_check_command_prints_the_summary(fake):
    result = run("check", "x'*A*x")
    assert result.exit_code == 0
    assert result.stdout == "check: X ok (2.1e-10)\n"


def test_check_command_exits_1_on_a_mismatch(fake):
    fake.check_ok = False
    assert run("check", "x'*A*x").exit_code == 1


def test_check_command_verifies_claims(fake):
    result = run("check", "x'*A*x", "--no-check", "--claim", "x = 2*A*x",
                 "--claim", "A = wrong")
    assert result.exit_code == 1
    assert result.stdout == "x = 2*A*x: correct\nA = wrong: WRONG\n"
    assert not fake.last.checked


def test_check_command_with_nothing_to_check_is_a_usage_error(fake):
    assert run("check", "x'*A*x", "--no-check").exit_code == 2


# --- exit status 4: not everything could be verified (issue 12, item 7) -------------------

class UnverifiedReport(FakeReport):
    """Nothing wrong, something not checked."""
    mismatch = False

    def __init__(self):
        super().__init__(False)

    def summary(self):
        return "X NOT CHECKED (no valid point)"


def test_an_unverified_check_exits_4_with_the_formulas_printed(fake, monkeypatch):
    monkeypatch.setattr(FakeDerivation, "check", lambda self: UnverifiedReport())
    result = run("derive", "x'*A*x")
    assert result.exit_code == 4
    assert result.stdout == "text of x'*A*x\n"
    assert "not every formula could be verified" in result.stderr
    assert "please report" not in result.stderr
    assert run("check", "x'*A*x").exit_code == 4
    assert run("codegen", "x'*A*x").exit_code == 4
    # a wrong claim is a failure, whatever else could not be verified
    assert run("check", "x'*A*x", "--claim", "A = wrong").exit_code == 1


@pytest.mark.parametrize("program", ["det(A*X*B)", "x'*x - norm2(x)^2"])
def test_programs_once_not_checked_are_verified(program):
    result = run("derive", program)
    assert result.exit_code == 0, result.stderr
    assert "verified by finite differences" in result.stderr


def test_values_below_double_precision_exit_4():
    result = run("derive", "1e-320*x*x'*y", "--jacobian", "--wrt", "x")
    assert result.exit_code == 4, result.stderr
    assert "x: NOT CHECKED" in result.stderr


def test_a_claim_that_cannot_be_compared_exits_4_and_a_wrong_one_1():
    # log(-x'x) is defined nowhere: no point; a claim equal to the formula is RIGHT
    assert run("check", "log(-x'*x)").exit_code == 4
    result = run("check", "log(-x'*x)", "--no-check", "--claim", "x = 3*x/(x'*x)")
    assert result.exit_code == 4 and "x: NOT CHECKED" in result.stdout
    result = run("check", "sum(relu(x - 3))", "--claim", "x = vector(0)")
    assert result.exit_code == 1 and "x: WRONG" in result.stdout
    result = run("check", "--claim", "u = vector(0)", "sum(softmax(u))")
    assert result.exit_code == 0 and "u: RIGHT" in result.stdout


def test_the_help_documents_every_exit_status():
    text = " ".join(run("--help").output.split())
    for status in ("0 success", "1 a finite-difference check or a claim failed",
                   "2 a user error", "3 an internal error",
                   "4 not everything could be verified"):
        assert status in text


# --- codegen -----------------------------------------------------------------------------

def test_codegen_prints_the_module(fake):
    result = run("codegen", "x'*A*x", "--target", "jax", "--no-check")
    assert result.exit_code == 0
    assert result.stdout == f"{GENERATED_MARKER} from \"x'*A*x\"\nTARGET = 'jax'\n"


def test_codegen_writes_a_new_file(fake, tmp_path):
    out = tmp_path / "grad.py"
    result = run("codegen", "x'*A*x", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text().startswith(GENERATED_MARKER)
    assert sorted(os.listdir(tmp_path)) == ["grad.py"]


def test_codegen_replaces_a_file_it_generated(fake, tmp_path):
    out = tmp_path / "grad.py"
    out.write_text(f"{GENERATED_MARKER} from 'old'\n")
    assert run("codegen", "x'*A*x", "-o", str(out)).exit_code == 0
    assert "x'*A*x" in out.read_text()


def test_codegen_refuses_to_overwrite_a_users_file(fake, tmp_path):
    out = tmp_path / "mine.py"
    out.write_text("print('my own code')\n")
    result = run("codegen", "x'*A*x", "-o", str(out))
    assert result.exit_code == 2
    assert "was not generated by matcalc" in result.stderr
    assert "--force" in result.stderr
    assert out.read_text() == "print('my own code')\n"


def test_codegen_force_overwrites_a_users_file(fake, tmp_path):
    out = tmp_path / "mine.py"
    out.write_text("print('my own code')\n")
    assert run("codegen", "x'*A*x", "-o", str(out), "--force").exit_code == 0
    assert out.read_text().startswith(GENERATED_MARKER)
    assert sorted(os.listdir(tmp_path)) == ["mine.py"]


def test_codegen_into_a_missing_directory_is_a_clean_error(fake, tmp_path):
    result = run("codegen", "x'*A*x", "-o", str(tmp_path / "no" / "grad.py"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot write ")


# --- errors ------------------------------------------------------------------------------

def test_matcalc_error_exits_2_with_its_rendering(fake):
    from matcalc.errors import MatcalcError, Span
    fake.error = MatcalcError("unexpected end of input", Span(4, 5), "x'*A*")
    result = run("derive", "x'*A*")
    assert result.exit_code == 2
    assert result.stderr == ("error: line 1, column 5: unexpected end of input\n"
                             "  x'*A*\n"
                             "      ^\n")


def test_unexpected_exception_exits_3_without_traceback(fake):
    fake.error = RuntimeError("boom")
    result = run("derive", "x'*A*x")
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: RuntimeError: boom\n")
    assert "please report this" in result.stderr
    assert "Traceback" not in result.output


# --- real derivations --------------------------------------------------------------------

def test_syntax_error_exits_2_with_a_caret():
    result = run("derive", "x'*A*")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "x'*A*" in result.stderr and "^" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_empty_expression_exits_2():
    result = run("derive", "")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_bad_shape_dimensions_exit_2():
    result = run("derive", "X*x", "--shape", "X=N,,n")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_json_of_a_linear_layer():
    # Y = X A' + b':  dL/dX = dY A,  dL/dA = dY' X,  dL/db = column sums of dY
    result = run("derive", "Y = X*A' + b'", "--shape", "X=N,n", "--shape", "A=m,n",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["program"] == "Y = X*A' + b'"
    assert d["layout"] == "denominator"
    assert d["output"] == {"name": "Y", "shape": ["N", "m"]}
    assert d["upstream"] == {"name": "dY", "shape": ["N", "m"]}
    assert d["inputs"] == {"X": ["N", "n"], "A": ["m", "n"], "b": ["m"]}
    assert d["derivatives"]["X"]["text"] == "dY*A"
    assert d["derivatives"]["A"]["text"] == "dY'*X"
    assert d["derivatives"]["X"]["numpy"] == "dY @ A"
    rng = np.random.default_rng(0)
    X, A, b, dY = (rng.standard_normal(s) for s in [(5, 3), (4, 3), 4, (5, 4)])
    values = {"X": X, "A": A, "b": b, "dY": dY}
    expected = {"X": dY @ A, "A": dY.T @ X, "b": dY.sum(axis=0)}
    for name, want in expected.items():
        got = eval(d["derivatives"][name]["numpy"], {"np": np}, values)
        np.testing.assert_allclose(got, want)
        assert d["derivatives"][name]["shape"] == d["inputs"][name]


def test_python_dash_m_matcalc_derives_to_json(tmp_path):
    # d(x'Ax)/dx = (A + A')x,  d(x'Ax)/dA = x x'
    proc = subprocess.run([sys.executable, "-m", "matcalc", "derive", "x'*A*x",
                           "--format", "json"],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["output"]["shape"] == [] and d["upstream"] is None
    assert set(d["derivatives"]) == {"x", "A"}
    rng = np.random.default_rng(1)
    x, A = rng.standard_normal(4), rng.standard_normal((4, 4))
    grad = {name: eval(v["numpy"], {"np": np}, {"x": x, "A": A})
            for name, v in d["derivatives"].items()}
    np.testing.assert_allclose(grad["x"], (A + A.T) @ x)
    np.testing.assert_allclose(grad["A"], np.outer(x, x))
    assert proc.stderr.startswith("check: ")


def test_python_dash_m_matcalc_help(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "matcalc", "--help"],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for command in ("derive", "check", "codegen"):
        assert command in proc.stdout


def test_cli_start_up_imports_neither_sympy_nor_numpy(tmp_path):
    code = "import sys, matcalc.cli.main; print(sorted({'sympy', 'numpy'} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


# --- input: undecodable bytes, and no more than the limit ---------------------------------

def _cli(*args, stdin=None, env=None, timeout=120):
    """`python -m matcalc ARGS` in a fresh process (arguments may be bytes)."""
    return subprocess.run([sys.executable, "-m", "matcalc", *args], stdin=stdin,
                          capture_output=True, timeout=timeout, check=False,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("command", [["derive"], ["derive", "--format", "json"],
                                     ["codegen"], ["check"]], ids=" ".join)
def test_a_program_argument_that_is_not_utf8_is_a_user_error(command):
    # under PYTHONIOENCODING=utf-8 the byte E9 reached the output as a lone surrogate
    # and crashed the encoder (exit 3)
    proc = _cli(*command, b"x'*x  # caf\xe9", env={"PYTHONIOENCODING": "utf-8"})
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert err.startswith("error: line 1, column 12: EXPR is not UTF-8 text: the byte 0xE9\n")
    assert "Traceback" not in err and "internal error" not in err
    assert proc.stdout == b""


@pytest.mark.parametrize("how", ["@/dev/zero", "- </dev/zero"])
def test_an_endless_input_is_refused_at_the_limit(how, tmp_path):
    # it was read whole: 3 GB, then exit 3. Now at most the limit plus one byte is read
    from matcalc.parse import MAX_SOURCE_CHARS
    expr = how.split()[0]
    with open("/dev/zero", "rb") as zero:
        proc = _peak(["derive", expr], stdin=zero if expr == "-" else None)
    assert proc.returncode == 2, proc.stderr
    assert f"more than {4 * MAX_SOURCE_CHARS:,} bytes" in proc.stderr
    assert "matcalc.parse.MAX_SOURCE_CHARS" in proc.stderr
    assert proc.peak_mb < 150, f"peak resident memory {proc.peak_mb:.0f} MB"


def test_a_large_file_is_refused_without_reading_it(tmp_path):
    big = tmp_path / "big.mc"
    with open(big, "wb") as f:                    # 300 MB, sparse: no disk used
        f.truncate(300 << 20)
    proc = _peak(["derive", f"@{big}"])
    assert proc.returncode == 2 and "more than 4,000,000 bytes" in proc.stderr, proc.stderr
    assert proc.peak_mb < 150, f"peak resident memory {proc.peak_mb:.0f} MB"


def test_a_pipe_as_at_file_is_read_up_to_the_limit(tmp_path):
    fifo = tmp_path / "program.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(
        [sys.executable, "-c", "import sys\ntry:\n    f = open(sys.argv[1], 'wb')\n"
         "    while True: f.write(b'x + ' * 65536)\nexcept OSError: pass", str(fifo)],
        stderr=subprocess.DEVNULL)
    try:
        proc = _cli("derive", f"@{fifo}", timeout=60)
    finally:
        writer.kill()
        writer.wait()
    assert proc.returncode == 2 and b"more than 4,000,000 bytes" in proc.stderr, proc.stderr
    small = tmp_path / "small.fifo"                  # a short program through a pipe: read
    os.mkfifo(small)
    writer = subprocess.Popen(["sh", "-c", f"printf \"x'*x\\n\" > {small}"])
    proc = _cli("derive", f"@{small}", "--no-check", timeout=60)
    writer.wait()
    assert proc.returncode == 0 and b"df/dx = 2*x" in proc.stdout, proc.stderr


PEAK = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))   # old code: MemoryError, not 3 GB
sys.argv = ["matcalc", *sys.argv[1:]]
from matcalc.cli.main import main
try:
    main()
except SystemExit as e:
    code = e.code
try:       # this process's own peak: ru_maxrss also counts the parent's pages at fork
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"peak {peak}", file=sys.stderr)
sys.exit(code)
"""


def _peak(args, stdin=None):
    """The CLI run in a fresh process under a 1 GB address-space limit; its peak resident
    memory (MB) as `.peak_mb`, its output as text."""
    proc = subprocess.run([sys.executable, "-c", PEAK, *args], stdin=stdin, text=True,
                          capture_output=True, timeout=120, check=False)
    lines = proc.stderr.splitlines()
    proc.peak_mb = int(lines[-1].split()[1]) / 1024 if lines and lines[-1].startswith("peak")\
        else float("inf")
    return proc


# --- output: only over regular files --------------------------------------------------------

def test_codegen_refuses_a_named_pipe_without_opening_it(tmp_path):
    # the overwrite check opened the target for reading: a FIFO blocked it forever
    fifo = tmp_path / "grad.py"
    os.mkfifo(fifo)
    for extra in ([], ["--force"]):
        proc = _cli("codegen", "x'*A*x", "--no-check", "-o", str(fifo), *extra, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert b"is a named pipe: matcalc writes only regular files" in proc.stderr
        assert b"-o -" in proc.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_codegen_to_dev_stdout_through_a_pipe_does_not_hang():
    proc = subprocess.run(f"'{sys.executable}' -m matcalc codegen \"x'*A*x\" --no-check "
                          "-o /dev/stdout | cat", shell=True, capture_output=True, timeout=60)
    assert b"/dev/stdout is a named pipe" in proc.stderr, proc.stderr


def test_codegen_never_replaces_a_device_even_with_force(tmp_path):
    # as root, --force made /dev/null a regular file
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("cannot make a device node here (the refusal of FIFOs is tested above)")
    for path in (node, "/dev/null"):              # a copy first: old code fails there
        proc = _cli("codegen", "x'*A*x", "--no-check", "-o", str(path), "--force", timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert b"is a character device: matcalc writes only regular files" in proc.stderr
        assert stat.S_ISCHR(os.lstat(path).st_mode)


def test_codegen_keeps_the_mode_of_the_file_it_replaces(fake, tmp_path):
    out = tmp_path / "grad.py"
    out.write_text(f"{GENERATED_MARKER} from 'old'\n")
    out.chmod(0o600)
    assert run("codegen", "x'*A*x", "-o", str(out)).exit_code == 0
    assert "x'*A*x" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.chmod(0o750)
    assert run("codegen", "x'*A*x", "-o", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


def test_codegen_writes_through_a_symlink_to_a_generated_file(fake, tmp_path):
    real = tmp_path / "build" / "grad_v2.py"
    real.parent.mkdir()
    real.write_text(f"{GENERATED_MARKER} from 'old'\n")
    link = tmp_path / "grad.py"
    link.symlink_to(os.path.join("build", "grad_v2.py"))
    result = run("codegen", "x'*A*x", "-o", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == os.path.join("build", "grad_v2.py")
    assert "x'*A*x" in real.read_text()
    assert sorted(os.listdir(real.parent)) == ["grad_v2.py"]


def test_codegen_refuses_a_symlink_to_a_users_file_even_with_force(fake, tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text("print('my own code')\n")
    link = tmp_path / "grad.py"
    link.symlink_to(mine)
    for extra in ([], ["--force"]):
        result = run("codegen", "x'*A*x", "-o", str(link), *extra)
        assert result.exit_code == 2
        assert "symbolic link to" in result.stderr and "did not generate" in result.stderr
        assert mine.read_text() == "print('my own code')\n" and link.is_symlink()
    dangling = tmp_path / "dangling.py"
    dangling.symlink_to(tmp_path / "nowhere.py")
    result = run("codegen", "x'*A*x", "-o", str(dangling), "--force")
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert not (tmp_path / "nowhere.py").exists()
