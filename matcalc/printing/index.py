"""Printers for higher-order derivatives: index notation, Kronecker (vec) forms, einsum.

A `Tensor` (matcalc.tensor) prints as `δ_ik A_jl` in text, `\\delta_{ik} A_{jl}` in LaTeX and
`np.einsum('ik,jl->ijkl', np.eye(N), A)` in NumPy; a `Kron` as `(A ⊗ I_N)*K`,
`\\left(A \\otimes I_{N}\\right) K` and the like. The factors themselves are IR nodes,
printed by the ordinary printers; a factor that is not a single symbol or call is
parenthesised before its subscript: `(A + A')_ij`. `rename` maps a node to the Var that
names it (`s` for `sigmoid(...)`), as the caller chose.
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping

from .. import ops
from ..expr import (
    Const,
    DimValue,
    Func,
    Identity,
    Node,
    Transpose,
    Var,
    substitute,
)
from .. import expr as E
from .precedence import format_number

CALLS = (Func, *ops.BY_NODE)             # every operation of the registry prints as a call


def _atomic(node: Node) -> bool:
    """Whether a factor's printed form takes a subscript without parentheses."""
    if isinstance(node, (Var, DimValue)) or (isinstance(node, Const) and node.value >= 0):
        return True
    return isinstance(node, CALLS)          # calls, and step(z), which prints as (z > 0)


def _named(node: Node, rename: Mapping[Node, Node] | None) -> Node:
    return substitute(node, dict(rename)) if rename else node


def _coef_text(coef, times: str = " ") -> tuple[str, str]:
    """(sign, magnitude prefix) of a term's numeric coefficient."""
    sign = "-" if coef < 0 else "+"
    mag = abs(coef)
    return sign, "" if mag == 1 else format_number(mag) + times


def _join(parts: list[tuple[str, str]], empty: str = "0") -> str:
    if not parts:
        return empty
    out = ""
    for n, (sign, body) in enumerate(parts):
        if n == 0:
            out = ("-" if sign == "-" else "") + body
        else:
            out += f" {sign} {body}"
    return out


# ---- scalar factors -------------------------------------------------------------------------

def split_scalar(coef, scalars) -> tuple[list, list]:
    """(numerator, denominator) parts of |coef| times the scalar nodes: numbers and nodes
    with their exponents; `N^(-1)` goes to the denominator as N."""
    from ..expr import Power, Scale
    num, den = [], []
    if abs(coef) != 1:
        num.append(abs(coef))
    stack = list(reversed(scalars))
    while stack:
        s = stack.pop()
        if isinstance(s, Scale):
            stack += [s.x, s.s]
        elif isinstance(s, Const):
            if s.value != 1:
                num.append(s.value)
        elif isinstance(s, Power) and isinstance(s.p, Const) and s.p.value < 0:
            den.append(s.x if s.p.value == -1 else Power(s.x, Const(-s.p.value)))
        else:
            num.append(s)
    return num, den


def _scalar_text(s, rename) -> str:
    from .text import to_text
    if isinstance(s, (int, float)):
        return format_number(s)
    node = _named(s, rename)
    text = to_text(node)
    return text if _atomic(node) else f"({text})"


def _scalar_latex(s, rename, names) -> str:
    from .latex import to_latex
    if isinstance(s, (int, float)):
        return format_number(s)
    node = _named(s, rename)
    text = to_latex(node, names)
    return text if _atomic(node) else f"\\left({text}\\right)"


def _with_scalars_text(body: str, coef, scalars, rename, times: str) -> str:
    """`2 δ_ik x_l/N`: numbers and scalar factors before the body, divisions after."""
    num, den = split_scalar(coef, scalars)
    out = times.join([_scalar_text(s, rename) for s in num] + ([body] if body else []))
    out = out or "1"
    for d in den:
        out += "/" + _scalar_text(d, rename)
    return out


def _with_scalars_latex(body: str, coef, scalars, rename, names) -> str:
    num, den = split_scalar(coef, scalars)
    prefix = ""
    if den:
        prefix = "\\frac{1}{" + " ".join(_scalar_latex(d, rename, names) for d in den) + "} "
    out = " ".join([_scalar_latex(s, rename, names) for s in num] + ([body] if body else []))
    return prefix + (out or "1")


# ---- index notation ----------------------------------------------------------------------

def _split_term(term):
    """(scalar factors, deltas and indexed factors) of a term; ones factors carry an index
    for NumPy only and are left out."""
    from ..expr import Ones
    scalars = [f.node for f in term.factors if not f.idx]
    indexed = [f for f in term.factors if f.idx and not isinstance(f.node, Ones)]
    return scalars, indexed


def index_text(tensor, rename=None) -> str:
    """`δ_ik A_jl - inv(X)_li inv(X)_jk`: the right-hand side of the index form."""
    from .text import to_text
    parts = []
    for term in tensor.terms:
        scalars, indexed = _split_term(term)
        bits = []
        for f in indexed:
            sub = "".join(f.idx)
            if f.is_delta:
                bits.append(f"δ_{sub}")
                continue
            node = _named(f.node, rename)
            body = to_text(node)
            bits.append(f"{body if _atomic(node) else f'({body})'}_{sub}")
        text = _with_scalars_text(" ".join(bits), term.coef, scalars, rename, " ")
        parts.append(("-" if term.coef < 0 else "+", text))
    return _join(parts)


_SIMPLE_LATEX = re.compile(r"[A-Za-z]|\\[A-Za-z]+|\\mathrm\{[^{}]*\}")


_PLAIN_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def _index_tex(i: str) -> str:
    """An index in LaTeX: `a₁` (a summed index beyond the alphabet) is a_{1}."""
    base = i.rstrip("₀₁₂₃₄₅₆₇₈₉")
    return i if base == i else f"{base}_{{{i[len(base):].translate(_PLAIN_DIGITS)}}}"


def index_latex(tensor, rename=None, names=None) -> str:
    from .latex import to_latex
    parts = []
    for term in tensor.terms:
        scalars, indexed = _split_term(term)
        bits = []
        for f in indexed:
            sub = "".join(_index_tex(i) for i in f.idx)
            if f.is_delta:
                bits.append(f"\\delta_{{{sub}}}")
                continue
            body = to_latex(_named(f.node, rename), names)
            if not _SIMPLE_LATEX.fullmatch(body):
                body = _parenthesised_latex(body)
            bits.append(f"{body}_{{{sub}}}")
        text = _with_scalars_latex(" ".join(bits), term.coef, scalars, rename, names)
        parts.append(("-" if term.coef < 0 else "+", text))
    return _join(parts)


def einsum_code(tensor, order: tuple[str, ...], numpy_of: Callable[[Node], str],
                dim: Callable[[object], str]) -> str:
    """One NumPy expression for the full tensor, axes in `order`: a sum of `np.einsum`
    calls (an index present only on the left is carried by `np.ones`; a term with more
    indices than np.einsum has letters is contracted pairwise, see `einsum_plan`)."""
    from ..tensor import einsum_plan
    parts = []
    for term in tensor.terms:
        ops, subs = [], []
        for f in term.factors:
            if f.is_delta:
                ops.append(f"np.eye({dim(f.node.n)})")
            else:
                ops.append(numpy_of(f.node))
            subs.append(f.idx)
        present = {i for s in subs for i in s}
        for i in order:
            if i not in present:
                ops.append(f"np.ones({dim(tensor.sizes[i])})")
                subs.append((i,))
        if len(ops) == 1 and subs[0] == tuple(order):
            body = ops[0] if len(ops[0].split()) == 1 else f"({ops[0]})"
        else:
            body = _plan_code(einsum_plan(subs, tuple(order)), ops)
        sign, mag = _coef_text(term.coef, " * ")
        parts.append((sign, mag + body))
    if not parts:
        shape = ", ".join(dim(tensor.sizes[i]) for i in order)
        return f"np.zeros(({shape}{',' if len(order) == 1 else ''}))"
    return _join(parts)


def _plan_code(plan, ops: list[str]) -> str:
    _, spec, args = plan
    codes = [_plan_code(a, ops) if isinstance(a, tuple) else ops[a] for a in args]
    extra = ", optimize=True" if len(codes) > 2 else ""
    return f"np.einsum('{spec}', {', '.join(codes)}{extra})"


# ---- Kronecker forms ----------------------------------------------------------------------

def _kron_factor_text(node: Node, rename) -> str:
    from ..expr import Ones
    from .text import to_text
    if isinstance(node, Identity):
        return f"I_{node.n}"
    if isinstance(node, Ones):
        r, c = node.shape
        return f"1_{r}" if c == 1 else f"1_{c}'"
    node = _named(node, rename)
    text = to_text(node)
    plain = _atomic(node) or (isinstance(node, Transpose) and _atomic(node.x))
    return text if plain else f"({text})"


def _transpose_sign(names) -> str:
    """The superscript of a transpose in the caller's LaTeX style (\\top or T)."""
    from .latex import TRANSPOSES
    return TRANSPOSES[getattr(names, "transpose", "top")]


def _sub_latex(x) -> str:
    text = str(x)
    return text if len(text) == 1 else f"{{{text}}}"


def _kron_factor_latex(node: Node, rename, names) -> str:
    from ..expr import Ones
    from .latex import to_latex
    if isinstance(node, Identity):
        return f"I_{_sub_latex(node.n)}"
    if isinstance(node, Ones):
        r, c = node.shape
        return f"\\mathbf{{1}}_{_sub_latex(r)}" if c == 1 else \
            f"\\mathbf{{1}}_{_sub_latex(c)}^{_transpose_sign(names)}"
    text = to_latex(_named(node, rename), names)
    plain = _atomic(node) or (isinstance(node, Transpose) and _atomic(node.x))
    return text if plain else _parenthesised_latex(text)


def _parenthesised_latex(text: str) -> str:
    """(text), with delimiters that grow only around a fraction, as the LaTeX printer does."""
    from .latex import is_tall
    return f"\\left({text}\\right)" if is_tall(text) else f"({text})"


def _kron_body(t, many: bool, factor, otimes: str, k: str, kt: str, times: str,
               lp: str, rp: str) -> str:
    """One term's (A ⊗ B) with its commutation matrix; (I ⊗ I) K is K."""
    if isinstance(t.left, Identity) and isinstance(t.right, Identity) and t.commute:
        return k if t.commute == "right" else kt
    body = f"{factor(t.left)} {otimes} {factor(t.right)}"
    scaled = t.scalar is not None or t.coef not in (1, -1)
    if t.commute is not None or scaled or many or t.coef == -1:
        body = f"{lp}{body}{rp}"
    if t.commute == "right":
        body += times + k
    elif t.commute == "left":
        body = kt + times + body
    return body


def kron_text(kron, rename=None) -> str:
    """`-(inv(X) ⊗ inv(X)')*K`, `A ⊗ I_N`, `K'*(x ⊗ I_m)`, `(x' ⊗ I_N)/N`."""
    parts = []
    many = len(kron.terms) > 1
    for t in kron.terms:
        body = _kron_body(t, many, lambda n: _kron_factor_text(n, rename), "⊗", "K", "K'",
                          "*", "(", ")")
        scalars = [t.scalar] if t.scalar is not None else []
        parts.append(("-" if t.coef < 0 else "+",
                      _with_scalars_text(body, t.coef, scalars, rename, "*")))
    return _join(parts)


def kron_latex(kron, rename=None, names=None) -> str:
    parts = []
    many = len(kron.terms) > 1
    for t in kron.terms:
        body = _kron_body(t, many, lambda n: _kron_factor_latex(n, rename, names),
                          "\\otimes", "K", "K^" + _transpose_sign(names), " ", "(", ")")
        scalars = [t.scalar] if t.scalar is not None else []
        parts.append(("-" if t.coef < 0 else "+",
                      _with_scalars_latex(body, t.coef, scalars, rename, names)))
    return _join(parts)


# ---- contractions (einsum nodes of the IR) ----------------------------------------------

FREE_NAMES = "ijklmn"                      # a contraction's free indices, in output order
SUMMED_NAMES = "pqrstuvwabcdefgh"          # its summed ones
# a contraction inside an operand of another: other letters, so that the two scopes of
# `T[p,q,i]*(1 - tanh(T[a,b,u]*x[u]).^2)[p,q]` do not look like one
NESTED_NAMES = ("abcdef", "uvwxyzgh")
INDEX_NAMES = frozenset(FREE_NAMES + SUMMED_NAMES + "".join(NESTED_NAMES))


def contraction_names(e, nested: bool = False) -> tuple[list[int], dict[str, str]]:
    """How a Contract prints in index notation: the order of its operands (those with the
    earliest output index first, so that the free indices appear in output order, as
    Einstein's convention reads them back) and each einsum letter's index name."""
    memo = _NAMES[nested]
    got = memo.get(e)
    if got is None:
        got = memo[e] = _contraction_names(e, nested)
    order, names = got
    return list(order), dict(names)


# contraction_names once per (interned) node, as long as the node lives: a printer asks
# again for every context a contraction is printed in
_NAMES: tuple[weakref.WeakKeyDictionary, weakref.WeakKeyDictionary] = (
    weakref.WeakKeyDictionary(), weakref.WeakKeyDictionary())


def _contraction_names(e, nested: bool) -> tuple[tuple[int, ...], tuple[tuple[str, str], ...]]:
    free_names, summed_names = NESTED_NAMES if nested else (FREE_NAMES, SUMMED_NAMES)
    out = e.out
    rank = {ch: k for k, ch in enumerate(out)}
    order = sorted(range(len(e.operands)), key=lambda k: min(
        (rank[ch] for ch in e.ins[k] if ch in rank), default=len(out)))
    names = {ch: free_names[k] if k < len(free_names) else f"{free_names[0]}{k}"
             for k, ch in enumerate(out)}
    # a summed index never takes the name of a variable it multiplies: T[i,p,q]*p[p]
    # would read as two things called p
    variables = {n.name for n in E.walk(e) if isinstance(n, E.Var)}
    pool = iter(name for name in list(summed_names) +
                [f"{summed_names[0]}{k}" for k in range(len(e.out) + 64)]
                if name not in variables)
    for k in order:
        for ch in e.ins[k]:
            if ch not in names:
                names[ch] = next(pool)
    return tuple(order), tuple(names.items())


def _top_contraction(node: E.Node) -> E.Contract | None:
    """The contraction that prints the free indices of a formula: itself, or the first
    one reached through what an index statement may wrap around it (the terms of a sum,
    a scaling, an elementwise function), which all name their axes i, j, ... alike."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, E.Contract):
            return n
        if isinstance(n, E.Add):
            stack += reversed(n.terms)
        elif isinstance(n, (E.Scale, E.Func)):
            stack.append(n.x)
    return None


def free_indices(node: E.Node, latex: bool = False) -> str:
    """The free indices of a formula in index notation, for its left side: `[i,j]`
    (`_{ij}` in LaTeX), as the printers name them; "" for a matrix formula. With them the
    line is an index statement, which reads back exactly (an index written twice on the
    right may be free, as the batch index i of dX[i,j] = Y[i,p]*dZ[i,q]*A[q,j,p])."""
    top = _top_contraction(node)
    if top is None:
        return ""
    names = contraction_names(top)[1]
    free = [names[ch] for ch in top.out]
    if not free:
        return ""
    return f"_{{{''.join(free)}}}" if latex else f"[{','.join(free)}]"
