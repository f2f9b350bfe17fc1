"""Reverse-mode differentiation over the IR DAG with the rule table.

One sweep: nodes in reverse topological order; each node's adjoint is the sum of what its
parents sent it, and its rule sends a share to each operand that depends on a variable of
interest. Results are in the adjoint convention (the gradient has the variable's shape);
`simplify` and `layout` run afterwards.
"""
from __future__ import annotations

from .expr import Add, Const, Node, Var, Zero, gc_paused, walk


def _rules():
    from .rules import VJP        # installed as matcalc.rules (see pyproject.toml)
    return VJP


def vjp(output: Node, seed: Node, wrt: list[Var]) -> dict[Var, Node]:
    """Adjoint of each Var in `wrt` when `output` receives the adjoint `seed`."""
    table = _rules()
    order = list(walk(output, last_child_first=True))   # children before parents
    depends: set[Node] = set(wrt)
    for node in order:
        for c in node.children:
            if c in depends:
                depends.add(node)
                break
    contributions: dict[Node, list[Node]] = {output: [seed]}
    for node in reversed(order):
        kids = node.children
        if not kids or node not in depends:
            continue                              # a leaf keeps its total
        parts = contributions.pop(node, None)
        if parts is None:
            continue
        g = parts[0] if len(parts) == 1 else Add(tuple(parts))
        rule = table.get(type(node))
        if rule is None:
            raise NotImplementedError(f"no derivative rule for {type(node).__name__}")
        if callable(rule):
            shares = rule(g, node, [c in depends for c in kids])
        else:
            shares = [None if r is None or c not in depends else r(g, node, *kids)
                      for r, c in zip(rule, kids)]
        for child, share in zip(kids, shares):
            if share is not None and child in depends:
                parts = contributions.get(child)
                if parts is None:
                    contributions[child] = [share]
                else:
                    parts.append(share)
    out: dict[Var, Node] = {}
    for v in wrt:
        parts = contributions.get(v)
        if not parts:
            out[v] = Zero(v.shape)
        else:
            out[v] = parts[0] if len(parts) == 1 else Add(tuple(parts))
    return out


@gc_paused
def gradient(output: Node, wrt: list[Var], upstream: Var | None = None) -> dict[Var, Node]:
    """d output / d v for each v (adjoint form); a non-scalar output takes its upstream Var."""
    seed = Const(1) if output.shape == (1, 1) else upstream
    if seed is None:
        raise ValueError("a non-scalar output needs an upstream gradient")
    return vjp(output, seed, wrt)
