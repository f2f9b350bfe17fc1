"""Text -> AST: the one door through which user text enters matcalc.

The grammar lives in `grammar.lark`; lark's LALR parser runs it and calls the builder
below on every reduction (lark's embedded-transformer mode), so the AST is built bottom-up
while parsing, without a parse tree and without recursion (chains such as `a + b + c` are
left-recursive in the grammar, reduced as they are read). Spans are character offsets
[start, end) into the whole source, taken from the tokens. `2.*x` reads as `2 .* x` (a
number does not swallow the '.' of a following operator), so `2./x` and `2.^x` are
elementwise, as in MATLAB.

The tokens come from one regular expression made of grammar.lark's own terminals, in the
order lark's lexer prefers them, and reach lark's parser as a custom lexer's stream: one
pass over the text where there were three (a scan for the checks, lark's contextual lexer,
a post-lexer for new lines inside parentheses). That pass drops those new lines and runs
the checks that come before parsing: balanced parentheses (the clearest message for the most common
mistake), a nesting limit, at most `MAX_DEPTH` levels of parentheses, calls, signs and
powers, and a size limit, at most `MAX_TOKENS` tokens (each costs about 5 us from here to
the AST). (Long flat chains of `+` or `*` still make deep left-leaning trees; stages that
walk them should not recurse along a chain.) Every lark exception is translated here into
a `ParseError` in the user's words; none escapes.

The parse tables come from lark's standalone generator, run on grammar.lark ahead of time
(`python -m matcalc.parse` writes `_lark_parser.py`; a test keeps it current): a new process
loads them without analysing the grammar and without lark itself, and nothing is ever read
from a cache file (lark's cache is a pickle in the shared temporary directory, which any
local user could plant). The parser is made on the first call to `parse`.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Fix, LimitError, MatcalcError, OptionError, ParseError, Span
from .expr import gc_paused
from .syntax import (Binary, Call, Indexed, IndexedGroup, Name, Neg, Norm, Number, Program, Statement,
                     Transpose, index_product)

if TYPE_CHECKING:
    from ._lark_parser import Lark, Token

__all__ = ["MAX_DEPTH", "MAX_SOURCE_CHARS", "MAX_STATEMENTS", "MAX_TOKENS", "NOTATIONS",
           "parse"]

MAX_DEPTH = 200
MAX_SOURCE_CHARS = 1_000_000
MAX_STATEMENTS = 2_000
MAX_TOKENS = 100_000      # names, numbers, operators: a megabyte of them is refused at once

_GRAMMAR = Path(__file__).with_name("grammar.lark")
_STANDALONE = Path(__file__).with_name("_lark_parser.py")


NOTATIONS = ("auto", "matcalc", "latex")
_COMMENT = re.compile(r"#[^\r\n]*")


@gc_paused
def parse(source: str, notation: str = "auto") -> Program:
    """The program written in `source`: its statements in order, with spans into `source`.
    `notation`: "matcalc" (the language), "latex" (matcalc.parse_latex), or "auto": LaTeX
    when the source holds, outside a # comment, a backslash or a subscript group `_{`
    (`Z_{ij} = X_{ik} W_{jk}`), which the language never does.

    Raises `ParseError` for a syntax error and `LimitError` for an input too long or too
    deeply nested; both carry the source, so `render()` shows the line and carets.
    """
    if not isinstance(source, str):
        raise TypeError(f"parse() takes a str, not {type(source).__name__}")
    if notation not in NOTATIONS:
        raise OptionError(f"unknown notation {notation!r}: expected matcalc or latex")
    code = _COMMENT.sub("", source) if notation == "auto" else ""
    if notation == "latex" or "\\" in code or "_{" in code:
        from .parse_latex import parse_latex
        try:
            return parse_latex(source)
        except ParseError as err:
            if notation == "auto":
                _left_division(source)
            raise err from None
    if len(source) > MAX_SOURCE_CHARS:
        raise LimitError(f"input too long: {len(source):,} characters "
                         f"(the limit is {MAX_SOURCE_CHARS:,})", None, source)
    parser, scanner = _parser()
    tokens, stop = scanner.scan(source)
    _check_statements(source)
    statements = read_statements(lambda: _run(parser, tokens, stop, source), source,
                                 _translate)
    return Program(tuple(statements), source)


def read_statements(run, source: str, translate) -> list:
    """The statements run() reads from `source` (for both notations), checked; every
    failure a MatcalcError that carries the source: the parser's exceptions in the user's
    words (`translate`), a RecursionError (not expected: nothing recurses) a LimitError."""
    try:
        statements = run()
    except MatcalcError as exc:
        raise exc.with_source(source)
    except RecursionError:
        raise LimitError("input nested too deeply", None, source) from None
    except Exception as exc:
        error = translate(exc, source)
        if error is None:
            raise
        raise error from None
    if not statements:
        raise ParseError("empty input: nothing to derive", None, source)
    check_statements(statements, source)
    return statements


_ATOM = r"(?:\((?:[^()\n#]|\([^()\n#]*\))*\)|[A-Za-z_][A-Za-z0-9_]*)'*"   # on one line
_LEFT_DIVISION = re.compile(rf"({_ATOM})\s*\\\s*({_ATOM})")


def _left_division(source: str) -> None:
    """Raise the message for MATLAB's left division (A\\b, (X'*X)\\(X'*y)) in a source
    that LaTeX does not read: inv(A)*b, if that rewrite reads."""
    found = _LEFT_DIVISION.search(source)
    if found is None:
        return
    def inverse(m) -> str:
        a = m[1][1:-1] if m[1].startswith("(") and m[1].endswith(")") else m[1]
        return f"inv({a})*{m[2]}"

    fixed = _LEFT_DIVISION.sub(inverse, source)
    if not _parses(fixed):
        return
    instead = inverse(found)
    raise ParseError(f"{found[0]} is MATLAB's left division, which matcalc writes {instead}",
                     Span(found.start(), found.end()), source,
                     f"did you mean {instead} ? (a backslash otherwise starts LaTeX)",
                     Fix(fixed))


def check_statements(statements, source: str) -> None:
    """Refuse a bare expression before the last statement (it could not be used)."""
    for statement in statements[:-1]:
        if statement.name is None:
            raise ParseError("a bare expression must be the last statement", statement.span,
                             source, "give it a name (t = ...) to use it in a later statement")


# ---------------------------------------------------------------------------------------
# The parser, built once on first use.

_PARSER = None
_SEPARATORS = re.compile(r"\r\n?|[();\n]")


def _check_statements(source: str) -> None:
    """Refuse, before parsing, a program of more than MAX_STATEMENTS statements (an upper
    bound: every ';' and new line outside parentheses may end one)."""
    if source.count(";") + source.count("\n") + source.count("\r") < MAX_STATEMENTS:
        return
    count, depth = 1, 0
    for m in _SEPARATORS.finditer(source):
        ch = m.group()
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            count += 1
            if count > MAX_STATEMENTS:
                i = m.start()
                raise LimitError(f"program too long: more than {MAX_STATEMENTS:,} statements "
                                 f"(matcalc.parse.MAX_STATEMENTS)", Span(i, i + 1), source)


def _parser() -> tuple[Lark, _Scanner]:
    global _PARSER
    if _PARSER is None:
        from . import _lark_parser
        parser = _lark_parser.Lark_StandAlone(transformer=_Build())
        _PARSER = parser, _Scanner(parser)
    return _PARSER


def _run(parser: Lark, tokens: list[Token], stop: int | None, source: str):
    """The statements lark's parser builds from the tokens (fed one by one: the tokens are
    `_Scanner`'s, not lark's lexer's), then the error for the character at `stop` that no
    token matches: lark reaches it only if nothing before it is a syntax error, as a
    lexer of its own would."""
    interactive = parser.parse_interactive()
    for token in tokens:
        interactive.feed_token(token)
    if stop is not None:
        raise _unexpected_character(stop, source)
    return interactive.feed_eof(tokens[-1] if tokens else None)


def write_standalone(path: Path = _STANDALONE, grammar_path: Path = _GRAMMAR) -> None:
    """Write the parser module for a grammar (grammar.lark, or latex.lark for LaTeX input)
    with lark's standalone generator (needs lark; a step of development, run as `python -m
    matcalc.parse`, which writes both). The first line records the grammar's SHA-256, by
    which tests/test_parse.py knows the module is current."""
    import hashlib
    import io

    from lark import Lark
    from lark.tools.standalone import gen_standalone

    grammar = grammar_path.read_text(encoding="utf-8")
    out = io.StringIO()
    gen_standalone(Lark(grammar, parser="lalr", lexer="basic", maybe_placeholders=False),
                   out=out)
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()
    path.write_text(f"# {grammar_path.name} sha256 {digest}: written by `python -m "
                    "matcalc.parse`; do not edit\n" + out.getvalue(), encoding="utf-8")


_OPERANDS = frozenset({"NAME", "NUMBER", "TRANSPOSE", "SUPERSCRIPT"})
_OPENERS = frozenset({"LPAR", "LBRACE", "LBRACK", "NORMOPEN", "POWOP"})  # signs: only before an operand
_SIGNS = frozenset({"PLUS", "MINUS"})
# what ends an operand, and what may start one: between the two, an implicit product
_ENDS_OPERAND = frozenset({"NAME", "NUMBER", "TRANSPOSE", "SUPERSCRIPT", "RPAR", "RBRACE",
                          "RBRACK", "NORMCLOSE"})
_STARTS_OPERAND = frozenset({"NAME", "NUMBER", "LPAR", "LBRACE", "NORMOPEN"})
# a closer and the opener it closes; a level of None is a sign's or a power's operand
_CLOSES = {"RPAR": "LPAR", "RBRACE": "LBRACE", "RBRACK": "LBRACK", "NORMCLOSE": "NORMOPEN"}
_SHOWN = {"LPAR": "'('", "LBRACE": "'{'", "LBRACK": "'['", "NORMOPEN": "'||'", "RPAR": "')'",
          "RBRACE": "'}'", "RBRACK": "']'", "NORMCLOSE": "'||'"}

# A norm's bars, || or ‖, and after a closing one its subscript: _2, _{2}, _F, _fro, _1.
# The scanner tells an opening bar (where an operand may start) from a closing one.
_NORM = r"(?:\|\||‖)(?:_\{(?:[12F]|fro)\}|_(?:[12F]|fro)(?![A-Za-z0-9_]))?"
# a Greek letter is a name by itself (λ is lambda, Σ is Sigma), with digits or a
# subscript after it (λ1, σ_x): so λx is lambda times x, and σ(z) is the logistic function
_GREEK = (r"[\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9\u03d1\u03d5\u03d6\u03f1\u03f5]"
          r"(?:_?[0-9][A-Za-z0-9_]*|_[A-Za-z0-9_]+)?")
_GREEK_SYMBOLS = {"ϑ": "vartheta", "ϕ": "phi", "ϵ": "epsilon", "ϱ": "rho", "ϖ": "pi",
                  "ς": "sigma"}
_CALL_AHEAD = re.compile(r"[ \t\f]*\(")


def greek_name(letter: str) -> str:
    """The name the language spells a Greek letter with: λ -> lambda, Σ -> Sigma."""
    if letter in _GREEK_SYMBOLS:
        return _GREEK_SYMBOLS[letter]
    import unicodedata
    words = unicodedata.name(letter).split()          # GREEK SMALL LETTER LAMDA
    name = words[-1].lower().replace("lamda", "lambda")
    return name if words[1] == "SMALL" else name.capitalize()


def is_function(name: str) -> bool:
    """Whether a call may use `name`: a function of the language, a name one of its
    entries accepts, or another tool's function that a refusal answers (dot, max)."""
    from . import ops
    return name in ops.CALLED or name in ops.REWRITES


class _Scanner:
    """Source text -> lark tokens, by one regular expression over grammar.lark's terminals
    (lark's order of preference: priority, then the longest possible match, then name),
    the norm bars and Greek letters."""

    def __init__(self, parser: Lark):
        from ._lark_parser import Token

        self.token = Token
        terminals = sorted(parser.terminals, key=lambda t: (
            -t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name))
        self.regex = re.compile("|".join(
            [f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals]
            + [f"(?P<NORM>{_NORM})", f"(?P<GREEK>{_GREEK})"]))
        self.ignored = frozenset(parser.lexer_conf.ignore)

    def scan(self, source: str) -> tuple[list[Token], int | None]:
        """The tokens of `source` up to the first character outside the language, and that
        character's position (None if there is none). New lines inside parentheses are
        whitespace and dropped. Implicit products become '*' tokens (see `_implicit`).
        Raises for more than MAX_TOKENS tokens (counted at names and numbers), for an
        unmatched closer or opener and for nesting deeper than MAX_DEPTH: a level is opened
        by '(' (a call's included), '{' or an opening '||' until its closer, and by a
        unary sign or a power operator until its operand ends, at the next looser binary
        operator, ',', ';', '=', new line or closer. So `-(-(x))` is 4 levels deep and
        `x^-y^-z` 4, but `a + b + c` is 0 (flat chains are reduced without recursion)."""
        tokens: list[Token] = []
        append, token = tokens.append, self.token
        ignored = self.ignored
        # (opener kind or None for a sign's level, start, end, index of its token)
        levels: list[tuple[str | None, int, int, int]] = []
        parens = 0                                  # how many of the levels are openers
        after_operand = False
        operand_start = 0          # index of the first token of the operand just read
        pos = 0
        end = 0                    # where the last token kept ends
        for m in self.regex.finditer(source):
            start = m.start()
            if start != pos:
                return tokens, pos          # a character outside the language
            kind, pos = m.lastgroup, m.end()
            if kind in ignored or kind == "_NL" and parens:
                continue                    # a new line inside parentheses is whitespace
            text = m.group()
            if kind == "NORM":
                kind = "NORMCLOSE" if after_operand and any(
                    level[0] == "NORMOPEN" for level in levels) else "NORMOPEN"
                if kind == "NORMOPEN" and len(text) > (1 if text[0] == "‖" else 2):
                    raise ParseError(f"unexpected {_quote(text)}", Span(start, pos), source,
                                     "a norm's subscript follows its closing bars: ||x||_2")
            elif kind == "GREEK":
                kind = "NAME"
                text = greek_name(text[0]) + text[1:]
                if text == "sigma" and _CALL_AHEAD.match(source, pos):
                    text = "sigmoid"                      # σ(z), the logistic function
            if after_operand and kind in _STARTS_OPERAND:
                if self._implicit(tokens[-1], kind, start > end, source):
                    if start == end:
                        _tight_after_division(tokens, operand_start, start, pos, source)
                    # the product, as if '*' were written: it ends signs' operands
                    while levels and levels[-1][0] is None:
                        levels.pop()
                    append(token("IMPLICIT", "*", start, None, None, None, None, start))
                    after_operand = False
            append(token(kind, text, start, None, None, None, None, pos))
            end = pos
            if kind in _OPERANDS:
                if not after_operand:
                    operand_start = len(tokens) - 1
                after_operand = True
                if len(tokens) > MAX_TOKENS:
                    raise LimitError(f"input too long: more than {MAX_TOKENS:,} names, numbers "
                                     "and operators (matcalc.parse.MAX_TOKENS)",
                                     Span(start, pos), source)
                continue
            opener = kind in _OPENERS or kind in _SIGNS and not after_operand
            if opener:
                paren = kind if kind in ("LPAR", "LBRACE", "LBRACK", "NORMOPEN") else None
                levels.append((paren, start, pos, len(tokens) - 1))
                parens += paren is not None
                if len(levels) > MAX_DEPTH:
                    raise LimitError(f"nesting too deep: more than {MAX_DEPTH} levels of "
                                     "parentheses, calls, signs or powers",
                                     Span(start, pos), source,
                                     "split the expression into named steps: t = ...; y = ...")
                after_operand = False
                continue
            while levels and levels[-1][0] is None:
                levels.pop()      # a binary operator, separator or closer ends signs' operands
            if kind in _CLOSES:
                if not parens:
                    raise ParseError(f"unexpected {_SHOWN[kind]}", Span(start, pos), source,
                                     f"there is no {_SHOWN[_CLOSES[kind]]} for it to close")
                opened, o_start, o_end, o_index = levels.pop()
                if opened != _CLOSES[kind]:
                    raise ParseError(f"unexpected {_SHOWN[kind]}: the {_SHOWN[opened]} before "
                                     f"it is not closed", Span(start, pos), source,
                                     f"close the {_SHOWN[opened]} first")
                parens -= 1
                operand_start = o_index
                if o_index and tokens[o_index - 1].type == "NAME":
                    operand_start = o_index - 1             # a call
            after_operand = kind in _ENDS_OPERAND
        if pos != len(source):
            return tokens, pos
        for paren, start, stop, _ in reversed(levels):
            if paren == "LPAR":
                raise ParseError("unbalanced parenthesis: '(' is never closed",
                                 Span(start, stop), source, "add the missing ')'")
            if paren == "LBRACE":
                raise ParseError("unbalanced brace: '{' is never closed",
                                 Span(start, stop), source, "add the missing '}'")
            if paren == "LBRACK":
                raise ParseError("unbalanced bracket: '[' is never closed",
                                 Span(start, stop), source, "add the missing ']'")
            if paren == "NORMOPEN":
                raise ParseError("unbalanced norm: '||' is never closed",
                                 Span(start, stop), source,
                                 "close it with || (a norm is ||x||, or norm2(x))")
        return tokens, None

    @staticmethod
    def _implicit(previous, kind: str, gap: bool, source: str) -> bool:
        """Whether an operand that starts (`kind`) right after another (`previous`) is a
        product: where nothing else can be meant. Across whitespace (x' A x, 2 x); a name,
        '(' or '||' right after a transpose, superscript or closer ((A + B)x, x'A) or after
        a number (2x, 2(x + y)); a name right after a Greek letter (λx). Not a number after
        a number, a transpose or a closer (x'2), and not '(' after a name: that is a call
        (W(x) is the unknown function W; W (x) with a space is W*(x), unless W is a
        function's name: exp (x) is a call)."""
        before = previous.type
        if before == "NAME" and kind == "LPAR":
            return gap and not is_function(previous.value)
        if kind == "NUMBER":
            return gap and before != "NUMBER"
        if gap:
            return True
        if before == "NAME":                 # only a Greek letter ends where a name starts
            return kind in ("NAME", "NORMOPEN")
        return kind != "LBRACE" or before == "NUMBER"


def _tight_after_division(tokens: list, operand_start: int, start: int, stop: int,
                          source: str) -> None:
    """Refuse `a/2x`: whether 2x is the divisor, or x a factor of the quotient, is not
    plain (notes write both); with a space, `a/2 x`, it is (a/2)*x, and so is `a/2*x`."""
    before = tokens[operand_start - 1] if operand_start else None
    if before is None or before.type != "MULOP" or before.value not in ("/", "./"):
        return
    left = source[tokens[operand_start].start_pos:start]
    right = source[start:stop] + ("" if source[start].isalnum() else "...")
    # as one line: a comment or a line break inside the operand is not repeated
    left, right = (" ".join(_COMMENT.sub("", t).split()) for t in (left, right))
    op = before.value
    raise ParseError(f"{_quote(op + left + right)} is ambiguous: {left}{right} may be the "
                     f"divisor, or {right} a factor after the division",
                     Span(tokens[operand_start].start_pos, stop), source,
                     f"write {op}({left}*{right}) to divide by the product, or "
                     f"{op}{left}*{right} to multiply the quotient",
                     fix=Fix(source[:start] + "*" + source[start:]))


class _Group:
    """A node whose text is wider than its span: `(a+b)` or `+x`. Only lives while building,
    so that an enclosing node's span covers the parentheses; the AST never holds one."""

    __slots__ = ("node", "span")

    def __init__(self, node, span: Span):
        self.node = node
        self.span = span


class _Implied:
    """An implicit product while building (x' A x): its node, and its factors with the
    places of the products between them, so that a division before it can take the first
    factor alone: a/2 x is (a/2)*x, as notes mean it, though x' A x groups first."""

    __slots__ = ("node", "span", "factors")

    def __init__(self, node, factors: list):
        self.node = node
        self.span = node.span
        self.factors = factors

    def divided(self, op: str, numerator, op_span: Span):
        """(numerator op first) * second * ...: the division of the first factor only."""
        first, *rest = self.factors
        node = Binary(op, numerator, first, Span(numerator.span.start, first.span.end), op_span)
        for factor, where in rest:
            node = Binary("*", node, factor, Span(numerator.span.start, factor.span.end), where)
        return node


def _node(child):
    return child.node if type(child) in (_Group, _Implied) else child


def _literal(n) -> bool:
    """A number as written, possibly negated: 2, -1."""
    while type(n) is Neg:
        n = n.operand
    return type(n) is Number


def _index_product(op: str, left, right) -> bool:
    return index_product(op, _node(left), _node(right))


def _span(token) -> Span:
    return Span(token.start_pos, token.end_pos)


_OPS = {"⊙": ".*", "∘": ".*", "−": "-"}   # aliases: the elementwise product, the minus sign
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_NORM_SUBSCRIPT = re.compile(r"_\{?([12F]|fro)\}?$")


class _Build:
    """lark's transformer protocol: one method per rule alias of grammar.lark, called by the
    LALR parser on each reduction with the rule's children (tokens and built nodes)."""

    def start(self, children):
        return children

    def statement(self, children):
        if len(children) == 1:
            expr = children[0]
            return Statement(None, None, _node(expr), expr.span)
        name, expr = children
        return Statement(name.value, _span(name), _node(expr),
                         Span(name.start_pos, expr.span.end))

    def index_statement(self, children):
        name, _, indices, _, expr = children
        return Statement(name.value, _span(name), _node(expr),
                         Span(name.start_pos, expr.span.end), indices)

    def indices(self, children):
        return tuple(Name(t.value, _span(t)) for t in children)

    def indexed(self, children):
        name, _, indices, rbrack = children
        return Indexed(name.value, indices, Span(name.start_pos, rbrack.end_pos), _span(name))

    def indexed_group(self, children):
        lpar, expr, _, _, indices, rbrack = children
        return IndexedGroup(_node(expr), indices, Span(lpar.start_pos, rbrack.end_pos))

    def binary(self, children):
        left, op, right = children
        value = _OPS.get(op.value, op.value)
        if type(right) is _Implied and value in ("/", "./"):
            return right.divided(value, _node(left), _span(op))
        span = Span(left.span.start, right.span.end)
        exponent = _node(right)
        if value == "^" and type(exponent) is Transpose and _literal(exponent.operand):
            # X^{-1}': a number's transpose is itself, so the mark is the power's, as in
            # notes: (X^{-1})'
            power = Binary("^", _node(left), exponent.operand,
                           Span(left.span.start, exponent.operand.span.end), _span(op))
            return Transpose(power, span, exponent.mark)
        return Binary(value, _node(left), exponent, span, Span(op.start_pos, op.end_pos),
                      _index_product(value, left, right))

    def implied(self, children):
        left, op, right = children
        factors = left.factors if type(left) is _Implied else [_node(left)]
        node = Binary("*", _node(left), _node(right), Span(left.span.start, right.span.end),
                      _span(op), _index_product("*", left, right))
        return _Implied(node, factors + [(_node(right), _span(op))])

    def neg(self, children):
        sign, operand = children                      # - or −
        return Neg(_node(operand), Span(sign.start_pos, operand.span.end))

    def pos(self, children):
        sign, operand = children          # +x is x
        return _Group(_node(operand), Span(sign.start_pos, operand.span.end))

    def transpose(self, children):
        operand, mark = children
        return Transpose(_node(operand), Span(operand.span.start, mark.end_pos),
                         "^T" if mark.value.startswith("^") else "'")

    def superscript(self, children):
        """x² is x^2, X⁻¹ is X^-1, X⁻ᵀ is (X^-1)'."""
        operand, mark = children
        x, span, where = _node(operand), Span(operand.span.start, mark.end_pos), _span(mark)
        if mark.value == "⁻ᵀ":
            one = Neg(Number(1, "1", where), where)
            return Transpose(Binary("^", x, one, span, where), span)
        text = mark.value.translate(_SUPERSCRIPTS).lstrip("+")
        digits = text.lstrip("-")
        number = Number(int(digits), digits, where)
        exponent = Neg(number, where) if text.startswith("-") else number
        return Binary("^", x, exponent, span, Span(where.start, where.start))

    def norm(self, children):
        bars, operand, closing = children
        sub = _NORM_SUBSCRIPT.search(closing.value)
        kind = None if sub is None else "F" if sub.group(1) == "fro" else sub.group(1)
        return Norm(_node(operand), kind, Span(bars.start_pos, closing.end_pos))

    def call(self, children):
        name, rpar = children[0], children[-1]
        args = tuple(_node(arg) for arg in children[2:-1])
        return Call(name.value, args, Span(name.start_pos, rpar.end_pos), _span(name))

    def group(self, children):
        lpar, expr, rpar = children
        return _Group(_node(expr), Span(lpar.start_pos, rpar.end_pos))

    def name(self, children):
        (token,) = children
        return Name(token.value, Span(token.start_pos, token.end_pos))

    def number(self, children):
        (token,) = children
        text = token.value
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:        # more digits than int() accepts
            raise ParseError(f"number too long: {len(text):,} digits", _span(token)) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ParseError(f"number out of range: {text}", _span(token))
        return Number(value, text, _span(token))


# ---------------------------------------------------------------------------------------
# lark's exceptions, in the user's words.

_OPERAND_START = {"NAME", "NUMBER"}   # expected exactly where an operand may start
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_]*")
_BLANK = re.compile(r"(?:\s|#[^\r\n]*)*")


def _translate(exc: Exception, source: str) -> ParseError | None:
    """The ParseError for a lark exception; None for anything else."""
    from ._lark_parser import LarkError, UnexpectedToken

    if isinstance(exc, UnexpectedToken):
        return _unexpected_token(exc, source)
    if isinstance(exc, LarkError):
        return ParseError("cannot read this input", None, source)
    return None


def _unexpected_token(exc, source: str) -> ParseError:
    token, expected = exc.token, set(exc.expected or ())
    wants_operand = bool(expected & _OPERAND_START)
    if token.type == "$END":
        end = getattr(token, "end_pos", None) or 0
        return ParseError("unexpected end of input: expected an expression", Span(end, end),
                          source)
    span = _span(token)
    if token.value == "'" and wants_operand:
        quoted = _quoted_argument(span.start, source)
        if quoted is not None:
            return quoted
    if token.type == "_NL":               # the caret goes right after what was read last
        stack = getattr(exc.state, "value_stack", None)
        end = _extent(stack[-1]).end if stack else token.start_pos
        where = "input" if _BLANK.fullmatch(source, token.end_pos) else "line"
        return ParseError(f"unexpected end of {where}: expected an expression",
                          Span(end, end), source)
    if token.type in ("NAME", "NUMBER", "LPAR") and not wants_operand:
        previous = _previous_operand(exc, source)
        where = f"between {_quote(previous)} and " if previous else "before "
        return ParseError(f"missing operator {where}{_quote(token.value)}", span, source,
                          "put an operator between them, e.g. '*' for a product",
                          Fix(source[:span.start] + "*" + source[span.start:]))
    message = f"unexpected {_quote(token.value)}"
    if wants_operand:
        message += ": expected an expression"
    hint = None
    if token.type == "_EQUAL":
        hint = "a statement is `name = expression`; separate statements with ';' or new lines"
    elif token.type == "_COMMA":
        hint = "',' separates the arguments of a call such as f(a, b)"
    elif token.type == "GT" and not wants_operand:
        hint = "comparisons do not chain; add parentheses"
    elif token.value == "*" and _previous_operand(exc, source) == "*":
        hint = "'**' is not an operator: write ^ for a power (x^2)"
    return ParseError(message, span, source, hint)


_QUOTED = re.compile(r"'(\w*)'\s*\)")
_CALLED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\Z")
# MATLAB's and NumPy's flags: the call that means the same in matcalc's language
_FLAGGED = {("norm", "fro"): "norm2({})", ("norm", "1"): "norm1({})",
            ("sum", "all"): "sum({})", ("mean", "all"): "mean({})"}


def _quoted_argument(pos: int, source: str) -> ParseError | None:
    """A quoted flag as the last argument of a call, as MATLAB writes it (norm(X, 'fro'),
    sum(X, 'all')): the language has no strings; the call that means it, if there is one.
    None if the quote at `pos` is not such a flag."""
    flag = _QUOTED.match(source, pos)
    if flag is None:
        return None
    depth, i = 0, pos - 1
    while i >= 0 and (source[i] != "(" or depth):           # back to the call's '('
        depth += {")": 1, "(": -1}.get(source[i], 0)
        i -= 1
    called = _CALLED.search(source, 0, max(i, 0))
    if i < 0 or called is None:
        return None
    func, args = called[1], source[i + 1:pos].rstrip().rstrip(",").strip()
    rewrite = _FLAGGED.get((func, flag[1].lower()))
    message = f"{func}(..., '{flag[1]}'): matcalc's functions take no quoted arguments"
    span = Span(pos, flag.end(1) + 1)
    if rewrite is None or "," in args:
        return ParseError(message, span, source, "the norms are norm2(x) (2-norm, or "
                          "Frobenius of a matrix) and norm1(x); sum(X) sums every entry")
    instead = rewrite.format(args)
    return ParseError(message, span, source, f"did you mean {instead} ?",
                      Fix(source[:called.start()] + instead + source[flag.end():]))


_LIBRARIES = ("np", "numpy", "jnp", "torch", "tf", "F", "la", "linalg", "nn", "functional",
              "special", "scipy", "math")


_PREFIXES = re.compile(r"\b(?:%s)\.(?:(?:%s)\.)*(?=[A-Za-z_][A-Za-z0-9_]*\s*\()"
                       % (("|".join(_LIBRARIES),) * 2))


def _parses(source: str) -> bool:
    """Whether a suggested rewrite reads (np.sum(X, axis=0) without np. does not)."""
    try:
        parse(source, "matcalc")
    except MatcalcError:
        return False
    return True


def _library_call(library, dot: int, source: str) -> ParseError | None:
    """np.sum(x), torch.tanh(x), np.linalg.det(X): another library's prefix on a call.
    Without it, a function of the language is suggested as such; another name (np.dot)
    is left to the message its call gets without the prefix (dot(x, y) is x'*y), which
    needs the argument's shapes. None if what follows the prefix is no call."""
    from . import ops
    end = _IDENTIFIER_CHAR.match(source, dot + 1).end()
    while end < len(source) and source[end] == "." and source[dot + 1:end] in _LIBRARIES:
        dot, end = end, _IDENTIFIER_CHAR.match(source, end + 1).end()
    func, after = source[dot + 1:end], _BLANK.match(source, end).end()
    if not func or after >= len(source) or source[after] != "(":
        return None
    span = Span(library.start(), end)
    message = f"{source[library.start():end]} is {library[1]}'s; matcalc's functions " \
              f"have no prefix"
    fixed = _PREFIXES.sub("", source)                   # every prefix: np.sum(np.exp(x))
    if func in ops.CALLED and func not in ("eye", "vector", "matrix") and fixed != source \
            and _parses(fixed):
        return ParseError(message, span, source, f"write {func}(...)", Fix(fixed))
    return ParseError(message, span, source, f"write {func}(...) without the prefix; if it "
                      f"is not a function of the language, its message names the rewrite")


def _unexpected_character(pos: int, source: str) -> ParseError:
    char = source[pos]
    if char == ".":
        end = _IDENTIFIER_CHAR.match(source, pos + 1).end()
        library = _CALLED.search(source, 0, pos)
        if library is not None and library[1] in _LIBRARIES:
            called = _library_call(library, pos, source)
            if called is not None:
                return called
        return ParseError(f"unexpected {_quote(source[pos:max(end, pos + 1)])}",
                          Span(pos, max(end, pos + 1)), source,
                          "'.' starts .* ./ .^ or a transpose .T (which no letter, digit "
                          "or '_' may follow)")
    hint = None
    if char.isalpha():
        hint = "names are made of ASCII letters, digits and '_'"
        import unicodedata

        words = unicodedata.name(char, "").split()   # GREEK SMALL LETTER ALPHA
        if len(words) == 4 and words[0] == "GREEK" and words[2] == "LETTER":
            spelled = words[3].lower() if words[1] == "SMALL" else words[3].capitalize()
            hint += f": write {spelled} for {char}"
    elif char == "<":
        hint = "only '>' is a comparison: write b > a"
    elif char == "|":
        hint = ("a norm is ||x|| (or norm2(x)); for absolute values write abs(x), for a "
                "determinant det(X)")
        close = source.find("|", pos + 1)
        if close > pos + 1 and "\n" not in source[pos:close]:       # |x| as abs(x)
            return ParseError("unexpected character '|'", Span(pos, pos + 1), source, hint,
                              Fix(f"{source[:pos]}abs({source[pos + 1:close]})"
                                  f"{source[close + 1:]}"))
    elif char in "×·⋅":
        hint = "write * for a product (x'*y for a dot product)"
    import unicodedata
    if unicodedata.category(char)[0] in "MZ" and char not in " \t":
        # a combining mark or an odd space: say which, it is invisible
        name = unicodedata.name(char, "")
        shown = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
        if unicodedata.category(char)[0] == "M":
            hint = hint or "names are made of ASCII letters, digits and '_'"
        return ParseError(f"unexpected character {shown}", Span(pos, pos + 1), source, hint)
    shown = char if char.isprintable() else repr(char)[1:-1]
    return ParseError(f"unexpected character {_quote(shown)}", Span(pos, pos + 1), source,
                      hint)


def _previous_operand(exc, source: str) -> str | None:
    """The text of what the parser read just before the offending token, if it is short:
    the last operand (`x'`, `(a+b)`, `f(x)`) or the last token."""
    stack = getattr(getattr(exc, "state", None), "value_stack", None)
    if not stack:
        return None
    i = len(stack) - 1
    end = _extent(stack[i]).end
    while i > 0 and getattr(stack[i], "type", None) == "TRANSPOSE":
        i -= 1
    if getattr(stack[i], "type", None) == "RPAR":
        while i > 0 and getattr(stack[i], "type", None) != "LPAR":
            i -= 1                        # inner parentheses are reduced already
        if i > 0 and getattr(stack[i - 1], "type", None) == "NAME":
            i -= 1                        # a call
    text = source[_extent(stack[i]).start:end]
    return text if 0 < len(text) <= 24 and "\n" not in text and "\r" not in text else None


def _extent(value) -> Span:
    """The source range of a value on lark's stack: a token or a node built so far."""
    if hasattr(value, "start_pos"):
        return Span(value.start_pos, value.end_pos)
    return getattr(value, "span", Span(0, 0))


def _quote(text: str) -> str:
    if len(text) > 24:
        text = text[:21] + "..."
    return f'"{text}"' if "'" in text else f"'{text}'"


if __name__ == "__main__":
    from .parse_latex import GRAMMAR as _LATEX_GRAMMAR
    from .parse_latex import STANDALONE as _LATEX_STANDALONE
    write_standalone()
    write_standalone(_LATEX_STANDALONE, _LATEX_GRAMMAR)
