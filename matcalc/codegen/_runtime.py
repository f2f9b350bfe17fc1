"""The helpers a generated module carries, as the Python they are.

A generated module is self-contained (it imports NumPy, torch or JAX and nothing of
matcalc's), so it carries copies of these functions; the module writer reads their text
from this file (`matcalc.codegen.module.runtime_source`) and never imports it. Kept as
code rather than strings, they are linted, type-checked and tested as code.
"""
import numpy as np

SHAPES: dict = {}   # stands for the table of argument shapes every generated module defines


def _arrays(*values):
    """The arguments as arrays of their common floating dtype (float64 for integers):
    float32 inputs give float32 results, and temporaries can be updated in place."""
    try:                                   # arrays and Python numbers (the usual case)
        dtype = np.result_type(*values, 1.0)
    except TypeError:                      # lists and the like
        dtype = None
    if dtype is None or dtype.kind not in "fc":
        values = [v if isinstance(v, (int, float, np.ndarray)) else np.asarray(v)
                  for v in values]
        dtype = np.result_type(*values, 1.0)
    return [v if type(v) is np.ndarray and v.dtype is dtype else
            np.asarray(v, dtype=dtype) for v in values]


def _shape_error(**values):
    """The ValueError naming the argument whose shape does not fit SHAPES. A size is
    what most of the other arguments say it is; the argument they contradict on the
    most axes is named (a matrix passed transposed, not the vector that agrees with
    the rest), and between equals one whose transpose would fit, else the last."""
    got = {name: tuple(value.shape) for name, value in values.items()}

    def sizes(name):  # dim -> (size, names): what most of the other arguments say
        says = {}
        for other, shape in got.items():
            if other != name and len(shape) == len(SHAPES[other]):
                for dim, size in zip(SHAPES[other], shape, strict=True):
                    says.setdefault(dim, {}).setdefault(size, []).append(other)
        return {dim: max(by.items(), key=lambda item: len(item[1]))
                for dim, by in says.items()}

    def misfits(name, shape):  # axes that contradict the others (or name's own axes)
        known = {dim: size for dim, (size, _) in sizes(name).items()}
        wrong = 0
        for dim, size in zip(SHAPES[name], shape, strict=True):
            expected = dim if isinstance(dim, int) else known.setdefault(dim, size)
            wrong += size != expected
        return wrong

    def message(name, note=""):
        want = SHAPES[name]
        if len(want) == 0:
            shape = "a scalar"
        elif len(want) == 1:
            shape = f"a vector of length {want[0]}"
        else:
            shape = " x ".join(str(dim) for dim in want)
        known = sizes(name)
        known = [f"{dim} = {known[dim][0]} from {known[dim][1][0]}"
                 for dim in dict.fromkeys(want) if dim in known]
        given = f" with {', '.join(known)}" if known else ""
        return ValueError(f"{name} must be {shape}; got {got[name]}{given}{note}")

    for name, shape in got.items():
        if len(shape) != len(SHAPES[name]):
            return message(name)
    scores = {name: misfits(name, shape) for name, shape in got.items()}
    worst = max(scores.values())
    if worst == 0:
        return ValueError("the arguments' shapes do not fit SHAPES")
    blamed = [name for name, score in scores.items() if score == worst]
    turned = [name for name in blamed if len(got[name]) == 2 and
              misfits(name, got[name][::-1]) == 0]
    if turned:
        return message(turned[-1], " (transposed?)")
    return message(blamed[-1])


def _add_scaled(out, s, x, block=120 << 10):
    """out += s * x without a temporary as large as x when x is large (over 512 kB): a
    fresh large array costs page faults on every call, so x is scaled a block of rows
    (120 kB) at a time."""
    if x.nbytes <= 1 << 19 or x.ndim == 0:
        out += s * x
        return
    rows = max(1, block // max(1, x[:1].nbytes))
    for i in range(0, len(x), rows):
        out[i:i + rows] += s * x[i:i + rows]
