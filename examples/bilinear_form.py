"""Seed 001: the bilinear form z = x' A y (its batched layer, with a 3-way weight tensor,
is examples/bilinear_layer.py)."""
from _show import show

show("bilinear form", "z = x'*A*y", claims=["x = A*y", "y = A'*x", "A = x*y'", "A = y*x'"])
show("bilinear form in numerator layout", "z = x'*A*y", layout="numerator",
     claims=["x = y'*A'", "A = y*x'"])
