"""matcalc: symbolic matrix calculus, verified.

    import matcalc
    d = matcalc.derive("Y = X*A' + b'", shapes={"X": ("N", "n")})
    d["X"].text      # 'dY*A'

Importing this package is cheap: the parser, NumPy and the checker load on first use.
"""
from .errors import MatcalcError, Span

__version__ = "0.1.0"


def derive(program, wrt=None, layout="denominator", shapes=None, kinds="ml", check=False,
           onehot=(), mode="gradient", signs=()):
    """Derivatives of the program's output (SPEC section 6); returns a `Derivation`.

    `onehot` names variables whose entries sum to one (per column): labels of a
    cross-entropy, so that its gradient takes the textbook form softmax(s) - y
    (`{"Y": "rows"}` when samples are rows). `signs` names variables whose entries are -1
    or +1 (logistic-regression labels), so that y.^2 = 1. `mode` is "gradient" (and
    backprop), "jacobian", "hessian" or "hvp"."""
    from .derivation import derive as _derive
    return _derive(program, wrt=wrt, layout=layout, shapes=shapes, kinds=kinds, check=check,
                   onehot=onehot, mode=mode, signs=signs)


__all__ = ["derive", "MatcalcError", "Span", "__version__"]
