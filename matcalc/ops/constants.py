"""The constants of the language: `vector(c)` and `matrix(c)` (every entry c, of a size
the program fixes) and `eye` (the identity). Their IR nodes are the leaves Ones and
Identity, which every stage knows as leaves."""
from __future__ import annotations

from ..expr import Const, Identity, Ones, Scale
from .op import Constant


def _filled(c, rows_only: bool):
    if not c.arg.is_scalar:
        c.fail(f"{c.name}(c) needs a scalar c, not {c.shown}")
    return c.type(c.fresh(), 1) if rows_only else c.type(c.fresh(), c.fresh())


def _filled_with(shape, x):
    ones = Ones(shape)
    return ones if x is Const(1) else Scale(x, ones)


def _square(c):
    d = c.fresh()
    return c.type(d, d)


VECTOR = Constant(name="vector", shape=lambda c: _filled(c, True), build=_filled_with)
MATRIX = Constant(name="matrix", shape=lambda c: _filled(c, False), build=_filled_with)
EYE = Constant(name="eye", arity=0, shape=_square, build=lambda shape: Identity(shape[0]))

CONSTANTS = (VECTOR, MATRIX, EYE)
