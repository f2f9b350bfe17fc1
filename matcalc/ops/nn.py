"""Neural-network functions: softmax and logsumexp of a column vector, or of each column
of a matrix. Both are evaluated stably (shifted by the column's maximum), and each
printer writes its own stable form."""
from __future__ import annotations

from ..expr import LogSumExp, Softmax
from .op import POSITIVE, Domain, Op, np


def _columns(c, result):
    """The shape rule of a function of each column: a row vector is refused, since it
    would be n columns of one entry each (almost surely a missing transpose)."""
    if c.arg.is_row:
        c.fail(f"{c.name} works on a column vector or on each column of a matrix; "
               f"{c.shown} is a row vector",
               hint=f"did you mean {c.name}({c.transposed}){result} ?")


def _softmax_shape(c):
    _columns(c, "'")
    return c.arg


def _logsumexp_shape(c):
    _columns(c, "")
    return c.type(1, c.arg.cols)


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
    aliases={"log_softmax": "log(softmax(x))", "logsoftmax": "log(softmax(x))"},
    latex=r"\operatorname{softmax}", numpy=None, torch="torch.softmax", jax="jax.nn.softmax")
LOGSUMEXP = Op(
    name="logsumexp", node=LogSumExp, shape=_logsumexp_shape, evaluate=_logsumexp,
    latex=r"\operatorname{logsumexp}", numpy=None, torch="torch.logsumexp",
    jax="jax.nn.logsumexp")

OPERATIONS = (SOFTMAX, LOGSUMEXP)
