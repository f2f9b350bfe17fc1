"""SymPy matrix expressions in and out of matcalc.

In: `from_sympy` reads a SymPy matrix expression (`MatrixSymbol`, `MatAdd`, `MatMul`,
`Trace`, `Determinant`, `HadamardProduct`, `applyfunc`, ...) into matcalc's IR, one
`_read_<SymPyClass>` method per class, found along the class's MRO as SymPy's own
printers find theirs, and derives it with matcalc's engine. The IR is built directly,
never through text: nothing is parsed or evaluated, and shapes come from the symbols (a
`Symbol` dimension stays a named dimension, an `Integer` one a number).

Out (`matcalc.interop.sympy_out`, which the results import, re-exported here):
`to_sympy` prints an IR node as a SymPy matrix expression over the same symbols, a
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

from collections.abc import Iterable
from functools import reduce
from typing import TYPE_CHECKING, Any, TypeAlias

from .. import expr as E
from ..build_ir import _bare_output_name
from ..errors import LimitError, NameError_, OptionError
from ..layout import LAYOUTS
from ..ops import ELEMENTWISE
from ..pipeline import MODES, _label_options, derive_typed
from ..printing import to_text
from ..shapes import Typed
from . import missing_extra

# SymPy out, re-exported: this module is the bridge's one public door
from .sympy_out import (  # noqa: F401
    _ORIGINS,
    FORMS,
    SYMPY_FUNCTIONS,
    SympyError,
    SympyPrinter,
    commutation_matrix,
    to_sympy,
)

try:
    import sympy
    from sympy import (
        Basic,
        Dummy,
        Identity,
        Integer,
        Lambda,
        MatrixExpr,
        MatrixSymbol,
        S,
        Symbol,
        ZeroMatrix,
    )
except ImportError as e:            # the extra is optional: say which one to install
    raise missing_extra("SymPy", "sympy", "matcalc's SymPy interface") from e

if TYPE_CHECKING:
    from ..derivation import Derivation
    from ..jacobian import HigherDerivation

    AnyDerivation: TypeAlias = Derivation | HigherDerivation

__all__ = ["SympyError", "from_sympy", "sympy_diff", "to_sympy"]


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
    d = derive_typed(program, typed, names, layout, mode,
                     _label_options(onehot, signs, typed), check, parsed=False)
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
