"""The CPU time of one input's own work, for the tests that hold an input to a budget.

Late in the suite the process holds millions of objects of earlier tests; one full
garbage collection of them inside a measure (about 2 s here) is no cost of the input
measured. A fresh `matcalc` process has none of them, so the measure freezes them out of
the collector's reach (`gc.freeze`) while it runs.

The budgets guard against runaways (quadratic or exponential work, seconds to minutes),
and were set on the development machine, where the inputs take well under a second. A
CI machine can be two to three times slower at everything, so a budget is scaled by how
much slower this machine runs a reference derivation than that one did (never below 1):
a machine that is slower at everything gets proportionally more time, while an input
that runs away still fails, by far.
"""
import functools
import gc
import time
from contextlib import contextmanager

# CPU seconds of `_reference_work` on the development machine (2 shared cores, idle;
# the least of five runs, 0.119-0.131 s in three sessions)
REFERENCE_SECONDS = 0.12


@contextmanager
def own_work():
    """Run the body with the objects alive before it out of the collector's reach, and
    with the node table's forgetting done before rather than during it (as a web worker
    does it between requests)."""
    from matcalc import expr
    expr.forget_while_idle()
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _reference_work(k: int) -> None:
    """An ordinary derivation: a 40-layer tanh network, printed with steps and generated.
    New names each time, so that no cache of an earlier run serves it."""
    import matcalc
    lines = [f"h0 = ref{k}"] + [f"h{i} = tanh(W{i}*h{i - 1} + b{i})" for i in range(1, 41)]
    d = matcalc.derive("; ".join(lines + ["f = sum(h40)"]))
    d.text(steps=True)
    d.codegen()


@functools.cache
def machine_factor() -> float:
    """How many times slower than the development machine this one runs the reference
    derivation now (the least of five runs after a warm-up), at least 1."""
    _reference_work(-1)                           # lazy imports, the parser, the printers
    runs = []
    for k in range(5):
        with own_work():
            start = time.process_time()
            _reference_work(k)
            runs.append(time.process_time() - start)
    return max(1.0, min(runs) / REFERENCE_SECONDS)


def budget(seconds: float) -> float:
    """A budget set on the development machine, for this one."""
    return seconds * machine_factor()
