"""Matrix functions: determinant, log-determinant, inverse, diag (a vector's diagonal
matrix, a square matrix's diagonal), and the triangles tril and triu."""
from __future__ import annotations

from ..expr import Det, DiagMat, DiagVec, Inv, LogDet, Tril, Triu
from .op import SPD, WELL_CONDITIONED, Domain, Op, np, scalar, square, square_to_scalar

DET = Op(
    name="det", node=Det, shape=square_to_scalar, evaluate=lambda x: scalar(np.linalg.det(x)),
    # det X > 0 (under a log or a square root) asks for an SPD X
    domain=Domain(argument=frozenset({WELL_CONDITIONED}), when_positive=frozenset({SPD})),
    latex=r"\det", numpy="np.linalg.det", torch="torch.linalg.det", jax="jnp.linalg.det")
# log |det X|, of a matrix with det X > 0; the NumPy printer takes slogdet's second value
LOGDET = Op(
    name="logdet", node=LogDet, shape=square_to_scalar,
    evaluate=lambda x: scalar(np.linalg.slogdet(x)[1]),
    domain=Domain(argument=frozenset({SPD}), when_positive=frozenset({SPD})),
    latex=r"\log \det", numpy="np.linalg.slogdet", torch="torch.linalg.slogdet",
    jax="jnp.linalg.slogdet")
# the printers write X^{-1}
INV = Op(
    name="inv", node=Inv, shape=square, evaluate=lambda x: np.linalg.inv(x),
    domain=Domain(argument=frozenset({WELL_CONDITIONED})), accepts=("inverse",),
    latex="^{-1}", numpy="np.linalg.inv", torch="torch.linalg.inv", jax="jnp.linalg.inv")


def _diag_shape(c):
    """diag(v) of a column v is n x n; diag(X) of a square X is its diagonal, n x 1."""
    t = c.arg
    if t.is_col:
        return c.type(t.rows, t.rows)
    if t.is_row:
        c.fail(f"diag needs a column vector or a square matrix, not the row vector {c.shown}",
               hint=f"did you mean diag({c.transposed}) ?")
    if t.is_scalar:
        c.fail(f"diag needs a column vector or a square matrix, not the scalar {c.text}")
    if not c.unify(t.rows, t.cols):
        c.fail(f"diag of a matrix needs a square matrix, but {c.shown} is not square")
    return c.type(t.rows, 1)


DIAG = Op(
    name="diag", node=DiagMat, shape=_diag_shape,
    build=lambda x: DiagMat(x) if x.shape[1] == 1 and x.shape[0] != 1 else DiagVec(x),
    evaluate=lambda x: np.diag(x[:, 0]),
    latex=r"\operatorname{diag}", numpy="np.diag", torch="torch.diag", jax="jnp.diag")
# diag of a square matrix: built by diag's `build`, so no shape rule of its own
DIAG_OF_MATRIX = Op(
    name="diag", arity=None, node=DiagVec, evaluate=lambda x: np.diag(x).reshape(-1, 1),
    latex=r"\operatorname{diag}", numpy="np.diag", torch="torch.diag", jax="jnp.diag")

# the triangles of a square matrix, the diagonal included (the projections onto the
# triangular matrices, matcalc.structure)
TRIL = Op(name="tril", node=Tril, shape=square, evaluate=lambda x: np.tril(x),
          latex=r"\operatorname{tril}", numpy="np.tril", torch="torch.tril", jax="jnp.tril")
TRIU = Op(name="triu", node=Triu, shape=square, evaluate=lambda x: np.triu(x),
          latex=r"\operatorname{triu}", numpy="np.triu", torch="torch.triu", jax="jnp.triu")

OPERATIONS = (DET, LOGDET, INV, DIAG, DIAG_OF_MATRIX, TRIL, TRIU)
