"""matcalc: symbolic matrix calculus, verified.

    import matcalc
    d = matcalc.derive("Y = X*A' + b'", shapes={"X": ("N", "n")})
    d["X"].text      # 'dY*A'

The public API is what this module exports (`__all__`): `derive`, the SymPy bridge
(`from_sympy`, `sympy_diff`, and `.to_sympy()` on every derivative) and the errors; and
the classes of the results, named here for type annotations and documented in their
modules: `Derivation` and `Derivative` (matcalc.derivation), `HigherDerivation` and
`HigherDerivative` (matcalc.jacobian), `CheckReport` and `CheckFailed` (matcalc.check),
`ClaimResult` (matcalc.claims). Importing this package is cheap: the parser, NumPy, SymPy
and the checker load on first use, and so do the result classes (`matcalc.Derivation`
imports its module when first named).
"""
from __future__ import annotations

from .errors import MatcalcError, Span
from .interop import MissingExtra

# typing.TYPE_CHECKING without importing typing at start-up (type checkers read it alike)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

    from sympy import Basic

    # the result classes (lazily, see __getattr__), re-exported for type annotations
    from .check import CheckFailed as CheckFailed
    from .check import CheckReport as CheckReport
    from .claims import ClaimResult as ClaimResult
    from .derivation import Derivation as Derivation
    from .derivation import Derivative as Derivative
    from .jacobian import HigherDerivation as HigherDerivation
    from .jacobian import HigherDerivative as HigherDerivative

    Shapes = Mapping[str, Sequence[str | int] | str]
    Labels = Sequence[str] | Mapping[str, str] | str

__version__ = "0.1.0"


def derive(program: str, wrt: Sequence[str] | None = None, layout: str = "denominator",
           shapes: Shapes | None = None, kinds: str = "ml", check: bool = False,
           onehot: Labels = (), mode: str = "gradient",
           signs: Sequence[str] | str = (), assume: Labels = (),
           convention: str = "projected", notation: str = "auto",
           inline: bool = False) -> Derivation | HigherDerivation:
    """Derivatives of the program's output (SPEC section 6): a `Derivation`, or for `mode`
    "jacobian", "hessian" or "hvp" a `HigherDerivation`; `d[name]` is one derivative.

    `program`: an expression or statements `name = expr` (the last is differentiated).
    `wrt`: the variables (default: all). `layout`: "denominator" (a gradient has its
    variable's shape), "numerator" or "mixed". `shapes`: declarations such as
    `{"X": ("N", "n"), "b": "m", "c": "scalar"}`. `kinds`: "ml" or "mc", the naming
    convention for undeclared names. `check`: verify by finite differences first (raises
    `CheckFailed`). `onehot` names variables whose entries sum to one (per column): labels
    of a cross-entropy, so that its gradient takes the textbook form softmax(s) - y
    (`{"Y": "rows"}` when samples are rows). `signs` names variables whose entries are -1
    or +1 (logistic-regression labels), so that y.^2 = 1. `assume` declares structured
    matrices, `{"S": "spd"}` (symmetric, spd, diagonal, lower, upper, orthogonal): their
    gradient is taken within the structure, in `convention` "projected" (the Frobenius
    projection of the unconstrained gradient G, (G + G')/2 for symmetric; the Riemannian
    gradient for orthogonal) or "entries" (the derivative with respect to the independent
    entries, G + G' - diag(diag(G))). `mode` is "gradient" (and backprop), "jacobian",
    "hessian" or "hvp". `notation`: "matcalc" (the language), "latex" (a formula from
    notes: \\frac{1}{2}\\|W x - y\\|_2^2), or "auto": LaTeX when the program holds a
    backslash. Gradients are shown (text, LaTeX) with the program's own names for the
    values it names, `(o - y)*a'`, and short `where` names for long repeated parts;
    `inline=True` shows them in terms of the inputs only. A user error raises
    `MatcalcError`."""
    from .pipeline import derive as _derive
    return _derive(program, wrt=wrt, layout=layout, shapes=shapes, kinds=kinds, check=check,
                   onehot=onehot, mode=mode, signs=signs, assume=assume,
                   convention=convention, notation=notation, inline=inline)


def from_sympy(expr: Basic, wrt: Iterable[Any] | None = None, layout: str = "denominator", *,
               mode: str = "gradient", check: bool = False, onehot: Labels = (),
               signs: Sequence[str] | str = ()) -> Derivation | HigherDerivation:
    """Derive a SymPy matrix expression (MatrixSymbol, MatAdd, MatMul, Transpose, Inverse,
    Trace, Determinant, HadamardProduct, HadamardPower, Identity, OneMatrix, ZeroMatrix,
    scalar factors, `applyfunc`) with matcalc; returns what `derive` returns, and each
    derivative's `.to_sympy()` is a SymPy expression over the same symbols. `wrt`:
    MatrixSymbols, Symbols or their names (default: every variable). Shapes come from
    the symbols: Symbol dimensions stay symbolic. Needs the `sympy` extra."""
    from .interop.sympy import from_sympy as _from_sympy
    return _from_sympy(expr, wrt, layout, mode=mode, check=check, onehot=onehot, signs=signs)


def sympy_diff(expr: Basic, x: Basic, *, check: bool = False) -> Basic:
    """`expr.diff(x)` for a scalar SymPy expression, computed by matcalc: a SymPy matrix
    expression of x's shape (SymPy's convention: `(x.T*A*x).diff(x)` is `A*x + A.T*x`).
    Right where SymPy's own `diff` is not (`log(det(X))`, a constant added, a sum of two
    norms). `check` verifies by finite differences first. Needs the `sympy` extra."""
    from .interop.sympy import sympy_diff as _sympy_diff
    return _sympy_diff(expr, x, check=check)


# the result classes, imported from their modules when first named
_LAZY = {"Derivation": "derivation", "Derivative": "derivation",
         "HigherDerivation": "jacobian", "HigherDerivative": "jacobian",
         "CheckReport": "check", "CheckFailed": "check", "ClaimResult": "claims"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
    from importlib import import_module
    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["MatcalcError", "MissingExtra", "Span", "__version__", "derive", "from_sympy",
           "sympy_diff"]
