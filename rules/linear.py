"""Rules for the linear structure: sums, scaling, products, transposes, broadcasts, sums
of entries, traces, diagonals, triangles. Each line is the identity in the comment, read backwards."""
from matcalc.expr import (Add, Broadcast, DiagMat, DiagVec, Identity, MatMul, Ones, Scale,
                          Sum, Trace, Transpose, Tril, Triu, broadcast_to)


def _matmul(g, y, need):
    # d(A1 ... An) = sum_i A1..A(i-1) dAi A(i+1)..An  =>  Ai <- (A1..A(i-1))' g (A(i+1)..An)'
    fs = y.factors
    ts = [f.T for f in reversed(fs)]           # An' ... A1', made once for every i
    n = len(fs)
    out = []
    for i in range(n):
        if not need[i]:
            out.append(None)
            continue
        chain = ts[n - i:] + [g] + ts[:n - 1 - i]
        out.append(MatMul(tuple(chain)) if len(chain) > 1 else g)
    return tuple(out)


def _unbroadcast(g, y, x):
    # Broadcasting repeats x; its adjoint sums g over the repeated axis (the only place
    # where un-broadcasting happens).
    (r, c), (R, C) = x.shape, y.shape
    if (r, c) == (1, 1):
        return Sum(g)                                  # scalar repeated everywhere
    if r == 1:
        return Ones((1, R)) @ g                        # row repeated down: column sums 1'g
    return g @ Ones((C, 1))                            # column repeated across: row sums g 1


VJP = {
    Add:       lambda g, y, need: tuple(g for _ in y.terms),     # d(a + b) = da + db
    MatMul:    _matmul,
    Scale:     (lambda g, y, s, x: Sum(g * x),                   # d(s X) = ds X + s dX
                lambda g, y, s, x: s * g),
    Transpose: (lambda g, y, x: g.T,),                           # d(X') = (dX)'
    Broadcast: (_unbroadcast,),
    Sum:       (lambda g, y, x: broadcast_to(g, x.shape),),      # d sum(X) = sum(dX)
    Trace:     (lambda g, y, x: g * Identity(x.shape[0]),),      # d tr(X) = tr(dX)
    DiagMat:   (lambda g, y, x: DiagVec(g),),                    # d diag(v) = diag(dv)
    DiagVec:   (lambda g, y, x: DiagMat(g),),                    # d diag(X) = diag(dX)
    Tril:      (lambda g, y, x: Tril(g),),       # <G, tril(dX)> = <tril(G), dX>
    Triu:      (lambda g, y, x: Triu(g),),       # <G, triu(dX)> = <triu(G), dX>
}

