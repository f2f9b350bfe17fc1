"""Seed 004: the sigmoid neuron sigma(w1 x1 + w2 x2 + b), symbolically and at the
lecture's numbers (CS231n: w = [2, -3, -3], x = [-1, -2])."""
import numpy as np

from _show import show

scalars = {n: "scalar" for n in ("w1", "x1", "w2", "x2", "b")}
d = show("sigmoid neuron", "L = sigmoid(w1*x1 + w2*x2 + b)", shapes=scalars)
point = {"w1": 2.0, "x1": -1.0, "w2": -3.0, "x2": -2.0, "b": -3.0}
for name in ("w1", "x1", "w2", "x2", "b"):
    value = eval(d[name].numpy, {"np": np}, dict(point))  # noqa: S307 - matcalc's own output
    print(f"dL/d{name} at the lecture's point = {float(value):.3f}")
assert abs(eval(d["x1"].numpy, {"np": np}, dict(point)) - 0.393) < 1e-3  # noqa: S307
