"""The vocabulary of the rewrite table: the names its patterns bind, the tests of its side
conditions, the few nodes and builders its right-hand sides share, and the one
recogniser of `1 + exp(u)` and of `1 - sigmoid(u)` in the package.
"""
from __future__ import annotations

import math

from ..errors import LimitError
from ..expr import SCALAR, Add, Const, DimValue, MatMul, Node, Ones, Scale, Transpose, Zero
from ..patterns import Alt, Lit, Many, P, Test, names

ONE = Const(1)
MINUS_ONE = Const(-1)
_ZERO = Const(0)


def is_zero(x) -> bool:
    return x is _ZERO or type(x) is Zero          # Const(0) is one interned node


def zero(shape) -> Node:
    return Const(0) if shape == SCALAR else Zero(shape)


def ones(shape) -> Node:
    return ONE if shape == SCALAR else Ones(shape)


def dim_value(d) -> Node:
    """A dimension as a scalar: the number, or the symbol's value."""
    return Const(d) if isinstance(d, int) else DimValue(d)


def split_scale(x: Node) -> tuple[Node | None, Node]:
    """(scalar part or None, core) of a canonical Scale chain."""
    if isinstance(x, Scale) and x.shape != SCALAR:
        scalars = []
        while isinstance(x, Scale):
            scalars.append(x.s)
            x = x.x
        s = scalars[-1]
        for t in reversed(scalars[:-1]):
            s = Scale(t, s)
        return s, x
    return None, x


def scalar(x: Node) -> bool:
    return x.shape == SCALAR


def column(x: Node) -> bool:
    return x.shape[1] == 1


def row(x: Node) -> bool:
    return x.shape[0] == 1


def matrix(x: Node) -> bool:
    return x.shape[0] != 1 and x.shape[1] != 1


def swapped(shape) -> tuple:
    return (shape[1], shape[0])


def _pull_scale(kind: type[Node], x: Node) -> Node:
    s, core = split_scale(x)
    return Scale(s, kind(core))


def _dims_product(shape) -> Node:
    """The number of entries of `shape` (any order), as a product of its dimensions."""
    parts = [d for d in shape if d != 1]
    if not parts:
        return ONE
    out = dim_value(parts[0])
    for d in parts[1:]:
        out = Scale(out, dim_value(d))
    return out


def _fold_power(a, b):
    """a^b as a number when it is a modest real number (never a huge exact power)."""
    try:
        f = math.pow(a, b)
    except OverflowError:
        raise LimitError(f"the constant {a}^{b} is out of the range of double precision "
                         f"(about 1.8e308)") from None
    except (ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(f) or abs(f) > 1e15:
        return None
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a ** b                        # exact, and small by the test above
    return f


def symmetric(s: Node, canonical) -> bool:
    """Whether S' = S is visible in canonical form: X'*X, A + A', X*D*X' with D = D'."""
    if len(s.shape) != 2:                   # a tensor has no transpose
        return False
    t = canonical(Transpose(s))
    if t == s:
        return True
    return isinstance(s, Add) and isinstance(t, Add) and \
        sorted(map(id, s.terms)) == sorted(map(id, t.terms))


# the names of the patterns (a name binds a node, or a field: f a function's name, shape a
# broadcast's shape); fs and ts bind the operands of a product chain or a sum
X, A, B, M, S, a, b, c, d, f, g, k, n, p, s, u, v, w, x, y, shape = names(
    "X A B M S a b c d f g k n p s u v w x y shape")
fs, ts = Many("fs"), Many("ts")
ZERO = Test(is_zero, "Z", kinds=(Const, Zero))

# 1 + exp(u), in either order (sums keep the order they were written in), the 1 a number,
# ones, or a broadcast one: the denominator of the logistic function, the argument of a
# softplus. The one recogniser of it in the package.
_ONE = Alt(P.Ones(), Lit(ONE), P.Broadcast(Alt(Lit(ONE), P.Ones())))
ONE_PLUS_EXP = Alt(P.Add(_ONE, P.Func("exp", u)), P.Add(P.Func("exp", u), _ONE))
# 1 - sigmoid(u): a 1 (ones, or the number) and a negated sigmoid, in that order
ONE_MINUS_SIGMOID = P.Add(Alt(P.Ones(), Lit(ONE)), P.Scale(Lit(MINUS_ONE), P.Func("sigmoid", u)))


def matched(pattern, node: Node, name: str = "u") -> Node | None:
    """The node bound to `name` if `node` matches `pattern`, else None."""
    env: dict = {}
    return env[name] if pattern.match(node, env) else None


def one_plus_exp(x: Node) -> Node | None:
    """u if x is 1 + exp(u)."""
    return matched(ONE_PLUS_EXP, x)


def one_minus_sigmoid(x: Node) -> Node | None:
    """u if x is 1 - sigmoid(u) (which is sigmoid(-u))."""
    return matched(ONE_MINUS_SIGMOID, x)


def _product(fs) -> Node:
    return fs[0] if len(fs) == 1 else MatMul(tuple(fs))
