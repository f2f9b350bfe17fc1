"""The CPU time of one input's own work, for the tests that hold an input to a budget.

Late in the suite the process holds millions of objects of earlier tests; one full
garbage collection of them inside a measure (about 2 s here) is no cost of the input
measured. A fresh `matcalc` process has none of them, so the measure freezes them out of
the collector's reach (`gc.freeze`) while it runs.
"""
import gc
from contextlib import contextmanager


@contextmanager
def own_work():
    """Run the body with the objects alive before it out of the collector's reach."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
