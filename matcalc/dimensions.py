"""The types of values: dimensions unified like type variables, declarations, kinds by name.

A value's type is its dimensions, `Type(rows, cols)` (a tensor's, `TensorType`: all of
them). A dimension is known (a name such as n, or a number) or not yet known (a `DimVar`):
every undeclared dimension starts as a fresh `DimVar` and is unified with others as a type
variable is in a type checker (`_unify`: union-find), so whether a value is a scalar, a
row, a column or a matrix is decided structurally (a dimension is the literal 1 or it is
not). A type comes from a declaration (`--shape`, a `Declaration`) or, for a name nobody
declared, from the kind its name implies (`default_kind`). Shape inference
(`matcalc.shapes`) and index notation (`matcalc.indices`) both type values with these.
"""
from __future__ import annotations

from dataclasses import dataclass

GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota
kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi varphi chi psi omega""".split())

DIM_POOL = ("n", "m", "p", "q", "k", "r", "s", "t", "u", "v", "w", "l", "j", "i")


class DimVar:
    """An unknown dimension; unified through a union-find `parent` link or bound to a value."""

    __slots__ = ("parent", "value", "order")
    _counter = 0

    def __init__(self):
        self.parent: DimVar | None = None
        self.value: str | int | None = None
        DimVar._counter += 1
        self.order = DimVar._counter


Dimish = DimVar | str | int


def _find(d: Dimish) -> Dimish:
    while isinstance(d, DimVar):
        if d.value is not None:
            return d.value
        if d.parent is None:
            return d
        d = d.parent
    return d


class _Mismatch(Exception):
    pass


def _unify(a: Dimish, b: Dimish) -> None:
    a, b = _find(a), _find(b)
    if a is b or (not isinstance(a, DimVar) and not isinstance(b, DimVar) and a == b):
        return
    if isinstance(a, DimVar) and b == 1 or isinstance(b, DimVar) and a == 1:
        raise _Mismatch()            # a vector's or matrix's dimension is never the unit 1
    if isinstance(a, DimVar):
        if isinstance(b, DimVar):
            # keep the older variable as the root so naming follows first appearance
            if a.order < b.order:
                b.parent = a
            else:
                a.parent = b
        else:
            a.value = b
        return
    if isinstance(b, DimVar):
        b.value = a
        return
    raise _Mismatch()


def _is_one(d: Dimish) -> bool:
    return _find(d) == 1


@dataclass
class Type:
    rows: Dimish
    cols: Dimish

    @property
    def is_scalar(self) -> bool:
        return _is_one(self.rows) and _is_one(self.cols)

    @property
    def is_row(self) -> bool:
        return _is_one(self.rows) and not _is_one(self.cols)

    @property
    def is_matrix(self) -> bool:
        return not _is_one(self.rows) and not _is_one(self.cols)

    @property
    def is_col(self) -> bool:
        return _is_one(self.cols) and not _is_one(self.rows)


SCALAR_T = lambda: Type(1, 1)  # noqa: E731


@dataclass
class TensorType(Type):
    """An order-3 to order-6 value (`--shape A=L,n,m`, or `T[i,j,k] = ...`): only index
    notation reads it; rows and cols are its first two dimensions."""

    dims: tuple = ()

    @property
    def is_matrix(self) -> bool:
        return False


@dataclass
class Declaration:
    """What `--shape NAME=DIMS` said: dims (rows, cols) and whether a 1 was explicit."""

    rows: str | int
    cols: str | int
    explicit_2d: bool = False   # `n,1` or `1,n`: keep 2-D in NumPy
    dims: tuple = ()            # a tensor's dimensions (three to six); () for a matrix

    def type(self) -> Type:
        return TensorType(self.dims[0], self.dims[1], tuple(self.dims)) if self.dims else \
            Type(self.rows, self.cols)


def default_kind(name: str, kinds: str) -> str:
    """'scalar', 'vector' or 'matrix' by the naming convention (SPEC section 1)."""
    if kinds == "mc":
        c = name[0]
        if "a" <= c <= "g":
            return "scalar"
        if "h" <= c <= "z":
            return "vector"
        return "matrix"
    if name in GREEK:                 # alpha, lambda; but Sigma, Lambda are matrices
        return "scalar"
    return "vector" if name[0].islower() else "matrix"


def _dim_names():
    """n, m, p, q, ... then d1, d2, ...: names for dimensions nobody declared."""
    yield from DIM_POOL
    i = 1
    while True:
        yield f"d{i}"
        i += 1
