"""Operator precedence for every printer, in one table, and the printer base that applies it.

matcalc's language, LaTeX and Python order their operators alike, loosest first:
comparison `>`; sums `+ -`; products (`* @ / .* ./`, juxtaposition, `\\odot`); a leading
minus; powers (`^ .^ **`, superscripts); postfix (`'`, `.T`, calls, subscripts); atoms.
So one ladder of levels serves the three formats, and each format lists its operators
against it in `OPERATORS`.

A printer renders a node to a `Piece`: its text, the level of its outermost operator and
that operator's family. A parent decides whether an operand needs parentheses with
`needs_parens(piece, operator, side)`, from the table alone, never by looking inside the
rendered text. Families matter at the product level: operators of one family chain
without parentheses (`A*B*C`, `2*x/N`), different ones do not mix unparenthesised, which
keeps `(a .* b)*c` and `(A @ x) * s` readable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..expr import SCALAR, Const, Node, Power, Scale, walk

# the ladder of levels, loosest first
CMP, ADD, MUL, NEG, POW, POSTFIX, ATOM = 10, 20, 30, 40, 50, 60, 70


@dataclass(frozen=True)
class Operator:
    """How an operator binds.

    `assoc` is "left", "right", "prefix", "postfix" or "none". An operand on the left of a
    left-associative operator may sit at the operator's own level when its family is in
    `same`; on the right it must bind tighter (unless the parent says the operation is
    associative, as scaling a product is). `left_min`, `right_min`, `operand_min` override
    the least level an operand must have.
    """

    level: int
    assoc: str
    same: frozenset[str] = frozenset()
    left_min: int | None = None
    right_min: int | None = None
    operand_min: int | None = None

    def least(self, side: str) -> int:
        if self.assoc in ("prefix", "postfix"):
            if self.operand_min is not None:
                return self.operand_min
            return self.level + 1 if self.assoc == "prefix" else self.level
        if side == "left":
            if self.left_min is not None:
                return self.left_min
            return self.level if self.assoc == "left" else self.level + 1
        if self.right_min is not None:
            return self.right_min
        return self.level if self.assoc == "right" else self.level + 1


def _op(level, assoc, same=(), **kw) -> Operator:
    return Operator(level, assoc, frozenset(same), **kw)


OPERATORS: dict[str, dict[str, Operator]] = {
    # matcalc's own language: what the text printer writes and the parser reads back
    "text": {
        ">": _op(CMP, "none"),
        "+": _op(ADD, "left", {"+"}),
        "-": _op(ADD, "left", {"+"}),
        "*": _op(MUL, "left", {"*"}),             # matrix product and scaling
        "/": _op(MUL, "left", {"*", "/"}),        # 2*x/N reads as one product
        ".*": _op(MUL, "left", {".*"}),
        "./": _op(MUL, "left", {"./"}),
        # -x^2 is -(x^2); a scaling commutes with products, so -A*B and -a .* b need none
        "neg": _op(NEG, "prefix", {"*", ".*", "./"}, operand_min=POW),
        "^": _op(POW, "right", right_min=POSTFIX),          # exponents stay simple: x^(2*a)
        "'": _op(POSTFIX, "postfix"),
    },
    # LaTeX: products are juxtaposed; superscripts (^\top, ^{2}, ^{-1}) sit at POW and
    # their base must be an atom, so x^{2}^\top (a double superscript) never happens
    "latex": {
        ">": _op(CMP, "none"),
        "+": _op(ADD, "left", {"+"}),
        "-": _op(ADD, "left", {"+"}),
        "juxt": _op(MUL, "left", {"juxt"}),
        r"\odot": _op(MUL, "left", {r"\odot"}),
        r"\oslash": _op(MUL, "left", {r"\oslash"}),
        "neg": _op(NEG, "prefix", {"juxt", r"\odot", r"\oslash"}, operand_min=POW),
        "^": _op(POW, "right", left_min=ATOM),
    },
    # Python (NumPy code): ** binds tighter than a leading minus, so -x ** 2 is -(x ** 2);
    # we write it with parentheses all the same, as readers expect.
    "python": {
        ">": _op(CMP, "none"),
        "+": _op(ADD, "left", {"+"}),
        "-": _op(ADD, "left", {"+"}),
        "@": _op(MUL, "left", {"@"}),
        "*": _op(MUL, "left", {"*", "/"}),
        "/": _op(MUL, "left", {"*", "/"}),
        "neg": _op(NEG, "prefix", {"*", "/"}, operand_min=POSTFIX),  # -(A @ x), -a * b
        "**": _op(POW, "right"),
        ".": _op(POSTFIX, "postfix"),             # x.T, x[:, None], x.sum(axis=0)
    },
}


def needs_parens(child: Piece, op: Operator, side: str = "left",
                 assoc_ok: bool = False) -> bool:
    """Whether `child` needs parentheses as the `side` ("left"/"right") operand of `op`
    (the side is ignored for prefix and postfix operators). `assoc_ok`: the parent
    operation is associative with the child's (scaling a product), so a child of a family
    in `op.same` needs none."""
    if assoc_ok and child.prec == MUL and child.family in op.same:
        return False
    if op.assoc not in ("prefix", "postfix") and side == "right" and child.prec == NEG:
        return True                              # never `A*-B` nor `x^-1`
    if child.prec < op.least(side):
        return True
    # at the operator's own level, families do not mix: (a .* b)*c
    return child.prec == op.level and bool(op.same) and \
        op.assoc not in ("prefix", "postfix") and child.family not in op.same


@dataclass(frozen=True)
class Piece:
    """A rendered node: its text, the level of its outermost operator and its family."""

    text: str
    prec: int = ATOM
    family: str | None = None


class PrintError(Exception):
    """An expression that cannot be printed in a format (for NumPy: a size nobody gives)."""


class Printer:
    """Base of the printers: `doprint(node)` renders through `_print_<NodeClass>`.

    Subclasses set `language` (a key of OPERATORS) and the parentheses they write.
    Results are memoised per node (the IR is a DAG); `doprint` renders the nodes
    children-first, so no rendering recurses deeper than a few levels however deep the
    expression is.
    """

    language = "text"
    open_paren, close_paren = "(", ")"

    def __init__(self):
        self._memo: dict[Node, Piece] = {}
        self.ops = OPERATORS[self.language]

    def doprint(self, root: Node) -> Piece:
        for node in walk(root, known=self._memo):
            try:
                self.print(node)
            except PrintError:
                pass                  # maybe only its context can print it; asked again then
        return self.print(root)

    def print(self, node: Node) -> Piece:
        piece = self._memo.get(node)
        if piece is None:
            method = getattr(self, "_print_" + type(node).__name__, None)
            if method is None:
                raise NotImplementedError(
                    f"{type(self).__name__} cannot print {type(node).__name__} nodes")
            piece = method(node)
            self._memo[node] = piece
        return piece

    # -- parentheses -----------------------------------------------------------------
    def wrap(self, text: str) -> str:
        return f"{self.open_paren}{text}{self.close_paren}"

    def operand(self, piece: Piece, op: str, side: str = "left", assoc_ok: bool = False) -> str:
        """The text of `piece` as an operand of `op`, parenthesised if the table says so."""
        if needs_parens(piece, self.ops[op], side, assoc_ok):
            return self.wrap(piece.text)
        return piece.text


# ---- products of scalars: shared by the printers ---------------------------------------

def reciprocal(s: Node) -> tuple[Node, int | float] | None:
    """(d, k) when the scalar s is d^(-k) with a constant k > 0 (printed as a division)."""
    if isinstance(s, Power) and isinstance(s.p, Const) and s.p.value < 0 and \
            s.x.shape == SCALAR:
        return s.x, -s.p.value
    return None


@dataclass
class Product:
    """A scaled expression read as  sign * nums * core / dens  (dens: (base, exponent)).

    Numeric factors are folded into `coef` only as far as their signs go: every negative
    constant flips `negative` and contributes its absolute value; factors equal to 1 are
    dropped. `core` is None when everything is scalar and folded into the other lists.
    """

    negative: bool = False
    nums: list = field(default_factory=list)        # Nodes and plain numbers
    core: Node | None = None
    dens: list = field(default_factory=list)        # (Node, exponent)

    def add_scalar(self, s: Node) -> None:
        """Add the factors of the scalar s (nested scales and reciprocals flattened)."""
        stack = [s]
        while stack:
            x = stack.pop()
            if isinstance(x, Scale):
                stack.append(x.x)
                stack.append(x.s)
                continue
            r = reciprocal(x)
            if r is not None:
                self.dens.append(r)
            elif isinstance(x, Const):
                v = x.value
                if v < 0:
                    self.negative = not self.negative
                    v = -v
                if v != 1:
                    self.nums.append(v)
            else:
                self.nums.append(x)


def product_of(e: Scale) -> Product:
    """The Product of a Scale chain `s1 * (s2 * (... * core))`."""
    p = Product()
    x: Node = e
    while isinstance(x, Scale) and x.shape != SCALAR:
        p.add_scalar(x.s)
        x = x.x
    if x.shape == SCALAR:
        p.add_scalar(x)                  # all scalars: no core, a monomial
    else:
        p.core = x
    return p


def format_number(v: float) -> str:
    """2, 0.5, 1e-08: integers without '.0', floats in their shortest repr."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        v = int(v)
    return repr(v) if isinstance(v, float) else str(v)
