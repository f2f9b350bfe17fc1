r"""LaTeX -> AST: formulas pasted from notes and papers, and matcalc's own LaTeX, read back.

The second door of `parse` (matcalc.parse): `--from latex`, or a program with a backslash.
It builds the same AST as matcalc's language (matcalc/syntax.py), with spans into the LaTeX
source, so that shapes, derivatives and every message work unchanged and point into what
the user pasted.

LaTeX is read as it is typeset: each letter is a symbol of its own, so `Wx` is W times x
and `\mathrm{reg}` one name; juxtaposition is a product. Names are written back as the
LaTeX printer (matcalc/printing/latex.py) spells them, so that LaTeX out, LaTeX in gives the
same program: `W_{1}`, `W_1`, `W^{(1)}` are W1; `W_{\mathrm{out}}` is W_out; `\mathbf{x}`,
`\boldsymbol{x}`, `\vec{x}` are x; `\alpha` is alpha, `\Sigma` Sigma; `I` the identity,
`\mathbf{1}` the ones vector (`\mathbf{1}_{N \times n}` a matrix of ones);
`\frac{\partial L}{\partial Y}` the upstream gradient's name dY; `\mathrm{d}X` dX.
Functions: `\exp \log \ln \sin \cos \tan \tanh \det \arcsin \arccos \arctan`,
`\operatorname{...}` (`\mathrm{tr}`, `\text{diag}` too), `\sigma(z)` the logistic function
(`\sigma` alone the name sigma), `\log\det`, `\sqrt{x}`; applied to a parenthesis
(`\exp(x)`) or to what follows (`\log x^2` is log(x^2), `\log\det\Sigma`). Operators:
`+ - * / \cdot \times` (products), `\odot \circ` (elementwise), `\oslash`, `\frac{a}{b}`,
`^{-1}`, `^\top ^T ^{\top} '`, `^{-\top}`, `^{\circ 2}`, `\|x\|_2`, `\lVert X \rVert_F`,
`\lvert x \rvert`, `\mathbb{I}[z > 0]`. `e^{x}` is exp(x) unless e is a name of the
program. Statements are separated by `\\`, `;` or a new line that starts `name = ...`.

Refused, with what to write: a run of lowercase letters that is no function (`eps` would
be e p s: `\mathrm{eps}`), sums over indices, and commands that are not formulas.

Spans are character offsets into the LaTeX source; the parser is lark's standalone LALR
parser generated from latex.lark into _lark_latex_parser.py (never a cache), built on
first use, like matcalc's own (see matcalc.parse).
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import Fix, LimitError, MatcalcError, ParseError, Span
from .latex_build import LatexBuild, exponentials
from .latex_indices import IndexSum, read_index_statements
from .syntax import Program

GRAMMAR = Path(__file__).with_name("latex.lark")
STANDALONE = Path(__file__).with_name("_lark_latex_parser.py")

GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota
kappa lambda mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega""".split())
_SCALARS = frozenset(g for g in GREEK if g[0].islower())     # alpha: a scalar by its letter
# the functions LaTeX has commands for, and what the language calls them
_COMMANDS = {"exp": "exp", "log": "log", "ln": "log", "sin": "sin", "cos": "cos",
             "tan": "tan", "tanh": "tanh", "det": "det", "arcsin": "arcsin",
             "arccos": "arccos", "arctan": "arctan", "sinh": "sinh", "cosh": "cosh",
             "max": "max", "min": "min", "tr": "tr", "Tr": "tr", "trace": "tr",
             "diag": "diag", "softmax": "softmax", "sigmoid": "sigmoid", "relu": "relu",
             "sgn": "sign", "sign": "sign", "logdet": "logdet", "logsumexp": "logsumexp",
             "ReLU": "relu", "RELU": "relu", "Relu": "relu", "Sigmoid": "sigmoid",
             "Softmax": "softmax", "mean": "mean", "sum": "sum", "inv": "inv"}
_MULOPS = {"cdot": "*", "times": "*", "ast": "*", "odot": ".*", "circ": ".*",
           "oslash": "./", "div": "/"}
_SPACING = frozenset(",;:! >") | {"quad", "qquad", "displaystyle", "textstyle", "nonumber",
                                  "notag", "limits", "nolimits"}
_SIZES = frozenset("left right big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl "
                   "Biggr middle".split())
_FONTS = frozenset("mathbf boldsymbol bm vec mathit mathcal mathsf mathbb pmb".split())
_WORDS = frozenset("mathrm text textrm textit operatorname mbox".split())
_ACCENTS = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde",
            "bar": "bar", "overline": "bar", "dot": "dot"}
_NOT_FORMULAS = {
    "sum": "a sum over an index is not in the language: write sum(x), or x'*y for "
           "sum_i x_i y_i",
    "prod": "a product over an index is not in the language",
    "int": "integrals are not in the language",
    "nabla": "write the function itself: matcalc derives its gradient",
    "otimes": "Kronecker products are not in the language",
    "oplus": "direct sums are not in the language",
    "langle": "write an inner product as x^\\top y",
    "in": "a set membership is not a formula: declare shapes with --shape",
    "infty": "infinity is not a value",
    "cdots": "ellipses are not in the language: write the whole expression",
    "ldots": "ellipses are not in the language: write the whole expression",
    "dots": "ellipses are not in the language: write the whole expression",
    "lt": "only > is a comparison: write b > a",
    "leq": "only > is a comparison", "geq": "only > is a comparison",
    "le": "only > is a comparison", "ge": "only > is a comparison",
}
_OPENING = {"(": "(", "[": "(", r"\{": "(", r"\lbrace": "(", r"\lbrack": "(",
            r"\langle": None}
_CLOSING = {")": ")", "]": ")", r"\}": ")", r"\rbrace": ")", r"\rbrack": ")"}
_NORM_BARS = (r"\|", r"\Vert", "||", "‖")
_ABS_BARS = ("|", r"\vert")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)", re.S)
_SPACES = re.compile(r"[ \t\r\n\f]*")
_STATEMENT_AHEAD = re.compile(r"[ \t]*[^\s=+\-*/\\]?[^\s=+\-*/]*[ \t]*&?[ \t]*=(?!=)")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_SUM_OF_ONE = re.compile(r"\s*_\{?\s*(?P<index>[a-z])\s*(?:=[^{}]*)?\}?(?:\s*\^\s*(?:\{[^{}]*\}|\S))?"
                         r"\s*(?P<name>\\?[A-Za-z]+|\\mathbf\{[A-Za-z]\})\s*_\{?\s*(?P<again>[a-z])"
                         r"\s*\}?(?![A-Za-z0-9])")
# a subscript that may be indices (x_i, W_{ik}, A_{j,k,l}): one to six lowercase letters
_INDEX_SUBSCRIPT = re.compile(r"\s*[a-z](?:\s*,?\s*[a-z]){0,5}\s*")
# what \sum takes: _k, _{k}, _{k,l}, _{k=1}, _{k=1}^{d}, _{k=1}^d
_SUM_INDICES = re.compile(r"\s*(?:\\limits\s*)?_(?:(?P<one>[a-z])|"
                          r"\{\s*(?P<indices>[a-z](?:\s*,\s*[a-z])*)\s*(?:=(?P<low>[^{}]*))?\})"
                          r"(?:\s*\^\s*(?:\{(?P<high>[^{}]*)\}|(?P<up>[A-Za-z0-9]|\\[A-Za-z]+)))?")
# the range of a sum over a whole axis: from 1 to a size's name (n, N_1, \ell), or unsaid
_WHOLE_RANGE = re.compile(r"\s*(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\[A-Za-z]+)\s*")
_OPERAND_START = frozenset({"NAME", "NUMBER", "LPAR", "LBRACE", "CALL", "FUNC", "FRAC",
                            "SQRT", "NORMOPEN", "ABSOPEN", "INDICATOR", "ONES"})
_OPERAND_END = frozenset({"NAME", "NUMBER", "RPAR", "RBRACE", "TRANSPOSE", "INVT",
                          "NORMCLOSE", "ABSCLOSE", "ONES"})
_OPENERS = {"LPAR": "RPAR", "LBRACE": "RBRACE", "EWPOW": "RBRACE", "NORMOPEN": "NORMCLOSE",
            "ABSOPEN": "ABSCLOSE"}
_SHOWN = {"LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'",
          "EWPOW": "'^{\\circ'", "NORMOPEN": "'\\|'", "NORMCLOSE": "'\\|'",
          "ABSOPEN": "'|'", "ABSCLOSE": "'|'"}


def parse_latex(source: str) -> Program:
    """The program written in LaTeX in `source`, with spans into it (see the module)."""
    from .parse import MAX_SOURCE_CHARS, read_statements

    if len(source) > MAX_SOURCE_CHARS:
        raise LimitError(f"input too long: {len(source):,} characters "
                         f"(the limit is {MAX_SOURCE_CHARS:,})", None, source)
    tokens = _Scanner(source).scan()
    parser = _parser()

    def run():
        interactive = parser.parse_interactive()
        for token in tokens:
            interactive.feed_token(token)
        return interactive.feed_eof(tokens[-1] if tokens else None)

    statements = read_statements(run, source, _translate)
    return Program(tuple(exponentials(statements)), source, "latex")


_PARSER = None


def _parser():
    global _PARSER
    if _PARSER is None:
        from . import _lark_latex_parser
        _PARSER = _lark_latex_parser.Lark_StandAlone(transformer=LatexBuild())
    return _PARSER


# ---------------------------------------------------------------------------------------
# The scanner: LaTeX source -> tokens of latex.lark

class _Scanner:
    """One pass over the source: commands read and classified, names composed with their
    subscripts, bars told apart by position (an opening bar where an operand may start),
    nesting and size limited as in matcalc's own scanner."""

    def __init__(self, source: str):
        from ._lark_latex_parser import Token

        self.src = source
        self.pos = 0
        self.tokens: list = []
        self.token = Token
        self.levels: list[tuple[str, int, int]] = []   # open brackets and bars; signs
        self.newline = False
        # index notation: the NAME tokens whose subscript may be indices (token number ->
        # (the name without it, (letter, position) ...)), and the \sum signs (_IndexSum)
        self.indexable: dict[int, tuple[str, tuple[tuple[str, int], ...]]] = {}
        self.sums: list[IndexSum] = []
        self.candidate: tuple[str, tuple[tuple[str, int], ...]] | None = None

    # -- output ----------------------------------------------------------------------------
    def emit(self, kind: str, value: str, start: int, end: int) -> None:
        from .parse import MAX_DEPTH, MAX_TOKENS

        src = self.src
        after = self.after_operand
        if self.newline and after and kind in _OPERAND_START and self.statement_ahead:
            self.tokens.append(self.token("SEP", "\n", start, None, None, None, None, start))
            after = False
        self.newline = False
        if kind in ("NUMBER",) and self.tokens and self.tokens[-1].type == "NUMBER":
            raise ParseError("two numbers side by side", Span(self.tokens[-1].start_pos, end),
                             src, "put an operator between them, e.g. \\cdot")
        sign = kind in ("MINUS", "PLUS", "POW", "FUNC") and not after
        if kind in _OPENERS or sign:
            self.levels.append((kind if not sign else "", start, end))
            if len(self.levels) > MAX_DEPTH:
                raise LimitError(f"nesting too deep: more than {MAX_DEPTH} levels of "
                                 "brackets, functions, signs or powers", Span(start, end), src,
                                 "split the expression into named steps: t = ...; y = ...")
        elif kind not in _OPERAND_START and kind not in ("TRANSPOSE", "INVT"):
            while self.levels and self.levels[-1][0] == "":
                self.levels.pop()       # an operator or closer ends signs' operands
            if kind in _OPENERS.values() and kind != "RBRACE" or kind == "RBRACE":
                self.close(kind, start, end)
        self.tokens.append(self.token(kind, value, start, None, None, None, None, end))
        if len(self.tokens) > MAX_TOKENS:
            raise LimitError(f"input too long: more than {MAX_TOKENS:,} names, numbers and "
                             "operators (matcalc.parse.MAX_TOKENS)", Span(start, end), src)

    def close(self, kind: str, start: int, end: int) -> None:
        opened = [k for k, _, _ in self.levels if k]
        if not opened:
            raise ParseError(f"unexpected {_SHOWN[kind]}", Span(start, end), self.src,
                             "there is nothing open for it to close")
        top, o_start, o_end = self.levels.pop()
        if _OPENERS[top] != kind:
            raise ParseError(f"unexpected {_SHOWN[kind]}: the {_SHOWN[top]} before it is not "
                             "closed", Span(start, end), self.src, f"close the {_SHOWN[top]} first")

    @property
    def after_operand(self) -> bool:
        return bool(self.tokens) and self.tokens[-1].type in _OPERAND_END

    @property
    def statement_ahead(self) -> bool:
        """Whether the text from here starts `name = ...`: a new line before it ends a
        statement (elsewhere a new line is a space, as in LaTeX)."""
        return _STATEMENT_AHEAD.match(self.src, self.pos) is not None

    def fail(self, message: str, start: int, end: int, hint: str | None = None,
             fix: Fix | None = None):
        # at the end of the input the span is empty, as the grammar's own "unexpected end"
        end = min(max(end, start + 1), len(self.src))
        raise ParseError(message, Span(min(start, end), end), self.src, hint, fix)

    # -- the loop --------------------------------------------------------------------------
    def scan(self) -> list:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            start = self.pos
            if c in " \t\r\f":
                self.pos += 1
            elif c == "\n":
                self.pos += 1
                self.newline = not any(k for k, _, _ in self.levels)
            elif c == "%":
                end = src.find("\n", self.pos)
                self.pos = len(src) if end < 0 else end
            elif c == "\\":
                self.command()
            elif c.isascii() and c.isalpha():
                self.letters()
            elif c in "0123456789." and _NUMBER.match(src, self.pos):   # ASCII digits: ٣ is none
                m = _NUMBER.match(src, self.pos)
                self.pos = m.end()
                self.emit("NUMBER", m.group(), start, self.pos)
            elif c == "^":
                self.superscript()
            elif c == "_":
                self.fail("a subscript belongs to a name, as in W_1", start, start + 1)
            elif c in "([":
                self.pos += 1
                self.emit("LPAR", c, start, self.pos)
            elif c in ")]":
                self.pos += 1
                self.emit("RPAR", c, start, self.pos)
            elif c == "{" and self.braced_name():
                pass
            elif c == "{":
                self.pos += 1
                self.emit("LBRACE", c, start, self.pos)
            elif c == "}":
                self.pos += 1
                self.emit("RBRACE", c, start, self.pos)
            elif src.startswith("||", self.pos) or c == "‖":
                self.pos += 1 if c == "‖" else 2
                self.bar("NORM", None, start)
            elif c == "|":
                self.pos += 1
                self.bar("ABS", None, start)
            else:
                self.pos += 1
                self.symbol(c, start)
        if self.levels and any(k for k, _, _ in self.levels):
            kind, start, end = next(level for level in reversed(self.levels) if level[0])
            what = {"LPAR": "parenthesis '('", "LBRACE": "brace '{'", "EWPOW": "brace '{'",
                    "NORMOPEN": "norm bar", "ABSOPEN": "bar '|'"}[kind]
            self.fail(f"unbalanced {what}: it is never closed", start, end,
                      f"add the missing {_SHOWN[_OPENERS[kind]]}")
        read_index_statements(self, _SCALARS)
        return self.tokens

    def symbol(self, c: str, start: int) -> None:
        end = self.pos
        single = {"+": ("PLUS", "+"), "-": ("MINUS", "-"), "−": ("MINUS", "-"),
                  "*": ("MULOP", "*"), "/": ("MULOP", "/"), "·": ("MULOP", "*"),
                  "×": ("MULOP", "*"), "⊙": ("MULOP", ".*"), "∘": ("MULOP", ".*"),
                  "⊘": ("MULOP", "./"), ">": ("GT", ">"), ",": ("COMMA", ","),
                  ";": ("SEP", ";"), "'": ("TRANSPOSE", "'"), "ᵀ": ("TRANSPOSE", "'")}
        if c in single:
            kind, value = single[c]
            return self.emit(kind, value, start, end)
        if c == "=":
            return self.emit("EQUAL", "=", start, end)
        if c in "&$~":
            return None
        if c == "<":
            self.fail("unexpected '<'", start, end, "only > is a comparison: write b > a")
        if c in "²³⁻¹":
            return self.fail(f"unexpected {c!r} in LaTeX", start, end, "write x^{2}")
        if not c.isascii() and c.isalpha():
            from .parse import greek_name
            if 0x0370 <= ord(c) <= 0x03ff:
                self.pos = start + 1
                return self.name(greek_name(c), start)
        shown = c if c.isprintable() else repr(c)[1:-1]
        self.fail(f"unexpected character '{shown}'", start, end)

    # -- commands --------------------------------------------------------------------------
    def command(self) -> None:
        src, start = self.src, self.pos
        m = _COMMAND.match(src, start)
        if m is None:
            self.fail("a lone backslash", start, start + 1)
        word, self.pos = m.group(1), m.end()
        end = self.pos
        if word == "\\":
            return self.emit("SEP", "\\\\", start, end)
        if word in _SPACING:
            return None
        if word in _SIZES:
            return self.sized(word, start)
        if word in ("begin", "end", "label", "tag"):
            self.group_text()                 # \begin{align*}: not part of a formula
            if word == "begin" and src.startswith("{", self.pos):
                self.group_text()             # \begin{array}{cc}
            return None
        if word in ("frac", "dfrac", "tfrac"):
            return self.emit("FRAC", word, start, end)
        if word == "partial":
            return self.emit("PARTIAL", word, start, end)
        if word == "sqrt":
            if src.startswith("[", _SPACES.match(src, self.pos).end()):
                self.fail("an n-th root is not in the language", start, end,
                          "write x^{1/n} for a scalar")
            return self.emit("SQRT", "sqrt", start, end)
        if word in _MULOPS:
            return self.emit("MULOP", _MULOPS[word], start, end)
        if word == "gt":
            return self.emit("GT", ">", start, end)
        if word in ("|", "Vert"):
            return self.bar("NORM", None, start)
        if word in ("lVert", "rVert"):
            return self.bar("NORM", word[0] == "l", start)
        if word == "vert":
            return self.bar("ABS", None, start)
        if word in ("lvert", "rvert"):
            return self.bar("ABS", word[0] == "l", start, explicit=True)
        if word in ("{", "lbrace", "lbrack"):
            return self.emit("LPAR", "(", start, end)
        if word in ("}", "rbrace", "rbrack"):
            return self.emit("RPAR", ")", start, end)
        if word in ("top", "intercal", "prime", "mathsf"):
            self.fail(f"unexpected \\{word}: a transpose is written x^\\top", start, end)
        if word == "sum":
            return self.index_sum(start)
        if word in _NOT_FORMULAS:
            self.fail(f"\\{word} is not in matcalc's language", start, end,
                      _NOT_FORMULAS[word])
        if word == "ell":
            return self.name("ell", start)
        if word in GREEK or word in ("epsilon", "omicron"):
            if word == "sigma" and self.called():
                return self.function("sigmoid", start)
            return self.name(word, start)
        if word in _COMMANDS:
            return self.function(_COMMANDS[word], start)
        if word in _WORDS:
            return self.word(start)
        if word in _FONTS:
            return self.font(word, start)
        if word in _ACCENTS:
            inner, _ = self.inner_name(word)
            return self.name(inner + _ACCENTS[word], start)
        shown = word if word.isprintable() else repr(word)[1:-1]      # \<line break>
        self.fail(f"unknown LaTeX command \\{shown}", start, end,
                  "matcalc reads the formulas of notes: names, \\frac, \\sqrt, \\exp, \\log, "
                  "\\operatorname{...}, \\|x\\|, ^\\top, \\odot, ...")

    def index_sum(self, start: int) -> None:
        """\\sum_k, \\sum_{k=1}^{d}, \\sum_{k,l}: a sum over indices, read in an index
        statement (`matcalc.latex_indices`); nothing is emitted for it. Elsewhere it is refused
        (with its rewrite for the sum of one vector's entries)."""
        src = self.src
        word_end = self.pos
        fix = self.summed(start)
        m = _SUM_INDICES.match(src, self.pos)
        if m is None:
            self.fail("\\sum is not in matcalc's language", start, word_end,
                      _NOT_FORMULAS["sum"], fix)
        low, high = m.group("low"), m.group("high") or m.group("up")
        if low is not None and low.strip() != "1" or \
                high is not None and not _WHOLE_RANGE.fullmatch(high):
            self.fail("a sum over part of an axis is not in the language", start, m.end(),
                      "an index runs over its whole axis: write \\sum_{k=1}^{n} or \\sum_k, "
                      "and take a part of the data by a variable of that size")
        self.pos = m.end()
        group = "one" if m.group("one") else "indices"
        letters = tuple((c.group(), m.start(group) + c.start())
                        for c in re.finditer(r"[a-z]", m.group(group)))
        depth = sum(1 for k, _, _ in self.levels if k)
        self.sums.append(IndexSum(len(self.tokens), letters, Span(start, self.pos), depth,
                                  fix))

    def summed(self, start: int) -> Fix | None:
        """\\sum_i x_i (or \\sum_{i=1}^{n} x_i) of one name indexed by the sum's index is
        the sum of its entries: the rewrite \\operatorname{sum}(x)."""
        m = _SUM_OF_ONE.match(self.src, self.pos)
        if m is None or m.group("index") != m.group("again"):
            return None
        return Fix(self.src[:start] + rf"\operatorname{{sum}}({m.group('name')})"
                   + self.src[m.end():])

    def sized(self, word: str, start: int) -> None:
        """\\left( \\right) \\bigl[ ...: the delimiter after a size command."""
        src = self.src
        self.pos = _SPACES.match(src, self.pos).end()
        rest = src[self.pos:self.pos + 8]
        for delim in (r"\lVert", r"\rVert", r"\lvert", r"\rvert", r"\Vert", r"\vert", r"\|",
                      r"\{", r"\}", r"\langle", r"\rangle", "(", ")", "[", "]", "|", ".",
                      "‖"):
            if rest.startswith(delim) and not (delim[1:].isalpha() and
                                               rest[len(delim):len(delim) + 1].isalpha()):
                break
        else:
            self.fail(f"\\{word} needs a delimiter after it", start, self.pos)
        self.pos += len(delim)
        opening = word == "left" or word.endswith("l") and word != "middle"
        closing = word == "right" or word.endswith("r")
        side = True if opening else False if closing else None
        if delim == ".":
            return None
        if delim in _OPENING and delim != r"\langle":
            return self.emit("LPAR", "(", start, self.pos)
        if delim in _CLOSING:
            return self.emit("RPAR", ")", start, self.pos)
        if delim in (r"\|", r"\Vert", "‖", r"\lVert", r"\rVert"):
            return self.bar("NORM", side, start)
        if delim in ("|", r"\vert", r"\lvert", r"\rvert"):
            return self.bar("ABS", side, start, explicit=True)
        self.fail(f"unexpected {delim}", start, self.pos, _NOT_FORMULAS["langle"])

    def braced_name(self) -> bool:
        """{W_1}_{\\mathrm{out}}: a name in braces with a subscript after them (as the
        LaTeX printer writes W1_out) is one name; True if one was read here."""
        m = re.compile(r"\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}(?=_)").match(self.src, self.pos)
        if m is None:
            return False
        inner = _Scanner(m.group(1))
        try:
            inner.scan()
        except MatcalcError:
            return False
        if len(inner.tokens) != 1 or inner.tokens[0].type != "NAME":
            return False
        start, self.pos = self.pos, m.end()
        self.name(inner.tokens[0].value, start)
        return True

    def called(self) -> bool:
        """Whether a parenthesis follows (a function called: \\exp(x), \\sigma\\left(z\\right))."""
        rest = self.src[_SPACES.match(self.src, self.pos).end():]
        return rest.startswith("(") or re.match(r"\\(left|bigl?|Bigl?|biggl?|Biggl?)\s*\(",
                                                rest) is not None

    def function(self, name: str, start: int) -> None:
        """A function: CALL when a parenthesis follows, else FUNC (applied to what follows);
        \\log\\det is logdet."""
        if name == "log":
            m = re.compile(r"\s*\\det(?![A-Za-z])").match(self.src, self.pos)
            if m:
                name, self.pos = "logdet", m.end()
        self.emit("CALL" if self.called() else "FUNC", name, start, self.pos)

    def group_text(self) -> str:
        """The text of a {...} group here (braces nested), which is skipped."""
        src = self.src
        self.pos = _SPACES.match(src, self.pos).end()
        if not src.startswith("{", self.pos):
            self.fail("expected '{'", self.pos, self.pos + 1)
        depth, i = 0, self.pos
        while i < len(src):
            depth += (src[i] == "{") - (src[i] == "}")
            i += 1
            if depth == 0:
                text = src[self.pos + 1:i - 1]
                self.pos = i
                return text
        self.fail("unbalanced brace: '{' is never closed", self.pos, self.pos + 1)
        raise AssertionError

    def word(self, start: int) -> None:
        """\\mathrm{...}, \\text{...}, \\operatorname{...}: a function's name, the
        differential d (\\mathrm{d}X is dX), or a name written as a word (\\mathrm{reg})."""
        if self.src.startswith("*", self.pos):
            self.pos += 1                          # \operatorname*{...}
        text = self.group_text().strip().replace("\\_", "_")
        from . import ops
        if text in _COMMANDS or text in ops.CALLED or text in ops.REWRITES:
            return self.function(_COMMANDS.get(text, text), start)
        if text == "d":                            # a differential: \mathrm{d}X
            inner = self.next_name()
            if inner is None:
                self.fail("\\mathrm{d} is a differential: a name follows it, as in "
                          "\\mathrm{d}X", start, self.pos)
            return self.name("d" + inner, start)
        if text == "I":
            return self.name("eye", start)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text):
            self.fail(f"cannot read {text!r} as a name", start, self.pos,
                      "a name is made of letters, digits and _")
        self.name(text, start)

    def font(self, word: str, start: int) -> None:
        """\\mathbf{x} is x, \\mathbf{1} the ones vector, \\mathbb{I}[...] an indicator."""
        text = self.group_text().strip() if self.src.startswith("{", _SPACES.match(
            self.src, self.pos).end()) else self.single()
        if text in ("1", "0"):
            ahead = self.src[_SPACES.match(self.src, self.pos).end():]
            if word == "mathbb" and text == "1" and ahead.startswith(("[", "(", r"\left")):
                return self.emit("INDICATOR", "1", start, self.pos)
            return self.ones(text, start)
        if text == "I":
            ahead = self.src[_SPACES.match(self.src, self.pos).end():]
            if word == "mathbb" and ahead.startswith(("[", "(", r"\left")):
                return self.emit("INDICATOR", "I", start, self.pos)
            return self.name("eye", start)
        if text.startswith("\\"):
            inner = text[1:]
            if inner not in GREEK:
                self.fail(f"cannot read \\{word}{{{text}}} as a name", start, self.pos)
            return self.name(inner, start)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text):
            self.fail(f"cannot read \\{word}{{{text}}} as a name", start, self.pos)
        self.name(text, start)

    def single(self) -> str:
        """The one symbol a command applies to without braces: \\mathbf x, \\hat y."""
        self.pos = _SPACES.match(self.src, self.pos).end()
        m = _COMMAND.match(self.src, self.pos) or re.compile(r"[A-Za-z0-9]").match(
            self.src, self.pos)
        if m is None:
            self.fail("expected a name", self.pos, self.pos + 1)
        self.pos = m.end()
        return m.group()

    def inner_name(self, word: str) -> tuple[str, int]:
        """The name under an accent: \\hat{y} (y), \\bar{\\mathbf{x}} (x)."""
        start = self.pos
        text = self.group_text() if self.src.startswith("{", _SPACES.match(
            self.src, self.pos).end()) else self.single()
        inner = _Scanner(text)
        inner.scan()
        names = [t for t in inner.tokens]
        if len(names) != 1 or names[0].type != "NAME":
            self.fail(f"cannot read \\{word}{{{text}}} as a name", start, self.pos)
        return names[0].value, start

    def next_name(self) -> str | None:
        """The name right here (after \\mathrm{d}), or None."""
        save = self.pos
        self.pos = _SPACES.match(self.src, self.pos).end()
        c = self.src[self.pos:self.pos + 1]
        if c.isascii() and c.isalpha():
            self.pos += 1
            return c + self.tail_text(c)[0]
        m = _COMMAND.match(self.src, self.pos)
        if m and (m.group(1) in GREEK or m.group(1) in _FONTS):
            self.pos = m.end()
            if m.group(1) in GREEK:
                return m.group(1) + self.tail_text(m.group(1))[0]
            inner = self.group_text() if self.src.startswith("{", self.pos) else self.single()
            return inner.lstrip("\\") + self.tail_text(inner)[0]
        self.pos = save
        return None

    # -- names -------------------------------------------------------------------------------
    def letters(self) -> None:
        """A run of plain letters: a function's name (tr, exp, log), one letter (with its
        subscript, digits or layer), or letters side by side, a product (Wx is W times x,
        as typeset). A run of two or more lowercase letters that is no function (eps, lr)
        is refused: it would be e times p times s."""
        from . import ops
        src, start = self.src, self.pos
        m = re.compile(r"[A-Za-z]+").match(src, start)
        run = m.group()
        if run in _COMMANDS or len(run) > 1 and (run in ops.CALLED or run in ops.REWRITES):
            self.pos = m.end()
            return self.function(_COMMANDS.get(run, run), start)
        if len(run) > 1 and run.islower():
            fixed = src[:start] + rf"\mathrm{{{run}}}" + src[m.end():]
            self.fail(f"'{run}' in LaTeX is {' times '.join(run)}", start, m.end(),
                      f"write \\mathrm{{{run}}} for one name (or {' '.join(run)} for the "
                      f"product)", Fix(fixed))
        for i, letter in enumerate(run):
            self.pos = start + i + 1
            if i < len(run) - 1:
                self.name("eye" if letter == "I" else letter, start + i, tail=False)
            else:
                self.name(letter, start + i)

    def name(self, base: str, start: int, tail: bool = True) -> None:
        """A name from its base: digits after it, subscripts (_1, _{12}, _i, _{\\mathrm{out}})
        and a layer superscript (^{(1)}) are part of it; the identity I takes none."""
        extra = []
        self.candidate = None
        plain = base
        if tail:
            suffix, extra = self.tail_text(base)
            plain = base + self.candidate[0] if self.candidate else None
            base = "eye" if base == "I" else base + suffix   # I, I_n: the identity
        candidate = self.candidate
        self.emit("NAME", base, start, self.pos)
        if candidate is not None and plain is not None and base != "eye":
            self.indexable[len(self.tokens) - 1] = (plain, candidate[1])
        for kind, value, s, e in extra:
            self.emit(kind, value, s, e)

    def tail_text(self, base: str) -> tuple[str, list]:
        """What follows a name's base and belongs to it: digits (W1), a subscript, a layer
        superscript ^{(1)} (with a transpose in it, ^{(1)\\top}, as a token after it)."""
        src = self.src
        out, extra = "", []
        m = re.compile(r"[0-9]+").match(src, self.pos)
        if m and base[-1:].isalpha():
            out += m.group()
            self.pos = m.end()
        layer = self.layer(extra)             # W^{(1)}_{ik} as W_{ik}^{(1)}
        sub = ""
        if src.startswith("_", self.pos):
            start = self.pos
            self.pos += 1
            text = self.group_text() if src.startswith("{", self.pos) else self.single()
            if _INDEX_SUBSCRIPT.fullmatch(text):     # letters: indices in an index statement
                found = tuple((c.group(), start + 1 + c.start())
                              for c in re.finditer(r"[a-z]", src[start + 1:self.pos]))
                self.candidate = ("", found)
                sub = "_" + "".join(letter for letter, _ in found)     # else a name: x_i
            else:
                sub = self.subscript(text.strip(), start)
        if not layer:
            layer = self.layer(extra)
        if self.candidate is not None:
            self.candidate = (out + layer, self.candidate[1])
        return out + sub + layer, extra

    def layer(self, extra: list) -> str:
        """A layer superscript here, ^{(1)} (1) or ^{(out)} (_out), with a transpose in it
        (^{(1)\\top}) added to `extra` as a token after the name; "" if there is none."""
        m = re.compile(r"\^\{\s*\(([A-Za-z0-9]+)\)\s*(\\top|\\intercal|T|\\prime)?\s*\}").match(
            self.src, self.pos)
        if not m:
            return ""
        layer = m.group(1)
        if m.group(2):
            extra.append(("TRANSPOSE", "^T" if m.group(2) == "T" else "'", m.start(2),
                          m.end(2)))
        self.pos = m.end()
        return layer if layer.isdigit() else "_" + layer

    def subscript(self, text: str, start: int) -> str:
        """A subscript as part of a name: digits join (W_1 is W1), a word or name joins
        after _ (x_i, W_{\\mathrm{out}} is W_out, a_{b_c} is a_b_c)."""
        if re.fullmatch(r"[0-9]+", text):
            return text
        m = re.fullmatch(r"\\(?:mathrm|text|textrm|mathit|operatorname)\s*\{([A-Za-z0-9_\\]+)\}",
                         text)
        if m:
            return "_" + m.group(1).replace("\\_", "_")
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text):
            return "_" + text
        m = re.fullmatch(r"\\([A-Za-z]+)", text)
        if m and m.group(1) in GREEK:
            return "_" + m.group(1)
        inner = _Scanner(text)
        try:
            inner.scan()
        except MatcalcError:
            inner.tokens = []
        if len(inner.tokens) == 1 and inner.tokens[0].type == "NAME":
            return "_" + inner.tokens[0].value
        self.fail(f"cannot read the subscript {text!r} as part of a name", start, self.pos,
                  "a name's subscript is a number or a word (W_1, x_i, W_{\\mathrm{out}}); "
                  "index arithmetic such as t-1 is not in the language")
        raise AssertionError

    def ones(self, digit: str, start: int) -> None:
        """\\mathbf{1} (a vector), \\mathbf{1}_{N \\times n} (a matrix), \\mathbf{1}_n."""
        kind = "vector"
        if self.src.startswith("_", self.pos):
            self.pos += 1
            text = self.group_text() if self.src.startswith("{", self.pos) else self.single()
            kind = "matrix" if re.search(r"\\times|×|,", text) else "vector"
        self.emit("ONES", f"{kind}({digit})", start, self.pos)

    # -- superscripts and bars ---------------------------------------------------------------
    def superscript(self) -> None:
        """^: a transpose (^\\top, ^T, ^{\\top}, ^{\\mathsf{T}}, ^{\\prime}), an inverse
        transposed (^{-\\top}), an elementwise power (^{\\circ 2}), or a power whose
        exponent is one symbol (x^2 is x^{2}: TeX's superscript takes one token) or a
        group."""
        src, start = self.src, self.pos
        self.pos += 1
        at = _SPACES.match(src, self.pos).end()
        top = r"(?:\\top|\\intercal|\\prime|T|'|\\mathsf\s*\{\s*T\s*\}|\\mathrm\s*\{\s*T\s*\})"
        m = re.compile(rf"(?:{top}(?![A-Za-z])|\{{\s*{top}\s*\}})").match(src, at)
        if m:
            self.pos = m.end()
            spelled = "^T" if "T" in m.group() and "top" not in m.group() and \
                "mathsf" not in m.group() and "mathrm" not in m.group() else "'"
            return self.emit("TRANSPOSE", spelled, start, self.pos)
        m = re.compile(rf"\{{\s*-\s*{top}\s*\}}").match(src, at)
        if m:
            self.pos = m.end()
            return self.emit("INVT", "^{-T}", start, self.pos)
        m = re.compile(r"\{\s*\\(?:circ|odot)(?![A-Za-z])").match(src, at)
        if m:
            self.pos = m.end()
            return self.emit("EWPOW", ".^", start, self.pos)
        self.emit("POW", "^", start, start + 1)
        self.pos = at
        c = src[at:at + 1]
        if c.isascii() and c.isdigit():             # one digit: x^23 is x^2 3 in TeX
            self.pos = at + 1
            self.emit("NUMBER", c, at, at + 1)
        elif c.isascii() and c.isalpha():
            self.pos = at + 1
            self.emit("NAME", c, at, at + 1)

    def bar(self, what: str, opening: bool | None, start: int, explicit: bool = False) -> None:
        """A norm's bar or an absolute value's: opening where an operand may start, unless
        \\lVert, \\rVert, \\left, \\right say which; a norm's closing bar takes its
        subscript (_2, _F, _1, _{\\mathrm{F}})."""
        if opening is None:
            opening = not (self.after_operand and any(k == f"{what}OPEN"
                                                      for k, _, _ in self.levels))
        if opening:
            value = "lvert" if explicit else "|"
            return self.emit(f"{what}OPEN", value, start, self.pos)
        sub = ""
        if what == "NORM" and self.src.startswith("_", self.pos):
            at = self.pos
            self.pos += 1
            text = self.group_text() if self.src.startswith("{", self.pos) else self.single()
            text = re.sub(r"\\(?:mathrm|text|textrm|operatorname)\s*\{(.*)\}", r"\1",
                          text.strip()).strip()
            sub = {"2": "2", "F": "F", "fro": "F", "1": "1", "1,1": "1,1"}.get(
                text.replace(" ", ""))
            if sub is None:
                self.fail(f"cannot read the norm's subscript {text!r}", at, self.pos,
                          "matcalc has the norms _2 (Euclidean), _F (Frobenius), _1 and "
                          "_{1,1} (the sum of every |x_ij|)")
        self.emit(f"{what}CLOSE", sub, start, self.pos)


# ---------------------------------------------------------------------------------------
# lark's exceptions, in the user's words

_WORDS_OF = {"RPAR": "')'", "RBRACE": "'}'", "LBRACE": "'{'", "EQUAL": "'='",
             "COMMA": "','", "NORMCLOSE": "closing bars", "ABSCLOSE": "a closing bar",
             "SEP": "the end of a statement", "PARTIAL": "\\partial"}


def _translate(exc: Exception, source: str) -> ParseError | None:
    from ._lark_latex_parser import LarkError, UnexpectedToken

    if isinstance(exc, UnexpectedToken):
        token, expected = exc.token, set(exc.expected or ())
        if token.type == "$END":
            end = getattr(token, "end_pos", None) or len(source.rstrip())
            return ParseError("unexpected end of input: expected an expression",
                              Span(end, end), source)
        shown = source[token.start_pos:token.end_pos] or token.value
        message = f"unexpected {shown!r}"
        if expected & {"NAME", "NUMBER", "LPAR"}:
            message += ": expected an expression"
        hint = None
        if token.type == "EQUAL":
            hint = "a statement is name = expression; separate statements with \\\\ or ;"
        elif token.type == "SEP":
            hint = "a bare expression must be the last statement"
        elif expected and len(expected) <= 3:
            said = [_WORDS_OF.get(e, None) for e in sorted(expected)]
            if all(said):
                hint = "expected " + " or ".join(said)
        return ParseError(message, Span(token.start_pos, max(token.end_pos,
                                                             token.start_pos + 1)),
                          source, hint)
    if isinstance(exc, LarkError):
        return ParseError("cannot read this LaTeX", None, source)
    return None
