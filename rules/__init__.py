"""The derivative rule table: for each IR node kind, how the adjoint `g` of a node `y`
flows to its operands (reverse mode, adjoint convention: a gradient has the shape of its
variable; layouts are applied later, by `matcalc.layout`).

An entry is either a tuple with one rule per operand, `rule(g, y, *operands) -> Node` or
`None` where the operand has no derivative, or, for the n-ary kinds (sums and product
chains), one function `(g, y, need) -> tuple` of adjoints, one per operand (`need[i]`
says whether operand i is wanted; an unwanted one may be None). The table is plain
data merged here from one module per family, so the test suite can walk it.
"""
from . import elementwise, linalg, linear, nn

VJP = {**linear.VJP, **elementwise.VJP, **linalg.VJP, **nn.VJP}

__all__ = ["VJP"]
