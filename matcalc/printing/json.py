"""JSON: a result as the object of SPEC section 4 (a dict ready for `json.dumps`).

Like the formula printers, a class with one `_print_<Class>` method per kind of thing
it writes; here the things are results (a `Derivation`, a `HigherDerivation` and its
`HigherDerivative`s), whose formulas are already spelled by the other printers. The
printer reads the results' attributes and never imports their modules: the result
types sit above the printers (import-linter's layers contract in pyproject.toml).
"""
from __future__ import annotations

from typing import Any

from ..expr import Dim, Shape
from ..structure import structures

__all__ = ["JsonPrinter", "json_shape", "to_json"]


def json_shape(shape: Shape, two_d: bool = False) -> list[Dim]:
    """[] scalar, [n] column vector, [1, n] row vector, [p, q] matrix; [r, c] always for a
    value kept 2-D (a variable declared with an explicit 1, and its derivatives: SPEC 4),
    so that the shape is that of the NumPy array; a tensor's lists every dimension."""
    if len(shape) != 2:
        return list(shape)
    r, c = shape
    if two_d:
        return [r, c]
    if (r, c) == (1, 1):
        return []
    if c == 1:
        return [r]
    return [r, c]


class JsonPrinter:
    """`print(result, steps)` calls `_print_<class name>` of the result's class or its
    nearest base class that has one (as SymPy's printers do); a kind without one raises."""

    def print(self, result: Any, steps: bool = False) -> dict[str, Any]:
        for cls in type(result).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                return method(result, steps)
        raise NotImplementedError(f"no JSON for {type(result).__name__}")

    def _print_Derivation(self, d: Any, steps: bool) -> dict[str, Any]:
        omitted = d._inlined(steps, spellings=3)
        out: dict[str, Any] = {
            "program": d.program,
            "layout": d.layout,
            "output": {"name": d.output_name, "shape": json_shape(d.output.shape)},
            "upstream": None if d.upstream is None else
            {"name": d.upstream_name, "shape": json_shape(d.upstream.shape)},
            "inputs": {n: json_shape(v.shape, n in d.keep_2d) for n, v in d.inputs.items()},
            "derivatives": {n: {"shape": x.shape, "text": x.text, "latex": x.latex,
                                "numpy": x.numpy, **({"where": x.where_text} if x.where
                                                     else {})} if not omitted else
                            {"shape": x.shape, "text": None, "latex": None, "numpy": None}
                            for n, x in d.derivatives.items()},
        }
        if omitted:
            out["omitted"] = f"the derivatives {omitted}; the steps give them"
        if steps:
            out["steps"] = [{"name": st.name, "of": st.of, "shape": st.derivative.shape,
                             "text": st.text, "latex": st.latex, "numpy": st.numpy}
                            for st in d.steps]
        if d.onehot:
            out["assumptions"] = dict(d.onehot)
        if structures(d.onehot):
            out["convention"] = d.convention
        if d.python_names:
            out["python_names"] = dict(d.python_names)
        return out

    def _print_HigherDerivation(self, d: Any, steps: bool) -> dict[str, Any]:
        d._no_steps(steps, spellings=3)
        out: dict[str, Any] = {
            "program": d.program,
            "layout": d.layout,
            "mode": d.mode,
            "output": {"name": d.output_name, "shape": json_shape(d.output.shape)},
            "upstream": None,
            "inputs": {n: json_shape(v.shape) for n, v in d.inputs.items()},
            "derivatives": {n: self.print(x) for n, x in d.derivatives.items()},
        }
        if d.directions:
            out["directions"] = {n: v.name for n, v in d.directions.items()}
        if d.onehot:
            out["assumptions"] = dict(d.onehot)
        if structures(d.onehot):
            out["convention"] = d.convention
        names = d.base.python_names
        if names:
            out["python_names"] = dict(names)
        return out

    def _print_HigherDerivative(self, x: Any, steps: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": x.shape, "text": x.text, "latex": x.latex,
                               "numpy": x.numpy}
        if x.kind != "hvp":
            out["axes"] = list(x.axis_letters)
            out["index"] = x.index
            if x.jvp is not None:
                out["map"] = x.map
        if x.kron is not None:
            out["kron"] = x.kron_text
        if x.names:
            out["where"] = dict(x.where)
        return out


def to_json(result: Any, steps: bool = False) -> dict[str, Any]:
    """The JSON object of a result (SPEC section 4)."""
    return JsonPrinter().print(result, steps)
