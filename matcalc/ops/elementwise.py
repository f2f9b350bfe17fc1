"""Elementwise functions: f applied to every entry, the IR's `Func(name, x)` of x's shape.

One entry per function, in the order the language lists them. The NumPy evaluator is the
function the NumPy spelling names unless an entry says otherwise; the derivative f'(x)
is rules/elementwise.py's DERIVATIVE[name].
"""
from __future__ import annotations

from ..expr import Add, Broadcast, Const, Func, Node
from .op import (
    BOUNDED,
    NONNEGATIVE,
    POSITIVE,
    Composite,
    Domain,
    Op,
    np,
    numpy_function,
    same_shape,
)


def elementwise(name: str, *, numpy: str | None, evaluate=None, names=("u", "z"),
                **facts) -> Op:
    """The entry of the elementwise function `name` (see Op for the facts)."""
    return Op(name=name, node=Func, shape=same_shape, build=lambda x: Func(name, x),
              evaluate=evaluate or numpy_function(numpy), numpy=numpy, names=names, **facts)


EXP = elementwise(
    "exp", at_zero=1, undoes="log", names=("e", "eps"), domain=Domain(image=POSITIVE),
    latex=r"\exp", numpy="np.exp", torch="torch.exp", jax="jnp.exp", inplace=True)
LOG = elementwise(
    "log", undoes="exp", names=("ell",), domain=Domain(argument=frozenset({POSITIVE})),
    accepts=("ln",),
    latex=r"\log", numpy="np.log", torch="torch.log", jax="jnp.log", inplace=True)
SIN = elementwise(
    "sin", at_zero=0,
    latex=r"\sin", numpy="np.sin", torch="torch.sin", jax="jnp.sin", inplace=True)
COS = elementwise(
    "cos", at_zero=1,
    latex=r"\cos", numpy="np.cos", torch="torch.cos", jax="jnp.cos", inplace=True)
TAN = elementwise(
    "tan", at_zero=0, domain=Domain(pole=lambda x: np.cos(x)),     # poles where cos x = 0
    latex=r"\tan", numpy="np.tan", torch="torch.tan", jax="jnp.tan", inplace=True)
TANH = elementwise(
    "tanh", at_zero=0, names=("t", "tau"),
    latex=r"\tanh", numpy="np.tanh", torch="torch.tanh", jax="jnp.tanh", inplace=True)
# 1/(1 + e^-x) as 0.5 (1 + tanh(x/2)), which never overflows; the printers write their
# own stable forms (matcalc.printing.numpy), hence no NumPy spelling
SIGMOID = elementwise(
    "sigmoid", evaluate=lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)), names=("s", "sigma", "r"),
    domain=Domain(image=POSITIVE), accepts=("sigma", "logistic"),
    latex=r"\sigma", numpy=None, torch="torch.sigmoid", jax="jax.nn.sigmoid")
RELU = elementwise(
    "relu", evaluate=lambda x: np.maximum(x, 0.0), at_zero=0, fold=lambda v: max(v, 0),
    names=None, domain=Domain(kink=True, image=NONNEGATIVE),
    latex=r"\operatorname{relu}", numpy=None, torch="torch.relu", jax="jax.nn.relu")
ABS = elementwise(
    "abs", at_zero=0, fold=abs, names=None, domain=Domain(kink=True, image=POSITIVE),
    latex=(r"\lvert ", r" \rvert"), numpy="np.abs", torch="torch.abs", jax="jnp.abs",
    inplace=True)
SIGN = elementwise(
    "sign", at_zero=0, fold=lambda v: (v > 0) - (v < 0), names=None, domain=Domain(kink=True),
    latex=r"\operatorname{sign}", numpy="np.sign", torch="torch.sign", jax="jnp.sign",
    inplace=True)
SQRT = elementwise(
    "sqrt", at_zero=0, domain=Domain(argument=frozenset({POSITIVE}), image=NONNEGATIVE),
    latex=r"\sqrt", numpy="np.sqrt", torch="torch.sqrt", jax="jnp.sqrt", inplace=True)
ARCSIN = elementwise(
    "arcsin", at_zero=0, domain=Domain(argument=frozenset({BOUNDED})), accepts=("asin",),
    latex=r"\arcsin", numpy="np.arcsin", torch="torch.asin", jax="jnp.arcsin", inplace=True)
ARCCOS = elementwise(                                     # arccos x in (0, pi) for |x| < 1
    "arccos", domain=Domain(argument=frozenset({BOUNDED}), image=POSITIVE),
    accepts=("acos",),
    latex=r"\arccos", numpy="np.arccos", torch="torch.acos", jax="jnp.arccos", inplace=True)
ARCTAN = elementwise(
    "arctan", at_zero=0, accepts=("atan",),
    latex=r"\arctan", numpy="np.arctan", torch="torch.atan", jax="jnp.arctan", inplace=True)
# the indicator 1[x > 0], relu's derivative: `a > b` in a program is step(a - b), and the
# printers write it as that comparison
STEP = elementwise(
    "step", arity=None, evaluate=lambda x: (x > 0).astype(np.float64), at_zero=0,
    fold=lambda v: int(v > 0), names=None, domain=Domain(kink=True, image=NONNEGATIVE),
    latex=r"\mathbb{I}", numpy=None)

FUNCTIONS = (EXP, LOG, SIN, COS, TAN, TANH, SIGMOID, RELU, ABS, SIGN, SQRT,
             ARCSIN, ARCCOS, ARCTAN, STEP)


def _softplus(x: Node) -> Node:
    # softplus(x) = log(1 + e^x), entry by entry
    one = Const(1) if x.is_scalar else Broadcast(Const(1), x.shape)
    return Func("log", Add((one, Func("exp", x))))


SOFTPLUS = Composite(name="softplus", shape=same_shape, build=_softplus)

COMPOSITES = (SOFTPLUS,)
