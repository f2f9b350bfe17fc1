"""The AST: what the user wrote, with source spans, before any shape is known.

Kept apart from the IR on purpose: the IR is interned and carries no spans, while every
error found later (shapes, names) must point at the text that caused it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Span


@dataclass(frozen=True, slots=True)
class Number:
    value: float          # int-valued literals are stored as int
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: "Ast"
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    """op is one of + - * @ / .* ./ ^ .^ >  (⊙ and ∘ are normalised to .*)."""

    op: str
    left: "Ast"
    right: "Ast"
    span: Span
    op_span: Span


@dataclass(frozen=True, slots=True)
class Transpose:
    """x' or xᵀ or x.T"""

    operand: "Ast"
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple["Ast", ...]
    span: Span
    name_span: Span


Ast = Number | Name | Neg | Binary | Transpose | Call


@dataclass(frozen=True, slots=True)
class Statement:
    """`name = expr`; name is None for a bare expression."""

    name: str | None
    name_span: Span | None
    expr: Ast
    span: Span


@dataclass(frozen=True, slots=True)
class Program:
    statements: tuple[Statement, ...]
    source: str


def walk(node: Ast | Program):
    """The nodes of a syntax tree (of every statement of a program), outermost first, left
    to right."""
    stack = [st.expr for st in reversed(node.statements)] if isinstance(node, Program) \
        else [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Binary):
            stack += [n.right, n.left]
        elif isinstance(n, (Neg, Transpose)):
            stack.append(n.operand)
        elif isinstance(n, Call):
            stack += reversed(n.args)
