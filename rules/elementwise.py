"""Rules for elementwise products, quotients, powers and functions: g .* f'(x), with
f' written in terms of the node's own value y where that is how the textbook writes it
(exp' = exp, sigmoid' = s .* (1 - s), tanh' = 1 - tanh^2)."""
from matcalc.expr import Const, Divide, Func, Hadamard, Power, Sum, Zero


def _hadamard(g, y, need):
    # d(a .* b .* c) = da .* b .* c + a .* db .* c + ...
    fs = y.factors
    return tuple(Hadamard((g,) + fs[:i] + fs[i + 1:]) if need[i] else None
                 for i in range(len(fs)))


def _func(g, y, x):
    return g * DERIVATIVE[y.name](x, y)


# f'(x), given x and y = f(x)  (elementwise)
DERIVATIVE = {
    "exp":     lambda x, y: y,                       # (e^x)' = e^x
    "log":     lambda x, y: 1 / x,                   # (log x)' = 1/x
    "sin":     lambda x, y: Func("cos", x),
    "cos":     lambda x, y: -Func("sin", x),
    "tan":     lambda x, y: 1 + y ** 2,              # (tan x)' = 1 + tan^2 x
    "tanh":    lambda x, y: 1 - y ** 2,              # (tanh x)' = 1 - tanh^2 x
    "sigmoid": lambda x, y: y * (1 - y),             # s' = s (1 - s)
    "relu":    lambda x, y: Func("step", x),         # relu' = 1[x > 0]
    "abs":     lambda x, y: Func("sign", x),         # |x|' = sign x  (x != 0)
    "sign":    lambda x, y: Zero(x.shape),           # piecewise constant
    "step":    lambda x, y: Zero(x.shape),
    "sqrt":    lambda x, y: 0.5 / y,                 # (sqrt x)' = 1 / (2 sqrt x)
    "arcsin":  lambda x, y: 1 / Func("sqrt", 1 - x ** 2),    # (arcsin x)' = 1/sqrt(1 - x^2)
    "arccos":  lambda x, y: -1 / Func("sqrt", 1 - x ** 2),   # (arccos x)' = -1/sqrt(1 - x^2)
    "arctan":  lambda x, y: 1 / (1 + x ** 2),                # (arctan x)' = 1/(1 + x^2)
}

def _exponent(g, y, x, p):
    # d x.^p = x.^p .* log(x) .* dp, entry by entry; a scalar p gathers every entry's share
    share = g * y * Func("log", x)
    return share if p.shape == share.shape else Sum(share)


VJP = {
    Hadamard: _hadamard,
    Divide:   (lambda g, y, a, b: g / b,                          # d(a./b) = da./b
               lambda g, y, a, b: -(g * y / b)),                  #          - a.*db./b.^2
    Power:    (lambda g, y, x, p: g * p * x ** (p - Const(1)),    # d x^p = p x^(p-1) dx
               _exponent),                                        # d a^p = a^p log a dp
    Func:     (_func,),
}
