"""The 2-layer softmax classifier with L2 regularisation, side by side (issue 5, point 5).

    H = relu(X*W1 + b1')
    S = H*W2 + b2'
    L = -sum(Y .* log(softmax(S')'))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)

rows as samples, Y one-hot by rows. For each size and dtype, in one run, in alternating
blocks of consecutive calls (see `time_rounds`):

- generated: matcalc's generated `value_and_gradient` (loss and the gradients of W1, b1,
  W2, b2);
- hand-written: the same in NumPy, CS231n style, written with care (in-place updates,
  the ReLU mask as a product, `dW1 += reg * W1` as everyone writes it);
- forward: the generated `forward` alone (the cheap-gradient bound compares with it);
- torch: PyTorch autograd on the CPU (forward and `loss.backward()`), where installed;
- jax: `jax.jit(jax.value_and_grad(loss))`, compiled before timing, where installed.

Prints the median time of each (ms) and the ratios generated / hand-written, generated /
forward, generated / torch and generated / jax, and whether the targets of issue 5 are
met (<= 1.05, <= 2.3, < 1 and < 1). Every contender's loss and gradients are first checked
against the hand-written ones.

With OPENBLAS_NUM_THREADS=k set, the process is pinned to k CPUs, torch runs k threads
(`torch.set_num_threads`) and XLA k intra-op threads (XLA_FLAGS, unless set already), so
that every contender gets the same cores.

    python benchmarks/mlp.py              # both sizes, float64 and float32
    python benchmarks/mlp.py --quick      # fewer rounds
    OPENBLAS_NUM_THREADS=1 python benchmarks/mlp.py   # one thread each (steadier when busy)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import matcalc

PROGRAM = """H = relu(X*W1 + b1')
S = H*W2 + b2'
L = -sum(Y .* log(softmax(S')'))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)"""
SHAPES = {"X": "N,D", "W1": "D,K", "W2": "K,C", "Y": "N,C", "reg": "scalar"}
SIZES = [(64, 784, 128, 10), (256, 3072, 512, 10)]
DTYPES = [np.float64, np.float32]
TARGET_HANDWRITTEN, TARGET_FORWARD = 1.05, 2.3
THREADS = os.environ.get("OPENBLAS_NUM_THREADS")


def same_cores() -> str:
    """With OPENBLAS_NUM_THREADS=k (call before JAX starts): k intra-op threads for XLA
    (XLA_FLAGS, unless set), and this process pinned to k CPUs, since XLA sizes its thread
    pool by the CPUs it may use (its flags alone did not keep it to one): every contender
    gets the cores NumPy gets. hessian.py uses it too. Returns the setting, for the header."""
    if not THREADS:
        return "default"
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          f"intra_op_parallelism_threads={THREADS}")
    if not hasattr(os, "sched_setaffinity"):
        return THREADS
    cpus = sorted(os.sched_getaffinity(0))[:int(THREADS)]
    os.sched_setaffinity(0, cpus)
    return f"{THREADS}, pinned to CPU {','.join(map(str, cpus))}"


def handwritten(X, W1, b1, W2, b2, Y, reg):
    """Loss and gradients as CS231n's two-layer net computes them, by hand."""
    N = X.shape[0]
    hidden = X @ W1
    hidden += b1
    np.maximum(hidden, 0, out=hidden)
    scores = hidden @ W2
    scores += b2
    scores -= scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    sum_exp = exp_scores.sum(axis=1, keepdims=True)
    log_probs = scores - np.log(sum_exp)
    loss = -np.vdot(Y, log_probs) / N + 0.5 * reg * (np.vdot(W1, W1) + np.vdot(W2, W2))
    dscores = exp_scores
    dscores /= sum_exp
    dscores -= Y
    dscores /= N
    dW2 = hidden.T @ dscores
    dW2 += reg * W2
    db2 = dscores.sum(axis=0)
    dhidden = dscores @ W2.T
    dhidden *= hidden > 0
    dW1 = X.T @ dhidden
    dW1 += reg * W1
    db1 = dhidden.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def inputs(N, D, K, C, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    W1 = (rng.standard_normal((D, K)) / np.sqrt(D)).astype(dtype)
    b1 = (0.1 * rng.standard_normal(K)).astype(dtype)
    W2 = (rng.standard_normal((K, C)) / np.sqrt(K)).astype(dtype)
    b2 = (0.1 * rng.standard_normal(C)).astype(dtype)
    Y = np.eye(C, dtype=dtype)[rng.integers(0, C, N)]
    return X, W1, b1, W2, b2, Y, 1e-3


def torch_contender(args):
    """PyTorch autograd: returns run() -> (loss, {name: gradient}), or None."""
    try:
        import torch
    except ImportError:
        return None
    if THREADS:
        torch.set_num_threads(int(THREADS))
    X, W1, b1, W2, b2, Y = [torch.as_tensor(a) for a in args[:6]]
    reg = args[6]
    params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]

    def run():
        w1, c1, w2, c2 = params
        for p in params:
            p.grad = None
        hidden = torch.relu(X @ w1 + c1)
        scores = hidden @ w2 + c2
        loss = -(Y * torch.log_softmax(scores, dim=1)).sum() / X.shape[0] + \
            0.5 * reg * ((w1 * w1).sum() + (w2 * w2).sum())
        loss.backward()
        return loss, dict(zip(("W1", "b1", "W2", "b2"), (p.grad for p in params)))
    return run


def jax_contender(args):
    """jax.jit(jax.value_and_grad(loss)), compiled here: run() -> (loss, gradients)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)        # float64 stays float64; float32 too
    X, W1, b1, W2, b2, Y = [jnp.asarray(a) for a in args[:6]]
    reg = args[6]

    def loss(w1, c1, w2, c2):
        hidden = jax.nn.relu(X @ w1 + c1)
        scores = hidden @ w2 + c2
        return -jnp.sum(Y * jax.nn.log_softmax(scores, axis=1)) / X.shape[0] + \
            0.5 * reg * (jnp.vdot(w1, w1) + jnp.vdot(w2, w2))
    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
    jax.block_until_ready(step(W1, b1, W2, b2))          # compile outside the timing

    def run():
        value, grads = jax.block_until_ready(step(W1, b1, W2, b2))
        return value, dict(zip(("W1", "b1", "W2", "b2"), grads))
    return run


def time_rounds(contenders: dict, rounds: int, block: int = 8) -> dict[str, float]:
    """Median wall time (ms) of one call of each contender. Each round runs every
    contender for a block of consecutive calls (a training loop calls one function over
    and over; interleaving single calls would let one contender's temporaries disturb the
    allocator of the next) and keeps all but the block's first call; the blocks of the
    contenders alternate, so drift in the machine's load hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():                        # warm caches and allocators
        for _ in range(3):
            fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            for i in range(block):
                t0 = time.perf_counter()
                fn()
                if i:
                    samples[name].append(time.perf_counter() - t0)
    return {name: 1e3 * statistics.median(s) for name, s in samples.items()}


def check_agreement(contenders: dict, args) -> None:
    """Every contender computes the hand-written numbers, in the arguments' dtype. In
    float32 loosely: a pre-activation within rounding of 0 may fall on the other side of
    the relu kink in another library's summation order (at N=256 one does in torch and
    JAX, moving a column of dW1 by 2% of dW1's largest entry); float64 strictly."""
    loss_h, grads_h = handwritten(*args)
    f32 = args[0].dtype == np.float32
    rtol = 1e-4 if f32 else 1e-10
    for who, fn in contenders.items():
        loss, grads = fn()
        loss = np.asarray(loss.detach() if hasattr(loss, "detach") else loss)
        assert np.allclose(loss, loss_h, rtol=rtol), (who, loss, loss_h)
        for name in grads_h:
            g = grads[name]
            g = np.asarray(g.detach() if hasattr(g, "detach") else g)
            assert g.dtype == args[0].dtype, (who, name, g.dtype)
            atol = (5e-2 if f32 else 1e-13) * np.abs(grads_h[name]).max()
            assert np.allclose(g, grads_h[name], rtol=rtol, atol=atol), (who, name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per case")
    parser.add_argument("--show-code", action="store_true", help="print the generated module")
    opts = parser.parse_args(argv)

    d = matcalc.derive(PROGRAM, wrt=["W1", "b1", "W2", "b2"], shapes=SHAPES, onehot=["Y=rows"])
    gen = d.compile()
    if opts.show_code:
        print(d.codegen())
    print(f"numpy {np.__version__}, threads (BLAS, torch, XLA): {same_cores()}, "
          f"{os.cpu_count()} CPUs; program:\n    " + PROGRAM.replace("\n", "\n    "))
    header = (f"{'N':>4} {'D':>5} {'K':>4} {'C':>3} {'dtype':>7} | {'generated':>9} "
              f"{'by hand':>8} {'forward':>8} {'torch':>8} {'jax':>8} | "
              f"{'gen/hand':>8} {'gen/fwd':>7} {'gen/torch':>9} {'gen/jax':>7}")
    print("\nmedian ms per call (value and gradient unless noted)\n" + header)
    print("-" * len(header))
    ok = True
    for N, D, K, C in SIZES:
        for dtype in DTYPES:
            args = inputs(N, D, K, C, dtype)
            contenders = {
                "generated": lambda a=args: gen.value_and_gradient(*a),
                "by hand": lambda a=args: handwritten(*a),
            }
            extra = {"torch": torch_contender(args), "jax": jax_contender(args)}
            contenders.update({k: v for k, v in extra.items() if v is not None})
            check_agreement(contenders, args)
            contenders["forward"] = lambda a=args: gen.forward(*a)
            rounds = opts.rounds or (3 if opts.quick else (60 if N * D < 10 ** 6 else 8))
            ms = time_rounds(contenders, rounds)
            ratios = {"hand": ms["generated"] / ms["by hand"],
                      "fwd": ms["generated"] / ms["forward"]}
            ratios.update({k: ms["generated"] / ms[k] for k in ("torch", "jax") if k in ms})
            ok = ok and ratios["hand"] <= TARGET_HANDWRITTEN and \
                ratios["fwd"] <= TARGET_FORWARD and \
                all(ratios[k] < 1 for k in ("torch", "jax") if k in ratios)
            cols = [f"{ms[k]:8.3f}" if k in ms else f"{'-':>8}" for k in ("torch", "jax")]
            rs = [f"{ratios[k]:{w}.3f}" if k in ratios else f"{'-':>{w}}"
                  for k, w in (("torch", 9), ("jax", 7))]
            print(f"{N:>4} {D:>5} {K:>4} {C:>3} {np.dtype(dtype).name:>7} | "
                  f"{ms['generated']:9.3f} {ms['by hand']:8.3f} {ms['forward']:8.3f} "
                  f"{cols[0]} {cols[1]} | {ratios['hand']:8.3f} {ratios['fwd']:7.3f} "
                  f"{rs[0]} {rs[1]}")
    missing = [m for m in ("torch", "jax") if _missing(m)]
    if missing:
        print(f"\n{' and '.join(missing)} not installed: those columns are empty.")
    print(f"\ntargets: generated / by hand <= {TARGET_HANDWRITTEN}, "
          f"generated / forward <= {TARGET_FORWARD}, generated / torch < 1, "
          f"generated / jax < 1: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def _missing(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
