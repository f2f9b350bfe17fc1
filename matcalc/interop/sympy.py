"""SymPy matrix expressions in and out of matcalc.

In: `from_sympy` reads a SymPy matrix expression (`MatrixSymbol`, `MatAdd`, `MatMul`,
`Trace`, `Determinant`, `HadamardProduct`, `applyfunc`, ...) into matcalc's IR, one
`_read_<SymPyClass>` method per class, found along the class's MRO as SymPy's own
printers find theirs, and derives it with matcalc's engine. The IR is built directly,
never through text: nothing is parsed or evaluated, and shapes come from the symbols (a
`Symbol` dimension stays a named dimension, an `Integer` one a number).

Out: `to_sympy` prints an IR node as a SymPy matrix expression over the same symbols, a
printer in SymPy's style (one `_print_<NodeClass>` method per node kind). Kinds with no
SymPy class of their own are written exactly with the classes SymPy has: a broadcast is a
product with `OneMatrix`, softmax a quotient by `OneMatrix*exp(X)`, relu `Max(x, 0)`, the
indicator `Heaviside(x, 0)`. A kind that has no exact spelling is an error naming it.

Scalars. matcalc's IR is all 2-D (a scalar is 1 x 1), while SymPy keeps scalars
(`Trace(X)`) apart from 1 x 1 matrices (`x.T*A*x`) and refuses to add one to the other.
The printer keeps the form each node has and converts only where SymPy needs the other
one: a 1 x 1 matrix M becomes the scalar `Trace(M)` (exact, and still an expression SymPy
can differentiate), and a scalar among matrix factors becomes a coefficient.

`sympy_diff(expr, X)` is `expr.diff(X)` for a scalar `expr` with SymPy's convention (the
gradient has the shape of X: `(x.T*A*x).diff(x)` is `A*x + A.T*x`), computed by matcalc.
"""
from __future__ import annotations

import operator
import weakref
from collections.abc import Iterable, Mapping
from fractions import Fraction
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeAlias

from .. import expr as E
from ..errors import LimitError, MatcalcError, NameError_, OptionError
from ..ops import ELEMENTWISE
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
        MatrixExpr,
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
    from ..derivation import Derivation, Derivative
    from ..jacobian import HigherDerivation, HigherDerivative

    AnyDerivation: TypeAlias = Derivation | HigherDerivation

__all__ = ["SympyError", "from_sympy", "sympy_diff", "to_sympy"]


class SympyError(MatcalcError):
    """A SymPy expression matcalc cannot read, or a result SymPy cannot write."""

    kind = "sympy"


SUPPORTED = ("MatrixSymbol, Symbol, numbers, MatAdd/Add, MatMul/Mul, Pow, MatPow (integer "
             "exponent), Transpose, Inverse, Trace, Determinant, HadamardProduct, "
             "HadamardPower, Identity, OneMatrix, ZeroMatrix, DiagMatrix, DiagonalOf, "
             "applyfunc (ElementwiseApplyFunction), exp, log, sin, cos, tan, tanh, sqrt, "
             "Abs, sign, Heaviside, Max(x, 0)")

# SymPy function class name -> matcalc elementwise function (used when matcalc has it)
FUNCTIONS = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
             "tanh": "tanh", "Abs": "abs", "sign": "sign", "Heaviside": "step",
             "asin": "arcsin", "acos": "arccos", "atan": "arctan"}


# ---- SymPy in ------------------------------------------------------------------------------

class _Reader:
    """SymPy -> IR. `symbols` keeps every SymPy object read by its matcalc name (the
    variables and the dimension symbols), so that results print back over the very same
    objects; `inputs` the variables in order of first appearance."""

    def __init__(self, expr: Basic):
        self.inputs: dict[str, E.Var] = {}
        self.symbols: dict[str, Basic] = {}
        self.bound: dict[Basic, E.Node] = {}     # a Lambda's variable -> its matrix
        self.memo: dict[Basic, E.Node] = {}
        # every symbol in a shape is a dimension, also where it is used as a value
        self.dims: set[Basic] = set()
        for sub in sympy.preorder_traversal(expr):
            if isinstance(sub, MatrixExpr):
                for d in sub.shape:
                    self.dims |= getattr(d, "free_symbols", set())

    def read(self, e: Basic) -> E.Node:
        if not self.bound and e in self.memo:
            return self.memo[e]
        for cls in type(e).__mro__:
            method = getattr(self, "_read_" + cls.__name__, None)
            if method is not None:
                node = method(e)
                break
        else:
            raise self.unsupported(e)
        if not self.bound:
            self.memo[e] = node
        return node

    def unsupported(self, e: Basic, why: str = "") -> SympyError:
        what = type(e).__name__
        if isinstance(e, sympy.MatrixBase) or what.startswith("Immutable"):
            why = why or ("an explicit matrix is not a matrix expression; write it with "
                          "MatrixSymbol")
        return SympyError(f"matcalc cannot read {what}: {_short(e)}" + (f" ({why})" if why else ""),
                          hint=f"matcalc reads {SUPPORTED}")

    # -- names and shapes ------------------------------------------------------------------
    def _name(self, name: str, obj: Basic, role: str) -> str:
        from ..ops import LANGUAGE
        from ..shapes import _is_identifier
        if not _is_identifier(name) or name in LANGUAGE:
            raise SympyError(f"the {role} name {name!r} is not a name matcalc can write "
                             f"(letters, digits and _, starting with a letter, and not one "
                             f"of matcalc's function names)",
                             hint=f"rename it, e.g. expr.subs({name}, ...) with a symbol named "
                                  f"{_suggest(name)!r}")
        known = self.symbols.get(name)
        if known is not None and known != obj:
            raise SympyError(f"two different symbols are named {name}: {_describe(known)} "
                             f"and {_describe(obj)}",
                             hint="give them different names")
        self.symbols[name] = obj
        return name

    def dim(self, d: Basic, owner: Basic) -> E.Dim:
        if isinstance(d, (int, Integer)) and int(d) > 0:
            return int(d)
        if isinstance(d, Symbol):
            return self._name(d.name, d, "dimension")
        raise SympyError(f"the dimension {d} of {_short(owner)} is neither a symbol nor a "
                         f"positive integer", hint="use a new Symbol for that dimension")

    def shape(self, e: Basic) -> E.Shape:
        return (self.dim(e.shape[0], e), self.dim(e.shape[1], e))

    def variable(self, name: str, shape: E.Shape, obj: Basic) -> E.Var:
        self._name(name, obj, "variable")
        v = E.Var(name, shape)
        self.inputs.setdefault(name, v)
        return v

    # -- leaves ----------------------------------------------------------------------------
    def _read_MatrixSymbol(self, e):
        return self.variable(e.name, self.shape(e), e)

    def _read_Symbol(self, e):
        if e in self.bound:
            return self.bound[e]
        if e in self.dims:                       # a dimension used as a value: its size
            return E.DimValue(self._name(e.name, e, "dimension"))
        return self.variable(e.name, E.SCALAR, e)

    def _read_Rational(self, e):                 # Integer is a Rational too
        p, q = int(e.p), int(e.q)
        if q == 1:
            return E.Const(p)
        inv_q = E.Power(E.Const(q), E.Const(-1))   # p/q as matcalc reads it
        return inv_q if p == 1 else E.Scale(inv_q, E.Const(p))

    def _read_Float(self, e):
        return E.Const(float(e))

    def _read_Exp1(self, e):                     # Euler's number, exactly: exp(1)
        return E.Func("exp", E.Const(1))

    def _read_NumberSymbol(self, e):             # pi, ...: to double precision
        return E.Const(float(e))

    def _read_Identity(self, e):
        return E.Identity(self.dim(e.rows, e))

    def _read_OneMatrix(self, e):
        return E.Ones(self.shape(e))

    def _read_ZeroMatrix(self, e):
        return E.Zero(self.shape(e))

    # -- sums and products -----------------------------------------------------------------
    def _read_Add(self, e):                      # scalars; inside applyfunc, entries
        return reduce(E.add, [self.read(a) for a in e.args])

    def _read_MatAdd(self, e):
        return reduce(E.add, [self.read(a) for a in e.args])

    def _read_Mul(self, e):                      # scalars; inside applyfunc, entrywise
        return reduce(E.mul, [self.read(a) for a in e.args])

    def _read_MatMul(self, e):
        scalars = [self.read(a) for a in e.args if not a.is_Matrix]
        mats = [self.read(a) for a in e.args if a.is_Matrix]
        chain = mats[0] if len(mats) == 1 else E.MatMul(tuple(mats))
        return E.Scale(reduce(E.mul, scalars), chain) if scalars else chain

    def _read_HadamardProduct(self, e):
        return E.Hadamard(tuple(self.read(a) for a in e.args))

    def _read_Pow(self, e):
        base, p = e.args
        if p == S.Half:
            return E.Func("sqrt", self.read(base))
        return self._power(e, self.read(base), self.read(p))

    def _read_HadamardPower(self, e):
        return self._power(e, self.read(e.base), self.read(e.exp))

    def _power(self, e, x: E.Node, p: E.Node) -> E.Node:
        if not p.is_scalar:
            raise self.unsupported(e, "an exponent that is a matrix")
        return E.Power(x, p)

    def _read_MatPow(self, e):
        base, k = e.args
        if not (isinstance(k, Integer) or getattr(k, "is_Integer", False)):
            raise self.unsupported(e, "a matrix power with an exponent that is not an integer")
        x, k = self.read(base), int(k)
        if k == 0:
            return E.Identity(x.shape[0])
        if k < 0:
            x, k = E.Inv(x), -k
        return x if k == 1 else E.MatMul((x,) * k)

    # -- matrix functions ------------------------------------------------------------------
    def _read_Transpose(self, e):
        return E.Transpose(self.read(e.arg))

    def _read_Inverse(self, e):
        return E.Inv(self.read(e.arg))

    def _read_Trace(self, e):
        return E.Trace(self.read(e.arg))

    def _read_Determinant(self, e):
        return E.Det(self.read(e.arg))

    def _read_DiagMatrix(self, e):
        v = self.read(e.args[0])
        return E.DiagMat(v.T if v.shape[0] == 1 and v.shape[1] != 1 else v)

    def _read_DiagonalOf(self, e):
        x = self.read(e.arg)
        if x.shape[0] != x.shape[1]:
            raise self.unsupported(e, "the diagonal of a matrix that is not square")
        return E.DiagVec(x)

    def _read_DiagonalMatrix(self, e):           # the diagonal part of a square matrix
        x = self.read(e.arg)
        if x.shape[0] != x.shape[1]:
            raise self.unsupported(e, "the diagonal part of a matrix that is not square")
        return E.DiagMat(E.DiagVec(x))

    def _read_MatrixElement(self, e):            # M[0, 0] of a 1 x 1 matrix is M
        parent, i, j = e.args
        if parent.shape == (1, 1) and i == 0 and j == 0:
            return self.read(parent)
        raise self.unsupported(e, "an entry of a matrix: matcalc has no indexing")

    # -- elementwise functions -------------------------------------------------------------
    def _read_ElementwiseApplyFunction(self, e):
        x = self.read(e.expr)
        f = e.function
        if isinstance(f, Lambda) and len(f.variables) == 1:
            var, body = f.variables[0], f.expr
        else:
            var = Dummy("t")
            body = f(var)
        saved = self.bound
        self.bound = {**saved, var: x}           # the body, read entrywise on x
        try:
            node = self.read(body)
        finally:
            self.bound = saved
        if node.shape == x.shape:
            return node
        if node.is_scalar:                        # a body that ignores its argument
            return E.broadcast_to(node, x.shape)
        raise self.unsupported(e, "a function whose value is not one entry")

    def _read_Function(self, e):
        name = FUNCTIONS.get(type(e).__name__)
        nargs = 2 if name == "step" else 1        # Heaviside(x, H0): H0 is the value at 0
        if name is None or name not in ELEMENTWISE or len(e.args) > nargs:
            raise self.unsupported(e)
        return E.Func(name, self.read(e.args[0]))

    def _read_Max(self, e):                      # Max(x, 0) is relu
        if len(e.args) == 2 and S.Zero in e.args:
            other = e.args[1] if e.args[0] == S.Zero else e.args[0]
            return E.Func("relu", self.read(other))
        raise self.unsupported(e, "only Max(x, 0), relu, has a matcalc counterpart")


def _short(e: Basic) -> str:
    text = str(e)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(obj: Basic) -> str:
    if isinstance(obj, MatrixSymbol):
        return f"a {obj.shape[0]} x {obj.shape[1]} MatrixSymbol"
    return f"a {type(obj).__name__}" + (" with assumptions" if getattr(
        obj, "assumptions0", {}) else "")


def _suggest(name: str) -> str:
    kept = "".join(c for c in name if c.isascii() and (c.isalnum() or c == "_"))
    kept = kept.lstrip("_0123456789")
    return (kept or "X") + "1"


def read_sympy(expr: Any) -> tuple[E.Node, _Reader]:
    """The IR of a SymPy expression, and the reader (its symbols and variables)."""
    if not isinstance(expr, Basic):
        raise SympyError(f"expected a SymPy expression, got {type(expr).__name__}",
                         hint="build it from sympy.MatrixSymbol and sympy.Symbol objects")
    reader = _Reader(expr)
    try:
        return reader.read(expr), reader
    except RecursionError:
        raise LimitError("this SymPy expression is nested too deeply to read") from None


# which SymPy objects a derivation came from: name -> object, for printing results back
_ORIGINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def from_sympy(expr: Any, wrt: Iterable[Any] | None = None, layout: str = "denominator", *,
               mode: str = "gradient", check: bool = False, onehot: Any = (),
               signs: Any = ()) -> AnyDerivation:
    """Derive a SymPy matrix expression with matcalc: a `Derivation` (or, for `mode`
    "jacobian", "hessian" or "hvp", a `HigherDerivation`), exactly as `matcalc.derive`
    returns for a program. `wrt`: MatrixSymbols, Symbols or their names (default: every
    variable). The other options are `derive`'s. Every derivative's `.to_sympy()` gives
    the result back over the same SymPy symbols."""
    node, reader = read_sympy(expr)
    return _derive(node, reader, wrt, layout, mode=mode, check=check, onehot=onehot,
                   signs=signs)


def _derive(node: E.Node, reader: _Reader, wrt: Iterable[Any] | None, layout: str, *,
            mode: str = "gradient", check: bool = False, onehot: Any = (),
            signs: Any = ()) -> AnyDerivation:
    """The derivation of the IR `node` read by `reader`, as `matcalc.derive` makes it:
    the typed program is built here from the reader's variables, not parsed."""
    from ..derivation import MODES, Derivation, _label_options
    from ..layout import LAYOUTS
    from ..printing import to_text
    from ..shapes import Typed, _bare_output_name
    names = _wrt_names(wrt, reader)
    if layout not in LAYOUTS:
        raise OptionError(f"unknown layout {layout!r}: expected numerator, denominator or mixed")
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    dim_names = {d for v in reader.inputs.values() for d in v.shape if isinstance(d, str)}
    dim_names |= {n for n, obj in reader.symbols.items() if obj in reader.dims}
    name = _bare_output_name(node, set(reader.inputs) | dim_names)
    # a MatrixSymbol with a dimension 1 is a declared column or row: 2-D in NumPy
    keep_2d = frozenset(n for n, v in reader.inputs.items()
                        if 1 in v.shape and v.shape != E.SCALAR)
    typed = Typed(output=node, output_name=name, inputs=dict(reader.inputs),
                  statements=[(name, node)], intermediates={}, inline={}, keep_2d=keep_2d,
                  dim_names=dim_names)
    program = f"{name} = {to_text(node)}"
    labels = _label_options(onehot, signs, typed)
    d: AnyDerivation
    if mode == "gradient":
        d = Derivation(program, typed, names, layout, labels)
    else:
        from ..jacobian import derive_higher
        d = derive_higher(program, typed, names, layout, mode, labels)
    if check:
        d.check().raise_if_failed()
    _ORIGINS[d] = dict(reader.symbols)
    return d


def _wrt_names(wrt: Iterable[Any] | None, reader: _Reader) -> list[str]:
    if wrt is None:
        return list(reader.inputs)
    if isinstance(wrt, (str, Basic)):
        wrt = [wrt]
    names: list[str] = []
    for w in wrt:
        name = w if isinstance(w, str) else getattr(w, "name", None)
        if not isinstance(name, str):
            raise OptionError(f"wrt: {w!r} is not a MatrixSymbol, a Symbol or a name")
        known = reader.symbols.get(name)
        if name not in reader.inputs:
            why = "a dimension, not a variable" if known is not None else \
                "not in the expression"
            raise NameError_(f"wrt {name}: {name} is {why}; the expression's variables are "
                             f"{', '.join(reader.inputs) or 'none'}")
        if not isinstance(w, str) and known != w:
            raise NameError_(f"wrt {name}: the expression's {name} is {_describe(known)}, "
                             f"not {_describe(w)}")
        if name not in names:
            names.append(name)
    return names


def sympy_diff(expr: Any, x: Any, *, check: bool = False) -> Basic:
    """`expr.diff(x)` for a scalar SymPy expression `expr`, computed by matcalc, with
    SymPy's convention: the result has the shape of `x` (the denominator layout), as
    `(x.T*A*x).diff(x)` is `A*x + A.T*x`. `x` is a MatrixSymbol or a Symbol; an `expr`
    without `x` gives the zero of x's shape. `check` verifies the formula by finite
    differences first."""
    node, reader = read_sympy(expr)
    if not node.is_scalar:
        r, c = node.shape
        raise SympyError(f"sympy_diff differentiates a scalar, and this expression is "
                         f"{r} x {c}",
                         hint="for its Jacobian use matcalc.from_sympy(expr, wrt=[x], "
                              "mode='jacobian')")
    if not isinstance(x, (MatrixSymbol, Symbol)):
        raise OptionError(f"sympy_diff: x must be a MatrixSymbol or a Symbol, got "
                          f"{type(x).__name__}")
    if x.name not in reader.inputs and reader.symbols.get(x.name) is None:
        return ZeroMatrix(*x.shape) if isinstance(x, MatrixSymbol) else S.Zero
    d = _derive(node, reader, [x], "denominator", check=check)
    out = to_sympy(d[x.name])
    if isinstance(x, MatrixSymbol) and not out.is_Matrix:   # d/dX of a 1 x 1 X: 1 x 1
        out = out * Identity(1)
    return out


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
    from ..jacobian import HigherDerivative
    owner = d.owner if isinstance(d, HigherDerivative) else d.derivation
    table = dict(_ORIGINS.get(owner, {}))
    table.update(symbols or {})
    printer = SympyPrinter(table)
    if not isinstance(d, HigherDerivative):               # a gradient or backprop formula
        if form not in (None, "matrix"):
            raise OptionError(f"form {form!r}: a gradient has one form, its matrix")
        return printer.doprint(d.node)
    if form is not None and form not in FORMS:
        raise OptionError(f"unknown form {form!r}: expected one of {', '.join(FORMS)}")
    if form in (None, "matrix") and d.node is not None:
        return printer.doprint(d.node)
    if form in (None, "kron") and d.kron is not None:
        return _kron_to_sympy(d.kron, printer)
    if form == "map" and d.jvp is not None and d.dvar is not None:
        return Lambda(printer.doprint(d.dvar), printer.doprint(d.jvp))
    have = [f for f, x in (("matrix", d.node), ("kron", d.kron), ("map", d.jvp))
            if x is not None]
    raise SympyError(f"{d.lhs_text} has no {form or 'matrix or Kronecker'} form"
                     + (f"; it has: {', '.join(have)}" if have else ""),
                     hint="the full tensor is in .numpy; to_sympy(form='map') gives the "
                          "linear map dX -> J(dX)" if "map" in have else None)
