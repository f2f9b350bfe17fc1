"""Jacobians, Hessians and Hessian-vector products of programs in index notation (issue
16), against oracles that share no derivative code with matcalc.

Two oracles:

- central finite differences of the reference evaluator `matcalc.evaluate` applied to
  the program's output, entry by entry (`Oracle` of tests/test_higher_oracle.py: the
  fourth-order stencil for Jacobians, the Richardson-extrapolated second difference for
  Hessians), on 40 programs;
- for the programs the issue names (the bilinear layer, the trilinear scalar, the
  quadratic map, the batched matrix product, the multi-head projection, the sum of tanh),
  the exact tensors written by hand as `np.einsum` over `np.eye`.

Every form a result has is compared: the index form, the NumPy expression (in the
layout's axis order), the IR node where there is one (a matrix, or the result read back
as one einsum), and the linear map dX ↦ J(dX) along a random move. The oracle values are
checked to be far from zero, so no comparison passes by comparing zero with zero.
"""
from __future__ import annotations

import numpy as np
import pytest
from test_higher_oracle import (
    SIZES,
    Oracle,
    Unreliable,
    compare,
    draw_point,
    draw_values,
    numpy_inputs,
    tensor_array,
)

import matcalc
from matcalc import expr as E
from matcalc.evaluate import evaluate

LAYOUTS = ("denominator", "numerator", "mixed")

# (program, tensor declarations); matrices and vectors take their shapes from the indices
# and the declared tensors. Sizes: n = 2, m = 3, p = 2.
PROGRAMS = [
    # the issue's own
    ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", {"A": "p,n,m", "X": "m,n", "Y": "m,m"}),
    ("f = x[k]*T[k,l,m]*y[l]*z[m]", {"T": "n,m,p"}),
    ("y[i] = T[i,j,k]*x[j]*x[k]", {"T": "n,m,m"}),
    ("C[b,i,j] = A[b,i,k]*B[b,k,j]", {"A": "p,n,m", "B": "p,m,n"}),
    ("Q[h,t,d] = X[t,e]*WQ[h,e,d]", {"WQ": "p,n,m", "X": "m,n"}),
    ("f = sum(tanh(T[i,j,k]*x[k]))", {"T": "n,m,p"}),
    # products, outer products, partial traces
    ("M[i,j] = x[i]*y[j]", {"x": "n", "y": "m"}),
    ("S[i,j,k] = x[i]*y[j]*z[k]", {"x": "n", "y": "m", "z": "p"}),
    ("y[i] = T[i,j,j]", {"T": "n,m,m"}),
    ("v[i] = T[i,j,k]*A[j,k]", {"T": "n,m,p"}),
    ("D[i,j] = T[i,k,l]*T[j,k,l]", {"T": "n,m,p"}),
    ("C[b,i,j] = A[b,i,k]*B[k,j]", {"A": "p,n,m", "B": "m,n"}),
    ("y[b,i] = A[b,i,k]*x[b,k]", {"A": "p,n,m", "x": "p,m"}),
    ("y[b] = x[b,i]*A[i,j]*x[b,j]", {"x": "p,n", "A": "n,n"}),
    ("Y[i,j] = X[i,k]*W[k,j]", {"X": "n,m", "W": "m,p"}),
    ("y[i] = T[i,j,k]*x[j]*z[k] + b[i]", {"T": "n,m,p"}),
    ("R[i,j,k] = T[i,j,k]*s[k]", {"T": "n,m,p"}),
    ("S[i,j,k] = T[i,j,k]*T[i,j,k]", {"T": "n,m,p"}),
    ("B[b,i,j] = A[b,i,j] + A[b,j,i]", {"A": "p,n,n"}),
    # elementwise functions of contractions
    ("Y[i,j] = tanh(T[i,j,k]*x[k])", {"T": "n,m,p"}),
    ("P[i,j,k] = exp(T[i,j,k])", {"T": "n,m,p"}),
    ("H[i,j] = relu(X[i,k]*W[j,k] + c[j])", {"X": "p,n", "W": "m,n"}),
    ("Z[i,j] = sigmoid(X[i,k]*A[j,k,l]*Y[i,l])", {"A": "p,n,m", "X": "m,n", "Y": "m,m"}),
    ("y[i] = exp(A[i,j]*x[j])", {"A": "n,m"}),
    ("Z[i,j] = X[i,k]*W[j,k]; Y = tanh(Z)", {"X": "p,n", "W": "m,n"}),
    # scalar outputs: Jacobians (the gradient), Hessians and H v
    ("f = T[i,j,k]*T[i,j,k]", {"T": "n,m,p"}),
    ("f = x[i]*A[i,j]*x[j]", {"A": "n,n"}),
    ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]; f = sum(softmax(Z, 2) .* G)",
     {"A": "p,n,m", "X": "m,n", "Y": "m,m", "G": "m,p"}),
    ("f = sum(exp(T[i,j,k]*x[i]*y[j]))", {"T": "n,m,p"}),
    ("f = sum(sigmoid(x[i]*T[i,j,k]*y[j]))", {"T": "n,m,p"}),
    ("y[i] = T[i,j,k]*x[j]*x[k]; f = y'*y", {"T": "n,m,m"}),
    ("Q[h,t,d] = X[t,e]*W[h,e,d]; f = Q[h,t,d]*Q[h,t,d]", {"W": "p,n,m", "X": "m,n"}),
    ("v[i] = T[i,j,k]*x[j]*y[k]; f = logsumexp(v)", {"T": "n,m,p"}),
    ("H[i,j] = tanh(X[i,k]*W[j,k] + c[j]); f = sum(H .* H)", {"X": "p,n", "W": "m,n"}),
    ("C[b,i,j] = A[b,i,k]*B[b,k,j]; f = C[b,i,j]*G[b,i,j]",
     {"A": "p,n,m", "B": "p,m,n", "G": "p,n,n"}),
    ("f = T[i,j,k]*x[i]*x[j]*x[k]", {"T": "n,n,n"}),
    ("M[i,j] = T[i,j,k]*x[k]; f = tr(M*M)", {"T": "n,n,m"}),
    ("M[i,j] = T[i,j,k]*x[k]; f = sum(M.^2)", {"T": "n,m,p"}),
    ("f = sum(relu(X[i,k]*W[j,k] + c[j]))", {"X": "p,n", "W": "m,n"}),
    ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l]; f = sum(Z .* Z)", {"A": "p,n,m", "X": "m,n", "Y": "m,m"}),
    ("y[i] = T[i,j,k]*x[j]*x[k]; f = sum(exp(y))", {"T": "n,m,m"}),
    ("f = sum(cos(T[i,j,k]*u[i]))", {"T": "n,m,p"}),
]
IDS = [p for p, _ in PROGRAMS]


def _shapes(decls: dict[str, str]) -> dict:
    return {n: tuple(d.split(",")) for n, d in decls.items()}


def _axes(value: np.ndarray, node: E.Node) -> np.ndarray:
    """One axis per index (matcalc.expr.axes): a 2-D value's singleton axes dropped."""
    return value.reshape(E.axes(value.shape)) if len(node.shape) == 2 else value


def _check(d, key, r, canon, values, rng, context) -> None:
    """Every form of the result `r` against `canon` (the output's axes, then the variable's)."""
    context = f"{context} [{key}]: {r.text}"
    canonical = tuple(r.out_letters + r.in_letters)
    compare("the index form", tensor_array(r.tensor, values, canonical), canon, context)
    want = np.transpose(canon, [canonical.index(i) for i in r.axis_letters])
    compare("the NumPy code", eval(r.numpy, {"np": np}, numpy_inputs(d, values)), want,
            context)
    if r.node is not None:
        compare("the formula", _axes(evaluate(r.node, values, SIZES), r.node), want, context)
    if r.jvp is not None:
        x = values[r.wrt.name]
        dx = rng.standard_normal(x.shape)
        n_in = len(r.in_letters)
        jv = np.tensordot(canon, _axes(dx, r.wrt), axes=n_in) if n_in else canon * dx.item()
        got = evaluate(r.jvp, {**values, r.dvar.name: dx}, SIZES)
        compare("the linear map", _axes(got, r.jvp), jv, context)


def check_program(program, decls, mode, layout, seed) -> float:
    """The largest oracle value compared (to show the comparisons were not of zeros)."""
    d = matcalc.derive(program, mode=mode, layout=layout, shapes=_shapes(decls))
    rng = np.random.default_rng(seed)
    values = draw_point(d, rng)
    context = f"{program!r} --{mode} --layout {layout} (seed {seed})"
    oracle = Oracle(d.output, values)
    size = 0.0
    for key, r in d.derivatives.items():
        a, _, b = key.partition(",")
        if mode == "hvp":                       # (H v)_a = Σ_b ∂²f/∂a ∂b v_b
            want = 0.0
            for b, v in d.directions.items():
                h = oracle.hessian(a, b, True)
                n_b = len(E.axes(values[b].shape)) if len(d.inputs[b].shape) == 2 else \
                    len(d.inputs[b].shape)
                vb = _axes(values[v.name], d.inputs[b])
                want = want + (np.tensordot(h, vb, axes=n_b) if n_b else h * vb)
            compare("H v", eval(r.numpy, {"np": np}, numpy_inputs(d, values)), want,
                    f"{context} [{a}]: {r.text}")
            compare("the formula of H v", _axes(evaluate(r.node, values, SIZES), r.node),
                    want, f"{context} [{a}]: {r.text}")
            size = max(size, float(np.abs(want).max(initial=0.0)))
            continue
        canon = oracle.jacobian(key) if mode == "jacobian" else \
            oracle.hessian(a, b or a, True)
        size = max(size, float(np.abs(canon).max(initial=0.0)))
        _check(d, key, r, canon, values, rng, context)
    return size


def _verdict(program, decls, mode, layout) -> float:
    for seed in range(6):                       # a point where the differences are reliable
        try:
            return check_program(program, decls, mode, layout, seed)
        except Unreliable:
            continue
    pytest.fail(f"{program}: the finite differences disagreed at every point tried")


def _scalar(program, decls) -> bool:
    return matcalc.derive(program, shapes=_shapes(decls)).is_scalar


@pytest.mark.parametrize("program, decls", PROGRAMS, ids=IDS)
def test_jacobians_of_index_programs_match_finite_differences(program, decls):
    size = max(_verdict(program, decls, "jacobian", layout) for layout in LAYOUTS)
    assert size > 0.1, f"{program}: every oracle value is about zero: no evidence"


SCALAR = [(p, s) for p, s in PROGRAMS if _scalar(p, s)]


@pytest.mark.parametrize("program, decls", SCALAR, ids=[p for p, _ in SCALAR])
def test_hessians_of_index_programs_match_finite_differences(program, decls):
    size = max(_verdict(program, decls, "hessian", layout)
               for layout in ("denominator", "numerator"))
    linear = program in ("f = x[k]*T[k,l,m]*y[l]*z[m]",)     # no block is all zeros
    assert size > (0.1 if not linear else 0.5), f"{program}: no evidence"


@pytest.mark.parametrize("program, decls", SCALAR[::2], ids=[p for p, _ in SCALAR[::2]])
def test_hessian_vector_products_of_index_programs_match_finite_differences(program, decls):
    assert _verdict(program, decls, "hvp", "denominator") > 0.1


def test_there_are_forty_programs_and_the_tensor_forms_are_exercised():
    assert len(PROGRAMS) >= 40
    orders = set()
    for program, decls in PROGRAMS:
        d = matcalc.derive(program, mode="jacobian", shapes=_shapes(decls))
        orders |= {len(r.axis_letters) for r in d.derivatives.values()}
    assert {1, 2, 3, 4, 5, 6} <= orders


# ---- the issue's programs, against tensors written by hand -------------------------------

def _exact():
    """(program, decls, variable, ∂output/∂variable as a function of the values, axes
    the output's then the variable's); vectors 1-D."""
    eye = np.eye

    def v(s, name):
        a = s[name]
        return a.ravel() if 1 in a.shape and a.ndim == 2 else a
    return [
        # ∂Z_ij/∂A_klm = δ_jk X_il Y_im
        ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", "A",
         lambda s: np.einsum("jk,il,im->ijklm", eye(2), s["X"], s["Y"])),
        # ∂Z_ij/∂X_kl = δ_ik A_jlm Y_im;  ∂Z_ij/∂b_k = δ_jk
        ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", "X",
         lambda s: np.einsum("ik,jlm,im->ijkl", eye(3), s["A"], s["Y"])),
        ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", "b",
         lambda s: np.einsum("i,jk->ijk", np.ones(3), eye(2))),
        # ∂f/∂T_klm = x_k y_l z_m
        ("f = x[k]*T[k,l,m]*y[l]*z[m]", "T",
         lambda s: np.einsum("k,l,m->klm", v(s, "x"), v(s, "y"), v(s, "z"))),
        # ∂y_i/∂x_l = T_ilk x_k + T_ijl x_j
        ("y[i] = T[i,j,k]*x[j]*x[k]", "x",
         lambda s: np.einsum("ilk,k->il", s["T"], v(s, "x"))
         + np.einsum("ijl,j->il", s["T"], v(s, "x"))),
        # ∂C_bij/∂A_cdk = δ_bc δ_id B_bkj
        ("C[b,i,j] = A[b,i,k]*B[b,k,j]", "A",
         lambda s: np.einsum("bc,id,bkj->bijcdk", eye(2), eye(2), s["B"])),
        ("C[b,i,j] = A[b,i,k]*B[b,k,j]", "B",
         lambda s: np.einsum("bc,je,bik->bijcke", eye(2), eye(2), s["A"])),
        # ∂Q_htd/∂WQ_gef = δ_hg δ_df X_te
        ("Q[h,t,d] = X[t,e]*WQ[h,e,d]", "WQ",
         lambda s: np.einsum("hg,df,te->htdgef", eye(2), eye(3), s["X"])),
        ("Q[h,t,d] = X[t,e]*WQ[h,e,d]", "X",
         lambda s: np.einsum("tu,hed->htdue", eye(3), s["WQ"])),
        # ∂f/∂x_k = Σ_ij (1 - tanh²(T x))_ij T_ijk
        ("f = sum(tanh(T[i,j,k]*x[k]))", "x",
         lambda s: np.einsum("ij,ijk->k", 1 - np.tanh(s["T"] @ v(s, "x")) ** 2, s["T"])),
    ]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("program, name, answer", _exact(),
                         ids=[f"{p} d/d{n}" for p, n, _ in _exact()])
def test_the_issues_jacobians_equal_the_tensors_written_by_hand(program, name, answer, layout):
    decls = dict(PROGRAMS)[program]
    d = matcalc.derive(program, mode="jacobian", layout=layout, wrt=[name],
                       shapes=_shapes(decls))
    r = d.derivatives[name]
    for seed in range(3):
        values = draw_values(d, np.random.default_rng(seed))
        canon = answer(values)
        assert float(np.abs(canon).max()) > 0.1
        _check(d, name, r, canon, values, np.random.default_rng(seed),
               f"{program!r} --layout {layout}")


def test_a_hessian_of_the_trilinear_form_by_hand():
    # ∂²f/∂x_i ∂T_jkl = δ_ij y_k z_l; ∂²f/∂y_i ∂z_j = T_kij x_k; ∂²f/∂x² = 0
    program, decls = PROGRAMS[1]
    d = matcalc.derive(program, mode="hessian", shapes=_shapes(decls))
    values = draw_values(d, np.random.default_rng(0))
    x, y, z = (values[n].ravel() for n in "xyz")
    rng = np.random.default_rng(1)
    _check(d, "x,T", d.derivatives["x,T"], np.einsum("ij,k,l->ijkl", np.eye(2), y, z),
           values, rng, program)
    _check(d, "y,z", d.derivatives["y,z"], np.einsum("kij,k->ij", values["T"], x), values,
           rng, program)
    assert d.derivatives["x"].text == "matrix(0)"


def test_an_order_over_the_limit_is_refused_with_the_limit_named():
    with pytest.raises(matcalc.errors.OptionError, match="order 9, over matcalc.expr.MAX_ORDER"):
        matcalc.derive("C[b,i,j,k] = A[b,i,j,k,l]*x[l]", mode="jacobian", wrt=["A"],
                       shapes={"A": ("n", "n", "n", "n", "n")})


@pytest.mark.parametrize("program", [
    # found by the fuzz harness's index family: the sum of a tensor's entries inside a
    # Hessian's linear map was read as a matrix's (an escape)
    "r = W[l,j,k]*alpha*(W[l,j,k]*alpha*(-1*W[l,j,k])); f = r^2",
    "r = W[l,j,k]*alpha*(W[k,j,k]*W[k,j,k]*(-1*W[l,j,k])); f = r^2",
])
def test_a_hessian_through_the_sum_of_a_tensors_entries_is_verified(program):
    d = matcalc.derive(program, mode="hessian")
    assert all(r.status == "ok" for r in d.check().results.values())
    assert _verdict(program, {}, "hessian", "denominator") > 0.1
