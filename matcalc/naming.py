"""Names for the repeated parts of a Jacobian or Hessian: a subexpression that occurs
more than once (softmax, an elementwise function, a long product) is written once under
a short name (`p` for softmax, `s` for sigmoid, `t` for tanh, `e` for exp, or the
program's own name for that value) and shown with `where`.
"""
from __future__ import annotations

from . import expr as E
from . import ops

# ---- naming repeated subexpressions --------------------------------------------------------

def choose_names(roots: list[E.Node], taken: set[str], user: dict[E.Node, str]
                 ) -> dict[E.Node, E.Var]:
    """Vars for the softmax and elementwise-function subexpressions that occur more than
    once in `roots` (counted as a tree, a named part counting once): `p` for softmax(x),
    `s` for a sigmoid, the program's own name where a named intermediate has that value.
    Outermost first, so `s = sigmoid(-y .* (X*w))` is named, not its argument."""
    names: dict[E.Node, E.Var] = {}
    while True:
        pick = next((n for n, k in _tree_counts(roots, names) if k >= 2 and _nameable(n)
                     and n not in names), None)
        if pick is None:
            return names
        chosen = {v.name for v in names.values()}
        name = user.get(pick)                       # the program's own name for it, if any
        if name is None or name in chosen:
            name = fresh(ops.of(pick).names, taken | chosen)   # matcalc.ops: p, s, ...
        names[pick] = E.Var(name, pick.shape)


def _tree_counts(roots: list[E.Node], named=()) -> list[tuple[E.Node, int]]:
    """(node, number of occurrences in the trees of `roots` and of the definitions of the
    `named` nodes), parents before children. A named node occurs as its name, so what is
    below it counts once, in its definition: the counts of the roots with the named nodes
    substituted, read off the DAG itself (substituting afresh for every name chosen made
    choosing k names cost k times the DAG for each root and name, cubic in a deep nest)."""
    order: list[E.Node] = []
    seen: set[E.Node] = set()
    for start in [r for r in roots if r not in named] + list(named):
        stack: list[tuple[E.Node, bool]] = [(start, False)]
        while stack:                                # children first, not into a name
            n, expanded = stack.pop()
            if expanded:
                order.append(n)
            elif n not in seen:
                seen.add(n)
                stack.append((n, True))
                stack.extend((c, False) for c in reversed(n.children)
                             if c not in seen and c not in named)
    uses: dict[E.Node, int] = {}
    for r in roots:
        if r not in named:
            uses[r] = uses.get(r, 0) + 1
    for n in named:
        uses[n] = uses.get(n, 0) + 1                # its definition
    edges = 0
    for n in reversed(order):                       # parents before children: path counts
        k = uses.get(n, 0)
        edges += len(n.children)
        for c in n.children:
            if c not in named:
                uses[c] = uses.get(c, 0) + k
    E.charge(len(order) + edges)
    return [(n, uses.get(n, 0)) for n in reversed(order)]


def _nameable(n: E.Node) -> bool:
    op = ops.of(n)
    return op is not None and op.names is not None


def fresh(choices, taken: set[str]) -> str:
    for c in choices:
        if c not in taken:
            return c
    k = 1
    while f"{choices[0]}{k}" in taken:
        k += 1
    return f"{choices[0]}{k}"


def fresh_name(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def common_where(wheres: list[dict[str, str]]) -> dict[str, str] | None:
    """The `where` definitions of several formulas merged, to be stated once for all of
    them; None if two give one name different definitions (then each states its own)."""
    merged: dict[str, str] = {}
    if all(merged.setdefault(n, t) == t for w in wheres for n, t in w.items()):
        return merged
    return None


def definitions(names: dict[E.Node, E.Var]) -> list[tuple[E.Var, E.Node]]:
    """(name, definition) pairs of `names`, each definition written with the other names
    and using only earlier ones."""
    from .layout import substitute
    pending = []
    for n, v in reversed(list(names.items())):            # innermost first
        inner = {m: w for m, w in names.items() if m is not n}
        pending.append((v, substitute(n, inner) if inner else n))
    pairs: list[tuple[E.Var, E.Node]] = []
    while pending:                                          # definitions before uses
        done = {v for v, _ in pairs}
        k = next((i for i, (_, d) in enumerate(pending)
                  if all(w in done for w in E.variables(d) if w in names.values())), 0)
        pairs.append(pending.pop(k))
    return pairs
