"""The registry: every operation of the language and the IR, defined once.

Each family module (elementwise, reductions, linalg, nn, constants) holds one entry per
operation (see `op.Op`): name, arity and shape rule, how it builds its IR node, NumPy
evaluator, domain, simplifier facts, names, and its spellings in every printer and code
target. This module assembles the tables the stages read; nothing registers itself.

- `LANGUAGE`: the functions a program can call, by name, in the order error messages
  list them.
- `ELEMENTWISE`: every elementwise function by name (the names of `Func` nodes).
- `BY_NODE`: the other operations by IR node class.
- `ALIASES`: what other tools call a function -> what to write in matcalc.
- `of(node)`: the entry of an IR node, or None for an operator or a leaf.
- `RENAMED[target]`: a NumPy spelling -> the same function in torch or JAX.

Adding a function: one entry in its family module (and its tuple there), its derivative
in `rules/` and its test cases; every stage reads it from here.
"""
from __future__ import annotations

from ..expr import Func, Node
from . import constants, elementwise, linalg, nn, reductions
from .op import (
    BOUNDED,
    NONNEGATIVE,
    POSITIVE,
    SPD,
    WELL_CONDITIONED,
    Constant,
    Domain,
    Function,
    Op,
)

OPERATIONS: tuple[Op, ...] = (elementwise.FUNCTIONS + reductions.OPERATIONS
                              + linalg.OPERATIONS + nn.OPERATIONS)

LANGUAGE: dict[str, Function] = {
    f.name: f for f in OPERATIONS + constants.CONSTANTS if f.arity is not None}

ELEMENTWISE: dict[str, Op] = {op.name: op for op in OPERATIONS if op.node is Func}

BY_NODE: dict[type[Node], Op] = {op.node: op for op in OPERATIONS if op.node is not Func}

# other tools' names for what the language writes as an operator or an expression
_SPELLED_OUT = {"transpose": "x'", "softplus": "log(1 + exp(x))"}
ALIASES: dict[str, str] = {
    **{alias: instead for f in LANGUAGE.values() for alias, instead in f.aliases.items()},
    **_SPELLED_OUT}

RENAMED: dict[str, dict[str, str]] = {
    target: {op.numpy: getattr(op, target) for op in OPERATIONS
             if op.numpy is not None and getattr(op, target) is not None}
    for target in ("torch", "jax")}


def of(node: Node) -> Op | None:
    """The entry of an IR node: its elementwise function, or its node kind's operation;
    None for the operators (+, *, ', ...) and the leaves."""
    if type(node) is Func:
        return ELEMENTWISE[node.name]
    return BY_NODE.get(type(node))


__all__ = [
    "ALIASES",
    "BOUNDED",
    "BY_NODE",
    "ELEMENTWISE",
    "LANGUAGE",
    "NONNEGATIVE",
    "OPERATIONS",
    "POSITIVE",
    "RENAMED",
    "SPD",
    "WELL_CONDITIONED",
    "Constant",
    "Domain",
    "Function",
    "Op",
    "of",
]
