"""Text from the user never runs as code: generated modules import inertly.

A generated module is imported (`d.compile()` in the caller's process, `import` by the
user), so the program text it carries (its comments above all), the names and the
dimension names must not be able to end the docstring, string or comment they stand in.
All of it goes through one function, `matcalc.codegen.inert`. Its tests: every character
class, read back through a string literal; hostile programs through every target and mode,
each module imported in a fresh process that watches for anything but names being defined;
and a hypothesis strategy of hostile comments (quotes, backslashes, control characters,
line separators, surrogates) whose modules must parse to nothing but definitions.
"""
import ast
import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc import codegen
from matcalc.errors import MatcalcError
from matcalc.shapes import Declaration

# ---- the one function ---------------------------------------------------------------------

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
SPECIMENS = [
    "".join(map(chr, range(0x80))),                       # every ASCII character
    '"', '""', '"""', '""""', "'", "'''", '"\'"', "\\", "\\\\", '\\"', "\\'", "x\\",
    "\\N", "\\N{BULLET}", "C:\\Users\\new", "\\x", "\\x4", "\\u12", "\\U0001", "\\0", "\\777",
    "\\\n", "a\\\r\nb", LINE_BREAKS, "caf\udce9", "\ud800", "\udfff", "\udc80\udcff",
    "\ufeff", "\u202e\u2066", "\u200b\u200d", "\ue000", "\U0010ffff", "\U0001f600",
    "\x7f\x80\x9f\xa0\xad", "# -*- coding: utf-7 -*-", "+ACIAIgAi-", "\t\x00\x01",
    '"""+__import__("os").system("echo INJECTED")+"""',
]


@pytest.mark.parametrize("text", SPECIMENS, ids=lambda t: ascii(t)[:40])
def test_inert_text_reads_back_through_every_string_literal_and_ends_no_line(text):
    out = codegen.inert(text)
    assert all(ch.isprintable() for ch in out)             # no line break, control, surrogate
    assert len(out.splitlines()) <= 1 and not any(ch in out for ch in LINE_BREAKS)
    out.encode("utf-8")                                   # a module is UTF-8
    for quotes in ('"', '"""'):
        assert ast.literal_eval(quotes + out + quotes) == text
    assert ast.literal_eval(codegen.literal(text)) == text
    tree = ast.parse(f"# {out}\nX = 1\n")                 # a comment stays one comment
    assert [type(n) for n in tree.body] == [ast.Assign]


def test_inert_leaves_ordinary_text_alone():
    for text in ("f = x'*A*x  # the bilinear form", "y = σ(W*x)", "tr(A*X*B)", "n x m"):
        assert codegen.inert(text) == text


def test_every_character_that_needs_escaping_reads_back():
    # the basic plane whole, and the astral planes' tags, private use and last character
    codes = [*range(0x10000), *range(0xE0000, 0xE0080), 0xF0000, 0x10FFFD, 0x10FFFF]
    text = "".join(ch for ch in map(chr, codes) if not ch.isprintable() or ch in '"\\')
    assert ast.literal_eval('"' + codegen.inert(text) + '"') == text


# ---- hostile programs through every target and mode -----------------------------------------

def payloads(marker: str) -> list[str]:
    """Comments that ran code (or broke the module) when copied into generated code: the
    issue's payload writing `marker` instead of echoing, and its relatives."""
    run = f"__import__('os').system('echo INJECTED; touch {marker}')"
    write = f"open('{marker}', 'w').write('INJECTED')"
    return [
        f'"""[:0]+str({run})+"""',
        f"'''[:0]+str({run})+'''",
        f'"""\n{write}\n"""',                                   # (a new line ends the comment)
        f'x"""; {write}; """',
        f"\\\"\"\"+str({run})+\"\"\"",
        f"{run}\u2028{write}\u2029{write}\x85{write}",
        f"\x0b{write}\x0c{write}\x1c{write}",
        "\\N", "C:\\Users\\new", "caf\udce9", "\ud800 lone", "\x00 nul", "ends with \\",
        "-*- coding: utf-7 -*- +ACIAIgAi-" + write,
        "\ufeff\u202e" + write,
    ]


def hostile_programs(marker: str) -> list[str]:
    out = []
    for p in payloads(marker):
        p = p.replace("\n", "\r")                   # \r and \n both end a comment: split it
        lines = p.split("\r")
        comment = "\n#".join(lines)
        out.append(f"t = x'*A*x  #{comment}\nf = t + 1")
    return out


IMPORTER = r"""
import importlib.util, io, json, sys, types
report = {}
for lib in sys.argv[3:]:
    __import__(lib)                           # the libraries first: their imports are theirs
events = []
BAD = ("os.", "subprocess.", "shutil.", "socket.", "ctypes.", "urllib.", "webbrowser.",
       "pty.", "builtins.input", "import")
def hook(event, args):
    if event.startswith(BAD) or event == "open" and any(c in str(args[1]) for c in "wax+"):
        events.append(event)
    if event in ("exec", "compile"):
        events.append(event)
sys.addaudithook(hook)
for path in json.loads(sys.argv[1]):
    del events[:]
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        spec = importlib.util.spec_from_file_location("generated", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        error = None
    except BaseException as e:                # noqa: BLE001  (reported, not raised)
        error, mod = f"{type(e).__name__}: {e}", None
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    names = {}
    if mod is not None:
        for name, value in vars(mod).items():
            if name.startswith("__"):
                continue
            kind = ("module" if isinstance(value, types.ModuleType) else
                    "function" if callable(value) and not isinstance(value, type) else
                    "class" if isinstance(value, type) else type(value).__name__)
            names[name] = kind
    report[path] = {"error": error, "names": names, "out": out.getvalue() + err.getvalue(),
                    "events": list(events), "doc": getattr(mod, "__doc__", None)}
with open(sys.argv[2], "w") as f:
    json.dump(report, f)
"""

ALLOWED = {
    "numpy": {"np": "module", "SHAPES": "dict", "forward": "function",
              "gradient": "function", "value_and_gradient": "function",
              "_arrays": "function", "_shape_error": "function", "_add_scaled": "function"},
    "torch": {"torch": "module", "SHAPES": "dict", "Function": "class",
              "forward": "function", "_shape_error": "function"},
    "jax": {"jax": "module", "jnp": "module", "SHAPES": "dict", "forward": "function",
            "_forward": "function", "_backward": "function", "_shape_error": "function"},
}
for _mode in ("jacobian", "hessian", "hvp"):   # the NumPy module's pieces, and the mode's function
    ALLOWED[_mode] = {"np": "module", "SHAPES": "dict", "forward": "function",
                      _mode: "function", "_arrays": "function", "_shape_error": "function",
                      "_add_scaled": "function"}


def _modules(marker: str):
    """(kind, program, source) for every hostile program in every target and mode."""
    for program in hostile_programs(marker):
        d = matcalc.derive(program)
        for target in ("numpy", "torch", "jax"):
            yield target, program, d.codegen(target)
        jac = program.replace("f = t + 1", "y = t*A*x")
        yield "jacobian", jac, matcalc.derive(jac, mode="jacobian", wrt=["x"]).codegen()
        for mode in ("hessian", "hvp"):
            yield mode, program, matcalc.derive(program, mode=mode).codegen()


def _import_all(sources: dict, libs: list[str], tmp_path) -> dict:
    paths = {}
    for i, (key, src) in enumerate(sources.items()):
        path = tmp_path / f"generated_{i}.py"
        path.write_text(src, encoding="utf-8")
        paths[str(path)] = key
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-c", IMPORTER, json.dumps(list(paths)),
                          str(report)] + libs, capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "INJECTED" not in run.stdout + run.stderr
    return {paths[p]: r for p, r in json.loads(report.read_text()).items()}


def _available(lib: str) -> bool:
    try:
        __import__(lib)
    except ImportError:
        return False
    return True


def test_hostile_programs_make_modules_that_only_define_names(tmp_path):
    marker = tmp_path / "MARKER"
    modules = list(_modules(str(marker)))
    by_lib: dict[str, dict] = {}
    for i, (kind, program, src) in enumerate(modules):
        compile(src, f"<{kind}>", "exec")                # every target parses, installed or not
        lib = kind if kind in ("torch", "jax") else "numpy"
        if _available(lib):
            by_lib.setdefault(lib, {})[(i, kind, program)] = src
    assert not marker.exists()
    for lib, sources in by_lib.items():
        report = _import_all(sources, [lib], tmp_path)
        assert not marker.exists(), f"importing a {lib} module ran the program's text"
        for (_, kind, program), r in report.items():
            where = f"{kind} module of {program!r}"
            assert r["error"] is None, f"{where} does not import: {r['error']}"
            assert r["out"] == "" and r["events"] == ["compile", "exec"], (where, r)
            assert set(r["names"].items()) <= set(ALLOWED[kind].items()), (where, r["names"])
            comment = program.split("#", 1)[1].split("\n")[0]
            if kind in ("numpy", "torch", "jax"):   # the program is carried, not dropped
                assert "".join(comment.split()) in "".join(r["doc"].split()), where
    assert set(by_lib) >= {"numpy"}


def test_compile_in_this_process_runs_nothing(tmp_path):
    # d.compile() imports the module into the caller's process: the first case
    marker = tmp_path / "MARKER"
    for program in hostile_programs(str(marker)):
        d = matcalc.derive(program)
        mod = d.compile()
        assert mod.forward([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]]) + 0 == 6.0
        for mode in ("hessian", "hvp"):
            matcalc.derive(program, mode=mode).compile()
    assert not marker.exists()


def test_dimension_names_from_the_api_are_names_or_refused(tmp_path):
    # the CLI takes only names as dimensions; the API's Declaration takes any string
    marker = tmp_path / "MARKER"
    for dim in [f'n"""+__import__("os").system("touch {marker}")+"""',
                f"m'''+open('{marker}', 'w').write('x')+'''", "a, b", "k\\", "p\u2028q"]:
        d = matcalc.derive("x'*A*x", shapes={"x": Declaration(dim, 1)})
        for target in ("numpy", "torch", "jax"):
            with pytest.raises(MatcalcError, match="is not a name"):
                d.codegen(target)
    assert not marker.exists()


# ---- hostile comments, generated -----------------------------------------------------------

def hostile_comments():
    """Comments full of what ends strings and lines: quotes, backslash escapes, control
    characters and every line separator but the two that end a comment (\\n and \\r),
    lone surrogates (undecodable bytes), bidi and format characters, encoding cookies. For
    the fuzz harness too."""
    pieces = st.one_of(
        st.sampled_from(['"', "'", '"""', "'''", "\\", "\\\\", "\\N", "\\N{", "\\x", "\\u",
                         "\\U", "\\0", "\\n", '\\"', "#", "{", "}", "\x00", "\x0b", "\x0c",
                         "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029",
                         "\ufeff", "\u202e", "\u200b", "\udce9", "\ud800", "\udfff",
                         "\U0001f600", " ", "\t", "coding: utf-7", "+ACIAIgAi-",
                         "__import__('os').system('exit 7')", "C:\\Users\\new"]),
        st.characters(exclude_characters="\n\r"),
        st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Co"],
                      exclude_characters="\n\r"),
    )
    return st.lists(pieces, max_size=16).map("".join)


DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


def _only_definitions(src: str) -> ast.Module:
    """The parsed module, asserting that its top level only defines: a docstring, imports,
    a literal SHAPES table, functions and classes (and JAX's defvjp registration)."""
    tree = ast.parse(src)
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            assert i == 0 and isinstance(node.value.value, str)
        elif isinstance(node, ast.Assign):
            assert [t.id for t in node.targets] == ["SHAPES"]
            ast.literal_eval(node.value)
        elif isinstance(node, ast.Expr):
            assert ast.unparse(node) == "forward.defvjp(_forward, _backward)"
        else:
            assert isinstance(node, DEFINITIONS), ast.dump(node)[:200]
            for decorator in getattr(node, "decorator_list", []):
                assert ast.unparse(decorator) in ("jax.custom_vjp", "staticmethod")
    return tree


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(comment=hostile_comments())
def test_any_comment_gives_modules_that_only_define_names(comment):
    program = f"f = x'*A*x  #{comment}"
    d = matcalc.derive(program)
    for src in (d.codegen("numpy"), d.codegen("jax"),
                matcalc.derive(program, mode="hessian").codegen()):
        tree = _only_definitions(src)
        compile(src, "<generated>", "exec")
        doc = ast.get_docstring(tree) or ""
        assert "".join(comment.split()) in "".join(doc.split())
    namespace: dict = {"__name__": "generated"}
    exec(compile(d.codegen("numpy"), "<generated>", "exec"), namespace)
    assert {k for k in namespace if not k.startswith("__")} <= set(ALLOWED["numpy"])


def test_the_module_docstring_shows_the_program_as_written():
    program = 'f = x\'*A*x  # see C:\\Users\\new, "quoted"'
    mod = matcalc.derive(program).compile()
    assert textwrap.dedent(mod.__doc__.split("\n\n")[1]).strip() == program
