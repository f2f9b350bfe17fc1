"""The distribution as users get it: the wheel, its metadata, its optional extras, the
typed API and the API reference.

The wheel test builds the sdist and, from it, the wheel (`python -m build`, once per
session), installs the wheel, not editable, into a fresh virtual environment with its
dependencies from the configured package indexes, and there runs the CLI and the API and
generates and imports a module: a file missing from the package (the grammar, py.typed)
fails here, as it would for a user. SymPy is an extra, so that environment first has no
SymPy (and matcalc must say which extra to install); then the extra is installed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def distribution_name() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^name = "([^"]+)"', text, re.MULTILINE).group(1)


def run(args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False,
                          timeout=timeout)


def clean_env(**extra) -> dict:
    """The environment for a child Python: not this checkout on its path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


# ---- no SymPy at start-up; a clear message without it ---------------------------------------

def test_import_and_cli_never_import_sympy():
    code = textwrap.dedent("""
        import sys
        import matcalc
        assert "sympy" not in sys.modules, "import matcalc loaded SymPy"
        from matcalc.cli.main import cli
        try:
            cli(["derive", "x'*A*x", "--format", "json"], standalone_mode=False)
            cli(["codegen", "x'*A*x"], standalone_mode=False)
        except SystemExit as e:
            assert not e.code, e.code
        print("sympy loaded:", "sympy" in sys.modules)
    """)
    r = run([sys.executable, "-c", code], cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "sympy loaded: False" in r.stdout


BLOCK_SYMPY = textwrap.dedent("""
    import sys

    class NoSympy:                      # SymPy absent: as if it had never been installed
        def find_spec(self, name, path=None, target=None):
            if name == "sympy" or name.startswith("sympy."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoSympy())
""")


def test_without_sympy_the_interface_names_the_extra():
    code = BLOCK_SYMPY + textwrap.dedent("""
        import matcalc
        d = matcalc.derive("x'*A*x", check=True)       # the rest works without SymPy
        assert d["x"].text == "(A + A')*x"
        for attempt in (lambda: matcalc.from_sympy(None),
                        lambda: matcalc.sympy_diff(None, None),
                        lambda: d["x"].to_sympy()):
            try:
                attempt()
            except ImportError as e:
                assert isinstance(e, matcalc.MatcalcError)
                print(e)
            else:
                raise AssertionError("no error without SymPy")
    """)
    r = run([sys.executable, "-c", code], cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    want = f"install it with: pip install '{distribution_name()}[sympy]'"
    assert lines.count(want) == 3, r.stdout
    assert "needs SymPy, which is not installed" in r.stdout


def test_the_message_names_this_distribution():
    from matcalc.interop import DISTRIBUTION
    assert DISTRIBUTION == distribution_name()


def test_sympy_is_an_extra_not_a_dependency():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.MULTILINE | re.DOTALL).group(1)
    assert "sympy" not in deps
    assert re.search(r'^sympy = \["sympy', text, re.MULTILINE)
    test_extra = re.search(r"^test = \[(.*?)\]", text, re.MULTILINE | re.DOTALL).group(1)
    for tool in ("sympy", "build", "mypy", "pdoc"):
        assert f'"{tool}' in test_extra


# ---- types and documentation ----------------------------------------------------------------

def test_mypy_passes_on_the_public_modules():
    pytest.importorskip("mypy", reason="mypy is in the test extra")
    r = run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success" in r.stdout


# the API reference: the package and the modules of the classes its results belong to
DOCS_MODULES = ("matcalc", "matcalc.derivation", "matcalc.jacobian", "matcalc.check",
                "matcalc.claims", "matcalc.interop.sympy")


def test_api_reference_builds_offline_and_lists_every_public_name(tmp_path):
    pytest.importorskip("pdoc", reason="pdoc is in the docs and test extras")
    import matcalc
    out = tmp_path / "api"
    r = run([sys.executable, "-m", "pdoc", *DOCS_MODULES, "-o", str(out)], cwd=ROOT,
            env=clean_env(PYTHONPATH=str(ROOT), no_proxy="*", http_proxy="http://0.0.0.0:9",
                          https_proxy="http://0.0.0.0:9"))
    assert r.returncode == 0, r.stderr
    assert "Warn" not in r.stderr, r.stderr
    page = (out / "matcalc.html").read_text(encoding="utf-8")
    for name in matcalc.__all__:
        assert f'id="{name}"' in page, f"{name} is not in the API reference"
    classes = {"derivation": ("Derivation", "Derivative"),
               "jacobian": ("HigherDerivation", "HigherDerivative"),
               "check": ("CheckReport", "CheckFailed"), "claims": ("ClaimResult",)}
    for module, names in classes.items():
        sub = (out / "matcalc" / f"{module}.html").read_text(encoding="utf-8")
        for name in names:
            assert f'id="{name}"' in sub and name in matcalc._LAZY, name
    sub = (out / "matcalc" / "derivation.html").read_text(encoding="utf-8")
    for method in ("Derivative.to_sympy", "Derivative.text", "Derivation.check",
                   "Derivation.codegen", "Derivation.verify_claim", "Derivation.latex"):
        assert f'id="{method}"' in sub, method
    sub = (out / "matcalc" / "interop" / "sympy.html").read_text(encoding="utf-8")
    for name in ("from_sympy", "sympy_diff", "to_sympy"):
        assert f'id="{name}"' in sub, name


def test_public_functions_are_documented_and_typed():
    import inspect

    import matcalc
    for name in matcalc.__all__:
        obj = getattr(matcalc, name)
        if name == "__version__":
            continue
        assert inspect.getdoc(obj), f"matcalc.{name} has no docstring"
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            assert sig.return_annotation is not inspect.Signature.empty, name
            assert all(p.annotation is not inspect.Parameter.empty
                       for p in sig.parameters.values()), name
    for cls in (matcalc.Derivation, matcalc.Derivative):
        for attr, member in vars(cls).items():
            if attr.startswith("_") or not callable(getattr(member, "__get__", None)):
                continue
            assert inspect.getdoc(getattr(cls, attr)), f"{cls.__name__}.{attr}: no docstring"


# ---- the wheel in a fresh environment -------------------------------------------------------

@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict:
    """`python -m build`: the sdist, then the wheel built from it; once per session."""
    pytest.importorskip("build", reason="build is in the test extra")
    out = tmp_path_factory.mktemp("dist")
    r = run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
            env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0], "dir": out}


@pytest.mark.slow
def test_wheel_holds_the_package_data_and_honest_metadata(built):
    wheel = built["wheel"]
    assert wheel.name.startswith(distribution_name().replace("-", "_") + "-")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = z.read(meta_name).decode()
    for path in ("matcalc/grammar.lark", "matcalc/py.typed", "matcalc/interop/sympy.py",
                 "matcalc/rules/__init__.py", "matcalc/cli/main.py"):
        assert path in names, path
    assert not any(n.startswith(("rules/", "cli/", "tests/")) for n in names)
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert f"Name: {distribution_name()}" in meta
    assert "License-Expression: MIT" in meta
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert any(line.startswith("Requires-Dist: sympy") and 'extra == "sympy"' in line
               for line in requires)
    assert not any("sympy" in line and "extra ==" not in line for line in requires)
    assert "Classifier: Typing :: Typed" in meta


@pytest.fixture(scope="session")
def venv(built, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed (not editable)."""
    where = tmp_path_factory.mktemp("venv") / "env"
    r = run([sys.executable, "-m", "venv", str(where)])
    assert r.returncode == 0, r.stderr
    py = where / "bin" / "python"
    r = run([str(py), "-m", "pip", "install", "--quiet", str(built["wheel"])],
            env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return where


@pytest.mark.slow
def test_installed_wheel_runs_the_cli_the_api_and_generated_code(venv, tmp_path):
    py, exe = venv / "bin" / "python", venv / "bin" / "matcalc"
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    # the CLI: version, a derivation checked by finite differences, exit codes
    r = run([str(exe), "--version"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and "0.1.0" in r.stdout, r.stdout + r.stderr
    r = run([str(exe), "derive", "Y = X*A' + b'", "--shape", "X=N,n"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "dL/dX = dY*A" in r.stdout and "verified" in r.stderr
    r = run([str(exe), "derive", "Y = X*A + b'", "--shape", "X=N,n", "--shape", "A=m,n"],
            cwd=tmp_path, env=env)
    assert r.returncode == 2 and "cannot multiply" in r.stderr
    # generated code, written by the CLI and imported
    r = run([str(exe), "codegen", "0.5*norm2(W*x - y)^2", "-o", "grad.py"], cwd=tmp_path,
            env=env)
    assert r.returncode == 0, r.stderr
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import matcalc
        from grad import gradient
        assert matcalc.__file__.startswith(sys.prefix), matcalc.__file__   # not the checkout
        W, x, y = np.eye(2), np.array([1.0, 2.0]), np.array([0.5, 0.5])
        g = gradient(W, x, y)
        assert np.allclose(g["W"], np.outer(W @ x - y, x))
        d = matcalc.derive("log(det(X))", check=True)
        mod = d.compile()
        assert np.allclose(mod.gradient(np.diag([2.0, 4.0]))["X"], np.diag([0.5, 0.25]))
        print(d["X"].text)
        try:
            import sympy  # noqa: F401
            print("sympy installed")
        except ImportError:
            print("no sympy")
        try:
            matcalc.from_sympy(None)
        except ImportError as e:
            print(e)
    """)
    r = run([str(py), "-c", code], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "inv(X)'" in r.stdout and "no sympy" in r.stdout
    assert f"pip install '{distribution_name()}[sympy]'" in r.stdout
    # with the extra, the SymPy interface works in the installed package
    from_sympy = textwrap.dedent("""
        import sympy, matcalc
        n = sympy.Symbol("n")
        X = sympy.MatrixSymbol("X", n, n)
        print(matcalc.sympy_diff(sympy.log(sympy.det(X)), X))
    """)
    r = run([str(py), "-m", "pip", "install", "--quiet",
             f"{venv_wheel(venv)}[sympy]"], env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = run([str(py), "-c", from_sympy], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "X.T**(-1)"


def venv_wheel(venv: Path) -> str:
    """The wheel this environment was made from (recorded by pip's direct_url.json)."""
    import json
    site = next((venv / "lib").glob("python*/site-packages"))
    info = next(site.glob("matcalc_verified-*.dist-info"))
    url = json.loads((info / "direct_url.json").read_text())["url"]
    return url.removeprefix("file://")


@pytest.mark.slow
def test_sdist_holds_what_a_build_needs(built):
    import tarfile
    with tarfile.open(built["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for path in ("pyproject.toml", "LICENSE", "README.md", "matcalc/grammar.lark",
                 "matcalc/py.typed", "rules/__init__.py", "cli/main.py"):
        assert path in names, path
