"""The text printer: formulas in matcalc's own language, which the parser reads back.

Canonical and readable: `dY*A`, `x'*A*y`, `(A + A')*x`, `a - 2*b`, `0.5*x/N`, `x.^2`,
`(a .* b)*c`. Spaces around `+ - .* ./ >`, none around `* / ^ .^`. Parentheses come from
the precedence table (precedence.py), plus one rule for readability: different product
operators (`*`, `.*`, `./`, and `/` on the left of `*`) never nest unparenthesised.

Scaling commutes with products, so a scaled product prints as one product: `2*A*B` for
Scale(2, A*B), `-A'*r` for Scale(-1, A'*r), `-a .* b` for Scale(-1, a .* b); the parser
reads those back as (2*A)*B and so on, which the simplifier makes the same canonical
node. A Broadcast is invisible
where the language broadcasts by itself (an operand of + - .* ./) and explicit elsewhere
(`s*vector(1)`, `vector(1)*r`, `c*vector(1)'`).
"""
from __future__ import annotations

from .. import ops
from ..expr import (Add, Broadcast, Const, Divide, Func, Hadamard, LogSumExp, MatMul, Node,
                    Ones, Scale, Softmax, Transpose, Var, Zero)
from .precedence import (ADD, ATOM, MUL, NEG, POSTFIX, POW, Piece, Printer, Product,
                         format_number, needs_parens, product_of)

def along_rows(e: Transpose) -> Node | None:
    """S when e is softmax(S')' or logsumexp(S')': the function along each row of S,
    which the language writes softmax(S, 2)."""
    x = e.x
    if isinstance(x, (Softmax, LogSumExp)) and isinstance(x.x, Transpose):
        return x.x.x
    return None


def summed(factors) -> list[tuple[Node, int] | Node]:
    """The factors of a product, with each ones vector and its neighbour read as a sum
    along one dimension: 1'*G is (G, 1), the row of G's column sums, and G*1 is (G, 2),
    the column of its row sums (a vector's ones product is its plain sum, (v, 0))."""
    out: list = []
    factors = list(factors)
    i = 0
    while i < len(factors):
        f = factors[i]
        nxt = factors[i + 1] if i + 1 < len(factors) else None
        if isinstance(f, Ones) and f.shape[0] == 1 and nxt is not None and \
                not isinstance(nxt, Ones):
            out.append((nxt, 0 if nxt.shape[1] == 1 else 1))
            i += 2
        elif nxt is not None and isinstance(nxt, Ones) and nxt.shape[1] == 1 and \
                not isinstance(f, Ones):
            out.append((f, 0 if f.shape[0] == 1 else 2))
            i += 2
        else:
            out.append(f)
            i += 1
    return out


def unbroadcast(x: Node) -> Node:
    """x without the Broadcasts the language makes by itself in elementwise operations
    (where a matrix of ones is the number 1)."""
    while isinstance(x, Broadcast):
        x = x.x
    if isinstance(x, Ones) and not x.is_scalar:
        return Const(1)
    if isinstance(x, Zero) and not x.is_scalar:
        return Const(0)
    return x


def implicit_broadcasts(operands) -> bool:
    """Whether the operands of an elementwise operation may leave their Broadcasts unsaid:
    when one of them has the full shape, which the others then broadcast to."""
    def broadcast(t: Node) -> bool:
        while isinstance(t, Scale) and not t.is_scalar:
            t = t.x
        return isinstance(t, (Broadcast, Ones, Zero))
    return not all(broadcast(t) for t in operands)


class ElementwiseOperands:
    """Sums, elementwise products and comparisons, shared by the text and LaTeX printers.

    Their operands broadcast by themselves in matcalc's language (as in NumPy), so an
    operand prints without its Broadcast, also under a scaling (X - b' is
    X + (-1)*broadcast(b')), and a constant matrix prints as its number (1 - tanh(x).^2);
    unless every operand is a broadcast, since then the operands alone would not give the
    shape. A term with a negative coefficient is a subtraction (a - 2*b).
    """

    def elem(self, t: Node, implicit: bool = True) -> Piece:
        """The operand t of an elementwise operation (`implicit`: see the class)."""
        if not implicit:
            return self.print(t)
        t = unbroadcast(t)
        if isinstance(t, Scale) and not t.is_scalar:
            return self.product(self._implicit(product_of(t)))
        return self.print(t)

    def negated(self, t: Node, implicit: bool = True) -> Piece | None:
        """-t when the operand t reads as a subtraction, else None."""
        if implicit:
            t = unbroadcast(t)
        if isinstance(t, Const) and t.value < 0:
            return self.number(-t.value)
        if isinstance(t, Scale):
            p = product_of(t)
            if p.negative:
                p.negative = False
                return self.product(self._implicit(p) if implicit else p)
        return None

    @staticmethod
    def _implicit(p: Product) -> Product:
        if p.core is None:
            return p
        core = unbroadcast(p.core)
        if core.is_scalar:                 # 2*vector(1) in a sum is 2
            p.core = None
            p.add_scalar(core)
        else:
            p.core = core
        return p

    def _print_Add(self, e: Add) -> Piece:
        out = []
        implicit = implicit_broadcasts(e.terms)
        for i, t in enumerate(e.terms):
            neg = self.negated(t, implicit) if i else None
            if i == 0:
                out.append(self.operand(self.elem(t, implicit), "+", "left"))
            elif neg is not None:
                out.append(" - " + self.operand(neg, "-", "right"))
            else:
                out.append(" + " + self.operand(self.elem(t, implicit), "+", "right"))
        return Piece("".join(out), ADD, "+")

    def _elementwise(self, factors, op: str) -> Piece:
        implicit = implicit_broadcasts(factors)
        first, *rest = [self.elem(f, implicit) for f in factors]
        parts = [self.operand(first, op, "left")]
        parts += [self.operand(f, op, "right") for f in rest]
        return Piece(f" {op} ".join(parts), MUL, op)

    def comparison(self, z: Node) -> str:
        """step(z) as the language writes it: `a > b` for z = a - b, else `z > 0`."""
        if isinstance(z, Add) and len(z.terms) == 2:
            implicit = implicit_broadcasts(z.terms)
            b = self.negated(z.terms[1], implicit)
            if b is not None:
                a = self.elem(z.terms[0], implicit)
                return f"{self.operand(a, '>', 'left')} > {self.operand(b, '>', 'right')}"
        return f"{self.operand(self.print(z), '>', 'left')} > 0"


class TextPrinter(ElementwiseOperands, Printer):
    language = "text"

    # -- leaves ---------------------------------------------------------------------------
    def number(self, v) -> Piece:
        return Piece(format_number(v), NEG if v < 0 else ATOM)

    def _print_Var(self, e) -> Piece:
        return Piece(e.name)

    def _print_Const(self, e) -> Piece:
        return self.number(e.value)

    def _print_DimValue(self, e) -> Piece:
        return Piece(str(e.dim))

    def filled(self, shape, c: int) -> Piece:
        """A constant matrix: 1, vector(1), vector(1)', matrix(1) (likewise with 0); a
        constant tensor is its number, which index notation repeats."""
        if len(shape) != 2:
            return Piece(str(c))
        r, k = shape
        if (r, k) == (1, 1):
            return Piece(str(c))
        if k == 1:
            return Piece(f"vector({c})")
        if r == 1:
            return Piece(f"vector({c})'", POSTFIX, "'")
        return Piece(f"matrix({c})")

    def _print_Zero(self, e) -> Piece:
        return self.filled(e.shape, 0)

    def _print_Ones(self, e) -> Piece:
        return self.filled(e.shape, 1)

    def _print_Identity(self, e) -> Piece:
        return Piece("eye")

    # -- sums and products ----------------------------------------------------------------
    def _print_Scale(self, e: Scale) -> Piece:
        return self.product(product_of(e))

    def product(self, p: Product) -> Piece:
        """sign, numerators, the core, then /denominators: `-2*alpha*x/N`, `1/d`, `-A*B`."""
        items = [(self.number(n) if isinstance(n, (int, float)) else self.print(n), False)
                 for n in p.nums]
        if p.core is not None:
            items.append((self.print(p.core), True))
        if not items:
            items = [(self.number(1), False)]
        if len(items) == 1 and not p.dens and not p.negative:
            return items[0][0]
        texts = []
        for i, (piece, is_core) in enumerate(items):
            if i == 0 and p.negative:
                texts.append("-" + self.operand(piece, "neg", assoc_ok=is_core))
            elif i == 0 and is_core:
                texts.append(self.operand(piece, "/", "left"))
            else:
                texts.append(self.operand(piece, "*", "right", assoc_ok=is_core))
        text = "*".join(texts)
        for d, k in p.dens:
            text += "/" + self.operand(self.power_piece(self.print(d), k), "/", "right")
        if len(items) > 1 or p.dens:
            return Piece(text, MUL, "/" if p.dens else "*")
        piece, is_core = items[0]
        if piece.prec == MUL and not needs_parens(piece, self.ops["neg"], assoc_ok=is_core):
            return Piece(text, MUL, piece.family)          # -A*B
        return Piece(text, NEG)

    def power_piece(self, base: Piece, k) -> Piece:
        if k == 1:
            return base
        return Piece(f"{self.operand(base, '^', 'left')}^{format_number(k)}", POW, "^")

    def _print_MatMul(self, e: MatMul) -> Piece:
        first, *rest = [self.along(f) if isinstance(f, tuple) else self.print(f)
                        for f in summed(e.factors)]
        if not rest:
            return first
        parts = [self.operand(first, "*", "left")]
        parts += [self.operand(f, "*", "right") for f in rest]
        return Piece("*".join(parts), MUL, "*")

    def along(self, summed: tuple[Node, int]) -> Piece:
        """sum(G, 1), sum(G, 2), a transposed one's sum(G, 2)' (G'*1 is (1'*G)'), sum(v)."""
        g, dim = summed
        if dim == 0:
            return Piece(f"sum({self.print(g).text})")
        if isinstance(g, Transpose):
            return Piece(f"sum({self.print(g.x).text}, {3 - dim})'", POSTFIX, "'")
        return Piece(f"sum({self.print(g).text}, {dim})")

    def _print_Hadamard(self, e: Hadamard) -> Piece:
        return self._elementwise(e.factors, ".*")

    def _print_Divide(self, e: Divide) -> Piece:
        return self._elementwise((e.a, e.b), "./")

    def _print_Power(self, e) -> Piece:
        op = "^" if e.x.is_scalar else ".^"
        x = e.x
        if isinstance(x, Broadcast) and not e.p.is_scalar:     # 2.^x: the language spreads 2
            x = x.x
        base = self.operand(self.print(x), "^", "left")
        return Piece(f"{base}{op}{self.operand(self.print(e.p), '^', 'right')}", POW, "^")

    def _print_Transpose(self, e: Transpose) -> Piece:
        rows = along_rows(e)
        if rows is not None:                              # softmax(S')' is softmax(S, 2)
            return Piece(f"{ops.of(e.x).name}({self.print(rows).text}, 2)")
        return Piece(self.operand(self.print(e.x), "'") + "'", POSTFIX, "'")

    def _print_Broadcast(self, e: Broadcast) -> Piece:
        # where a Broadcast is an operand of + - .* ./ its parent prints x alone
        x = e.x
        if x.is_scalar:                                   # s*vector(1), s*matrix(1)
            ones = self.filled(e.bshape, 1)
            return Piece(f"{self.operand(self.print(x), '*', 'left')}*{ones.text}", MUL, "*")
        if x.shape[0] == 1:                               # a row repeated down
            return Piece(f"vector(1)*{self.operand(self.print(x), '*', 'right')}", MUL, "*")
        return Piece(f"{self.operand(self.print(x), '*', 'left')}*vector(1)'", MUL, "*")

    # -- functions ------------------------------------------------------------------------
    def _print_Func(self, e: Func) -> Piece:
        if e.name == "step":
            return Piece("(" + self.comparison(e.x) + ")")
        return self.call(e)

    def call(self, e) -> Piece:
        """name(x): the text spelling of an operation is its name in the language."""
        return Piece(f"{ops.of(e).name}({self.print(e.x).text})")

    def _print_Contract(self, e) -> Piece:
        """Index notation: X[p,i]*A[j,p,k], the free indices in output order (a compound
        operand in parentheses: (A + B)[i,p])."""
        from .index import contraction_names
        order, names = contraction_names(e, self.nested)
        parts = []
        for k in order:
            x, sub = e.operands[k], e.ins[k]
            base = x.name if isinstance(x, Var) else f"({self.nested_text(x)})"
            parts.append(f"{base}[{','.join(names[ch] for ch in sub)}]" if sub else
                         self.operand(self.print(x), "*", "right"))
        return Piece("*".join(parts), MUL, "*")

    nested = False          # printing inside an operand of a contraction

    def nested_text(self, x: Node) -> str:
        """An operand of a contraction, its own contractions in other letters (by one
        inner printer, whose memo every operand shares)."""
        if self.nested:
            return self.print(x).text
        inner = self.__dict__.get("_inner")
        if inner is None:
            inner = self._inner = type(self)()
            inner.nested = True
        return inner.doprint(x).text

    _print_Sum = _print_Trace = _print_Norm1 = _print_Norm2 = _print_Det = call
    _print_LogDet = _print_Inv = _print_DiagMat = _print_DiagVec = call
    _print_Tril = _print_Triu = call
    _print_Softmax = _print_LogSumExp = call


def to_text(node: Node) -> str:
    """The formula in matcalc's input language (parses back to the same IR)."""
    return TextPrinter().doprint(node).text
