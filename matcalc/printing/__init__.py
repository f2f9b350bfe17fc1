"""Printers: the IR as text (matcalc's language), LaTeX and a NumPy expression.

One class per format, one `_print_<NodeClass>` method per node kind, parentheses from the
one precedence table in `precedence.py`. Importing this package is cheap: the printers
are plain Python (they write NumPy code, they never import NumPy), loaded on first use.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..expr import Dim, Node

__all__ = ["to_text", "to_latex", "to_numpy"]


def to_text(node: Node) -> str:
    """The formula in matcalc's input language: `dY*A`, `x'*A*y`, `0.5*x/N`."""
    from .text import to_text as _to_text
    return _to_text(node)


def to_latex(node: Node, names=None) -> str:
    """The formula in LaTeX (math mode, no delimiters). `names` is a `LatexStyle` (the
    options of a document: transposes, numbered names, upstream gradients) or a mapping of
    a variable's name to its LaTeX spelling; by default `W1` -> `W_1`, `alpha` ->
    `\\alpha`, and other words upright (`\\mathrm{reg}`)."""
    from .latex import to_latex as _to_latex
    return _to_latex(node, names)


def to_numpy(node: Node, keep_2d: frozenset[str] = frozenset(),
             python_names: Mapping[str, str] | None = None, *, result_2d: bool = False,
             dim_sources: Mapping[Dim, str] | None = None) -> str:
    """One Python expression over `np` and the variables' names, for
    `eval(code, {"np": numpy}, values)`. Vectors are 1-D arrays and scalars 0-d, except
    the variables in `keep_2d`, which are 2-D of their IR shape; the value has the node's
    shape in that convention (2-D of the IR shape if `result_2d`). `python_names` spells
    names that are not Python identifiers (`{"lambda": "lambda_"}`); `dim_sources` gives
    a Python expression for a dimension's size (`{"N": "X.shape[0]"}`), by default read
    off the variables in `node`."""
    from .numpy import to_numpy as _to_numpy
    return _to_numpy(node, keep_2d, python_names, result_2d=result_2d,
                     dim_sources=dim_sources)
