"""Other tools' spellings: functions of NumPy, MATLAB, PyTorch and textbooks that matcalc's
language writes otherwise, each answered with the exact rewrite of the call as written.

A call `dot(A*x, y)` is refused (the language has one way to write each thing, and the
printers read back what they write), but the message names `(A*x)'*y`, and the rewrite is
a valid input (`errors.Fix`), so that the tests derive every suggestion. A rewrite is a
function of the call's arguments (`Arg`: the text as written, the same as an operand, the
value of a literal number, the kind scalar/vector/row/matrix) returning the text, or None
when those arguments have no rewrite (max(x, y) of two variables).

Names the language reads as one of its own functions (`trace`, `ln`, `sigma`) are not here:
an entry's `accepts` lists them (matcalc.ops.CALLED).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Arg:
    """An argument of a call as the user wrote it: `text`; `atom`, the text parenthesised
    unless it is a name, a number, a call or a parenthesised expression; `value`, the
    number if it is a literal number; `kind`, "scalar", "vector", "row" or "matrix"."""

    text: str
    atom: str
    value: float | None = None
    kind: str = "matrix"


Rewrite = Callable[[Sequence[Arg]], "str | None"]


def _one(f: Callable[[Arg], str]) -> Rewrite:
    return lambda args: f(args[0]) if len(args) == 1 else None


def _two(f: Callable[[Arg, Arg], "str | None"]) -> Rewrite:
    return lambda args: f(args[0], args[1]) if len(args) == 2 else None


def _renamed(name: str) -> Rewrite:
    """Another tool's name for a function of the language: name(the same arguments)."""
    return lambda args: f"{name}({', '.join(a.text for a in args)})" if args else None


def _max(a: Arg, b: Arg) -> str:
    # max(0, x) = relu(x); max(a, b) = b + relu(a - b), elementwise
    if a.value == 0:
        return f"relu({b.text})"
    if b.value == 0:
        return f"relu({a.text})"
    return f"relu({a.text} - {b.atom}) + {b.text}"


def _min(a: Arg, b: Arg) -> str:
    # min(0, x) = -relu(-x); min(a, b) = a - relu(a - b)
    if a.value == 0 or b.value == 0:
        x = b if a.value == 0 else a
        return f"-relu(-{x.atom})"
    return f"{a.text} - relu({a.text} - {b.atom})"


def _norm(args: Sequence[Arg]) -> str | None:
    # norm(x) and norm(x, 2): the Euclidean norm (of a matrix, matcalc's norm2 is the
    # Frobenius norm, which is what the message then says); norm(x, 1): the 1-norm
    if len(args) == 1 or len(args) == 2 and args[1].value == 2:
        return f"norm2({args[0].text})"
    if len(args) == 2 and args[1].value == 1:
        return f"norm1({args[0].text})"
    return None


def _filled(c: int) -> Rewrite:
    """ones(n), ones(n, 1) -> vector(1); ones(1, n) -> vector(1)'; ones(m, n) -> matrix(1)."""
    def rewrite(args: Sequence[Arg]) -> str | None:
        if len(args) > 2:
            return None
        if len(args) == 2 and args[0].value == 1 and args[1].value != 1:
            return f"vector({c})'"
        if len(args) == 2 and args[1].value != 1:
            return f"matrix({c})"
        return f"vector({c})"
    return rewrite


REWRITES: dict[str, Rewrite] = {
    "transpose": _one(lambda x: f"{x.atom}'"),
    "dot":       _two(lambda x, y: f"{x.atom}'*{y.atom}"),     # x . y = x'y
    "inner":     _two(lambda x, y: f"{x.atom}'*{y.atom}"),
    "vdot":      _two(lambda x, y: f"{x.atom}'*{y.atom}"),
    "outer":     _two(lambda x, y: f"{x.atom}*{y.atom}'"),     # x y'
    "matmul":    _two(lambda a, b: f"{a.atom}*{b.atom}"),
    "mm":        _two(lambda a, b: f"{a.atom}*{b.atom}"),
    "multiply":  _two(lambda a, b: f"{a.atom} .* {b.atom}"),
    "max":       _two(_max),
    "maximum":   _two(_max),
    "min":       _two(_min),
    "minimum":   _two(_min),
    "norm":      _norm,
    "frobenius": _one(lambda x: f"norm2({x.text})"),
    "fro":       _one(lambda x: f"norm2({x.text})"),
    "ones":      _filled(1),
    "zeros":     _filled(0),
    "identity":  lambda args: "eye",
    "square":    _one(lambda x: f"{x.atom}.^2"),
    "pow":       _two(lambda x, p: f"{x.atom}.^{p.atom}"),
    "power":     _two(lambda x, p: f"{x.atom}.^{p.atom}"),
    "log2":      _one(lambda x: f"log({x.text})/log(2)"),
    "log10":     _one(lambda x: f"log({x.text})/log(10)"),
    "sinh":      _one(lambda x: f"(exp({x.text}) - exp(-{x.atom}))/2"),
    "cosh":      _one(lambda x: f"(exp({x.text}) + exp(-{x.atom}))/2"),
    "heaviside": _one(lambda x: f"({x.text} > 0)"),
    "sgn":       _renamed("sign"),
    "ReLU":      _renamed("relu"),
    "Tr":        _renamed("tr"),
    "avg":       _renamed("mean"),
    "average":   _renamed("mean"),
    "log_det":   _renamed("logdet"),
    "lse":       _renamed("logsumexp"),
    "log_sum_exp": _renamed("logsumexp"),
    "reduce_sum": _renamed("sum"),
}
