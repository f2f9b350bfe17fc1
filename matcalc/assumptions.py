"""What the user tells matcalc about a variable that its shape cannot say.

`onehot` (or probability) variables have entries that sum to one: per column for a
matrix of labels. Under that assumption `sum(y)` is 1 and the column sums `1'*Y` are a row
of ones, which is exactly what turns the softmax cross-entropy gradient
`sum(y)*softmax(s) - y` into the textbook `softmax(s) - y`. The rewrite runs on canonical
formulas, after simplification, and the checker draws such variables normalised.
"""
from __future__ import annotations

from .expr import Const, MatMul, Node, Ones, Sum, Var, walk
from .simplify import simplify


def assume_normalized(node: Node, names: frozenset[str]) -> Node:
    """`node` with sum(y) = 1 and 1'*Y = 1' for every y named in `names`."""
    if not names:
        return node
    memo: dict[Node, Node] = {}
    changed = False
    for n in walk(node):
        kids = n.children
        new = n.rebuild([memo[k] for k in kids]) if kids else n
        if isinstance(new, Sum) and _is(new.x, names) and new.x.shape[1] == 1:
            new = Const(1)                                    # sum(y) = 1
        elif isinstance(new, MatMul):
            fs = list(new.factors)
            for i in range(len(fs) - 1):
                if isinstance(fs[i], Ones) and fs[i].shape[0] == 1 and _is(fs[i + 1], names):
                    fs[i:i + 2] = [Ones((1, fs[i + 1].shape[1]))]   # 1'Y = 1'
                    break
            if len(fs) != len(new.factors):
                new = fs[0] if len(fs) == 1 else MatMul(tuple(fs))
        changed |= new is not n
        memo[n] = new
    return simplify(memo[node]) if changed else node


def _is(x: Node, names) -> bool:
    return isinstance(x, Var) and x.name in names
