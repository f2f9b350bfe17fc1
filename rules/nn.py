"""Rules for softmax and logsumexp, per column (a vector is a one-column matrix)."""
from matcalc.expr import LogSumExp, Ones, Softmax, broadcast_to


def _softmax(g, y, x):
    # d softmax: y .* (g - 1 (1'(y .* g)))   per column: J = diag(y) - y y'
    n = x.shape[0]
    col_dots = Ones((1, n)) @ (y * g)
    return y * (g - broadcast_to(col_dots, x.shape))


VJP = {
    Softmax:   (_softmax,),
    LogSumExp: (lambda g, y, x: Softmax(x) * broadcast_to(g, x.shape),),  # d lse = softmax . dx
}

