"""What the user assumes of a variable (`ASSUMED`, read by `matcalc.assumptions`): the label
sums of a one-hot variable are ones, the even powers and absolute values of a -1/+1
variable are ones.
"""
from __future__ import annotations

from ..expr import Node, Ones, Transpose, Var
from ..patterns import Name, P, Rewrite, RuleSet
from .vocabulary import ONE, _product, column, fs, n, p, y

# ---- what the user assumes of a variable (matcalc.assumptions): `ctx` is the labels,
# (one-hot: name -> the axis that sums to one, signs: names of -1/+1 variables) ------------


def _sign(y: Node, ctx) -> bool:
    y = y.x if isinstance(y, Transpose) else y
    return isinstance(y, Var) and y.name in ctx[1]


def _even(p) -> bool:
    return float(p).is_integer() and int(p) % 2 == 0


def _odd(p) -> bool:
    return float(p).is_integer() and int(p) % 2 == 1


def _label(x: Node, onehot: dict[str, str]):
    """(name, axis that sums to one, seen in x's orientation) if x is a label or its '."""
    flip = {"columns": "rows", "rows": "columns"}
    if isinstance(x, Var) and x.name in onehot:
        return x.name, onehot[x.name]
    if isinstance(x, Transpose) and isinstance(x.x, Var) and x.x.name in onehot:
        return x.x.name, flip[onehot[x.x.name]]
    return None, None


def _ones_for_sums(fs: tuple, onehot: dict[str, str]) -> tuple | None:
    """The chain with its first label sum replaced by ones, or None if it has none."""
    for i in range(len(fs) - 1):
        a, b = fs[i], fs[i + 1]
        y, axis = _label(b, onehot)
        if isinstance(a, Ones) and a.shape[0] == 1 and y is not None and axis == "columns":
            return fs[:i] + (Ones((1, b.shape[1])),) + fs[i + 2:]    # 1'Y = 1'
        y, axis = _label(a, onehot)
        if isinstance(b, Ones) and b.shape[1] == 1 and y is not None and axis == "rows":
            return fs[:i] + (Ones((a.shape[0], 1)),) + fs[i + 2:]    # Y 1 = 1
    return None


ASSUMED = RuleSet("assumed", [
    # sum(y) = 1, y a one-hot (probability) vector
    Rewrite("sum(y) = 1 (one-hot)", P.Sum(Name("Y", P.Var(n))), lambda: ONE,
            when=lambda Y, n, ctx: n in ctx[0] and column(Y)),
    # 1'Y = 1' (Y one-hot by columns), Y 1 = 1 (by rows): the first label sum of a chain
    Rewrite("1'Y = 1', Y 1 = 1 (one-hot)", P.MatMul(fs),
            lambda fs, ctx: _product(_ones_for_sums(fs, ctx[0])),
            when=lambda fs, ctx: bool(ctx[0]) and _ones_for_sums(fs, ctx[0]) is not None),
    # y.^(2k) = 1, y in {-1, 1}
    Rewrite("y.^(2k) = 1 (signs)", P.Power(y, P.Const(p)), lambda y: Ones(y.shape),
            when=lambda y, p, ctx: _sign(y, ctx) and _even(p)),
    # y.^(2k+1) = y, y in {-1, 1}
    Rewrite("y.^(2k+1) = y (signs)", P.Power(y, P.Const(p)), lambda y: y,
            when=lambda y, p, ctx: _sign(y, ctx) and _odd(p)),
    # abs(y) = 1, y in {-1, 1}
    Rewrite("abs(y) = 1 (signs)", P.Func("abs", y), lambda y: Ones(y.shape),
            when=lambda y, ctx: _sign(y, ctx)),
    # sign(y) = y, y in {-1, 1}
    Rewrite("sign(y) = y (signs)", P.Func("sign", y), lambda y: y,
            when=lambda y, ctx: _sign(y, ctx)),
], doc="what the user assumes: label sums are ones, squared signs are ones")
