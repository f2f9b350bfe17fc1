"""The reference semantics of the IR: a NumPy interpreter.

Every value is a 2-D float64 array (a scalar is a (1, 1) array), exactly as the IR sees
it. The DAG is evaluated once per node, children before parents, without recursion (an
expression may be thousands of nodes deep). One small function per node kind, in a
table; a kind without one is an error, never a silent guess. `check.py` relies on this
module and nothing else to know what an expression means.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from functools import reduce

import numpy as np

from matcalc import ops
from matcalc.expr import (
    Add,
    Broadcast,
    Const,
    Dim,
    DimValue,
    Divide,
    Func,
    Hadamard,
    Identity,
    MatMul,
    Node,
    Ones,
    Power,
    Scale,
    Transpose,
    Var,
    Zero,
    walk,
)

Values = Mapping[str, np.ndarray]
Dims = Mapping[Dim, int]


def evaluate(nodes: Node | list[Node], values: Values, dims: Dims) -> np.ndarray | list:
    """The value of a node (or a list of values for a list of nodes), each a 2-D array of
    the node's shape with `dims` substituted; shared subexpressions are computed once."""
    roots = [nodes] if isinstance(nodes, Node) else list(nodes)
    memo = evaluate_all(roots, values, dims)
    out = [memo[r].copy() for r in roots]          # the caller owns what it gets back
    return out[0] if isinstance(nodes, Node) else out


def evaluate_all(roots: Iterable[Node], values: Values, dims: Dims,
                 known: Mapping[Node, np.ndarray] | None = None) -> dict[Node, np.ndarray]:
    """The value of every node reachable from `roots` (node -> 2-D array). The arrays are
    shared with each other; treat them as read-only. `known` values are taken as they are
    (a finite difference moves one variable: what does not depend on it is known)."""
    memo: dict[Node, np.ndarray] = dict(known or {})
    env = _Env(values, dims)
    for root in roots:
        for node in walk(root, known=memo):
            rule = EVAL.get(type(node))
            if rule is None:
                raise NotImplementedError(f"evaluate: no rule for {type(node).__name__}")
            memo[node] = rule(node, [memo[c] for c in node.children], env)
    return memo


def evaluate_over(root: Node, known: Mapping[Node, np.ndarray], dims: Dims) -> np.ndarray:
    """The value of `root`, a formula over nodes whose values `known` holds (read, not
    copied: a derivative f'(x) at values the checker has at hand)."""
    new: dict[Node, np.ndarray] = {}
    env = _Env({}, dims)
    for node in walk(root, known=known):
        xs = [new[c] if c in new else known[c] for c in node.children]
        new[node] = EVAL[type(node)](node, xs, env)
    return new[root] if root in new else known[root]


def shape_of(node: Node, dims: Dims) -> tuple[int, int]:
    """The node's shape with every symbolic dimension replaced by its size."""
    return (size_of(node.shape[0], dims), size_of(node.shape[1], dims))


def size_of(dim: Dim, dims: Dims) -> int:
    """The size of a dimension: a symbol's from `dims`; a literal is itself, unless `dims`
    maps it to another size (the checker runs `x --shape x=5000` at a small size)."""
    if isinstance(dim, int):
        return int(dims.get(dim, dim))
    if dim not in dims:
        raise KeyError(f"no size given for dimension {dim!r}")
    return int(dims[dim])


class _Env:
    """What the leaves read: variable values and dimension sizes."""

    def __init__(self, values: Values, dims: Dims):
        self.values = values
        self.dims = dims


# ---- one function per node kind: (node, child values, env) -> 2-D array ---------------

def _var(node: Var, xs, env: _Env) -> np.ndarray:
    if node.name not in env.values:
        raise KeyError(f"no value given for variable {node.name!r}")
    value = np.asarray(env.values[node.name], dtype=np.float64)
    shape = shape_of(node, env.dims)
    if value.shape != shape:
        raise ValueError(f"variable {node.name!r} has shape {node.shape} = {shape}, "
                         f"but its value has shape {value.shape}")
    return value


def _matmul(node: MatMul, xs, env) -> np.ndarray:
    return multiply_chain(xs)


def _power(node: Power, xs, env) -> np.ndarray:
    x, p = xs
    return x ** (p if node.p.shape == node.x.shape and not node.p.is_scalar else p[0, 0])


def _scalar(v) -> np.ndarray:
    try:
        return np.full((1, 1), float(v))
    except OverflowError:                  # an integer beyond float64 rounds to +-inf
        return np.full((1, 1), math.inf if v > 0 else -math.inf)


def _operation(op: ops.Op) -> Callable[[Node, list, _Env], np.ndarray]:
    f = op.evaluate
    return lambda n, xs, env: f(xs[0])


EVAL: dict[type, Callable[[Node, list, _Env], np.ndarray]] = {
    Var:       _var,
    Const:     lambda n, xs, env: _scalar(n.value),
    DimValue:  lambda n, xs, env: _scalar(size_of(n.dim, env.dims)),
    Zero:      lambda n, xs, env: np.zeros(shape_of(n, env.dims)),
    Ones:      lambda n, xs, env: np.ones(shape_of(n, env.dims)),
    Identity:  lambda n, xs, env: np.eye(size_of(n.n, env.dims)),
    Add:       lambda n, xs, env: reduce(np.add, xs),
    Scale:     lambda n, xs, env: xs[0][0, 0] * xs[1],
    MatMul:    _matmul,
    Transpose: lambda n, xs, env: xs[0].T,
    Broadcast: lambda n, xs, env: np.broadcast_to(xs[0], shape_of(n, env.dims)).copy(),
    Hadamard:  lambda n, xs, env: reduce(np.multiply, xs),
    Divide:    lambda n, xs, env: xs[0] / xs[1],
    Power:     _power,
    # the functions, as their registry entries evaluate them (matcalc.ops)
    Func:      lambda n, xs, env: ops.ELEMENTWISE[n.name].evaluate(xs[0]),
    **{op.node: _operation(op) for op in ops.BY_NODE.values()},
}


# ---- matrix chains ----------------------------------------------------------------------

_DP_LIMIT = 64   # longer chains (rare) are ordered greedily: the DP is cubic in the length


def multiply_chain(ms: list[np.ndarray]) -> np.ndarray:
    """A1 A2 ... An, multiplied in the cheapest order for the actual sizes."""
    if len(ms) <= 2:
        return reduce(np.matmul, ms)
    if len(ms) > _DP_LIMIT:
        return _greedy_chain(list(ms))
    split = chain_order([m.shape[0] for m in ms] + [ms[-1].shape[1]])
    # Multiply along the split table without recursion: (i, j) is A_i ... A_j.
    done: dict[tuple[int, int], np.ndarray] = {(i, i): m for i, m in enumerate(ms)}
    stack = [(0, len(ms) - 1)]
    while stack:
        i, j = stack[-1]
        k = split[i][j]
        left, right = (i, k), (k + 1, j)
        pending = [p for p in (left, right) if p not in done]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        done[(i, j)] = done[left] @ done[right]
    return done[(0, len(ms) - 1)]


def chain_order(p: list[int]) -> list[list[int]]:
    """The classic matrix-chain DP: A_i is p[i] x p[i+1]; split[i][j] = k means
    A_i..A_j is best computed as (A_i..A_k)(A_k+1..A_j), counting scalar multiplications."""
    n = len(p) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i][j] = -1
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] < 0 or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _greedy_chain(ms: list[np.ndarray]) -> np.ndarray:
    # Repeatedly multiply the adjacent pair that is cheapest (the leftmost of equals), in
    # O(n log n): the pairs wait in a heap, keyed by cost and position; a merge makes new
    # pairs with its neighbours, and an entry whose operands have changed is skipped.
    ms = list(ms)
    nxt = list(range(1, len(ms))) + [-1]            # a linked list of the products so far
    prv = [-1] + list(range(len(ms) - 1))
    stamp = [0] * len(ms)                           # bumped when ms[i] changes or goes

    def cost(i: int) -> int:
        j = nxt[i]
        return ms[i].shape[0] * ms[i].shape[1] * ms[j].shape[1]

    heap = [(cost(i), i, 0, 0) for i in range(len(ms) - 1)]
    heapq.heapify(heap)
    while heap:
        _, i, si, sj = heapq.heappop(heap)
        j = nxt[i]
        if j < 0 or stamp[i] != si or stamp[j] != sj:
            continue
        ms[i] = ms[i] @ ms[j]
        stamp[i] += 1
        stamp[j] = -1
        nxt[i] = nxt[j]
        if nxt[i] >= 0:
            prv[nxt[i]] = i
            heapq.heappush(heap, (cost(i), i, stamp[i], stamp[nxt[i]]))
        if prv[i] >= 0:
            heapq.heappush(heap, (cost(prv[i]), prv[i], stamp[prv[i]], stamp[i]))
    return ms[0]
