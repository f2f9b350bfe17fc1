"""The package's layers (pyproject.toml, [tool.importlinter]): the pipeline above the
result types, the results above the stages, no import circle. Checked by import-linter
(`lint-imports`), which reads every import of every module, those inside functions too.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("importlinter", reason="import-linter is in the test extra")


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; " \
           "sys.argv = ['lint-imports', '--config', sys.argv[1], '--no-cache']; " \
           "lint_imports_command()"
    return subprocess.run([sys.executable, "-c", code, str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_layers_contract_is_kept():
    proc = lint_imports(ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def test_an_import_against_the_layers_is_caught(tmp_path):
    # the same contract with derivation and steps swapped: derivation imports steps,
    # which a layer above it may not be imported by
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    layers = re.search(r'layers = \[.*?\n\]', text, re.S).group(0)
    swapped = layers.replace('"derivation",', '"@@",').replace('"steps | ', '"derivation | ') \
        .replace('"@@",', '"steps",')
    assert swapped != layers
    config = tmp_path / "pyproject.toml"
    config.write_text(text.replace(layers, swapped), encoding="utf-8")
    proc = lint_imports(config)
    assert proc.returncode != 0
    assert "matcalc.derivation -> matcalc.steps" in proc.stdout


def test_the_pipeline_and_the_results_import_nothing_heavy():
    # the lazy imports left in them are these: NumPy (the checkers), SymPy, the parser
    # tables and the code generator load when first used
    code = ("import sys, matcalc.pipeline; "
            "heavy = {'numpy', 'sympy', 'lark', 'matcalc._lark_parser', 'matcalc.codegen', "
            "'matcalc.check', 'matcalc.check_higher'}; "
            "print(sorted(heavy & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
