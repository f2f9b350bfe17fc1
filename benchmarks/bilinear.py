"""The bilinear layer of seed 001 (torch.nn.Bilinear), side by side (issue 16).

    Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]        X: N x n, Y: N x m, A: L x n x m, b: L

For float32 and float64, in one run, one thread each (NumPy's BLAS, torch and XLA; the
process pinned to one CPU), in alternating blocks of consecutive calls:

- generated: matcalc's generated `value_and_gradient` (Z and the gradients of X, Y, A
  and b for an upstream dZ);
- torch: `torch.nn.Bilinear` forward and `Z.backward(dZ)`, where installed;
- jax: `jax.jit(jax.value_and_grad(...))` of <Z, dZ> (the same gradients), compiled
  before timing, where installed.

Every contender's gradients are first checked against hand-written einsum references.
Prints the median time of each (ms) and the ratios generated / torch and generated / jax
(target: at most 1, no slower than either).

    python benchmarks/bilinear.py            # N = 256, n = m = 128, L = 64
    python benchmarks/bilinear.py --quick    # fewer rounds
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"                    # one thread each, set before NumPy loads BLAS
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])

import argparse  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import matcalc  # noqa: E402
from mlp import time_rounds  # noqa: E402  (alternating blocks of consecutive calls)

PROGRAM = "Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l] + b[j]"
SHAPES = {"X": "N,n", "Y": "N,m", "A": "L,n,m", "b": "L"}
SIZE = {"N": 256, "n": 128, "m": 128, "L": 64}
NAMES = ("X", "Y", "A", "b")


def inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    N, n, m, L = SIZE["N"], SIZE["n"], SIZE["m"], SIZE["L"]
    X = rng.standard_normal((N, n)).astype(dtype)
    Y = rng.standard_normal((N, m)).astype(dtype)
    A = (rng.standard_normal((L, n, m)) / np.sqrt(n * m)).astype(dtype)
    b = rng.standard_normal(L).astype(dtype)
    dZ = rng.standard_normal((N, L)).astype(dtype)
    return {"X": X, "Y": Y, "A": A, "b": b}, dZ


def reference(v, dZ):
    """Z and the gradients, by hand: the layer's definition and its adjoints."""
    X, Y, A, b = (v[k].astype(np.float64) for k in NAMES)
    dZ = dZ.astype(np.float64)
    Z = np.einsum("ik,jkl,il->ij", X, A, Y) + b
    return Z, {"X": np.einsum("ij,jkl,il->ik", dZ, A, Y),
               "Y": np.einsum("ij,ik,jkl->il", dZ, X, A),
               "A": np.einsum("ij,ik,il->jkl", dZ, X, Y),
               "b": dZ.sum(axis=0)}


def generated_contender(v, dZ):
    module = matcalc.derive(PROGRAM, shapes=SHAPES).compile()

    def run():
        return module.value_and_gradient(v["X"], v["A"], v["Y"], v["b"], dZ=dZ)
    return run


def torch_contender(v, dZ):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    dtype = torch.float32 if v["X"].dtype == np.float32 else torch.float64
    layer = torch.nn.Bilinear(SIZE["n"], SIZE["m"], SIZE["L"], dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(v["A"]))
        layer.bias.copy_(torch.as_tensor(v["b"]))
    X = torch.as_tensor(v["X"]).clone().requires_grad_(True)
    Y = torch.as_tensor(v["Y"]).clone().requires_grad_(True)
    up = torch.as_tensor(dZ)

    def run():
        for p in (X, Y, layer.weight, layer.bias):
            p.grad = None
        Z = layer(X, Y)
        Z.backward(up)
        return Z, {"X": X.grad, "Y": Y.grad, "A": layer.weight.grad, "b": layer.bias.grad}
    return run


def jax_contender(v, dZ):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    args = [jnp.asarray(v[k]) for k in NAMES]
    up = jnp.asarray(dZ)

    def loss(X, Y, A, b):
        return jnp.vdot(jnp.einsum("ik,jkl,il->ij", X, A, Y) + b, up)
    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
    jax.block_until_ready(step(*args))

    def run():
        value, grads = jax.block_until_ready(step(*args))
        return value, dict(zip(NAMES, grads))
    return run


def check(contenders, v, dZ) -> None:
    _, want = reference(v, dZ)
    rtol = 1e-3 if v["X"].dtype == np.float32 else 1e-10
    for who, fn in contenders.items():
        _, grads = fn()
        for name in NAMES:
            g = grads[name]
            g = np.asarray(g.detach() if hasattr(g, "detach") else g)
            assert g.dtype == v["X"].dtype, (who, name, g.dtype)
            scale = np.abs(want[name]).max()
            assert np.allclose(g, want[name], rtol=rtol, atol=rtol * scale), (who, name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    opts = parser.parse_args(argv)
    rounds = 2 if opts.quick else 6
    print(f"bilinear layer {PROGRAM}")
    print("sizes " + ", ".join(f"{k} = {s}" for k, s in SIZE.items()) + "; one thread")
    met = True
    for dtype in (np.float32, np.float64):
        v, dZ = inputs(dtype)
        contenders = {"generated": generated_contender(v, dZ)}
        for name, make in (("torch", torch_contender), ("jax", jax_contender)):
            fn = make(v, dZ)
            if fn is not None:
                contenders[name] = fn
        check(contenders, v, dZ)
        ms = time_rounds(contenders, rounds, block=5)
        row = [f"{np.dtype(dtype).name:8}"] + [f"{k} {t:7.2f} ms" for k, t in ms.items()]
        ratios = {k: ms["generated"] / t for k, t in ms.items() if k != "generated"}
        row += [f"generated/{k} {r:.2f}" for k, r in ratios.items()]
        print("  ".join(row))
        met &= all(r <= 1.0 for r in ratios.values())
    print("target (no slower than either):", "met" if met else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
