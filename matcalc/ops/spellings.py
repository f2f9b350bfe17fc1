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
    # exact rewrites of functions that a near spelling would misname (expit is not exp)
    "expit":     _renamed("sigmoid"),
    "expm1":     _one(lambda x: f"exp({x.text}) - 1"),
    "log1p":     _one(lambda x: f"log(1 + {x.text})"),
    "exp2":      _one(lambda x: f"2.^{x.atom}"),
    "logaddexp": _two(lambda a, b: f"log(exp({a.text}) + exp({b.text}))"),
    "logit":     _one(lambda x: f"log({x.atom} ./ (1 - {x.atom}))"),
    "softmin":   _one(lambda x: f"softmax(-{x.atom})"),
    "silu":      _one(lambda x: f"{x.atom} .* sigmoid({x.text})"),
    "swish":     _one(lambda x: f"{x.atom} .* sigmoid({x.text})"),
    "softsign":  _one(lambda x: f"{x.atom} ./ (1 + abs({x.text}))"),
    "hardtanh":  _one(lambda x: f"relu({x.text} + 1) - relu({x.text} - 1) - 1"),
    "relu6":     _one(lambda x: f"relu({x.text}) - relu({x.text} - 6)"),
    "sqr":       _one(lambda x: f"{x.atom}.^2"),
    "sumsq":     _one(lambda x: f"sum({x.atom}.^2)"),
    "sum_squares": _one(lambda x: f"sum({x.atom}.^2)"),
    "l2norm":    _renamed("norm2"),
    "l1norm":    _renamed("norm1"),
    "fronorm":   _renamed("norm2"),
    "norm_fro":  _renamed("norm2"),
    "absolute":  _renamed("abs"),
    "diagonal":  _renamed("diag"),
    "diagflat":  _renamed("diag"),
}

# Other tools' functions that the language does not have, and what each is: refused with
# that said, never with a near spelling that means something else (expm is not exp).
NOT_IN_LANGUAGE: dict[str, str] = {
    "expm": "the matrix exponential", "logm": "the matrix logarithm",
    "sqrtm": "the matrix square root", "pinv": "the pseudo-inverse",
    "cumsum": "a cumulative sum", "cumprod": "a cumulative product", "prod": "a product",
    "median": "the median", "argmax": "an index", "argmin": "an index",
    "amax": "a maximum", "amin": "a minimum", "var": "the variance",
    "std": "the standard deviation", "triu": "the upper triangle", "tril": "the lower triangle",
    "cross": "the cross product", "kron": "the Kronecker product", "einsum": "index notation",
    "real": "a real part", "imag": "an imaginary part", "lu": "a factorization",
    "qr": "a factorization", "svd": "a factorization", "eig": "an eigendecomposition",
    "eigvals": "the eigenvalues", "cholesky": "a factorization", "chol": "a factorization",
    "rank": "the rank", "cond": "the condition number", "erf": "the error function",
    "gelu": "the GELU (with the error function)", "elu": "the ELU", "selu": "the SELU",
    "sinc": "the sinc function", "floor": "rounding", "ceil": "rounding",
    "round": "rounding", "clip": "clipping", "clamp": "clipping", "hypot": "the hypotenuse",
    "arctan2": "the two-argument arctangent", "atan2": "the two-argument arctangent",
    "slogdet": "a sign and log-determinant pair (logdet(X) is log(det(X)) for det(X) > 0)",
}
