"""The registry: every operation of the language and the IR, defined once.

Each family module (elementwise, reductions, linalg, nn, constants) holds one entry per
operation (see `op.Op`): name, arity and shape rule, how it builds its IR node, NumPy
evaluator, domain, simplifier facts, names, and its spellings in every printer and code
target. This module assembles the tables the stages read; nothing registers itself.

- `LANGUAGE`: the functions a program can call, by name, in the order error messages
  list them.
- `ELEMENTWISE`: every elementwise function by name (the names of `Func` nodes).
- `BY_NODE`: the other operations by IR node class.
- `CALLED`: every name a call may use (the language's own, and the other names its
  entries accept, `trace`, `ln`, `sigma`) -> the function it calls.
- `REWRITES`: other tools' functions (`dot`, `max`, `ones`), each a rewrite of the call
  into the language (matcalc.ops.spellings), which a refusal names.
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
    Along,
    Composite,
    Constant,
    Domain,
    Function,
    Op,
)
from .spellings import NOT_IN_LANGUAGE, REWRITES, Arg

OPERATIONS: tuple[Op, ...] = (elementwise.FUNCTIONS + reductions.OPERATIONS
                              + linalg.OPERATIONS + nn.OPERATIONS)

COMPOSITES: tuple[Composite, ...] = (reductions.COMPOSITES + nn.COMPOSITES
                                      + elementwise.COMPOSITES)

LANGUAGE: dict[str, Function] = {
    f.name: f for f in OPERATIONS + COMPOSITES + constants.CONSTANTS if f.arity is not None}

CALLED: dict[str, Function] = {
    **{alias: f for f in LANGUAGE.values() for alias in f.accepts}, **LANGUAGE}

ELEMENTWISE: dict[str, Op] = {op.name: op for op in OPERATIONS if op.node is Func}

BY_NODE: dict[type[Node], Op] = {op.node: op for op in OPERATIONS if op.node is not Func}

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
    "BOUNDED",
    "BY_NODE",
    "CALLED",
    "COMPOSITES",
    "ELEMENTWISE",
    "LANGUAGE",
    "NONNEGATIVE",
    "OPERATIONS",
    "POSITIVE",
    "RENAMED",
    "SPD",
    "NOT_IN_LANGUAGE",
    "REWRITES",
    "WELL_CONDITIONED",
    "Along",
    "Arg",
    "Composite",
    "Constant",
    "Domain",
    "Function",
    "Op",
    "of",
]
