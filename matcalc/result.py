"""What every result of matcalc shares: `Derivation` (gradients and backprop) and
`HigherDerivation` (Jacobians, Hessians, Hessian-vector products) are both a `Result`.

A result maps each differentiated variable's name to its derivative (`d["W1"]`, `for
name in d`, `len(d)`), spells the whole as text, LaTeX, NumPy statements and JSON (the
JSON printer, `matcalc.printing.json`), checks itself by finite differences, and writes
and imports a module (`matcalc.codegen`). The spellings that differ per kind are the
subclasses' methods; the rest is here, once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .printing.json import to_json

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType


class Result:
    """Derivatives of one program's output with respect to its variables."""

    derivatives: dict[str, Any]

    # -- access ------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.derivatives[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.derivatives)

    def __len__(self) -> int:
        return len(self.derivatives)

    # -- spellings: `text`, `latex` and `numpy_code` are each kind's own -------------------
    def to_json(self, steps: bool = False) -> dict[str, Any]:
        """The JSON object of SPEC section 4 (a dict ready for `json.dumps`)."""
        return to_json(self, steps)

    # -- code generation -------------------------------------------------------------------
    def module_name(self) -> str:
        """The name the compiled module gets."""
        raise NotImplementedError

    def codegen(self, target: str = "numpy") -> str:
        """The source of an importable module computing the result (matcalc.codegen):
        `target` "numpy", "torch" or "jax"."""
        from .codegen import generate  # the code generator: loaded when first used
        return generate(self, target)

    def compile(self, target: str = "numpy") -> ModuleType:
        """The generated module, imported from a temporary file (a fresh module object,
        not entered in sys.modules); tracebacks still show its source lines."""
        from .codegen import compile_module  # the code generator: loaded when first used
        return compile_module(self.codegen(target), self.module_name())
