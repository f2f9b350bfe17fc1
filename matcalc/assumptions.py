"""What the user tells matcalc about a variable that its shape cannot say.

Labels come in two kinds, each a variable name mapped to what is assumed of it:

- one-hot (or probability) labels, whose entries sum to one: a vector in total, a matrix
  per column (`columns`, the default: samples are columns, as softmax of a matrix is per
  column) or per row (`rows`: samples are rows, the CS231n convention). Under that
  assumption the sums `1'*Y` (or `Y*1`) are ones, which is exactly what turns the softmax
  cross-entropy gradient `sum(y)*softmax(s) - y` into the textbook `softmax(s) - y`;
- sign labels (`signs`), every entry -1 or +1, as in logistic regression and SVMs
  written with y in {-1, 1}: then `y.^2` (any even power) and `abs(y)` are ones and odd
  powers are y, which is what turns the logistic-loss Hessian `X'*diag(y.^2 .* s .* (1 -
  s))*X` into the textbook `X'*diag(s .* (1 - s))*X`.

The rewrites run on finished formulas, after simplification: gradients, and Jacobian and
Hessian blocks (which differentiate the exact gradients: an assumption holds at the label
values only, so it is never differentiated). The checker draws such variables one-hot or
as random signs of both kinds, so a formula is only verified where it is claimed.
"""
from __future__ import annotations

from .expr import Node
from .patterns import rewrite_dag
from .rewrites import ASSUMED
from .simplify import simplify

AXES = ("columns", "rows")          # one-hot labels: the axis along which entries sum to 1
SIGNS = "signs"                     # sign labels: every entry -1 or +1


def apply_assumptions(node: Node, labels: dict[str, str]) -> Node:
    """`node` with the label sums of every one-hot variable replaced by ones, the even
    powers and absolute values of every sign variable too, and S' = S for every symmetric
    variable (matcalc.structure). The label identities are the rewrite table's `ASSUMED`."""
    if not labels:
        return node
    from .structure import use_structure
    return use_structure(_apply_labels(node, labels), labels)


def _apply_labels(node: Node, labels: dict[str, str]) -> Node:
    onehot = {name: kind for name, kind in labels.items() if kind in AXES}
    signs = {name for name, kind in labels.items() if kind == SIGNS}
    if not onehot and not signs:
        return node
    out = rewrite_dag([node], ASSUMED, ctx=(onehot, signs))[0]
    return simplify(out) if out is not node else node


def phrases(labels: dict[str, str]) -> list[str]:
    """What is assumed of each label, in words: `y: labels -1 or +1`, `S: symmetric`."""
    from .structure import STRUCTURES, phrase
    said = {"columns": "one-hot labels (each column sums to 1)",
            "rows": "one-hot labels (each row sums to 1)",
            SIGNS: "labels -1 or +1"}
    return [phrase(name, kind) if kind in STRUCTURES else f"{name}: {said[kind]}"
            for name, kind in labels.items()]


def describe(labels: dict[str, str], convention: str | None = None) -> list[str]:
    """One comment line per assumption, for the printed derivation: a formula derived under
    an assumption holds only where it does, so the output says so; with a structured
    variable, a last line states the convention of its gradient (matcalc.structure)."""
    from .structure import convention_line
    lines = [f"# assuming {phrase}" for phrase in phrases(labels)]
    said = convention_line(labels, convention or "projected")
    return lines + ([f"# {said}"] if said else [])
