"""Hessians side by side: matcalc's generated code, a closed-form NumPy reference,
jax.jit(jax.hessian) (compile time excluded) and torch.autograd.functional.hessian.

    python benchmarks/hessian.py [--sizes 100,500,1000] [--repeat 7]

Two problems of issue 6, at n = 100, 500, 1000:
- the logistic loss sum(log(1 + exp(-y .* (X*w)))), X 2n x n, labels y in {-1, 1},
  Hessian in w;
- x'*A*x + sum(exp(x)), Hessian in x.
Times are the best of `repeat` rounds (after one warm-up call, which for jax is the
compilation); each round runs every implementation once, interleaved, so that changes of
machine load fall on all of them alike. Each implementation's result is checked against the reference first.
The targets: matcalc <= 1.2x the closed form; >= 2x (logistic) and >= 20x (quadratic)
faster than jax at n = 1000, where jax is installed. On a busy machine, multithreaded BLAS
times are erratic: OPENBLAS_NUM_THREADS=1 gives comparable numbers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import matcalc

LOGISTIC = "sum(log(vector(1) + exp(-y .* (X*w))))"
QUADRATIC = "x'*A*x + sum(exp(x))"


# ---- the closed forms, as one writes them by hand --------------------------------------------

def logistic_reference(X, y, w):
    # H = X' diag(s (1 - s)) X,  s = sigmoid(-y .* (X w))  (y^2 = 1)
    s = 1.0 / (1.0 + np.exp(y * (X @ w)))
    return X.T @ ((s * (1.0 - s))[:, None] * X)


def quadratic_reference(A, x):
    return A + A.T + np.diag(np.exp(x))


def logistic_inputs(n, rng):
    X = rng.standard_normal((2 * n, n)) / np.sqrt(n)
    y = np.where(rng.standard_normal(2 * n) > 0, 1.0, -1.0)
    w = rng.standard_normal(n)
    return {"X": X, "y": y, "w": w}


def quadratic_inputs(n, rng):
    return {"A": rng.standard_normal((n, n)), "x": rng.standard_normal(n) * 0.1}


# ---- optional frameworks -------------------------------------------------------------------

def jax_hessians():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def logistic(w, X, y):
        return jnp.sum(jnp.logaddexp(0.0, -y * (X @ w)))

    def quadratic(x, A):
        return x @ A @ x + jnp.sum(jnp.exp(x))
    hl = jax.jit(jax.hessian(logistic))
    hq = jax.jit(jax.hessian(quadratic))
    return {"logistic": lambda v: np.asarray(hl(v["w"], v["X"], v["y"]).block_until_ready()),
            "quadratic": lambda v: np.asarray(hq(v["x"], v["A"]).block_until_ready())}


def torch_hessians():
    try:
        import torch
    except ImportError:
        return None
    from torch.autograd.functional import hessian

    def logistic(v):
        X, y = torch.from_numpy(v["X"]), torch.from_numpy(v["y"])
        f = lambda w: torch.sum(torch.nn.functional.softplus(-y * (X @ w)))
        return hessian(f, torch.from_numpy(v["w"])).numpy()

    def quadratic(v):
        A = torch.from_numpy(v["A"])
        f = lambda x: x @ A @ x + torch.sum(torch.exp(x))
        return hessian(f, torch.from_numpy(v["x"])).numpy()
    return {"logistic": logistic, "quadratic": quadratic}


# ---- timing ------------------------------------------------------------------------------------

def best_times(fns: dict, repeat: int) -> dict:
    """The best time of each function over at least `repeat` rounds (more for fast calls);
    within a round the functions run one after the other, so that a change of machine
    load affects them alike."""
    first = 0.0
    for fn in fns.values():
        t0 = time.perf_counter()
        fn()                                               # warm-up (jax: compilation)
        first = max(first, time.perf_counter() - t0)
    best = {name: float("inf") for name in fns}
    rounds = max(repeat, min(500, int(2.0 / max(first, 1e-6))))    # fast calls: more rounds
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,500,1000")
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)

    generated = {
        "logistic": matcalc.derive(LOGISTIC, wrt=["w"], mode="hessian",
                                   shapes={"X": "N,n"}).compile(),
        "quadratic": matcalc.derive(QUADRATIC, wrt=["x"], mode="hessian").compile(),
    }
    problems = {
        "logistic": (logistic_inputs, lambda v: generated["logistic"].hessian(**v)["w"],
                     lambda v: logistic_reference(v["X"], v["y"], v["w"])),
        "quadratic": (quadratic_inputs, lambda v: generated["quadratic"].hessian(**v)["x"],
                      lambda v: quadratic_reference(v["A"], v["x"])),
    }
    frameworks = {"jax": jax_hessians(), "torch": torch_hessians()}
    for name, fw in frameworks.items():
        if fw is None:
            print(f"# {name}: not installed here, column skipped")
    import os
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# numpy {np.__version__}, BLAS threads {threads or 'default'}, {os.cpu_count()} "
          f"CPUs, load average {load:.1f}; best of >= {args.repeat} interleaved rounds; "
          "times in ms")
    head = f"{'problem':<10} {'n':>5} {'matcalc':>9} {'closed form':>11} {'ratio':>6}"
    for name, fw in frameworks.items():
        if fw is not None:
            head += f" {name:>9} {name + '/mc':>9}"
    print(head + "  target")
    ok = True
    for problem, (inputs, gen, ref) in problems.items():
        for n in sizes:
            v = inputs(n, rng)
            want = ref(v)
            np.testing.assert_allclose(gen(v), want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
            fns = {"matcalc": lambda gen=gen, v=v: gen(v),
                   "closed form": lambda ref=ref, v=v: ref(v)}
            for name, fw in frameworks.items():
                if fw is not None:
                    f = fw[problem]
                    np.testing.assert_allclose(f(v), want, rtol=1e-6,
                                               atol=1e-6 * np.abs(want).max())
                    fns[name] = lambda f=f, v=v: f(v)
            t = best_times(fns, args.repeat)
            ratio = t["matcalc"] / t["closed form"]
            row = f"{problem:<10} {n:>5} {1e3 * t['matcalc']:>9.3f} " \
                f"{1e3 * t['closed form']:>11.3f} {ratio:>6.2f}"
            verdict = ratio <= 1.2
            for name, fw in frameworks.items():
                if fw is None:
                    continue
                speedup = t[name] / t["matcalc"]
                row += f" {1e3 * t[name]:>9.3f} {speedup:>9.1f}"
                if name == "jax" and n == 1000:
                    verdict &= speedup >= (2 if problem == "logistic" else 20)
            ok &= verdict
            print(row + ("  ok" if verdict else "  MISSED"))
    print("# ratio = matcalc / closed form (target <= 1.2); name/mc = framework / matcalc")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
