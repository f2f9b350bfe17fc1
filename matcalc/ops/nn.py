"""Neural-network functions: softmax and logsumexp of a column vector, or of each column
of a matrix, or of each row (`softmax(S, 2)`, which is softmax(S')'). Both are evaluated
stably (shifted by the column's maximum), and each printer writes its own stable form.
`log_softmax` is log(softmax(x)), and prints so."""
from __future__ import annotations

from ..expr import Func, LogSumExp, Node, Softmax, Transpose
from .op import POSITIVE, Along, Composite, Domain, Op, np


def _lines(c, dim: int = 1, result: str = ""):
    """The shape rule of a function of each column (dim 1) or row (dim 2): a vector lying
    across is refused, since it would be n lines of one entry each (almost surely a
    missing transpose, or the other dimension)."""
    if dim == 1 and c.arg.is_row:
        c.fail(f"{c.name} works on a column vector or on each column of a matrix; "
               f"{c.shown} is a row vector",
               hint=f"did you mean {c.name}({c.transposed}){result} ?",
               instead=f"{c.name}({c.transposed}){result}")
    if dim == 2 and c.arg.is_col:
        c.fail(f"{c.name}(..., 2) works along each row, and each row of {c.shown} has one "
               f"entry", hint=f"did you mean {c.name}({c.text}) ?",
               instead=f"{c.name}({c.text})")


def _softmax_shape(c, dim: int = 1):
    _lines(c, dim, "'")
    return c.arg


def _logsumexp_shape(c, dim: int = 1):
    _lines(c, dim)
    return c.type(1, c.arg.cols) if dim == 1 else c.type(c.arg.rows, 1)


def _by_rows(f):
    """f along dim: of each column (dim 1) as f is, of each row (dim 2) as f(x')'."""
    return lambda x, dim: f(x) if dim == 1 else Transpose(f(Transpose(x)))


def _softmax(x):
    # softmax(x) = exp(x - max x) / sum exp(x - max x), column by column
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _logsumexp(x):
    # log sum exp(x) = m + log sum exp(x - m), m = max x, column by column -> (1, N)
    m = x.max(axis=0, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=0, keepdims=True))


SOFTMAX = Op(
    name="softmax", node=Softmax, shape=_softmax_shape, evaluate=_softmax,
    domain=Domain(image=POSITIVE), names=("p", "q", "pi"),
    along=Along(_softmax_shape, _by_rows(Softmax)),
    latex=r"\operatorname{softmax}", numpy=None, torch="torch.softmax", jax="jax.nn.softmax")
LOGSUMEXP = Op(
    name="logsumexp", node=LogSumExp, shape=_logsumexp_shape, evaluate=_logsumexp,
    along=Along(_logsumexp_shape, _by_rows(LogSumExp)),
    latex=r"\operatorname{logsumexp}", numpy=None, torch="torch.logsumexp",
    jax="jax.nn.logsumexp")

OPERATIONS = (SOFTMAX, LOGSUMEXP)


def _log_softmax(x: Node, dim: int = 1) -> Node:
    return Func("log", _by_rows(Softmax)(x, dim))


LOG_SOFTMAX = Composite(name="log_softmax", shape=_softmax_shape, build=_log_softmax,
                        accepts=("logsoftmax",), along=Along(_softmax_shape, _log_softmax))

COMPOSITES = (LOG_SOFTMAX,)
