"""Imported once by the worker pool's fork server (or by each worker where there is none):
everything a derivation needs, loaded and exercised, so that every worker forked from
it answers its first request as fast as its hundredth.

BLAS gets one thread first: a worker's arrays are small (the check's sizes are 2, 3,
4, ...), the workers are the parallelism, and a process that forks must hold no threads.
"""
import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import matcalc
from matcalc.web import api  # noqa: F401

_d = matcalc.derive("h = relu(W*x + b); J = 0.5*norm2(h - y)^2")
_d.to_json(steps=True)
_d.latex(steps=True)
_d.check()
_d.verify_claim("b = (W*x + b > 0) .* (relu(W*x + b) - y)")
_d.codegen()

matcalc.derive("x'*A*x", mode="hessian").check()
