"""matcalc and other libraries: SymPy matrix expressions in and out (`interop.sympy`).

This package imports nothing heavy itself: the SymPy bridge is a module of its own,
loaded by `matcalc.from_sympy`, `matcalc.sympy_diff` and `.to_sympy()` on first use, and
SymPy is an optional extra of the distribution (`pip install 'matcalc-verified[sympy]'`).
"""
from __future__ import annotations

from ..errors import MatcalcError

DISTRIBUTION = "matcalc-verified"     # the name on the package index (`matcalc` is taken)


class MissingExtra(MatcalcError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.
    Both a `MatcalcError` (the CLI's exit status 2) and an `ImportError`."""

    kind = "dependency"


def missing_extra(package: str, extra: str, what: str) -> MissingExtra:
    """The error for `what`, which needs `package` from the extra `extra`."""
    return MissingExtra(f"{what} needs {package}, which is not installed",
                        hint=f"install it with: pip install '{DISTRIBUTION}[{extra}]'")
