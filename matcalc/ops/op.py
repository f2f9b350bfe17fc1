"""What a registry entry says about one operation, and the pieces entries share.

An `Op` is an operation on one argument (an elementwise function such as `exp`, a
reduction such as `sum`, a matrix function such as `inv`, `softmax`): its name and shape
rule in the language, how it builds its IR node, its NumPy evaluator, its domain (what
the checker samples and rejects), the simplifier's facts about it, the names a Jacobian
gives it, and its spelling in every printer and code target. A `Constant` (`eye`,
`vector(c)`, `matrix(c)`) is a function of the language whose IR node is a leaf: it has
a name, a shape rule and a builder, and nothing to evaluate or differentiate.

The derivative of an operation is not here: `rules/` is the table a reader checks
against the Matrix Cookbook (`rules/elementwise.py` DERIVATIVE by name, the VJP tables by
node class), and a test keeps the two in step.

NumPy is imported at the first evaluation, never at import (`import matcalc` stays
fast): evaluators read it through `np`, a stand-in that imports it on first use.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..expr import Node

# What a value must be, for the checker's sampler (matcalc.check.draw) and its rejection
# of bad points (matcalc.check.why_bad):
POSITIVE = "positive"                  # every entry > 0 (log, sqrt)
BOUNDED = "bounded"                    # every entry in (-1, 1) (arcsin)
SPD = "spd"                            # square with a positive definite symmetric part
WELL_CONDITIONED = "well-conditioned"  # square and well conditioned (inv, det)
# What an operation's value is whatever its argument (its image):
NONNEGATIVE = "nonnegative"            # >= 0 in floating point too (relu, sqrt); POSITIVE:
                                       # > 0 on the domain (exp, sigmoid, abs off its kink)


class _NumPy:
    """numpy, imported at the first attribute read (then kept as an attribute)."""

    def __getattr__(self, name: str) -> Any:
        import numpy
        value = getattr(numpy, name)
        setattr(self, name, value)
        return value


np: Any = _NumPy()


def numpy_function(spelling: str) -> Callable:
    """The NumPy function that `spelling` (`np.exp`, `np.linalg.det`) names, as an
    evaluator that looks it up at its first call."""
    path = spelling.split(".")[1:]
    found: list[Callable] = []

    def evaluate(x):
        if not found:
            f: Any = np
            for attribute in path:
                f = getattr(f, attribute)
            found.append(f)
        return found[0](x)
    return evaluate


def scalar(v) -> Any:
    """A number as the (1, 1) array that stands for a scalar."""
    return np.full((1, 1), float(v))


@dataclass(frozen=True)
class Domain:
    """Where an operation is defined and smooth, and what its value is.

    `argument`: what its argument must be (POSITIVE, BOUNDED, SPD, WELL_CONDITIONED): the
    checker draws the variables below it so, and rejects a point where the argument is
    within a margin of leaving. `when_positive`: what the argument must be when the value
    itself must be positive (det X > 0 under a log asks for an SPD X), if that is not
    simply the argument's need plus positivity. `image`: POSITIVE when the value is > 0
    whatever the argument (so a positive need stops here), NONNEGATIVE when it is >= 0.
    `kink`: not differentiable where an entry of the argument is 0 (relu, abs): the checker
    keeps away from it. `pole`: x -> values that must stay away from 0 (tan: cos x).
    `nonzero`: the argument as a whole must not be 0 (the norm)."""

    argument: frozenset[str] = frozenset()
    when_positive: frozenset[str] | None = None
    image: str | None = None
    kink: bool = False
    pole: Callable | None = None
    nonzero: bool = False

    def needs(self, need: set[str]) -> set[str]:
        """What the argument must be, given what the value must be (`need`)."""
        if POSITIVE not in need:
            return need | self.argument
        if self.when_positive is not None:
            return need - {POSITIVE} | self.when_positive
        if self.image == POSITIVE:
            return need - {POSITIVE} | self.argument
        return need | self.argument


@dataclass(frozen=True)
class Along:
    """The form f(X, dim) of a function, in MATLAB's numbering: dim 1 works down each
    column (sum(X, 1) is the 1 x n row of column sums), dim 2 along each row (sum(X, 2) is
    the m x 1 column of row sums). `shape(c, dim)`: the call's type (c as for a shape
    rule). `build(x, dim)`: its IR, made of the IR's existing node kinds (sum(X, 2) is
    X*1, softmax(S, 2) is softmax(S')'), so that derivative rules, the checker and code
    generation need nothing new; the printers write those forms back with the axis."""

    shape: Callable
    build: Callable


@dataclass(frozen=True, kw_only=True)
class Function:
    """A function of the language: `name(args)` in a program.

    `arity`: its number of arguments (None: an operation of the IR that no program calls
    by name, such as `step`, which `a > b` makes). `shape`: its shape rule, a function of
    the call's context (matcalc.shapes.Call: the argument's type `arg`, `unify(a, b)`,
    `fail(message, hint, instead)`, `type(rows, cols)`, `scalar()`, `fresh()`, and the
    argument as written, `shown`, `text`, `transposed`) returning the call's type.
    `accepts`: other names a call may use for it (`trace`, `ln`), read as this function.
    `along`: its form with a dimension argument, f(X, dim) (see Along), if it has one."""

    name: str
    arity: int | None = 1
    shape: Callable | None = None
    accepts: tuple[str, ...] = ()
    along: Along | None = None
    sized = False          # whether the value's size is the program's to fix (constants)


@dataclass(frozen=True, kw_only=True)
class Op(Function):
    """An operation on one argument, with everything every stage needs to know about it.

    - `node`: its IR node class (`Func` for every elementwise function, named by `name`);
      `build(x)` makes the node of a call (default: `node(x)`).
    - `evaluate`: 2-D float64 array -> 2-D array (a scalar is (1, 1)), in NumPy.
    - `domain`: see Domain.
    - the simplifier's facts: `at_zero`, f(0) where it is exactly 0 or 1 (sin 0 = 0,
      exp 0 = 1); `undoes`, the function g with f(g(x)) = x wherever g is defined
      (exp undoes log); `fold`, the exact value at a number, for the functions whose
      value at a number is exact (abs, sign).
    - `names`: the names a Jacobian's `where` gives a repeated use of it, in order of
      preference (None: never named, as relu or abs, whose uses read better inline).
    - spellings: the text spelling is `name`; `latex`, an operator applied with
      parentheses (`\\exp`), or the pair of delimiters around the argument (`\\lvert `,
      ` \\rvert`); `numpy`, `torch`, `jax`, the function called on the argument in each
      target (None where the printers write a form of their own: relu as np.maximum);
      `inplace`: whether the NumPy function takes `out=`, so codegen may run it in a
      buffer it owns.
    """

    node: type[Node]
    build: Callable[..., Node] | None = None
    evaluate: Callable
    domain: Domain = Domain()
    at_zero: int | None = None
    undoes: str | None = None
    fold: Callable | None = None
    names: tuple[str, ...] | None = None
    latex: str | tuple[str, str]
    numpy: str | None = None
    torch: str | None = None
    jax: str | None = None
    inplace: bool = False

    def __post_init__(self):
        if self.build is None:
            object.__setattr__(self, "build", self.node)


@dataclass(frozen=True, kw_only=True)
class Composite(Function):
    """A function of the language written with other operations (`mean` is a sum over a
    count, `softplus` is log(1 + exp(x))): `build(*args)` makes its IR from theirs, so it
    has no node, rule or evaluator of its own, and prints as what it is made of."""

    build: Callable[..., Node]


@dataclass(frozen=True, kw_only=True)
class Constant(Function):
    """A constant of the language: `build(shape, *args)` makes its IR leaf of the shape
    that shape inference found, which a variable must fix."""

    build: Callable[..., Node]
    sized = True


# ---- shape rules several operations share --------------------------------------------------

def same_shape(c):
    """The argument's own shape (elementwise functions, softmax)."""
    return c.arg


def to_scalar(c):
    """A scalar, from any argument (sum, norms)."""
    return c.scalar()


def square(c):
    """The argument's shape, which must be square (inv)."""
    if not c.unify(c.arg.rows, c.arg.cols):
        c.fail(f"{c.name} needs a square matrix, but {c.shown} is not square")
    return c.arg


def square_to_scalar(c):
    """A scalar, from a square argument (tr, det, logdet)."""
    square(c)
    return c.scalar()
