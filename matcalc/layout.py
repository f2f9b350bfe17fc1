"""Adjoint form -> numerator, denominator or mixed layout (SPEC section 2).

The rules produce the adjoint form: the derivative of a scalar by X has X's shape. That
is the denominator layout. The numerator layout is its transpose, with the upstream
gradient itself written in numerator layout (so `dY` there is the transpose of the
denominator `dY`); substituting and transposing once at the end is what keeps every
formula of one layout consistent. For gradients and backprop the mixed layout agrees with
the denominator layout (scalar-by-vector and scalar-by-matrix are denominator there).
"""
from __future__ import annotations

from .expr import EINSUM_LETTERS, Contract, Node, Transpose, Var, substitute
from .simplify import simplify

LAYOUTS = ("numerator", "denominator", "mixed")


def upstream_var(name: str, output_shape, layout: str) -> Var:
    """The upstream gradient dL/dY as the user sees it in `layout`."""
    return Var(name, tuple(reversed(output_shape)) if layout == "numerator" else
               tuple(output_shape))


def flip(node: Node) -> Node:
    """The transpose of a matrix; of a tensor, its axes reversed (A_jkl -> A_lkj), which
    is what the numerator layout does to a derivative of any order."""
    if len(node.shape) == 2:
        return Transpose(node)
    letters = EINSUM_LETTERS[:len(node.shape)]
    return Contract((node,), f"{letters}->{letters[::-1]}")


def to_layout(adjoint: Node, layout: str, upstream: Var | list[Var] | None = None) -> Node:
    """The adjoint-form derivative written in `layout` (canonical). `upstream` is the
    adjoint Var (or Vars, for the steps of a program) the formula is written in."""
    if layout in ("denominator", "mixed"):
        return simplify(adjoint)
    if layout != "numerator":
        raise ValueError(layout)
    ups = [] if upstream is None else [upstream] if isinstance(upstream, Var) else upstream
    if ups:
        adjoint = substitute(adjoint, {u: flip(upstream_var(u.name, u.shape, "numerator"))
                                       for u in ups})
    return simplify(flip(adjoint))


def from_layout(node: Node, layout: str, upstream: Var | list[Var] | None = None) -> Node:
    """The inverse of `to_layout`: a formula in `layout` back in adjoint form."""
    if layout != "numerator":
        return node
    ups = [] if upstream is None else [upstream] if isinstance(upstream, Var) else upstream
    if ups:
        node = substitute(node, {upstream_var(u.name, u.shape, "numerator"): flip(u)
                                 for u in ups})
    return flip(node)
