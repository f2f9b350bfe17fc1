"""Reductions: a matrix to the scalar of its entries' sum, norm or trace."""
from __future__ import annotations

from ..expr import Norm1, Norm2, Sum, Trace
from .op import POSITIVE, Domain, Op, np, scalar, square_to_scalar, to_scalar

SUM = Op(
    name="sum", node=Sum, shape=to_scalar, evaluate=lambda x: scalar(x.sum()),
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
    aliases={"frobenius": "norm2", "norm": "norm2"},
    latex=(r"\lVert ", r" \rVert_2"), numpy="np.linalg.norm", torch="torch.linalg.norm",
    jax="jnp.linalg.norm")
TRACE = Op(
    name="tr", node=Trace, shape=square_to_scalar, evaluate=lambda x: scalar(np.trace(x)),
    aliases={"trace": "tr"},
    latex=r"\operatorname{tr}", numpy="np.trace", torch="torch.trace", jax="jnp.trace")

OPERATIONS = (SUM, NORM1, NORM2, TRACE)
