"""Reductions: a matrix to the scalar of its entries' sum, norm or trace; sums and means
along one dimension (`sum(X, 1)`, `mean(X, 2)`), written with ones vectors and counts."""
from __future__ import annotations

from ..expr import Const, DimValue, MatMul, Node, Norm1, Norm2, Ones, Power, Scale, Sum, Trace
from .op import (
    POSITIVE,
    Along,
    Composite,
    Domain,
    Op,
    np,
    scalar,
    square_to_scalar,
    to_scalar,
)


def _along_shape(c, dim: int):
    """sum(X, 1) is the row of X's column sums, sum(X, 2) the column of its row sums; a
    dimension of size 1 is summed over one entry, which leaves X as it is (MATLAB)."""
    t = c.arg
    if dim == 1:
        return t if c.is_one(t.rows) else c.type(1, t.cols)
    return t if c.is_one(t.cols) else c.type(t.rows, 1)


def _sum_along(x: Node, dim: int) -> Node:
    # 1'*X is the row of column sums, X*1 the column of row sums
    rows, cols = x.shape
    if dim == 1:
        return x if rows == 1 else MatMul((Ones((1, rows)), x))
    return x if cols == 1 else MatMul((x, Ones((cols, 1))))


def count(d) -> Node:
    """A dimension as a value: 3, or the symbol N (a DimValue)."""
    return Const(d) if isinstance(d, int) else DimValue(d)


def _over(x: Node, d) -> Node:
    """x / d for a dimension d (x itself when d is 1)."""
    return x if d == 1 else Scale(Power(count(d), Const(-1)), x)


SUM = Op(
    name="sum", node=Sum, shape=to_scalar, evaluate=lambda x: scalar(x.sum()),
    along=Along(_along_shape, _sum_along),
    latex=r"\operatorname{sum}", numpy="np.sum", torch="torch.sum", jax="jnp.sum")
# sum |x_ij|: the NumPy printer writes np.sum(np.abs(x))
NORM1 = Op(
    name="norm1", node=Norm1, shape=to_scalar, evaluate=lambda x: scalar(np.abs(x).sum()),
    domain=Domain(kink=True, image=POSITIVE),
    latex=(r"\lVert ", r" \rVert_1"), numpy=None)
# the Euclidean norm of a vector, the Frobenius norm of a matrix
NORM2 = Op(
    name="norm2", node=Norm2, shape=to_scalar,
    evaluate=lambda x: scalar(np.linalg.norm(x)), domain=Domain(nonzero=True, image=POSITIVE),
    latex=(r"\lVert ", r" \rVert_2"), numpy="np.linalg.norm", torch="torch.linalg.norm",
    jax="jnp.linalg.norm")
TRACE = Op(
    name="tr", node=Trace, shape=square_to_scalar, evaluate=lambda x: scalar(np.trace(x)),
    accepts=("trace",),
    latex=r"\operatorname{tr}", numpy="np.trace", torch="torch.trace", jax="jnp.trace")

OPERATIONS = (SUM, NORM1, NORM2, TRACE)


def _mean_shape(c):
    """The mean of a vector's entries is a scalar; of a matrix, the axis must be said
    (MATLAB takes column means, NumPy the mean of every entry: no guess is taken)."""
    t = c.arg
    if t.is_matrix:
        c.fail(f"the mean of the matrix {c.shown} needs a dimension",
               hint=f"mean({c.text}, 1) is the row of column means, mean({c.text}, 2) the "
                    f"column of row means, mean(mean({c.text}, 1)) the mean of every entry",
               instead=f"mean({c.text}, 1)")
    return c.scalar()


def _mean(x: Node) -> Node:
    rows, cols = x.shape
    return _over(Sum(x), rows if cols == 1 else cols)


def _mean_along(x: Node, dim: int) -> Node:
    return _over(_sum_along(x, dim), x.shape[dim - 1])


MEAN = Composite(name="mean", shape=_mean_shape, build=_mean,
                 along=Along(_along_shape, _mean_along))

COMPOSITES = (MEAN,)
