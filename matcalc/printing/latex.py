"""The LaTeX printer: formulas for notes and papers, and the blocks and documents around them.

A formula is math mode without delimiters, written as a careful author writes it: products
juxtaposed (`W_1 x`, `\\alpha X`), division by a scalar a fraction (`\\frac{x}{N}`),
transposes and inverses superscripts (`A^\\top`, `X^{-1}`, `X^{-\\top}`), elementwise
operations `\\odot`, `\\oslash`, `x^{\\circ 2}`, the ones vector `\\mathbf{1}`, functions
`\\exp`, `\\log`, `\\det`, `\\operatorname{tr}`, `\\operatorname{diag}`, `\\sigma`. Operands of
sums and elementwise products leave their broadcasts unsaid, as in the text printer.
Whether parentheses are needed comes from the precedence table; their size from what they
hold: `\\left( \\right)` around a fraction, plain elsewhere (so `\\exp(x)` keeps the tight
spacing of a function call).

Names: `x` stays, `W1` is `W_1` (or `W^{(1)}`, and transposed `W^{(1)\\top}`), `alpha` is
`\\alpha`, `W_out` is `W_{\\mathrm{out}}`, other names are upright (`\\mathrm{reg}`). An
adjoint (the upstream gradient `dY`, a step's `dz`) is written as the derivative it stands
for, `\\frac{\\partial L}{\\partial Y}`, or in the short form `\\bar{Y}`: the adjoint notation
of reverse-mode differentiation (Giles, "An extended collection of matrix derivative
results"), which keeps the variable's own spelling (`\\bar{W}_1`) and takes a transpose
without parentheses; `\\delta_Y` would clash with the deltas of backprop notes and of index
notation.

The indicator is `\\mathbb{I}[z > 0]`, the notation of Murphy's textbooks. amssymb has no
blackboard-bold digits (`\\mathbb{1}` prints a wrong glyph), and a macro of our own would
be undefined wherever the output is pasted. Everything printed here needs amsmath and
amssymb only (a standalone document adds geometry for its margins, and nothing the
formulas use), so a body compiles in any document that loads those two packages.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from .. import ops
from ..errors import OptionError
from ..expr import (
    Broadcast,
    Const,
    Divide,
    Func,
    Hadamard,
    Inv,
    LogDet,
    MatMul,
    Node,
    Scale,
    Transpose,
    Var,
)
from .precedence import (
    ATOM,
    MUL,
    NEG,
    POSTFIX,
    POW,
    Piece,
    Printer,
    Product,
    format_number,
    needs_parens,
    product_of,
)
from .text import ElementwiseOperands, along_rows

GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota
kappa lambda mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega""".split())

# the options of `--format latex`: their values, the first one the default
TRANSPOSES = {"top": r"\top", "T": "T"}                 # A^\top, A^T
NUMBERED = ("subscript", "superscript")                 # W_1, W^{(1)}
UPSTREAMS = ("fraction", "bar")                         # \frac{\partial L}{\partial Y}, \bar{Y}


@dataclass(frozen=True)
class LatexStyle:
    """How one document spells names and transposes: the user's options, and what the
    derivation knows. `adjoints` holds (name, loss, variable) for each name that stands for
    ∂loss/∂variable; `differentials` (name, variable) for each name that stands for the
    differential of a variable (\\mathrm{d}X); `spellings` (name, LaTeX) pairs are used as
    given; `shapes` asks the blocks to state each variable's shape."""

    transpose: str = "top"
    numbered: str = "subscript"
    upstream: str = "fraction"
    shapes: bool = False
    notes: bool = False
    adjoints: tuple[tuple[str, str, str], ...] = ()
    differentials: tuple[tuple[str, str], ...] = ()
    spellings: tuple[tuple[str, str], ...] = ()
    sigmoid: str = ops.ELEMENTWISE["sigmoid"].latex


def latex_style(transpose: str = "top", numbered: str = "subscript",
                upstream: str = "fraction", shapes: bool = False, notes: bool = False,
                program_names=(), **context) -> LatexStyle:
    """The LatexStyle of the user's options (validated: an OptionError names a bad value).
    `program_names`: the names the program uses; with a variable named sigma, the logistic
    function is spelled out (\\operatorname{sigmoid}), since \\sigma would mean the variable."""
    def one_of(option: str, value, allowed) -> None:
        if value not in allowed:
            raise OptionError(f"unknown LaTeX {option} {value!r}: expected "
                              + " or ".join(repr(a) for a in allowed))
    one_of("transpose", transpose, tuple(TRANSPOSES))
    one_of("numbered", numbered, NUMBERED)
    one_of("upstream", upstream, UPSTREAMS)
    for option, value in (("shapes", shapes), ("notes", notes)):
        if not isinstance(value, bool):
            raise OptionError(f"LaTeX {option} is True or False, not {value!r}")
    if "sigma" in program_names:
        context.setdefault("sigmoid", r"\operatorname{sigmoid}")
    return LatexStyle(transpose, numbered, upstream, shapes, notes, **context)


# ---- names --------------------------------------------------------------------------------

def _script(mark: str, s: str) -> str:
    """`_1`, `_{12}`, `^{(1)}`: braces unless the script is one letter or digit."""
    if not s:
        return ""
    return f"{mark}{s}" if len(s) == 1 and s.isalnum() else f"{mark}{{{s}}}"


@dataclass(frozen=True)
class Name:
    """A name as LaTeX writes it: its base (`W`, `\\alpha`, `\\mathrm{reg}`), subscript,
    superscript, and a bar over the base for an adjoint in the short form (`\\bar{W}_1`)."""

    base: str
    sub: str = ""
    sup: str = ""
    bar: bool = False

    def tex(self, more_sup: str = "") -> str:
        """The name; `more_sup` joins its superscript (`W^{(1)\\top}`, never `W^{(1)}^\\top`,
        which TeX refuses as a double superscript)."""
        base = self.base
        if self.bar:                                    # a bar as wide as a word
            wide = base.startswith((r"\mathrm", "{"))
            base = rf"\overline{{{base}}}" if wide else rf"\bar{{{base}}}"
        return base + _script("_", self.sub) + _script("^", self.sup + more_sup)


def split_name(name: str, numbered: str = "subscript") -> Name:
    """`x` -> x, `W1`/`W_1` -> W_1 (or W^{(1)}), `alpha` -> \\alpha, `W_out` ->
    W_{\\mathrm{out}}, `dY` -> \\mathrm{dY}."""
    if len(name) == 1:
        return Name(name)
    if name in GREEK:
        return Name("\\" + name)
    m = re.fullmatch(r"([A-Za-z]+?)_?([0-9]+)", name)
    if m:
        base = split_name(m[1]).base
        return Name(base, sup=f"({m[2]})") if numbered == "superscript" else Name(base, m[2])
    base, _, sub = name.partition("_")
    if base and sub:
        head = split_name(base, numbered)
        tex = head.tex() if not (head.sub or head.sup) else "{" + head.tex() + "}"
        return Name(tex, split_name(sub).tex())          # V_{A_1}: no superscript inside
    escaped = name.replace("_", r"\_")
    return Name(rf"\mathrm{{{escaped}}}")


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


def simple_ratio(v) -> tuple[int, int] | None:
    """(p, q) if the non-negative number v is exactly the float of p/q with a small q (0.5,
    0.25, 1/3, 1.5 but not 0.1234 or 1e-8), else None; an integer is (v, 1)."""
    from fractions import Fraction
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != v \
            or v == float("inf"):
        return None
    if float(v).is_integer() and v < 2 ** 53:
        return int(v), 1
    f = Fraction(v).limit_denominator(12)
    if f.numerator == 0 or f.numerator > 1000 or float(f) != v:
        return None
    return f.numerator, f.denominator


def is_tall(text: str) -> bool:
    """Whether rendered math holds a fraction, so delimiters around it must grow."""
    return r"\frac" in text


# ---- the printer --------------------------------------------------------------------------

class LatexPrinter(ElementwiseOperands, Printer):
    language = "latex"

    def __init__(self, names: Mapping[str, str] | LatexStyle | None = None):
        super().__init__()
        if not isinstance(names, LatexStyle):
            names = LatexStyle(spellings=tuple((names or {}).items()))
        self.style = names
        self.top = TRANSPOSES[names.transpose]
        self.spellings = dict(names.spellings)
        self.adjoints = {n: (loss, of) for n, loss, of in names.adjoints}
        self.differentials = dict(names.differentials)

    # -- names ----------------------------------------------------------------------------
    def name(self, name: str) -> Name:
        """A name that is not an adjoint, in this document's style."""
        return split_name(name, self.style.numbered)

    def name_parts(self, name: str) -> Name | None:
        """The parts of a variable's spelling; None for an explicit spelling, a differential
        or an adjoint written as a fraction."""
        if name in self.spellings or name in self.differentials:
            return None
        if name in self.adjoints:
            if self.style.upstream == "fraction":
                return None
            n = self.name(self.adjoints[name][1])
            return Name(n.base, n.sub, n.sup, bar=True)
        return self.name(name)

    def partial(self, loss: str, of: str) -> str:
        """\\frac{\\partial loss}{\\partial of}."""
        return rf"\frac{{\partial {self.name(loss).tex()}}}{{\partial {self.name(of).tex()}}}"

    def spell(self, name: str) -> Piece:
        """A variable's name; one with a superscript, a differential or a fraction is not
        an atom, so a further superscript puts it in parentheses: (\\mathrm{d}X)^\\top."""
        if name in self.spellings:
            return Piece(self.spellings[name])
        if name in self.differentials:                             # \mathrm{d}X \, W
            return Piece(r"\mathrm{d}" + self.name(self.differentials[name]).tex(), POSTFIX,
                         "word")
        parts = self.name_parts(name)
        if parts is None:
            return Piece(self.partial(*self.adjoints[name]), POSTFIX)
        # an upright word is kept apart from its neighbours in a product: \mathrm{reg} \, W
        word = "word" if parts.base.startswith(r"\mathrm") else None
        return Piece(parts.tex(), POSTFIX if parts.sup else ATOM, word)

    @staticmethod
    def space(left: Piece, right: Piece) -> str:
        """The space between two juxtaposed factors: a thin one beside a word, a \\cdot
        between the variable \\sigma and a parenthesis (\\sigma(...) is the logistic
        function when LaTeX is read back), else one space."""
        if left.text == r"\sigma" and right.text.startswith(("(", r"\left(")):
            return r" \cdot "
        return r" \, " if "word" in (left.family, right.family) else " "

    # -- delimiters -----------------------------------------------------------------------
    def wrap(self, text: str) -> str:
        return rf"\left({text}\right)" if is_tall(text) else f"({text})"

    def delimit(self, left: str, text: str, right: str) -> str:
        """`left text right`, the delimiters grown around a fraction."""
        if is_tall(text):
            return rf"\left{left}{text}\right{right.lstrip()}"
        return f"{left}{text}{right}"

    # -- leaves ---------------------------------------------------------------------------
    def number(self, v) -> Piece:
        ratio = simple_ratio(abs(v))
        if ratio is not None and ratio[1] != 1:                    # \frac{1}{2}, not 0.5
            text = rf"\frac{{{ratio[0]}}}{{{ratio[1]}}}"
            return Piece("-" + text, NEG) if v < 0 else Piece(text, ATOM, "juxt")
        text, prec = latex_number(abs(v))
        if v < 0:
            return Piece("-" + text, NEG)
        return Piece(text, prec, "juxt")

    def _print_Var(self, e) -> Piece:
        return self.spell(e.name)

    def _print_Const(self, e) -> Piece:
        return self.number(e.value)

    def _print_DimValue(self, e) -> Piece:
        d = e.dim
        return self.spell(d) if isinstance(d, str) else self.number(d)

    def filled(self, shape, c: int) -> Piece:
        """1, the vector \\mathbf{1} (laid down \\mathbf{1}^\\top), the matrix
        \\mathbf{1}_{N \\times n}: a matrix says its size, so that it reads back as one."""
        if len(shape) != 2:                   # a tensor: the number, as indices repeat it
            return Piece(str(c))
        r, k = shape
        if (r, k) == (1, 1):
            return Piece(str(c))
        if r == 1 and k != 1:
            return Piece(rf"\mathbf{{{c}}}^{self.top}", POW, "^")
        if k != 1:
            return Piece(rf"\mathbf{{{c}}}_{{{self.dim(r)} \times {self.dim(k)}}}", POSTFIX)
        return Piece(rf"\mathbf{{{c}}}")

    def dim(self, d) -> str:
        return self.name(d).tex() if isinstance(d, str) else str(d)

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
        (piece, is_core, is_number); the core may be a product itself (`2 A B`)."""
        out = ""
        for i, (piece, is_core, is_number) in enumerate(items):
            if i == 0 and sign:
                out = sign + self.operand(piece, "neg", assoc_ok=is_core)
            elif i == 0:
                out = self.operand(piece, "juxt", "right", assoc_ok=is_core)
            else:
                text = self.operand(piece, "juxt", "right", assoc_ok=is_core)
                out += (r" \cdot " if is_number else self.space(items[i - 1][0], piece)) + text
        return out

    def product(self, p: Product, core: Piece | None = None) -> Piece:
        """`2 \\alpha x`, `-x`, `\\frac{x}{N}`, `\\frac{1}{2} (A + A^\\top) x`,
        `-\\frac{1}{2 N} X^\\top Y`: a simple fraction of numbers is written as one
        (`\\frac{1}{2}`, never 0.5), and a fraction stands before a product or sum rather
        than under it, as an author writes `\\frac{1}{N} \\sum`; over a single factor it
        stays a fraction (`\\frac{x}{N}`). A numerator that holds a fraction stays beside
        one: `\\frac{1}{N} \\frac{\\partial L}{\\partial Y}`."""
        top_num, bottom_num, nums = 1, 1, []
        for n in p.nums:                       # 0.5 = 1/2: the ratio joins the fraction
            ratio = simple_ratio(n) if isinstance(n, (int, float)) else None
            if ratio is None or ratio[1] == 1:
                nums.append(n)
            else:
                top_num, bottom_num = top_num * ratio[0], bottom_num * ratio[1]
        items = [(self.number(n), False, True) if isinstance(n, (int, float)) else
                 (self.print(n), False, isinstance(n, Const)) for n in nums]
        if top_num != 1:
            items.insert(0, (self.number(top_num), False, True))
        if p.core is not None:
            core = self.print(p.core)
        sign = "-" if p.negative else ""
        # a number in the denominator is set apart by \\cdot too: 0.5 \\cdot 2, not 0.5 2
        dens = [(self.power_piece(self.print(d), k), False, isinstance(d, Const))
                for d, k in p.dens]
        if bottom_num != 1:
            dens.insert(0, (self.number(bottom_num), False, True))
        if not dens:
            items += [(core, True, False)] if core is not None else []
            if not items:
                items = [(self.number(1), False, True)]
            if len(items) == 1 and not p.negative:
                return items[0][0]
            return self._juxtaposed(items, sign)
        bottom = dens[0][0].text if len(dens) == 1 else self.juxtapose(dens)
        # over the bar: the numbers and short scalar factors; the rest after the fraction
        over = [it for it in items if it[0].prec >= POSTFIX and not is_tall(it[0].text)]
        rest = [it for it in items if it not in over]
        if core is not None:
            rest.append((core, True, False))
        if not rest or (not over and len(rest) == 1 and rest[0][0].prec >= POSTFIX
                        and not is_tall(rest[0][0].text) and p.dens):
            top = self.juxtapose(over + rest) if over + rest else "1"   # \frac{x}{N}
            return Piece(rf"{sign}\frac{{{top}}}{{{bottom}}}", NEG if sign else ATOM)
        top = self.juxtapose(over) if over else "1"       # \frac{\lambda}{m} W_2
        frac = Piece(rf"\frac{{{top}}}{{{bottom}}}")
        return self._juxtaposed([(frac, False, False)] + rest, sign)

    def _juxtaposed(self, items: list[tuple[Piece, bool, bool]], sign: str) -> Piece:
        text = self.juxtapose(items, sign)
        if len(items) == 1:
            piece, is_core, _ = items[0]
            if piece.prec == MUL and not needs_parens(piece, self.ops["neg"], assoc_ok=is_core):
                return Piece(text, MUL, "juxt")            # -A B
            return Piece(text, NEG)
        return Piece(text, NEG if sign else MUL, None if sign else "juxt")

    def power_piece(self, base: Piece, k) -> Piece:
        if k == 1:
            return base
        return Piece(self.operand(base, "^", "left") + _script("^", latex_number(k)[0]), POW, "^")

    def _print_MatMul(self, e: MatMul) -> Piece:
        pieces = [self.print(f) for f in e.factors]
        text = self.operand(pieces[0], "juxt", "left")
        for left, right in pairwise(pieces):
            text += self.space(left, right) + self.operand(right, "juxt", "right")
        return Piece(text, MUL, "juxt")

    def _print_Contract(self, e) -> Piece:
        """Index notation with the summation convention: X_{pi} A_{jpk}, an index
        repeated on the right summed (the derivation's notes say so)."""
        from .index import contraction_names
        order, names = contraction_names(e, self.nested)
        parts = []
        for k in order:
            x, sub = e.operands[k], e.ins[k]
            p = self.print(x) if self.nested or isinstance(x, Var) else self.nested_piece(x)
            if not sub:
                parts.append(self.operand(p, "juxt", "right"))
                continue
            plain = isinstance(x, Var) and "\\frac" not in p.text
            base = p.text if plain and "_" not in p.text and "^" not in p.text else \
                f"{{{p.text}}}" if plain else self.delimit("(", p.text, ")")
            parts.append(f"{base}_{{{''.join(names[ch] for ch in sub)}}}")
        return Piece(" ".join(parts), MUL, "juxt")

    nested = False          # printing inside an operand of a contraction

    def nested_piece(self, x: Node) -> Piece:
        """An operand of a contraction, its own contractions in other letters (by one
        inner printer, whose memo every operand shares)."""
        inner = self.__dict__.get("_inner")
        if inner is None:
            inner = self._inner = type(self)(self.style)
            inner.nested = True
        return inner.doprint(x)

    def _print_Hadamard(self, e: Hadamard) -> Piece:
        return self._elementwise(e.factors, r"\odot")

    def _print_Divide(self, e: Divide) -> Piece:
        return self._elementwise((e.a, e.b), r"\oslash")

    def _print_Power(self, e) -> Piece:
        base = self.operand(self.print(e.x), "^", "left")
        p = self.print(e.p).text
        exponent = p if e.x.is_scalar else rf"\circ {p}"
        return Piece(base + _script("^", exponent), POW, "^")

    def _print_Transpose(self, e: Transpose) -> Piece:
        rows = along_rows(e)
        if rows is not None:                   # softmax(S')' is softmax(S, 2), as the text
            return Piece(ops.of(e.x).latex + self.delimit("(", f"{self.print(rows).text}, 2",
                                                          ")"))
        if isinstance(e.x, Inv):                                     # (X^{-1})^T = X^{-T}
            base = self.operand(self.print(e.x.x), "^", "left")
            return Piece(f"{base}^{{-{self.top}}}", POW, "^")
        if isinstance(e.x, Var):                                     # W^{(1)\top}
            parts = self.name_parts(e.x.name)
            if parts is not None and parts.sup:
                return Piece(parts.tex(more_sup=self.top), POW, "^")
        return Piece(f"{self.operand(self.print(e.x), '^', 'left')}^{self.top}", POW, "^")

    def _print_Inv(self, e: Inv) -> Piece:
        return Piece(self.operand(self.print(e.x), "^", "left") + ops.of(e).latex, POW, "^")

    def _print_Broadcast(self, e: Broadcast) -> Piece:
        # where a Broadcast is an operand of + - \odot \oslash its parent prints x alone
        x = e.x
        if x.is_scalar:                                           # s \mathbf{1}
            p = Product()
            p.add_scalar(x)
            return self.product(p, core=self.filled(e.bshape, 1))
        if x.shape[0] == 1:                                       # \mathbf{1} r
            return Piece(r"\mathbf{1} " + self.operand(self.print(x), "juxt", "right"),
                         MUL, "juxt")
        return Piece(f"{self.operand(self.print(x), 'juxt', 'left')} \\mathbf{{1}}^{self.top}",
                     MUL, "juxt")

    # -- functions ------------------------------------------------------------------------
    def apply(self, fn: str, x: Node) -> Piece:
        return Piece(fn + self.delimit("(", self.print(x).text, ")"))

    def spelled(self, latex: str | tuple[str, str], x: Node) -> Piece:
        """x under an operation's LaTeX spelling (matcalc.ops): an operator applied with
        parentheses, or the pair of delimiters around it."""
        if isinstance(latex, tuple):
            return Piece(self.delimit(latex[0], self.print(x).text, latex[1]))
        return self.apply(latex, x)

    def _print_Func(self, e: Func) -> Piece:
        spelling = ops.ELEMENTWISE[e.name].latex
        if e.name == "step":                                     # \mathbb{I}[a > b]
            return Piece(spelling + self.delimit("[", self.comparison(e.x), "]"))
        if e.name == "sqrt":                                     # a radical, not a call
            return Piece(f"{spelling}{{{self.print(e.x).text}}}")
        if e.name == "sigmoid":
            return self.apply(self.style.sigmoid, e.x)
        return self.spelled(spelling, e.x)

    def call(self, e) -> Piece:
        return self.spelled(ops.of(e).latex, e.x)

    _print_Sum = _print_Trace = _print_Det = _print_DiagMat = _print_DiagVec = call
    _print_Tril = _print_Triu = call
    _print_Softmax = _print_LogSumExp = call

    def _print_Norm2(self, e) -> Piece:
        """\\lVert x \\rVert_2 of a vector; of a matrix, the Frobenius norm, \\lVert X
        \\rVert_F (for a matrix, _2 is the spectral norm)."""
        return self.norm(e, r" \rVert_F")

    def _print_Norm1(self, e) -> Piece:
        """\\lVert x \\rVert_1 of a vector; of a matrix, the sum of every |X_ij|, the
        entrywise norm \\lVert X \\rVert_{1,1} (for a matrix, _1 is the largest column
        sum)."""
        return self.norm(e, r" \rVert_{1,1}")

    def norm(self, e, of_matrix: str) -> Piece:
        if 1 in e.x.shape:
            return self.call(e)
        return Piece(self.delimit(r"\lVert ", self.print(e.x).text, of_matrix))

    def _print_LogDet(self, e: LogDet) -> Piece:
        return Piece(self.call(e).text, POW)        # \log \det(X)^{2} would mislead


def to_latex(node: Node, names: Mapping[str, str] | LatexStyle | None = None) -> str:
    """The formula in LaTeX math mode; `names` spells variables (a mapping), or is the
    whole style of a document (a LatexStyle)."""
    return LatexPrinter(names).doprint(node).text


# ---- blocks and documents -----------------------------------------------------------------

def shape_latex(shape, printer: LatexPrinter) -> str:
    """\\mathbb{R} (scalar), \\mathbb{R}^{n} (column), \\mathbb{R}^{1 \\times n} (row),
    \\mathbb{R}^{N \\times n} (matrix)."""
    def dim(d) -> str:
        return printer.name(d).tex() if isinstance(d, str) else str(d)
    if len(shape) != 2:                                 # a tensor: every dimension
        dims = r" \times ".join(dim(d) for d in shape)
        return rf"\mathbb{{R}}^{{{dims}}}"
    r, c = shape
    if (r, c) == (1, 1):
        return r"\mathbb{R}"
    if c == 1:
        return rf"\mathbb{{R}}^{{{dim(r)}}}"
    return rf"\mathbb{{R}}^{{{dim(r)} \times {dim(c)}}}"


def where_row(defs: dict[str, str], printer: LatexPrinter) -> list[str]:
    """The row `where s = ..., t = ...` of an align* block ([] for no definitions)."""
    if not defs:
        return []
    return ["&\\text{where } " + ", \\quad ".join(f"{printer.spell(n).text} = {t}"
                                                   for n, t in defs.items())]


def intertext(text: str) -> str:
    """A line of prose between the rows of an align* block."""
    return rf"\intertext{{{text}}}"


def align(rows: list[str]) -> str:
    """An align* block; a row made by `intertext` stands between two rows. No rows (a
    program without variables) is a comment: an empty align* does not compile."""
    if not rows:
        return "% no variables: nothing to differentiate"
    out = []
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        out.append(row if last or row.startswith(r"\intertext") else row + r" \\")
    return "\\begin{align*}\n" + "\n".join(out) + "\n\\end{align*}"


def comments(lines: list[str]) -> str:
    """LaTeX comment lines, one per line of `lines` (which may hold newlines)."""
    import re  # a lone \r ends a line too, for TeX as for the language
    return "".join(f"% {line}".rstrip() + "\n" for text in lines
                   for line in re.split(r"\r\n?|\n", text))


def text_mode(words: str) -> str:
    """Plain words (a note, a label's name) safe in LaTeX's text mode."""
    out = []
    for ch in words:
        if ch in "#$%&_{}":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch in "~^":
            out.append(rf"\{ch}{{}}")
        else:
            out.append(ch)
    return "".join(out)


def notes_paragraph(notes: list[str]) -> str:
    """The notes of a block (layout, assumptions, the upstream gradient) as a visible
    paragraph before it, each note already in text-mode LaTeX."""
    if not notes:
        return ""
    text = "; ".join(notes)
    return "\\noindent " + text[:1].upper() + text[1:] + ".\n\n"


# a text block wide enough for long formulas, rows a little apart (fractions are tall),
# equations free to break across pages; the body itself needs amsmath and amssymb only
PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath,amssymb}
\usepackage[margin=2cm]{geometry}
\setlength{\jot}{1ex}
\allowdisplaybreaks
"""


def standalone(body: str) -> str:
    """A complete document around `body` (geometry from texlive-latex-base for the page)."""
    return PREAMBLE + "\\begin{document}\n" + body.rstrip("\n") + "\n\\end{document}\n"
