"""The command line: a thin click shell over the API in `matcalc/__init__.py`.

Each command reads EXPR, calls `matcalc.derive`, prints, and maps what happened to an
exit status (SPEC section 8): 0 success, 1 a finite-difference check or a claim failed (a
real mismatch), 2 a user error (a `MatcalcError`, or a usage error that click reports),
3 a bug in matcalc, 4 not everything could be verified (the formulas are printed). No
traceback is ever shown. Only click and the light `matcalc` package load at start-up; the core imports
its heavy modules when a command needs them.
"""
from __future__ import annotations

import json
import os
import stat
import sys

import click

import matcalc
from matcalc.errors import MatcalcError, Span

OK, CHECK_FAILED, USER_ERROR, INTERNAL_ERROR, NOT_VERIFIED = 0, 1, 2, 3, 4

MODES = ("jacobian", "hessian", "hvp")


class MatcalcGroup(click.Group):
    """The `matcalc` group: turns a `MatcalcError` into exit 2, anything unexpected into 3."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MatcalcError as e:
            click.echo(f"error: {e.render()}", err=True)
            ctx.exit(USER_ERROR)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click reports these itself (usage errors exit 2)
        except Exception as e:  # noqa: BLE001  (a bug: reported without a traceback)
            click.echo(f"internal error: {type(e).__name__}: {e}\n"
                       "please report this, with the command that caused it", err=True)
            ctx.exit(INTERNAL_ERROR)


@click.group(cls=MatcalcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=matcalc.__version__, prog_name="matcalc")
def cli():
    """Derive matrix-calculus formulas: gradients, backprop, Jacobians, Hessians.

    EXPR is an expression or a short program, such as "x'*A*x" or "Y = X*A' + b'"
    (statements separated by newlines or ';'; the last one is differentiated).
    EXPR '-' reads it from standard input, '@FILE' from a file, and '--' ends the
    options, so an expression may start with a minus.

    \b
    Exit status: 0 success,
                 1 a finite-difference check or a claim failed (a mismatch),
                 2 a user error (syntax, shapes, names, options),
                 3 an internal error,
                 4 not everything could be verified (no valid point, values that
                   vanish or underflow, sizes too large, or the check's time limit);
                   the formulas are printed.
    """


def main() -> None:
    """The `matcalc` console script."""
    cli()


class ExprCommand(click.Command):
    """A command whose EXPR may start with a minus (`matcalc derive "-y'*log(softmax(s))"
    --onehot y`), which click alone takes for an option, and whose options may follow
    `--` and EXPR (`matcalc derive -- "-y'*log(p)" --onehot y`): the arguments are put in
    the order click reads, options first, then `--` and EXPR."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self.expression_last(args))

    def expression_last(self, args: list[str]) -> list[str]:
        options = {name: param for param in self.params if isinstance(param, click.Option)
                   for name in param.opts + param.secondary_opts}
        takes_value = {name for name, p in options.items() if not p.is_flag and not p.count}
        out: list[str] = []
        positional: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                if i + 1 < len(args):
                    positional.append(args[i + 1])       # EXPR, whatever it starts with
                i += 2
                continue
            name = arg.split("=", 1)[0]
            if arg.startswith("--") or name in options:
                out.append(arg)
                if name in takes_value and "=" not in arg and i + 1 < len(args):
                    out.append(args[i + 1])
                    i += 1
            elif arg.startswith("-") and len(arg) > 1 and arg[:2] in takes_value and \
                    _FILE_NAME.fullmatch(arg[2:]):
                out.append(arg)                          # -ofile.py
            elif arg.startswith("-") and len(arg) > 1 and not positional:
                positional.append(arg)                   # an expression: -x'*A*x
            elif arg.startswith("-") and len(arg) > 1:
                out.append(arg)                          # an unknown option: click says so
            else:
                positional.append(arg)
            i += 1
        return out + (["--", *positional] if positional else [])


_FILE_NAME = __import__("re").compile(r"[\w./~+-]+")


# --- options shared by every command --------------------------------------------------

def _parse_wrt(ctx, param, values: tuple[str, ...]) -> list[str] | None:
    """`--wrt X --wrt A,b` -> ["X", "A", "b"]; none given -> None (every variable)."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def _parse_shapes(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    """`--shape X=N,n` -> {"X": "N,n"}; the API parses and validates the dimensions."""
    shapes: dict[str, str] = {}
    for value in values:
        name, eq, dims = (part.strip() for part in value.partition("="))
        if not eq or not name or not dims:
            raise click.BadParameter(
                f"{value!r} is not NAME=DIMS (for example X=N,n  b=m  r=1,m  c=scalar)")
        if name in shapes:
            raise click.BadParameter(f"{name} is declared twice")
        shapes[name] = dims
    return shapes


_DERIVATION_OPTIONS = [
    click.argument("expr", metavar="EXPR"),
    click.option("--wrt", multiple=True, metavar="NAME", callback=_parse_wrt,
                 help="Differentiate with respect to NAME (repeatable, or comma-separated)."
                      "  [default: every variable]"),
    click.option("--layout", type=click.Choice(["numerator", "denominator", "mixed"]),
                 default="denominator", show_default=True,
                 help="Layout convention of the derivatives."),
    click.option("--shape", "shapes", multiple=True, metavar="NAME=DIMS", callback=_parse_shapes,
                 help="Declare a shape: X=N,n (matrix), b=m (column vector), r=1,m (row), "
                      "c=scalar. Repeatable."),
    click.option("--kinds", type=click.Choice(["ml", "mc"]), default="ml", show_default=True,
                 help="Kinds of undeclared names: ml (Greek scalars, lowercase vectors, "
                      "uppercase matrices) or mc (matrixcalculus.org: a-g scalars, "
                      "h-z vectors)."),
    click.option("--onehot", multiple=True, metavar="NAME[=rows]",
                 help="NAME holds one-hot labels (or probabilities): each column sums to "
                      "one, or each row with =rows. Cross-entropy gradients then take the "
                      "textbook form softmax(s) - y. Repeatable."),
    click.option("--signs", multiple=True, metavar="NAME",
                 help="NAME holds labels -1 or +1 (logistic regression, SVM): y.^2 = 1, "
                      "so the logistic Hessian is X'*diag(s .* (1 - s))*X. Repeatable."),
    click.option("--assume", multiple=True, metavar="NAME=STRUCTURE",
                 help="NAME is a structured square matrix: symmetric, spd (symmetric "
                      "positive definite), diagonal, lower or upper (triangular), or "
                      "orthogonal. Its gradient is taken within the structure (see "
                      "--convention; for orthogonal, the Riemannian gradient "
                      "G - Q*(Q'*G + G'*Q)/2). Repeatable."),
    click.option("--convention", type=click.Choice(["projected", "entries"]),
                 default="projected", show_default=True,
                 help="Gradient with respect to a structured matrix: projected (the "
                      "Frobenius projection of the unconstrained gradient G, (G + G')/2 "
                      "for symmetric) or entries (the derivative with respect to the "
                      "independent entries, G + G' - diag(diag(G)), Matrix Cookbook 2.8)."),
    click.option("--jacobian", is_flag=True,
                 help="The full Jacobian of a non-scalar output."),
    click.option("--hessian", is_flag=True, help="The Hessian of a scalar output."),
    click.option("--hvp", is_flag=True, help="The Hessian-vector product of a scalar output."),
    click.option("--inline", is_flag=True,
                 help="Write each derivative in terms of the inputs only, one self-contained "
                      "formula, rather than with the program's own names for the values it "
                      "names ((o - y)*a')."),
    click.option("--check/--no-check", default=True, show_default=True,
                 help="Verify the result against finite differences."),
    click.option("--from", "notation", type=click.Choice(["matcalc", "latex"]),
                 help="The notation of EXPR: matcalc's language, or LaTeX (\\frac{1}{2}"
                      "\\|W x - y\\|_2^2).  [default: LaTeX if EXPR holds a backslash]"),
]


def derivation_options(command):
    """Decorate `command` with EXPR and the options every command shares."""
    for option in reversed(_DERIVATION_OPTIONS):
        command = option(command)
    return command


def _read_program(expr: str) -> str:
    """EXPR itself; '-' the text of standard input; '@FILE' the text of FILE (UTF-8). At
    most the parser's limit is read: `@/dev/zero` is refused after a few megabytes."""
    if expr == "-":
        source = "standard input"
        if sys.stdin is None:
            raise MatcalcError("cannot read standard input: there is none")
        data = _read_limited(sys.stdin.buffer, source)
    elif expr.startswith("@"):
        source = expr[1:]
        try:
            with open(source, "rb") as f:
                data = _read_limited(f, source)
        except OSError as e:
            raise MatcalcError(f"cannot read {source}: {e.strerror or e}") from None
    else:
        _refuse_undecodable(expr)
        return expr
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MatcalcError(f"cannot read {source}: it is not UTF-8 text") from None
    return text.replace("\r\n", "\n").rstrip()


def _read_limited(f, source: str) -> bytes:
    """The bytes of the open file `f`, refused (never read whole) beyond what the parser
    accepts: MAX_SOURCE_CHARS characters, of at most 4 bytes each in UTF-8."""
    from matcalc.parse import MAX_SOURCE_CHARS
    limit = 4 * MAX_SOURCE_CHARS
    try:
        size = os.fstat(f.fileno()).st_size
    except (OSError, ValueError, AttributeError):     # not a real file (a test's stream)
        size = 0
    chunks, total = [], 0
    while size <= limit and total <= limit:             # a regular file's size says at once
        chunk = f.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise MatcalcError(f"cannot read {source}: more than {limit:,} bytes; a program is at "
                       f"most {MAX_SOURCE_CHARS:,} characters (matcalc.parse.MAX_SOURCE_CHARS)")


def _refuse_undecodable(expr: str) -> None:
    """A program argument holding bytes that are not UTF-8 (Python passes them on as lone
    surrogates, \\udce9 for the byte E9): a user error, with a caret under the first."""
    try:
        expr.encode("utf-8")
        return
    except UnicodeEncodeError as e:
        bad = e.start
    code = ord(expr[bad])
    byte = f"the byte 0x{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else "a lone surrogate"
    shown = expr.encode("utf-8", "replace").decode("utf-8")       # each one a ?, in place
    raise MatcalcError(f"EXPR is not UTF-8 text: {byte}", Span(bad, bad + 1), shown,
                       "write the program in UTF-8, or read it from a UTF-8 file with @FILE")


def _derivation(expr: str, wrt, layout, shapes, kinds, onehot, signs, assume, convention,
                jacobian, hessian, hvp, notation, inline=False):
    """Read EXPR and derive it (unchecked: each command runs the check itself); a kind
    taken by a name's letter case that decides the output's kind is said on standard
    error (`note: ...`)."""
    modes = [mode for mode, on in zip(MODES, (jacobian, hessian, hvp)) if on]
    if len(modes) > 1:
        raise click.UsageError("--jacobian, --hessian and --hvp exclude one another",
                               ctx=click.get_current_context())
    extra = {"mode": modes[0]} if modes else {}
    if onehot:
        extra["onehot"] = list(onehot)
    if signs:
        extra["signs"] = list(signs)
    if assume:
        extra["assume"] = list(assume)
    if convention != "projected":
        extra["convention"] = convention
    if inline:
        extra["inline"] = True
    d = matcalc.derive(_read_program(expr), wrt=wrt, layout=layout, shapes=shapes,
                       kinds=kinds, check=False, notation=notation or "auto", **extra)
    for note in getattr(getattr(d, "typed", None), "notes", ()):
        click.echo(f"note: {note}", err=True)
    return d


def _echo(text: str, err: bool = False) -> None:
    click.echo(text, nl=not text.endswith("\n"), err=err)


def _report_check(derivation, err: bool) -> int:
    """Run the finite-difference check and print its summary; return the exit status it
    calls for: OK, CHECK_FAILED (a mismatch) or NOT_VERIFIED (something not checked)."""
    report = derivation.check()
    results = getattr(report, "results", None)
    if report.ok and results and err:      # derive, codegen: one line when all is well
        worst = max(r.max_rel_error for r in results.values())
        click.echo(f"check: {len(results)} formula{'s' if len(results) != 1 else ''} verified by finite differences "
                   f"(max rel. error {worst:.1e})", err=err)
    else:
        click.echo("\n".join(f"check: {line}" for line in report.summary().splitlines()),
                   err=err)
    if report.ok:
        return OK
    if getattr(report, "mismatch", True):
        click.echo("warning: the derivation failed its finite-difference check; "
                   "please report this", err=True)
        return CHECK_FAILED
    click.echo("warning: not every formula could be verified (see above): the formulas "
               "are printed, but those NOT CHECKED are unverified", err=True)
    return NOT_VERIFIED


def _worst(*statuses: int) -> int:
    """The exit status of several outcomes: a mismatch over anything not verified."""
    return CHECK_FAILED if CHECK_FAILED in statuses else max(statuses, default=OK)


# --- commands -----------------------------------------------------------------------------

@cli.command(cls=ExprCommand)
@derivation_options
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "numpy", "json"]),
              default="text", show_default=True, help="Output format.")
@click.option("--steps", is_flag=True,
              help="Also list the adjoint of every named intermediate of a program.")
@click.option("--standalone", is_flag=True,
              help="With --format latex: a complete LaTeX document.")
@click.option("--latex-transpose", type=click.Choice(["top", "T"]),
              help="With --format latex: transposes as A^\\top (top, the default) or A^T.")
@click.option("--latex-numbered", type=click.Choice(["subscript", "superscript"]),
              help="With --format latex: W1 as W_1 (subscript, the default) or W^{(1)} "
                   "(superscript, the layer notation).")
@click.option("--latex-upstream", type=click.Choice(["fraction", "bar"]),
              help="With --format latex: the upstream gradient dY, and a step's dz, as "
                   "\\frac{\\partial L}{\\partial Y} (fraction, the default) or \\bar{Y} "
                   "(bar, the adjoint notation of reverse-mode AD).")
@click.option("--latex-shapes", is_flag=True,
              help="With --format latex: state each variable's shape, "
                   "X \\in \\mathbb{R}^{N \\times n}.")
@click.option("--latex-notes", is_flag=True,
              help="With --format latex: the layout and the assumptions as a visible "
                   "paragraph before the equations (they are always % comments).")
def derive(expr, fmt, steps, standalone, latex_transpose, latex_numbered, latex_upstream,
           latex_shapes, latex_notes, check, **how):
    """Print the derivatives of EXPR.

    For a scalar output, its gradient with respect to each variable; for a non-scalar
    output Y, the backprop formulas of a scalar loss L(Y), taking the upstream gradient
    dL/dY as an input named dY.

    \b
    Examples:
      matcalc derive "x'*A*x"
      matcalc derive "Y = X*A' + b'" --shape X=N,n --format json
      echo "h = relu(W1*x); f = sum(h)" | matcalc derive - --wrt W1 --steps
    """
    latex_options = {"transpose": latex_transpose, "numbered": latex_numbered,
                     "upstream": latex_upstream, "shapes": latex_shapes or None,
                     "notes": latex_notes or None}
    latex_options = {k: v for k, v in latex_options.items() if v is not None}
    given = ["--standalone"] * standalone + [f"--latex-{k}" for k in latex_options]
    if given and fmt != "latex":
        raise click.UsageError(f"{given[0]} applies only to --format latex")
    d = _derivation(expr, **how)
    extra = {"steps": True} if steps else {}
    if fmt == "text":
        out = d.text(**extra)
    elif fmt == "latex":
        out = d.latex(standalone=standalone, **extra, **latex_options)
    elif fmt == "numpy":
        out = d.numpy_code(**extra)
    else:
        out = json.dumps(d.to_json(**extra), indent=2, ensure_ascii=False)
    _echo(out)
    if check:
        click.get_current_context().exit(_report_check(d, err=True))


@cli.command("check", cls=ExprCommand)
@derivation_options
@click.option("--claim", "claims", multiple=True, metavar='"NAME = FORMULA"',
              help="Verify a claimed derivative, e.g. --claim \"x = 2*A*x\". Repeatable.")
def check_command(expr, claims, check, **how):
    """Verify derivatives of EXPR against finite differences.

    Checks matcalc's own result (unless --no-check) and each --claim; exits 1 if any
    of them is wrong, 4 if none is wrong but not everything could be verified. A wrong
    claim is diagnosed: each known mistake that explains it (transposed, a constant
    factor, a missing or extra term, a missing --onehot/--signs, ...) is named once a
    finite-difference check has verified that undoing it makes the claim right. A claim
    may use only the program's names.

    \b
    Example:
      matcalc check "x'*A*x" --claim "x = (A + A')*x" --no-check
    """
    if not check and not claims:
        raise click.UsageError("nothing to check: --no-check without --claim",
                               ctx=click.get_current_context())
    d = _derivation(expr, **how)
    statuses = [_report_check(d, err=False)] if check else []
    for claim in claims:
        verdict = d.verify_claim(claim)
        click.echo(verdict.message)
        statuses.append(OK if verdict.ok else NOT_VERIFIED
                        if getattr(verdict, "verdict", "") == "not checked" else CHECK_FAILED)
    click.get_current_context().exit(_worst(*statuses))


@cli.command(cls=ExprCommand)
@derivation_options
@click.option("--target", type=click.Choice(["numpy", "torch", "jax"]), default="numpy",
              show_default=True, help="Array library of the generated code.")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the module to FILE.  [default: standard output]")
@click.option("--force", is_flag=True,
              help="Overwrite FILE even if matcalc did not generate it.")
def codegen(expr, target, output, force, check, **how):
    """Print an importable module computing EXPR and its derivatives.

    The module defines forward(...), gradient(...) and value_and_gradient(...).
    With -o FILE it is written atomically; a FILE that matcalc did not generate is
    only overwritten with --force, and a file replaced keeps its permissions. FILE
    must be a regular file or new (never a pipe or a device, --force or not; -o -
    is standard output); a symbolic link to a file that matcalc generated is written
    through, the link kept.

    \b
    Example:
      matcalc codegen "Y = X*A' + b'" -o linear_grad.py
    """
    d = _derivation(expr, **how)
    source = d.codegen(target=target)
    if output is None or output == "-":
        _echo(source)
    else:
        _write_generated(output, source, force)
    if check:
        click.get_current_context().exit(_report_check(d, err=True))


# --- writing generated files --------------------------------------------------------------

def _is_generated(path: str) -> bool:
    """True if the regular file at `path` starts with matcalc's marker line. Opened without
    blocking and without following a link, and only read if it is still a regular file."""
    from matcalc.codegen import GENERATED_MARKER       # not at start-up: derive needs none
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        return stat.S_ISREG(os.fstat(fd).st_mode) and \
            f.readline(256).startswith(GENERATED_MARKER.encode())


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _target(path: str) -> tuple[str, os.stat_result | None]:
    """Where `-o path` writes, and what is there now (None: nothing). A symbolic link is
    written through: its target, which must be a file that matcalc generated, is replaced
    and the link kept. Anything but a regular file is refused, --force or not."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path, None
    except OSError as e:
        raise MatcalcError(f"cannot write {path}: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as e:
            raise MatcalcError(f"{path} is a symbolic link to {os.readlink(path)}, which "
                               f"cannot be written: {e.strerror or e}",
                               hint="write to a regular file, or remove the link") from None
        if stat.S_ISREG(st.st_mode):
            target = os.path.realpath(path)
            if not _is_generated(target):
                raise MatcalcError(f"{path} is a symbolic link to {target}, which matcalc "
                                   "did not generate; matcalc writes through a link only to "
                                   "a file it generated",
                                   hint=f"write to {target} itself (with --force to "
                                   "overwrite it)")
            path = target
    if not stat.S_ISREG(st.st_mode):
        raise MatcalcError(f"{path} is {_kind(st.st_mode)}: matcalc writes only regular files",
                           hint="write the module to a regular file, or to standard output "
                           "with -o - (and redirect that)")
    return path, st


def _write_generated(path: str, source: str, force: bool) -> None:
    """Write `source` to `path` atomically (a temporary file beside it, then os.replace),
    over nothing or a regular file only; refuse to replace a file that matcalc did not
    generate, unless `force`. A file replaced keeps its permission bits."""
    target, st = _target(path)
    if st is not None and not force and not _is_generated(target):
        raise MatcalcError(f"{path} exists and was not generated by matcalc",
                           hint="use --force to overwrite it")
    directory, name = os.path.split(os.path.abspath(target))
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    created = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        created = True
        with os.fdopen(fd, "wb") as f:
            if st is not None:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
            f.write(source.encode("utf-8"))
        os.replace(tmp, target)
    except OSError as e:
        if created:
            os.unlink(tmp)
        raise MatcalcError(f"cannot write {path}: {e.strerror or e}") from None


# --- the local web page -----------------------------------------------------------------------

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only requests naming it (or localhost) are "
                   "answered.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def serve(host, port, open_browser):
    """Serve the web page, and its JSON API (POST /api/derive), on this machine.

    Needs the web extra: pip install 'matcalc[web]'. Stop it with Ctrl-C.

    \b
    Example:
      matcalc serve --open
    """
    try:
        import starlette  # noqa: F401  (the extra, checked before anything starts)
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise MatcalcError(f"matcalc serve needs {e.name or 'Starlette and uvicorn'}, "
                           "which come with the web extra",
                           hint="install it with: pip install 'matcalc[web]'") from None
    import ipaddress
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    if not local:
        click.echo(f"warning: listening on {host}: other machines can reach the page",
                   err=True)
    from matcalc.web.server import serve as run
    run(host, port, open_browser, echo=click.echo)
