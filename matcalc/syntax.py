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
    indexed: bool = False     # a product with an indexed factor (X[i,k]*Y[k,j]): einsum


@dataclass(frozen=True, slots=True)
class Transpose:
    """x' or xᵀ or x.T, or as notes write it, x^T (`mark` is "^T": T then must not be a
    name of the program, see shapes.py)."""

    operand: "Ast"
    span: Span
    mark: str = "'"


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple["Ast", ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Norm:
    """||x||, ||x||_2, ||X||_F, ||x||_1 (or with ‖): `sub` is None, "2", "F" or "1" (or
    "1,1", LaTeX's entrywise \\lVert X \\rVert_{1,1}). Which
    norm it is depends on the operand's kind (||X||_2 of a matrix is the spectral norm), so
    shapes.py decides, and refuses what it does not have."""

    operand: "Ast"
    sub: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Indexed:
    """`A[j,k,l]`: a variable with one index per axis (index notation, einsum)."""

    name: str
    indices: tuple[Name, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class IndexedGroup:
    """`(expr)[i,j]`: a matrix or vector expression with one index per axis."""

    operand: "Ast"
    indices: tuple[Name, ...]
    span: Span


Ast = Number | Name | Neg | Binary | Transpose | Call | Norm | Indexed | IndexedGroup


@dataclass(frozen=True, slots=True)
class Statement:
    """`name = expr`; name is None for a bare expression. An index statement
    (`Z[i,j] = ...`) has the left side's indices."""

    name: str | None
    name_span: Span | None
    expr: Ast
    span: Span
    indices: tuple[Name, ...] | None = None


@dataclass(frozen=True, slots=True)
class Program:
    """The statements, and the text they were read from: matcalc's language, or LaTeX
    (`notation`), whose spans point into that text."""

    statements: tuple[Statement, ...]
    source: str
    notation: str = "matcalc"


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
        elif isinstance(n, (Neg, Transpose, Norm)):
            stack.append(n.operand)
        elif isinstance(n, Call):
            stack += reversed(n.args)


def index_product(op: str, left, right) -> bool:
    """Whether `left op right` is a product in index notation (X[i,k]*Y[k,j]): a factor
    is indexed, or is such a product itself, possibly negated (-X[i,k])."""
    if op not in ("*", ".*"):
        return False
    for side in (left, right):
        while type(side) is Neg:
            side = side.operand
        if type(side) in (Indexed, IndexedGroup) or type(side) is Binary and side.indexed:
            return True
    return False


def ast_children(n) -> tuple:
    """The operands of one AST node, left to right."""
    kind = type(n)
    if kind is Binary:                    # an index product is one leaf (matcalc.indices)
        return () if n.indexed else (n.left, n.right)
    if kind is Transpose or kind is Neg or kind is Norm:
        return (n.operand,)
    if kind is Call:
        return n.args
    return ()


def right_first_preorder(root) -> list:
    """The AST below root, parents first, the right operand's subtree before the left's:
    reversed, it lists children before parents and left before right."""
    order = []
    stack = [root]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(ast_children(n))
    return order


# ---- the AST written back in matcalc's language --------------------------------------------

_LEVEL = {">": 10, "+": 20, "-": 20, "*": 30, "@": 30, "/": 30, ".*": 30, "./": 30,
          "^": 50, ".^": 50}
_NORM_CALL = {None: "norm2", "2": "norm2", "F": "norm2", "1": "norm1", "1,1": "norm1"}


def unparse(node: Ast, instead: dict[int, str] | None = None) -> str:
    """The expression in matcalc's language, parenthesised where precedence needs it: what
    a message shows of an operand read from LaTeX (`W^{(1)} \\mathbf{x}` is `W1*x`), and
    the program of a suggested rewrite, where the nodes of `instead` (id -> text, already
    parenthesised for its place) are written as that text."""
    return _unparse(node, instead or {})[0]


def _unparse(node, instead: dict[int, str]) -> tuple[str, int]:
    """(text, level of its outermost operator); recursion is bounded by the parser's
    nesting limit (matcalc.parse.MAX_DEPTH) on a chain's right side, and left-nested
    chains of one level are walked in a loop."""
    def operand(child, least: int) -> str:
        text, level = _unparse(child, instead)
        return text if level >= least else f"({text})"

    def unparse(child) -> str:
        return _unparse(child, instead)[0]

    if id(node) in instead:
        return instead[id(node)], 70
    if isinstance(node, Number):
        return node.text if node.value >= 0 else f"({node.text})", 70
    if isinstance(node, Name):
        return node.name, 70
    if isinstance(node, Indexed):
        return f"{node.name}[{','.join(i.name for i in node.indices)}]", 70
    if isinstance(node, IndexedGroup):
        return f"({unparse(node.operand)})[{','.join(i.name for i in node.indices)}]", 70
    if isinstance(node, Call):
        return f"{node.func}({', '.join(unparse(a) for a in node.args)})", 70
    if isinstance(node, Norm):
        return f"{_NORM_CALL[node.sub]}({unparse(node.operand)})", 70
    if isinstance(node, Transpose):
        return operand(node.operand, 60) + "'", 60
    if isinstance(node, Neg):
        return "-" + operand(node.operand, 50), 40
    if isinstance(node, Binary):
        level = _LEVEL[node.op]
        rights = []
        while isinstance(node, Binary) and _LEVEL[node.op] == level and level != 50:
            rights.append((node.op, node.right))        # a left-nested chain, in a loop
            node = node.left
        if rights:
            text = operand(node, level)
            for op, right in reversed(rights):
                spaced = f" {op} " if op in ("+", "-", ">", ".*", "./") else op
                text += spaced + operand(right, level + 1)
            return text, level
        left = operand(node.left, 60)                    # a power: x^(2*a)
        return f"{left}{node.op}{operand(node.right, 60)}", 50
    raise TypeError(node)
