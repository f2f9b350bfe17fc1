"""Jacobian, Hessian and Hessian-vector-product modules (matcalc/codegen/higher.py).

They come from the generator of gradient modules, so they say and check what gradient
modules do: shapes checked at entry with the same readable ValueError, arrays in the
arguments' dtype (float32 stays float32), docstrings with every shape. The oracle for
their values is the result's own NumPy expression (`HigherDerivative.numpy`, printed by
the plain NumPy printer and itself checked against finite differences by `d.check()`
and tests/test_higher_oracle.py): every mode, every layout, on a few dozen programs of
the corpus and the examples.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from test_codegen import user_value
from test_corpus import CORPUS

import matcalc
from matcalc.check import first_point
from matcalc.errors import OptionError
from matcalc.expr import Var, walk

MODES = ("jacobian", "hessian", "hvp")
LAYOUTS = ("denominator", "numerator", "mixed")
# every eighth corpus program, and the forms the code writes in a way of its own
PROGRAMS = [(p, s or None) for p, s, sizes, k in CORPUS[::8] if not sizes and k == "ml"] + [
    ("sum(log(vector(1) + exp(-y .* (X*w))))", {"X": "N,n"}),    # B'*B for BLAS's syrk
    ("sum(cos(X*w))", {"X": "N,n"}),                             # X'*diag(w)*X, w of any sign
    ("Y = X*A'", {"X": "N,n"}),                                  # a tensor: np.einsum
    ("y = A*b + c", {"b": "m,1", "c": "n,1"}),                   # vectors kept 2-D
    ("x'*A*x + sum(exp(x))", None),
    ("softmax(x)", None),
    ("log(det(X))", None),
    # index notation (issue 16): einsums in the module, tensors of order up to 6
    ("Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]", {"A": "L,n,m"}),
    ("f = sum(tanh(T[i,j,k]*x[k]))", {"T": "n,m,p"}),
    ("C[b,i,j] = A[b,i,k]*B[b,k,j]", {"A": "p,n,m", "B": "p,m,q"}),
    ("y[i] = T[i,j,k]*x[j]*x[k]; f = sum(exp(y))", {"T": "n,m,m"}),
]


def derive(program, shapes, mode, layout="denominator"):
    """The derivation, or None for the Hessian of a non-scalar output (refused so)."""
    try:
        return matcalc.derive(program, shapes=shapes, mode=mode, layout=layout)
    except OptionError as e:
        assert mode != "jacobian" and f"--{mode} needs a scalar output" in str(e)
        return None


def point(hd, seed: int):
    """{variable or direction name: value as the module takes it}, in the module's order."""
    roots = [hd.output, *hd.inputs.values(), *hd.directions.values()]
    for d in hd.derivatives.values():
        roots += [d.node] if d.node is not None else \
            [f.node for t in d.tensor.terms for f in t.factors]
    variables = {n.name: n for r in roots for n in walk(r) if isinstance(n, Var)}
    _, _, found = first_point(roots, variables, seed=seed, labels=hd.onehot)
    assert not isinstance(found, str), found
    values, _ = found
    out = {}
    for v in [*hd.inputs.values(), *hd.directions.values()]:
        out[hd.base.python_names.get(v.name, v.name)] = user_value(values[v.name], v,
                                                                   hd.keep_2d)
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("program,shapes", PROGRAMS, ids=[p for p, _ in PROGRAMS])
def test_a_module_computes_what_the_numpy_expressions_compute(program, shapes, mode, layout):
    hd = derive(program, shapes, mode, layout)
    if hd is None:
        return
    args = point(hd, zlib.crc32(program.encode()))
    got = getattr(hd.compile(), mode)(*args.values())
    assert list(got) == list(hd.derivatives)
    for name, d in hd.derivatives.items():
        want = np.asarray(eval(d.numpy, {"np": np}, dict(args)), dtype=float)
        value = np.asarray(got[name])
        assert value.shape == want.shape, name
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        np.testing.assert_allclose(value, want, rtol=1e-9, atol=1e-12 * scale, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("program,shapes", PROGRAMS, ids=[p for p, _ in PROGRAMS])
def test_float32_stays_float32(program, shapes, mode):
    hd = derive(program, shapes, mode)
    if hd is None:
        return
    args = point(hd, 7)
    module = hd.compile()
    single = [np.asarray(a, dtype=np.float32) for a in args.values()]
    got = getattr(module, mode)(*single)
    want = getattr(module, mode)(*args.values())
    for name, value in got.items():
        assert np.asarray(value).dtype == np.float32, name
        scale = max(1.0, float(np.abs(want[name]).max(initial=0)))
        np.testing.assert_allclose(value, want[name], rtol=1e-2, atol=1e-3 * scale,
                                   err_msg=name)
    assert np.asarray(module.forward(*single[:len(hd.inputs)])).dtype == np.float32


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_shape_is_refused_at_entry_as_the_gradient_module_refuses_it(mode):
    program, shapes = "sum(log(vector(1) + exp(-y .* (X*w))))", {"X": "N,n"}
    hd = matcalc.derive(program, shapes=shapes, mode=mode)
    args = point(hd, 3)
    N, n = args["X"].shape
    args["X"] = args["X"].T                                   # passed transposed
    with pytest.raises(ValueError) as higher:
        getattr(hd.compile(), mode)(*args.values())
    gradient = matcalc.derive(program, shapes=shapes).compile()
    with pytest.raises(ValueError) as same:
        gradient.forward(*list(args.values())[:3])
    assert str(higher.value) == str(same.value)
    assert str(higher.value) == \
        f"X must be N x n; got ({n}, {N}) with N = {N} from y, n = {n} from w (transposed?)"
    with pytest.raises(ValueError, match=rf"^w must be a vector of length n; got \({n}, 1\)"):
        getattr(hd.compile(), mode)(*[a if k != "w" else a[:, None] for k, a in args.items()])


def test_a_direction_of_the_wrong_shape_is_refused_by_its_name():
    hd = matcalc.derive("x'*A*x + sum(exp(x))", mode="hvp")
    args = point(hd, 1)
    args["V_A"] = args["V_A"][:, :-1]
    with pytest.raises(ValueError, match=r"^V_A must be n x n; got "):
        hd.compile().hvp(*args.values())


def test_the_module_states_every_shape_and_result():
    src = matcalc.derive("Y = X*A'", shapes={"X": "N,n"}, wrt=["X"], mode="jacobian").codegen()
    assert src.startswith(matcalc.codegen.GENERATED_MARKER + " ")
    assert '"X"  N x n x N x m, dY/dX, axes [k, l, i, j] = ∂Y_ij/∂X_kl' in src
    assert 'SHAPES = {"X": ("N", "n"), "A": ("m", "n")}' in src
    assert '"""The Jacobians {"X": dY/dX}."""' in src
    src = matcalc.derive("x'*A*x + sum(exp(x))", mode="hvp").codegen()
    assert "    V_A  n x n, the direction of A" in src
    assert "V_A: the direction of A, n x n." in src


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_higher_modules_are_numpy_only(target):
    with pytest.raises(OptionError, match=r"--hessian generates NumPy code only"):
        matcalc.derive("x'*A*x", mode="hessian").codegen(target)
