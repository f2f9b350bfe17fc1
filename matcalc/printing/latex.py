"""The LaTeX printer: formulas for notes and papers, in math mode without delimiters.

Matrix products are juxtaposed with a thin space (`\\mathrm{dY} \\, A`), a scalar times a
matrix with a plain space (`2 x`, `\\alpha X`), division by a scalar is a fraction
(`\\frac{x}{N}`), transposes and inverses are superscripts (`A^\\top`, `X^{-1}`,
`X^{-\\top}`), elementwise operations are `\\odot`, `\\oslash`, `x^{\\circ 2}`. Names:
single letters as they are, `W1` -> `W_{1}`, `alpha` -> `\\alpha`, other names upright
(`\\mathrm{dY}`), unless the caller's `names` say otherwise. Operands of sums and
elementwise products are written as in the text printer (broadcasts unsaid,
`1 - \\tanh(x)^{\\circ 2}`). Parentheses (`\\left( ... \\right)`) come from the precedence
table.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from ..expr import (Broadcast, Const, DiagMat, DiagVec, Det, Divide, Func, Hadamard, Inv,
                    LogDet, LogSumExp, MatMul, Node, Norm1, Norm2, Scale, Softmax, Sum, Trace,
                    Transpose)
from .precedence import (ATOM, MUL, NEG, POW, Piece, Printer, Product, format_number,
                         needs_parens, product_of)
from .text import ElementwiseOperands

GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota
kappa lambda mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega""".split())

FUNCS = {"exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan",
         "tanh": r"\tanh", "sigmoid": r"\sigma", "relu": r"\operatorname{relu}",
         "sign": r"\operatorname{sign}"}

CALLS = {Sum: r"\operatorname{sum}", Trace: r"\operatorname{tr}", Det: r"\det",
         LogDet: r"\log \det", DiagMat: r"\operatorname{diag}", DiagVec: r"\operatorname{diag}",
         Softmax: r"\operatorname{softmax}", LogSumExp: r"\operatorname{logsumexp}"}


def latex_name(name: str, names: Mapping[str, str] | None = None) -> str:
    """`x` -> x, `W1`/`W_1` -> W_{1}, `alpha` -> \\alpha, `dY` -> \\mathrm{dY}."""
    if names and name in names:
        return names[name]
    if len(name) == 1:
        return name
    if name in GREEK:
        return "\\" + name
    m = re.fullmatch(r"([A-Za-z]+?)_?([0-9]+)", name)
    if m:
        return f"{latex_name(m[1])}_{{{m[2]}}}"
    base, _, sub = name.partition("_")
    if base and sub:
        return f"{latex_name(base)}_{{{latex_name(sub)}}}"
    escaped = name.replace("_", r"\_")
    return rf"\mathrm{{{escaped}}}"


def latex_number(v) -> tuple[str, int]:
    """A non-negative number and its level: 2, 0.5, 10^{-8} (POW), 2.5 \\cdot 10^{20} (MUL)."""
    text = format_number(v)
    if "e" in text:                                 # the repr of a float: 1e-08, 2.5e+20
        mantissa, exponent = text.split("e")
        power = f"10^{{{int(exponent)}}}"
        if mantissa in ("1", "1.0"):
            return power, POW
        return rf"{mantissa} \cdot {power}", MUL
    return text, ATOM


class LatexPrinter(ElementwiseOperands, Printer):
    language = "latex"
    open_paren, close_paren = r"\left( ", r" \right)"

    def __init__(self, names: Mapping[str, str] | None = None):
        super().__init__()
        self.names = dict(names or {})

    # -- leaves ---------------------------------------------------------------------------
    def number(self, v) -> Piece:
        text, prec = latex_number(abs(v))
        if v < 0:
            return Piece("-" + text, NEG)
        return Piece(text, prec, "juxt")

    def _print_Var(self, e) -> Piece:
        return Piece(latex_name(e.name, self.names))

    def _print_Const(self, e) -> Piece:
        return self.number(e.value)

    def _print_DimValue(self, e) -> Piece:
        d = e.dim
        return Piece(latex_name(d, self.names)) if isinstance(d, str) else self.number(d)

    def filled(self, shape, c: int) -> Piece:
        r, k = shape
        if (r, k) == (1, 1):
            return Piece(str(c))
        if r == 1 and k != 1:
            return Piece(rf"\mathbf{{{c}}}^\top", POW, "^")
        return Piece(rf"\mathbf{{{c}}}")

    def _print_Zero(self, e) -> Piece:
        return self.filled(e.shape, 0)

    def _print_Ones(self, e) -> Piece:
        return self.filled(e.shape, 1)

    def _print_Identity(self, e) -> Piece:
        return Piece("I")

    # -- sums and products ----------------------------------------------------------------
    def _print_Scale(self, e: Scale) -> Piece:
        return self.product(product_of(e))

    def juxtapose(self, items: list[tuple[Piece, bool, bool]], sign: str = "") -> str:
        """Factors side by side (`2 \\alpha x`), `\\cdot` before a number. An item is
        (piece, is_core, is_number); the core may be a product itself (`2 A \\, B`)."""
        out = ""
        for i, (piece, is_core, is_number) in enumerate(items):
            if i == 0 and sign:
                out = sign + self.operand(piece, "neg", assoc_ok=is_core)
            elif i == 0:
                out = self.operand(piece, "juxt", "right", assoc_ok=is_core)
            else:
                text = self.operand(piece, "juxt", "right", assoc_ok=is_core)
                out += (r" \cdot " if is_number else " ") + text
        return out

    def product(self, p: Product, core: Piece | None = None) -> Piece:
        """`2 \\alpha x`, `-x`, `\\frac{x}{N}`, `-\\frac{0.5 x}{N}`."""
        items = [(self.number(n), False, True) if isinstance(n, (int, float)) else
                 (self.print(n), False, isinstance(n, Const)) for n in p.nums]
        if p.core is not None:
            core = self.print(p.core)
        if core is not None:
            items.append((core, True, False))
        if not items:
            items = [(self.number(1), False, True)]
        if len(items) == 1 and not p.dens and not p.negative:
            return items[0][0]
        sign = "-" if p.negative else ""
        if p.dens:
            top = items[0][0].text if len(items) == 1 else self.juxtapose(items)
            dens = [(self.power_piece(self.print(d), k), False, False) for d, k in p.dens]
            bottom = dens[0][0].text if len(dens) == 1 else self.juxtapose(dens)
            return Piece(rf"{sign}\frac{{{top}}}{{{bottom}}}", NEG if sign else ATOM)
        text = self.juxtapose(items, sign)
        if len(items) == 1:
            piece, is_core, _ = items[0]
            if piece.prec == MUL and not needs_parens(piece, self.ops["neg"], assoc_ok=is_core):
                return Piece(text, MUL, "juxt")            # -A \, B
            return Piece(text, NEG)
        return Piece(text, MUL, "juxt")

    def power_piece(self, base: Piece, k) -> Piece:
        if k == 1:
            return base
        return Piece(f"{self.operand(base, '^', 'left')}^{{{latex_number(k)[0]}}}", POW, "^")

    def _print_MatMul(self, e: MatMul) -> Piece:
        first, *rest = [self.print(f) for f in e.factors]
        parts = [self.operand(first, "juxt", "left")]
        parts += [self.operand(f, "juxt", "right") for f in rest]
        return Piece(r" \, ".join(parts), MUL, "juxt")

    def _print_Hadamard(self, e: Hadamard) -> Piece:
        return self._elementwise(e.factors, r"\odot")

    def _print_Divide(self, e: Divide) -> Piece:
        return self._elementwise((e.a, e.b), r"\oslash")

    def _print_Power(self, e) -> Piece:
        base = self.operand(self.print(e.x), "^", "left")
        p = self.print(e.p).text
        exponent = p if e.x.is_scalar else rf"\circ {p}"
        return Piece(f"{base}^{{{exponent}}}", POW, "^")

    def _print_Transpose(self, e: Transpose) -> Piece:
        if isinstance(e.x, Inv):                                     # (X^{-1})^T = X^{-T}
            return Piece(self.operand(self.print(e.x.x), "^", "left") + r"^{-\top}", POW, "^")
        return Piece(self.operand(self.print(e.x), "^", "left") + r"^\top", POW, "^")

    def _print_Inv(self, e: Inv) -> Piece:
        return Piece(self.operand(self.print(e.x), "^", "left") + "^{-1}", POW, "^")

    def _print_Broadcast(self, e: Broadcast) -> Piece:
        # where a Broadcast is an operand of + - \odot \oslash its parent prints x alone
        x = e.x
        if x.is_scalar:                                           # s \mathbf{1}
            p = Product()
            p.add_scalar(x)
            return self.product(p, core=self.filled(e.bshape, 1))
        if x.shape[0] == 1:                                       # \mathbf{1} \, r
            return Piece(r"\mathbf{1} \, " + self.operand(self.print(x), "juxt", "right"),
                         MUL, "juxt")
        return Piece(self.operand(self.print(x), "juxt", "left") + r" \, \mathbf{1}^\top",
                     MUL, "juxt")

    # -- functions ------------------------------------------------------------------------
    def apply(self, fn: str, x: Node) -> Piece:
        return Piece(rf"{fn}\left( {self.print(x).text} \right)")

    def _print_Func(self, e: Func) -> Piece:
        if e.name == "step":
            return Piece(rf"\mathbb{{1}}[{self.comparison(e.x)}]")
        if e.name == "abs":
            return Piece(rf"\lvert {self.print(e.x).text} \rvert")
        if e.name == "sqrt":
            return Piece(rf"\sqrt{{{self.print(e.x).text}}}")
        return self.apply(FUNCS[e.name], e.x)

    def call(self, e) -> Piece:
        return self.apply(CALLS[type(e)], e.x)

    _print_Sum = _print_Trace = _print_Det = _print_DiagMat = _print_DiagVec = call
    _print_Softmax = _print_LogSumExp = call

    def _print_LogDet(self, e: LogDet) -> Piece:
        return Piece(self.call(e).text, POW)        # \log \det(X)^{2} would mislead

    def _print_Norm1(self, e: Norm1) -> Piece:
        return Piece(rf"\lVert {self.print(e.x).text} \rVert_1")

    def _print_Norm2(self, e: Norm2) -> Piece:
        return Piece(rf"\lVert {self.print(e.x).text} \rVert_2")


def to_latex(node: Node, names: Mapping[str, str] | None = None) -> str:
    """The formula in LaTeX math mode."""
    return LatexPrinter(names).doprint(node).text
