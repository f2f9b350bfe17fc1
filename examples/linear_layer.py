"""Seed 001: the linear layer Y = X A' + b' and its backward pass (dX, dA, db)."""
from _show import show

d = show("linear layer, rows are samples", "Y = X*A' + b'",
         shapes={"X": "N,n", "A": "m,n", "b": "m"},
         claims=["X = dY*A",              # the notes' dX = dY A: right
                 "A = dY'*X",             # dA = dY' X: right
                 "b = dY'*vector(1)",     # db = dY' 1_N: the column sums, right
                 "b = sum(dY, 1)'",       # the same, as matcalc writes it
                 "A = X'*dY"])            # the transpose-order mistake: a shape error
assert d["b"].text == "sum(dY, 1)'"      # the row of dY's column sums, as a column
