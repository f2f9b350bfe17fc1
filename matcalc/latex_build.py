r"""The AST of a LaTeX formula: one method per rule alias of matcalc/latex.lark, called by
lark's LALR parser on each reduction (the transformer of matcalc.parse_latex's parser), and
`e^{x}` read as exp(x) once the whole program is known.

It builds the nodes of matcalc's language (matcalc/syntax.py) with spans into the LaTeX
source; the scanner (matcalc.parse_latex) has already composed names and told a function
called from one applied, so each rule here is one node.
"""
from __future__ import annotations

import math

from .errors import ParseError, Span
from .latex_indices import indexed_token
from .syntax import (Binary, Call, Indexed, Name, Neg, Norm, Number, Statement, Transpose,
                     ast_children, index_product, right_first_preorder)

__all__ = ["LatexBuild", "exponentials"]


class _Group:
    __slots__ = ("node", "span")

    def __init__(self, node, span: Span):
        self.node = node
        self.span = span


def _node(child):
    return child.node if type(child) is _Group else child


def _span(token) -> Span:
    return Span(token.start_pos, token.end_pos)


class LatexBuild:
    def start(self, children):
        return [c for c in children if type(c) is Statement]      # not the separators

    def statement(self, children):
        if len(children) == 1:
            expr = children[0]
            return Statement(None, None, _node(expr), expr.span)
        name, _, expr = children
        return Statement(name.value, _span(name), _node(expr),
                         Span(name.start_pos, expr.span.end))

    def index_statement(self, children):
        token, _, expr = children
        name, indices = indexed_token(token)
        return Statement(name, _span(token), _node(expr), Span(token.start_pos, expr.span.end),
                         indices)

    def indexed(self, children):
        (token,) = children
        name, indices = indexed_token(token)
        return Indexed(name, indices, _span(token), _span(token))

    def binary(self, children):
        left, op, right = children
        value = {"POW": "^", "GT": ">"}.get(op.type, op.value)
        return Binary(value, _node(left), _node(right), Span(left.span.start, right.span.end),
                      _span(op), index_product(value, _node(left), _node(right)))

    def implied(self, children):
        left, right = children
        gap = Span(left.span.end, right.span.start)
        return Binary("*", _node(left), _node(right), Span(left.span.start, right.span.end),
                      gap, index_product("*", _node(left), _node(right)))

    def ewpower(self, children):
        base, op, exponent, close = children
        return Binary(".^", _node(base), _node(exponent), Span(base.span.start, close.end_pos),
                      _span(op))

    def neg(self, children):
        sign, operand = children
        return Neg(_node(operand), Span(sign.start_pos, operand.span.end))

    def pos(self, children):
        sign, operand = children
        return _Group(_node(operand), Span(sign.start_pos, operand.span.end))

    def transpose(self, children):
        operand, mark = children
        return Transpose(_node(operand), Span(operand.span.start, mark.end_pos), mark.value)

    def inverse_transposed(self, children):
        operand, mark = children
        span = Span(operand.span.start, mark.end_pos)
        one = Neg(Number(1, "1", _span(mark)), _span(mark))
        return Transpose(Binary("^", _node(operand), one, span, _span(mark)), span)

    def apply(self, children):
        func, arg = children
        return Call(func.value, (_node(arg),), Span(func.start_pos, arg.span.end), _span(func))

    def call(self, children):
        func, rpar = children[0], children[-1]
        args = tuple(_node(a) for a in children[2:-1] if getattr(a, "type", None) != "COMMA")
        return Call(func.value, args, Span(func.start_pos, rpar.end_pos), _span(func))

    def frac(self, children):
        frac, _, top, _, _, bottom, close = children
        span = Span(frac.start_pos, close.end_pos)
        return _Group(Binary("/", _node(top), _node(bottom), span, _span(frac)), span)

    def adjoint(self, children):
        # \frac{\partial L}{\partial Y}: the upstream gradient (or a step's adjoint), dY
        frac, of = children[0], children[7]
        close = children[-1]
        return Name("d" + of.value, Span(frac.start_pos, close.end_pos))

    def sqrt(self, children):
        root, arg = children
        return Call("sqrt", (_node(arg),), Span(root.start_pos, arg.span.end), _span(root))

    def norm(self, children):
        bar, operand, close = children
        return Norm(_node(operand), close.value or None, Span(bar.start_pos, close.end_pos))

    def abs(self, children):
        bar, operand, close = children
        span = Span(bar.start_pos, close.end_pos)
        return Call("abs", (_node(operand),), span, _span(bar))

    def ones(self, children):
        (token,) = children
        func, _, digit = token.value.partition("(")
        span = _span(token)
        return Call(func, (Number(int(digit[0]), digit[0], span),), span, span)

    def group(self, children):
        opening, expr, close = children[-3:]
        return _Group(_node(expr), Span(children[0].start_pos, close.end_pos))

    def name(self, children):
        (token,) = children
        return Name(token.value, _span(token))

    def number(self, children):
        (token,) = children
        text = token.value
        try:
            value = int(text) if text.isdigit() else float(text)
        except ValueError:
            raise ParseError(f"number too long: {len(text):,} digits", _span(token)) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ParseError(f"number out of range: {text}", _span(token))
        return Number(value, text, _span(token))


def exponentials(statements: list) -> list:
    """e^{x} as exp(x), unless e is a name of the program (then it is that e, raised)."""
    uses = []
    powers = set()
    for st in statements:
        for n in right_first_preorder(st.expr):
            if type(n) is Binary and n.op == "^" and type(n.left) is Name and n.left.name == "e":
                powers.add(id(n.left))
            if type(n) is Name and n.name == "e":
                uses.append(n)
    if not powers or any(id(n) not in powers for n in uses) or \
            any(st.name == "e" for st in statements):
        return statements
    out = []
    for st in statements:
        out.append(Statement(st.name, st.name_span, _replace_exponentials(st.expr),
                             st.span, st.indices))
    return out


def _replace_exponentials(root):
    """The tree with each e^{p} an exp(p) call (rebuilt children first, without recursion)."""
    from dataclasses import replace

    built: dict[int, object] = {}
    for n in reversed(right_first_preorder(root)):
        kids = [built[id(k)] for k in ast_children(n)]
        if type(n) is Binary and n.op == "^" and type(n.left) is Name and n.left.name == "e":
            built[id(n)] = Call("exp", (kids[1],), n.span, n.left.span)
        elif type(n) is Binary:
            built[id(n)] = replace(n, left=kids[0], right=kids[1])
        elif type(n) in (Neg, Transpose, Norm):
            built[id(n)] = replace(n, operand=kids[0])
        elif type(n) is Call:
            built[id(n)] = replace(n, args=tuple(kids))
        else:
            built[id(n)] = n
    return built[id(root)]
