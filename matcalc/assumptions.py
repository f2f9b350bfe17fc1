"""What the user tells matcalc about a variable that its shape cannot say.

One-hot (or probability) labels have entries that sum to one: a vector in total, a
matrix per column (`columns`, the default: samples are columns, as softmax of a matrix is
per column) or per row (`rows`: samples are rows, the CS231n convention). Under that
assumption the sums `1'*Y` (or `Y*1`) are ones, which is exactly what turns the softmax
cross-entropy gradient `sum(y)*softmax(s) - y` into the textbook `softmax(s) - y`. The
rewrite runs on canonical formulas, after simplification; the checker draws such
variables one-hot.
"""
from __future__ import annotations

from .expr import Const, MatMul, Node, Ones, Sum, Transpose, Var, walk
from .simplify import simplify

AXES = ("columns", "rows")


def assume_normalized(node: Node, onehot: dict[str, str]) -> Node:
    """`node` with the label sums of every one-hot variable replaced by ones."""
    if not onehot:
        return node
    memo: dict[Node, Node] = {}
    changed = False
    for n in walk(node):
        kids = n.children
        new = n.rebuild([memo[k] for k in kids]) if kids else n
        if isinstance(new, Sum) and isinstance(new.x, Var) and new.x.name in onehot and \
                new.x.shape[1] == 1:
            new = Const(1)                                    # sum(y) = 1
        elif isinstance(new, MatMul):
            new = _ones_for_sums(new, onehot)
        changed |= new is not n
        memo[n] = new
    return simplify(memo[node]) if changed else node


def _ones_for_sums(m: MatMul, onehot: dict[str, str]) -> Node:
    fs = list(m.factors)
    for i in range(len(fs) - 1):
        a, b = fs[i], fs[i + 1]
        y, axis = _label(b, onehot)
        if isinstance(a, Ones) and a.shape[0] == 1 and y is not None and axis == "columns":
            fs[i:i + 2] = [Ones((1, b.shape[1]))]             # 1'Y = 1' (columns sum to 1)
            break
        y, axis = _label(a, onehot)
        if isinstance(b, Ones) and b.shape[1] == 1 and y is not None and axis == "rows":
            fs[i:i + 2] = [Ones((a.shape[0], 1))]             # Y 1 = 1 (rows sum to 1)
            break
    if len(fs) == len(m.factors):
        return m
    return fs[0] if len(fs) == 1 else MatMul(tuple(fs))


def _label(x: Node, onehot: dict[str, str]):
    """(name, axis that sums to one, seen in x's orientation) if x is a label or its '."""
    flip = {"columns": "rows", "rows": "columns"}
    if isinstance(x, Var) and x.name in onehot:
        return x.name, onehot[x.name]
    if isinstance(x, Transpose) and isinstance(x.x, Var) and x.x.name in onehot:
        return x.x.name, flip[onehot[x.x.name]]
    return None, None
