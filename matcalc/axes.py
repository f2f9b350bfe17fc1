"""Shapes, and the axes an index names of them.

A shape is a tuple of dimensions, each a symbol (`str`) or an `int`: `(rows, cols)` for
everything two-dimensional (a scalar is `(1, 1)`, a column vector `(n, 1)`, a row vector
`(1, n)`), and a tensor's own dimensions for a tensor of order 3 to `expr.MAX_ORDER`.
Index notation and einsum see axes instead: none for a scalar, one for a vector (a row or
a column alike), two for a matrix, every dimension of a tensor; an einsum spec names each
axis with a letter of `EINSUM_LETTERS`.
"""
from __future__ import annotations

Dim = str | int
Shape = tuple[Dim, ...]     # (rows, cols), or a tensor's dimensions (3 to MAX_ORDER of them)
SCALAR: Shape = (1, 1)


EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def axes(shape: Shape) -> tuple[Dim, ...]:
    """The axes an index names: none for a scalar, one for a vector (row or column), two
    for a matrix, every dimension of a tensor. A vector carries one index, as in notes."""
    if len(shape) != 2:
        return tuple(shape)
    r, c = shape
    if (r, c) == (1, 1):
        return ()
    if c == 1:
        return (r,)
    if r == 1:
        return (c,)
    return (r, c)


def shape_of_axes(dims) -> Shape:
    """The IR shape of a value with these axes: () a scalar (1, 1), (n,) a column (n, 1)."""
    dims = tuple(dims)
    if not dims:
        return SCALAR
    if len(dims) == 1:
        return (dims[0], 1)
    return dims
