"""SymPy out: a result of matcalc as a SymPy matrix expression (`to_sympy`).

The half of the SymPy bridge that the results (`Derivative.to_sympy`,
`HigherDerivative.to_sympy`) call, so it sits below them and imports none of them:
`matcalc.interop.sympy` (SymPy in, and derivation through the pipeline) is above the
pipeline. The module docstring of `matcalc.interop.sympy` describes the printer.
"""
from __future__ import annotations

import operator
import weakref
from collections.abc import Mapping
from fractions import Fraction
from functools import reduce
from typing import TYPE_CHECKING, Any, cast

from .. import expr as E
from ..errors import MatcalcError, OptionError
from . import missing_extra

try:
    import sympy
    from sympy import (
        Abs,
        Basic,
        Determinant,
        Dummy,
        HadamardPower,
        HadamardProduct,
        Heaviside,
        Identity,
        ImmutableMatrix,
        Integer,
        Inverse,
        KroneckerProduct,
        Lambda,
        MatrixSymbol,
        Max,
        OneMatrix,
        Rational,
        S,
        Symbol,
        Trace,
        ZeroMatrix,
    )
    from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
except ImportError as e:            # the extra is optional: say which one to install
    raise missing_extra("SymPy", "sympy", "matcalc's SymPy interface") from e

if TYPE_CHECKING:
    from ..derivation import Derivative
    from ..jacobian import HigherDerivative

__all__ = ["FORMS", "SympyError", "SympyPrinter", "to_sympy"]


class SympyError(MatcalcError):
    """A SymPy expression matcalc cannot read, or a result SymPy cannot write."""

    kind = "sympy"



# a result -> the SymPy symbols it was derived from (recorded by `from_sympy`)
_ORIGINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# ---- SymPy out -----------------------------------------------------------------------------

def _sigmoid():
    t = Dummy("t")
    return Lambda(t, 1 / (1 + sympy.exp(-t)))


def _relu():
    t = Dummy("t")
    return Lambda(t, Max(t, 0))


def _step():                # matcalc's indicator is 0 at 0, as is Heaviside(x, 0)
    t = Dummy("t")
    return Lambda(t, Heaviside(t, 0))


# matcalc elementwise function -> a SymPy function of one argument (made on first use)
SYMPY_FUNCTIONS = {"exp": lambda: sympy.exp, "log": lambda: sympy.log,
                   "sin": lambda: sympy.sin, "cos": lambda: sympy.cos,
                   "tan": lambda: sympy.tan, "tanh": lambda: sympy.tanh,
                   "sqrt": lambda: sympy.sqrt, "abs": lambda: Abs, "sign": lambda: sympy.sign,
                   "sigmoid": _sigmoid, "relu": _relu, "step": _step,
                   "arcsin": lambda: sympy.asin, "arccos": lambda: sympy.acos,
                   "arctan": lambda: sympy.atan}


def _scalar(e: Basic) -> Basic:
    """A scalar: a 1 x 1 matrix M is written Trace(M), which is its one entry."""
    return Trace(e) if e.is_Matrix else e


def _matrix(e: Basic) -> Basic:
    """A matrix: a scalar s is written s*I_1."""
    return e if e.is_Matrix else e * Identity(1)


def _number(value: float) -> Basic:
    """The SymPy number of a constant: an int exactly, a float as the simplest fraction
    that rounds to it (0.6666666666666666 is 2/3, 0.1 is 1/10), else as a Float."""
    if isinstance(value, int):
        return Integer(value)
    frac = Fraction(value).limit_denominator(10 ** 12)
    if float(frac) == value:
        return Rational(frac.numerator, frac.denominator)
    return sympy.Float(value)


class SympyPrinter:
    """IR -> SymPy, one `_print_<NodeClass>(node, *printed children)` per node kind,
    children printed first, each shared node once. `symbols` maps a matcalc name
    (variable or dimension) to the SymPy object to use; other names become a fresh
    `Symbol` (scalars and dimensions) or `MatrixSymbol`."""

    def __init__(self, symbols: Mapping[str, Basic] | None = None):
        self.symbols: dict[str, Basic] = dict(symbols or {})

    def doprint(self, node: E.Node) -> Basic:
        memo: dict[E.Node, Basic] = {}
        for n in E.walk(node):
            method = getattr(self, "_print_" + type(n).__name__, None)
            if method is None:
                raise SympyError(f"{type(n).__name__} has no SymPy counterpart, so this "
                                 f"result cannot be written as a SymPy expression")
            memo[n] = method(n, *[memo[c] for c in n.children])
        return memo[node]

    def dim(self, d: E.Dim) -> Basic:
        if isinstance(d, int):
            return Integer(d)
        sym = self.symbols.get(d)
        if sym is None:
            sym = self.symbols[d] = Symbol(d)
        return sym

    def shape(self, node: E.Node) -> tuple[Basic, Basic]:
        return (self.dim(node.shape[0]), self.dim(node.shape[1]))

    # -- leaves ----------------------------------------------------------------------------
    def _print_Var(self, n):
        sym = self.symbols.get(n.name)
        if sym is None:
            sym = Symbol(n.name) if n.is_scalar else MatrixSymbol(n.name, *self.shape(n))
            self.symbols[n.name] = sym
        return sym

    def _print_Const(self, n):
        return _number(n.value)

    def _print_DimValue(self, n):
        return self.dim(n.dim)

    def _print_Zero(self, n):
        return S.Zero if n.is_scalar else ZeroMatrix(*self.shape(n))

    def _print_Ones(self, n):
        return S.One if n.is_scalar else OneMatrix(*self.shape(n))

    def _print_Identity(self, n):
        return Identity(self.dim(n.n))

    # -- linear structure ------------------------------------------------------------------
    def _print_Add(self, n, *terms):
        if n.is_scalar and not all(t.is_Matrix for t in terms):
            terms = tuple(_scalar(t) for t in terms)
        return reduce(operator.add, terms)

    def _print_Scale(self, n, s, x):
        return _scalar(s) * x

    def _print_MatMul(self, n, *factors):
        coef = reduce(operator.mul, [f for f in factors if not f.is_Matrix], S.One)
        mats = [f for f in factors if f.is_Matrix]
        return coef * reduce(operator.mul, mats) if mats else coef

    def _print_Transpose(self, n, x):
        return x.T if x.is_Matrix else x

    def _print_Broadcast(self, n, x):
        (r, c), (R, C) = n.x.shape, self.shape(n)
        if (r, c) == (1, 1):                      # a scalar everywhere: s 1 1'
            return _scalar(x) * OneMatrix(R, C)
        if r == 1:                                # a row down: 1 r
            return OneMatrix(R, 1) * x
        return x * OneMatrix(1, C)                # a column across: c 1'

    # -- elementwise -----------------------------------------------------------------------
    def _print_Hadamard(self, n, *factors):
        if n.is_scalar:
            return reduce(operator.mul, [_scalar(f) for f in factors])
        return HadamardProduct(*factors)

    def _print_Divide(self, n, a, b):
        if n.is_scalar:
            return _scalar(a) / _scalar(b)
        return HadamardProduct(a, HadamardPower(b, -1))

    def _print_Power(self, n, x, p):
        if n.is_scalar:
            return _scalar(x) ** _scalar(p)
        return HadamardPower(x, _scalar(p))

    def _print_Func(self, n, x):
        make = SYMPY_FUNCTIONS.get(n.name)
        if make is None:
            raise SympyError(f"the function {n.name} has no SymPy counterpart")
        f = make()
        return f(_scalar(x)) if n.is_scalar else x.applyfunc(f)

    # -- reductions and matrix functions ---------------------------------------------------
    def _print_Sum(self, n, x):
        return _sum_entries(n.x, x, self)

    def _print_Trace(self, n, x):
        return Trace(x) if x.is_Matrix else x

    def _print_Norm1(self, n, x):
        if not x.is_Matrix:
            return Abs(x)
        return _sum_entries(n.x, x.applyfunc(Abs), self)

    def _print_Norm2(self, n, x):                 # sqrt(tr(X'X)): Euclid, Frobenius
        return sympy.sqrt(Trace(x.T * x)) if x.is_Matrix else Abs(x)

    def _print_Det(self, n, x):
        return Determinant(x) if x.is_Matrix else x

    def _print_LogDet(self, n, x):
        return sympy.log(Determinant(x) if x.is_Matrix else x)

    def _print_Inv(self, n, x):
        return Inverse(x) if x.is_Matrix else 1 / x

    def _print_DiagMat(self, n, v):
        return DiagMatrix(v) if v.is_Matrix else v

    def _print_Tril(self, n, x):
        raise SympyError("tril has no SymPy matrix-expression counterpart")

    _print_Triu = _print_Tril

    def _print_DiagVec(self, n, x):
        return DiagonalOf(x) if x.is_Matrix else x

    def _print_Softmax(self, n, x):
        # per column: exp(X) ./ (1 1' exp(X)), each entry over its column's sum
        if n.is_scalar:
            return S.One
        ex = x.applyfunc(sympy.exp)
        rows = self.dim(n.x.shape[0])
        return HadamardProduct(ex, HadamardPower(OneMatrix(rows, rows) * ex, -1))

    def _print_LogSumExp(self, n, x):
        # per column: log(1' exp(X))
        if not x.is_Matrix:
            return x
        sums = OneMatrix(1, self.dim(n.x.shape[0])) * x.applyfunc(sympy.exp)
        return sympy.log(_scalar(sums)) if n.is_scalar else sums.applyfunc(sympy.log)


def _sum_entries(node: E.Node, x: Basic, printer: SympyPrinter) -> Basic:
    """The sum of the entries of `x` (the printed `node`): 1' X 1, a 1 x 1 matrix."""
    if not x.is_Matrix:
        return x
    r, c = node.shape
    if r != 1:
        x = OneMatrix(1, printer.dim(r)) * x
    if c != 1:
        x = x * OneMatrix(printer.dim(c), 1)
    return x


def commutation_matrix(p: int, q: int) -> Basic:
    """K with K vec(A) = vec(A') for a p x q matrix A (vec column-major): pq x pq."""
    return ImmutableMatrix(p * q, p * q,
                           lambda r, c: 1 if (r % q) * p + r // q == c else 0)


def _kron_to_sympy(kron, printer: SympyPrinter) -> Basic:
    """The Kronecker form (matcalc.tensor.Kron) as a SymPy matrix expression."""
    p, q = kron.k_shape
    terms = []
    for t in kron.terms:
        k = KroneckerProduct(_matrix(printer.doprint(t.left)), _matrix(printer.doprint(t.right)))
        if t.commute is not None:
            if not (isinstance(p, int) and isinstance(q, int)):
                raise SympyError(f"this Kronecker form uses the commutation matrix K of a "
                                 f"{p} x {q} matrix, which SymPy cannot write for symbolic "
                                 f"sizes",
                                 hint="use integer dimensions, or to_sympy(form='map') for "
                                      "the linear map dX -> J(dX)")
            K = commutation_matrix(p, q)
            k = k * K if t.commute == "right" else K.T * k
        coef = _number(t.coef)
        if t.scalar is not None:
            coef = coef * _scalar(printer.doprint(t.scalar))
        terms.append(coef * k)
    return reduce(operator.add, terms)


FORMS = ("matrix", "kron", "map")


def _printer(owner: Any, symbols: Mapping[str, Basic] | None) -> SympyPrinter:
    """The printer for a result: the symbols it was derived from, `symbols` over them."""
    table = dict(_ORIGINS.get(owner, {}))
    table.update(symbols or {})
    return SympyPrinter(table)


def to_sympy(d: Derivative | HigherDerivative, form: str | None = None,
             symbols: Mapping[str, Basic] | None = None) -> Basic:
    """A derivative as a SymPy matrix expression over the symbols it was derived from
    (those of `from_sympy`, else a `Symbol` or `MatrixSymbol` per name, dimensions as
    `Symbol`s; `symbols` overrides by name).

    For a Jacobian, Hessian block or Hessian-vector product, `form` chooses: "matrix"
    (the 2-D result), "kron" (d vec(Y)/d vec(X) as Kronecker products, vec column-major,
    in the layout's orientation: the numerator layout's rows index vec(Y)), "map" (the
    linear map as `Lambda(dX, J(dX))`); by default the matrix if there is one, else the
    Kronecker form."""
    if not hasattr(d, "owner"):      # a gradient or backprop formula (a Derivative)
        g = cast("Derivative", d)
        if form not in (None, "matrix"):
            raise OptionError(f"form {form!r}: a gradient has one form, its matrix")
        return _printer(g.derivation, symbols).doprint(g.node)
    h = cast("HigherDerivative", d)  # a Jacobian, Hessian block or H v
    printer = _printer(h.owner, symbols)
    if form is not None and form not in FORMS:
        raise OptionError(f"unknown form {form!r}: expected one of {', '.join(FORMS)}")
    if form in (None, "matrix") and h.node is not None:
        return printer.doprint(h.node)
    if form in (None, "kron") and h.kron is not None:
        return _kron_to_sympy(h.kron, printer)
    if form == "map" and h.jvp is not None and h.dvar is not None:
        return Lambda(printer.doprint(h.dvar), printer.doprint(h.jvp))
    have = [f for f, x in (("matrix", h.node), ("kron", h.kron), ("map", h.jvp))
            if x is not None]
    raise SympyError(f"{h.lhs_text} has no {form or 'matrix or Kronecker'} form"
                     + (f"; it has: {', '.join(have)}" if have else ""),
                     hint="the full tensor is in .numpy; to_sympy(form='map') gives the "
                          "linear map dX -> J(dX)" if "map" in have else None)
