"""The IR as a graph: every node once, children before parents, without recursion.

Nodes are interned (`matcalc.expr`), so an expression is a DAG whose shared subexpressions
are one node; a walk visits each node once, iteratively (a long sum or a deep chain never
meets the recursion limit), and a substitution rebuilds only what lies above the nodes it
replaces. Nodes and syntax trees never form reference cycles, so the stages that build
many of them run with Python's cyclic garbage collector paused (`gc_paused`).
"""
from __future__ import annotations

import functools
import gc
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from .expr import Node


def gc_paused(stage):
    """`stage` run with Python's cyclic garbage collector paused. The stages that build
    many nodes use it: nodes and syntax trees never form cycles, so the collections their
    allocations trigger (a fifth of the time on a 10,000-term input) would find nothing."""
    @functools.wraps(stage)
    def run(*args, **kwargs):
        if not gc.isenabled():
            return stage(*args, **kwargs)
        gc.disable()
        try:
            return stage(*args, **kwargs)
        finally:
            gc.enable()
    return run


_EXPANDED = object()     # on walk's stack: the node below has had its children pushed


def walk(root: Node, last_child_first: bool = False, known=None) -> Iterator[Node]:
    """Every node reachable from root once, children before parents (iterative).
    Children are visited first to last, or last to first: reversed, that order makes a
    reverse sweep reach the operands of a sum in the order they were written. Nodes in
    `known` (a memo of earlier work) are skipped with everything below them, so that a
    memoised pass over many overlapping expressions costs their new nodes only."""
    seen: set[Node] = set()
    stack: list = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if node is _EXPANDED:
            yield pop()
            continue
        if node in seen or known is not None and node in known:
            continue
        seen.add(node)
        push(node)
        push(_EXPANDED)
        for c in node.children if last_child_first else reversed(node.children):
            if c not in seen:
                push(c)


def walk_all(roots: Iterable[Node]) -> Iterator[Node]:
    """Every node reachable from any of the roots once, children before parents. The
    roots of a derivation share most of their nodes (the gradients of a deep network all
    hold its forward pass): one walk per root would cost their sizes' sum, quadratic in
    the depth."""
    seen: set[Node] = set()
    for root in roots:
        for node in walk(root, known=seen):
            seen.add(node)
            yield node


def substitute(node: Node, mapping: dict[Node, Node]) -> Node:
    """`node` with every occurrence of a key replaced by its value (iterative)."""
    return substitute_all([node], mapping)[0]


def substitute_all(roots: list[Node], mapping: dict[Node, Node]) -> list[Node]:
    """`substitute` on each root, their shared nodes rebuilt once (`walk_all`)."""
    memo: dict[Node, Node] = {}
    for n in walk_all(roots):
        if n in mapping:
            memo[n] = mapping[n]
        elif n.children:
            memo[n] = n.rebuild([memo[c] for c in n.children])
        else:
            memo[n] = n
    return [memo[r] for r in roots]
