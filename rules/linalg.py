"""Rules for determinants, inverses and norms (Matrix Cookbook, section 2; Giles 2008)."""
from matcalc.expr import Det, Func, Inv, LogDet, Norm1, Norm2

VJP = {
    Det:    (lambda g, y, x: g * y * Inv(x).T,),        # d det X = det X tr(X^-1 dX)
    LogDet: (lambda g, y, x: g * Inv(x).T,),            # d log det X = tr(X^-1 dX)
    Inv:    (lambda g, y, x: -(y.T @ g @ y.T),),        # d X^-1 = -X^-1 dX X^-1
    Norm1:  (lambda g, y, x: g * Func("sign", x),),     # d sum|x| = sign(x) . dx
    Norm2:  (lambda g, y, x: g * x / y,),               # d ||x|| = x . dx / ||x||
}
