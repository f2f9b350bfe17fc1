"""Scale-out: matcalc's generated gradients inside the engines' own data parallelism.

- JAX: the generated `jax.custom_vjp` function, under `jax.jit`, with its batch sharded
  over 4 host devices (`XLA_FLAGS=--xla_force_host_platform_device_count=4`, so a new
  process: the flag must be set before JAX is imported) through a `Mesh` and
  `NamedSharding`; XLA adds the all-reduce over the batch.
- torch: the generated `torch.autograd.Function` inside `DistributedDataParallel`, in 2
  processes (`torch.multiprocessing.spawn`) with the gloo backend on 127.0.0.1; DDP
  averages the two halves' gradients.
Each compares the gradients with the single-process result on the whole batch, and with
matcalc's NumPy module. The program is a two-layer network in batch form whose loss is a
mean over the batch (`/N`), so the average of the shards' mean gradients is the whole
batch's.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import matcalc

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = "H = tanh(X*W1' + b1'); O = H*W2' + b2'; J = 0.5*norm2(O - Y)^2/N"
WRT = ["W1", "b1", "W2", "b2"]
SHAPES = {"X": ("N", "d")}

# the data, the same in every process: a batch of 32, 5 inputs, 4 hidden units, 3 outputs
DATA = textwrap.dedent("""
    import numpy as np
    rng = np.random.default_rng(0)
    N, d, n, m = 32, 5, 4, 3
    X, Y = rng.normal(size=(N, d)), rng.normal(size=(N, m))
    W1, b1 = rng.normal(size=(n, d)), rng.normal(size=n)
    W2, b2 = rng.normal(size=(m, n)), rng.normal(size=m)
""")


def need(module: str, why: str) -> None:
    """Skip, saying why, when `module` is absent (found without importing it here)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(why)


def write_modules(tmp_path: Path, target: str) -> None:
    d = matcalc.derive(PROGRAM, wrt=WRT, shapes=SHAPES)
    (tmp_path / f"mlp_{target}.py").write_text(d.codegen(target), encoding="utf-8")
    (tmp_path / "mlp_numpy.py").write_text(d.codegen("numpy"), encoding="utf-8")
    (tmp_path / "data.py").write_text(DATA, encoding="utf-8")


def run_script(tmp_path: Path, script: str, **env) -> str:
    path = tmp_path / "run.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(env)
    r = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=environ,
                       capture_output=True, text=True, check=False, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r.stdout


def test_jax_module_data_parallel_over_4_devices(tmp_path):
    need("jax", "JAX is optional (codegen --target jax) and not installed")
    write_modules(tmp_path, "jax")
    out = run_script(tmp_path, """
        import jax
        jax.config.update("jax_enable_x64", True)
        import numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

        import mlp_jax, mlp_numpy
        from data import N, X, Y, W1, b1, W2, b2

        assert len(jax.devices()) == 4, jax.devices()
        grad = jax.jit(jax.grad(mlp_jax.forward, argnums=(1, 2, 3, 4)))
        single = grad(X, W1, b1, W2, b2, Y)                 # one device, whole batch

        mesh = Mesh(np.array(jax.devices()), ("batch",))
        rows = NamedSharding(mesh, P("batch", None))        # the batch split in 4
        everywhere = NamedSharding(mesh, P())               # the weights replicated
        Xs, Ys = jax.device_put(X, rows), jax.device_put(Y, rows)
        params = [jax.device_put(p, everywhere) for p in (W1, b1, W2, b2)]
        assert len(Xs.sharding.device_set) == 4
        assert {s.data.shape for s in Xs.addressable_shards} == {(N // 4, X.shape[1])}
        hlo = grad.lower(Xs, *params, Ys).compile().as_text()
        assert "all-reduce" in hlo                          # the batch sum across devices
        sharded = grad(Xs, *params, Ys)

        reference = mlp_numpy.gradient(X, W1, b1, W2, b2, Y)
        for name, a, b in zip(["W1", "b1", "W2", "b2"], single, sharded):
            assert len(b.sharding.device_set) == 4
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(np.asarray(b), reference[name], rtol=1e-12, atol=1e-14)
        print("devices", len(jax.devices()), "max diff",
              max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                  for a, b in zip(single, sharded)))
    """, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    assert out.startswith("devices 4")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torch_function_in_distributed_data_parallel_2_processes(tmp_path):
    need("torch", "torch is optional (codegen --target torch) and not installed")
    write_modules(tmp_path, "torch")
    out = run_script(tmp_path, f"""
        import os
        import sys

        import numpy as np
        import torch
        import torch.distributed as dist
        import torch.multiprocessing as mp
        from torch.nn.parallel import DistributedDataParallel

        import mlp_torch, mlp_numpy
        from data import N, X, Y, W1, b1, W2, b2

        WORLD, PORT = 2, {free_port()}


        class MLP(torch.nn.Module):
            # the parameters; the loss and its backward are matcalc's Function
            def __init__(self):
                super().__init__()
                self.W1, self.b1, self.W2, self.b2 = (
                    torch.nn.Parameter(torch.tensor(p)) for p in (W1, b1, W2, b2))

            def forward(self, X, Y):
                return mlp_torch.Function.apply(X, self.W1, self.b1, self.W2, self.b2, Y)


        def grads(model):
            return [p.grad.detach().numpy().copy() for p in model.parameters()]


        def worker(rank, out):
            os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(PORT)
            dist.init_process_group("gloo", rank=rank, world_size=WORLD)
            torch.set_num_threads(1)
            model = DistributedDataParallel(MLP())
            half = slice(rank * N // WORLD, (rank + 1) * N // WORLD)   # this rank's shard
            loss = model(torch.tensor(X[half]), torch.tensor(Y[half]))
            loss.backward()                                  # DDP all-reduces (averages)
            np.savez(f"{{out}}.{{rank}}.npz", *grads(model.module))
            dist.barrier()              # neither rank tears gloo down while the other talks
            dist.destroy_process_group()


        if __name__ == "__main__":
            mp.spawn(worker, args=("ddp",), nprocs=WORLD, join=True)
            single = MLP()                                   # one process, whole batch
            single(torch.tensor(X), torch.tensor(Y)).backward()
            want = grads(single)
            reference = mlp_numpy.gradient(X, W1, b1, W2, b2, Y)
            for rank in range(WORLD):
                got = np.load(f"ddp.{{rank}}.npz")
                for i, name in enumerate(["W1", "b1", "W2", "b2"]):
                    np.testing.assert_allclose(got[f"arr_{{i}}"], want[i], rtol=1e-12,
                                               atol=1e-14)
                    np.testing.assert_allclose(got[f"arr_{{i}}"], reference[name], rtol=1e-12,
                                               atol=1e-14)
            print("processes", WORLD, "backend", "gloo")
    """)
    assert out.startswith("processes 2")
