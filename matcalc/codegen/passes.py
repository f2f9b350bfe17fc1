"""Exact identities on the DAG of a module's results, each a pass from roots to roots of
equal value: forms that compute the same numbers with fewer operations or without
overflow (the package docstring says what each buys). They are passes over the
interned DAG, not rewrites of the simplifier, because what they choose depends on what
else the module computes: a subexpression met again transposed, a scalar that every
use applies, a run of factors two chains share.
"""
from __future__ import annotations

from .. import ops
from ..expr import (
    SCALAR,
    Add,
    Broadcast,
    Const,
    DiagMat,
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
)
from ..patterns import dag_order as _order
from ..rewrites import MEET, one_minus_sigmoid, push_transpose, stable_forms
from ..rewrites import strip_transposes as _strip
from ..rewrites import tr as _tr

__all__ = ["gram_forms", "nonnegative", "optimize", "share_partial_sums", "share_subchains",
           "share_transposes", "stable_forms"]

RUN_LIMIT = 64               # the longest product chain searched for shared runs
LEAVES = (Var, Const, DimValue, Zero, Ones, Identity)


def _rewrite(roots, fn) -> list[Node]:
    """Rebuild the DAG bottom-up; fn(old, rebuilt) returns the node standing for old."""
    memo: dict[Node, Node] = {}
    for n in _order(roots):
        new = n.rebuild([memo[c] for c in n.children]) if n.children else n
        memo[n] = fn(n, new)
    return [memo[r] for r in roots]


def _transposed(n: Node, memo: dict) -> Node:
    """n' with the transpose pushed to the leaves (memo holds the children's): the table's
    transpose pusher, the operands' transposes looked up."""
    pushed = push_transpose(n, memo.get)
    return Transpose(n) if pushed is None else pushed


def _new_nodes(root: Node, memo: dict):
    """The nodes under root that memo lacks, children first (memoised subtrees skipped)."""
    if root in memo:
        return
    stack: list[tuple[Node, bool]] = [(root, False)]
    seen: set[int] = set()
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        if id(node) in seen or node in memo:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node.children)
                     if c not in memo and id(c) not in seen)


def _canonical(n: Node, memo: dict) -> Node:
    """n with the operands of sums and elementwise products in one fixed order (by
    identity: a key for matching within one run, never printed)."""
    for m in _new_nodes(n, memo):
        if m in memo:
            continue
        kids = [memo[c] for c in m.children]
        if isinstance(m, (Add, Hadamard)):
            kids.sort(key=id)
        if isinstance(m, Broadcast) and isinstance(kids[0], (Ones, Zero)):
            memo[m] = type(kids[0])(m.shape)         # a repeated 1 is a matrix of ones
        else:
            memo[m] = m.rebuild(kids) if kids else m
    return memo[n]


def share_transposes(roots: list[Node]) -> list[Node]:
    """A subexpression met again transposed, or with its sums reordered, is the first one
    (transposed): the node is computed once and read as `t.T`."""
    order = _order(roots)
    tmemo: dict[Node, Node] = {}
    cmemo: dict[Node, Node] = {}
    for n in order:
        tmemo[n] = _transposed(n, tmemo) if n.children else _transposed(n, {})
    seen: dict[Node, tuple[Node, bool]] = {}
    same: dict[Node, tuple[Node, bool]] = {}
    for n in order:
        if isinstance(n, LEAVES + (Transpose, Broadcast)):
            continue
        key, tkey = _canonical(n, cmemo), _canonical(tmemo[n], cmemo)
        if key in seen:
            rep, flipped = seen[key]
            if rep is not n:
                same[n] = (rep, flipped)
        elif tkey in seen:
            rep, flipped = seen[tkey]
            same[n] = (rep, not flipped)
        else:
            seen[key] = (n, False)
            seen.setdefault(tkey, (n, True))
    if not same:
        return roots
    new: dict[Node, Node] = {}
    for n in order:
        if n in same:
            rep, flipped = same[n]
            new[n] = _tr(new[rep]) if flipped else new[rep]
        else:
            new[n] = _outer_transpose(n.rebuild([new[c] for c in n.children])
                                      if n.children else n)
    return [new[r] for r in roots]


def _outer_transpose(n: Node) -> Node:
    """(x')' = x and f(x') = f(x)' for an elementwise f: transposes meet and cancel (the
    table's `MEET`)."""
    out = MEET.rewrite(n)
    return n if out is None else out


_CARRIERS = (MatMul, Hadamard, Add, Scale, Divide)


def _carrier(factors, keep) -> int | None:
    """Which factor of a product takes a scalar: a computed array, not a forward value
    nor an argument, preferring products and sums (the error signal) to functions."""
    best = None
    for i, f in enumerate(factors):
        base = _strip(f)
        if isinstance(base, LEAVES + (Broadcast,)) or base in keep or base.shape == SCALAR:
            continue
        rank = (0 if isinstance(base, _CARRIERS) else 1, i)
        if best is None or rank < best:
            best = rank
    return None if best is None else best[1]


def factor_scales(roots: list[Node], keep: set) -> list[Node]:
    """Apply a scalar where it costs least: when every use of a subexpression u of the
    derivatives scales it by the same scalar s, compute s*u once and let the uses read it.
    A scale travels down products (into one factor) and transposes, never into forward
    values (`keep`), which are computed unscaled. For a mean over a batch this moves the
    1/N of every gradient onto the N x C error signal, as hand-written backprop does."""
    order = _order(roots)
    uses: dict[Node, list[tuple[Node, int]]] = {n: [] for n in order}   # (parent, position)
    for n in order:
        for i, c in enumerate(n.children):
            uses[c].append((n, i))
    root_set = set(roots)
    pending: dict[Node, Node | None] = {}     # n -> s: every use of n reads s*n
    carrier: dict[Node, int | None] = {}
    for n in reversed(order):                 # parents first
        wants = []
        if n in root_set:
            wants.append(None)
        for p, i in uses[n]:
            if isinstance(p, Scale) and i == 1 and p.shape != SCALAR and pending[p] is None:
                wants.append(p.s)
            elif pending.get(p) is not None and (
                    isinstance(p, Transpose) or
                    (isinstance(p, (MatMul, Hadamard)) and i == carrier[p])):
                wants.append(pending[p])
            else:
                wants.append(None)
        s = wants[0] if wants and all(w is wants[0] for w in wants) else None
        if n in keep or n.shape == SCALAR or isinstance(n, LEAVES + (Broadcast,)):
            s = None
        pending[n] = s
        if s is not None and isinstance(n, (MatMul, Hadamard)):
            carrier[n] = _carrier(n.children, keep)
            if carrier[n] is None:
                pending[n] = None          # nothing to carry it: the uses scale themselves
    new: dict[Node, Node] = {}
    for n in order:
        kids = [new[c] for c in n.children]
        s = pending[n]
        if isinstance(n, Scale) and s is None and n.shape != SCALAR and pending[n.x] is n.s:
            new[n] = kids[1]                                   # s*u was computed as u
            continue
        node = n.rebuild(kids) if kids else n
        if s is not None:
            passed = (isinstance(n, Transpose) and pending[n.x] is s) or \
                (isinstance(n, (MatMul, Hadamard)) and pending[n.children[carrier[n]]] is s)
            if not passed:
                node = Scale(s, node)
        new[n] = node
    return [new[r] for r in roots]


def share_partial_sums(roots: list[Node]) -> list[Node]:
    """A sum whose terms include all the terms of another sum in the DAG adds to that sum:
    a + b + c is (a + b) + c when a + b is computed anyway (the scores S = H*W2 + b2' inside
    the log-softmax S - logsumexp(S)). Sums flatten in the IR, so the partial sum enters
    as 1*(a + b), which the printer reads as the sum itself."""
    order = _order(roots)
    sums = [n for n in order if isinstance(n, Add) and len(n.terms) <= RUN_LIMIT]
    if len(sums) < 2:
        return roots
    counts = {s: _multiset(s.terms) for s in sums}
    having: dict[Node, list[Node]] = {}            # term -> the sums it is a term of
    for s in sums:
        for t in counts[s]:
            having.setdefault(t, []).append(s)

    def fn(old, new):
        if not isinstance(old, Add) or old not in counts:
            return new
        mine = counts[old]
        best = None
        candidates = dict.fromkeys(s for t in mine if len(having[t]) <= RUN_LIMIT
                                   for s in having[t])
        for s in candidates:
            theirs = counts[s]
            if s is not old and len(s.terms) < len(old.terms) and \
                    all(mine.get(t, 0) >= k for t, k in theirs.items()) and \
                    (best is None or len(s.terms) > len(best.terms)):
                best = s
        if best is None:
            return new
        rest = list(old.terms)
        for t in best.terms:
            rest.remove(t)
        return Add((Scale(Const(1), best), *rest))
    return _rewrite(roots, fn)


def share_subchains(roots: list[Node]) -> list[Node]:
    """A run of factors that two product chains share (either way round: x'*W1'*W2' is
    (W2*W1*x)') is one product, computed once: the forward pass's partial products
    W1*x, W2*W1*x and the backward pass's W3'*dy, W2'*W3'*dy become the temporaries of
    backprop instead of being multiplied again in every gradient. Chains flatten in the
    IR, so a shared run enters as 1*(run)."""
    order = _order(roots)
    chains = [n for n in order if isinstance(n, MatMul)]
    if len(chains) < 2:
        return roots

    def segments(fs):                # a chain cut where an inner dimension is 1
        out, start = [], 0
        for i in range(len(fs) - 1):
            if fs[i].shape[1] == 1:
                out.append(fs[start:i + 1])
                start = i + 1
        return out + [fs[start:]]

    def keys(run):                   # (key, key of the transposed run)
        return tuple(map(id, run)), tuple(id(_tr(f)) for f in reversed(run))

    def cheap(run):                  # ends in a vector: its product is matrix-vector work
        return run[-1].shape[1] == 1 or run[0].shape[0] == 1

    count: dict[tuple, int] = {}
    for n in chains:
        if len(n.factors) > RUN_LIMIT:
            continue
        for seg in segments(n.factors):
            for length in range(2, len(seg) + 1):
                for i in range(len(seg) - length + 1):
                    if cheap(seg[i:i + length]):
                        k = min(keys(seg[i:i + length]))
                        count[k] = count.get(k, 0) + 1
    if not any(c > 1 for c in count.values()):
        return roots
    new: dict[Node, Node] = {}
    built: dict[tuple, Node] = {}

    def build(run) -> Node:
        """The product of `run` (old factors), with the shared runs inside it named."""
        k = tuple(map(id, run))
        if k in built:
            return built[k]
        best = None
        for length in range(len(run) - 1, 1, -1):
            for i in range(len(run) - length + 1):
                if cheap(run[i:i + length]) and count.get(min(keys(run[i:i + length])), 0) > 1:
                    best = (i, length)
                    break
            if best:
                break
        if best is None:
            node = MatMul(tuple(new[f] for f in run))
        else:
            i, length = best
            part = run[i:i + length]
            node = MatMul(tuple(new[f] for f in run[:i]) + (shared(part),) +
                          tuple(new[f] for f in run[i + length:]))
        built[k] = node
        return node

    def rank(run):                   # the way round to compute: fewer transposes, a column
        return (sum(isinstance(f, Transpose) for f in run), run[-1].shape[1] != 1,
                tuple(f.sort_key for f in run))

    def shared(part) -> Node:
        flipped = tuple(_tr(f) for f in reversed(part))
        if rank(part) <= rank(flipped):
            return Scale(Const(1), build(part))
        for f in flipped:
            new.setdefault(f, _tr(new[_tr(f)]) if _tr(f) in new else f)
        return _tr(Scale(Const(1), build(flipped)))

    for n in order:
        if isinstance(n, MatMul) and len(n.factors) <= RUN_LIMIT:
            pieces = []
            for seg in segments(n.factors):
                if len(seg) == 1:
                    pieces.append(new[seg[0]])
                elif cheap(seg) and count.get(min(keys(seg)), 0) > 1:
                    pieces.append(shared(seg))
                else:
                    pieces.append(build(seg))
            new[n] = MatMul(tuple(pieces)) if len(pieces) > 1 else pieces[0]
        else:
            new[n] = n.rebuild([new[c] for c in n.children]) if n.children else n
    return [new[r] for r in roots]


def _multiset(nodes) -> dict[Node, int]:
    out: dict[Node, int] = {}
    for n in nodes:
        out[n] = out.get(n, 0) + 1
    return out


def optimize(forward: Node | None, derivatives: list[Node]) -> tuple[Node | None, list[Node]]:
    """The passes above, in order; the forward output (if any) first among the roots."""
    roots = ([forward] if forward is not None else []) + list(derivatives)
    roots = stable_forms(roots)
    roots = share_transposes(roots)
    keep = set(_order(roots[:1])) if forward is not None else set()
    k = 1 if forward is not None else 0
    roots = roots[:k] + factor_scales(roots[k:], keep)
    roots = share_transposes(roots)
    roots = share_subchains(roots)
    roots = share_partial_sums(roots)
    return (roots[0] if forward is not None else None), roots[k:]


def gram_forms(roots: list[Node]) -> tuple[list[Node], set[Node]]:
    """Each root A'*diag(w)*A with w >= 0 by its form as B'*B, B = A .* sqrt(w) row by
    row: NumPy computes B.T @ B with BLAS's syrk, the symmetric product, half the
    multiplications of A.T @ (w[:, None] * A) (the logistic Hessian X'*diag(s .* (1 -
    s))*X). Returns the roots and the B nodes."""
    out, scaled = [], set()
    for root in roots:
        gram = _weighted_gram(root)
        if gram is None:
            out.append(root)
            continue
        a, w = gram
        b = Hadamard((a, Broadcast(Func("sqrt", w), a.shape)))
        scaled.add(b)
        out.append(MatMul((Transpose(b), b)))
    return out, scaled


def _weighted_gram(node: Node) -> tuple[Node, Node] | None:
    """(A, w) when node is A'*diag(w)*A, A a matrix and w >= 0 by its form; else None."""
    if not isinstance(node, MatMul) or len(node.factors) != 3:
        return None
    first, mid, a = node.factors
    if not (isinstance(first, Transpose) and first.x is a and isinstance(mid, DiagMat)):
        return None
    return (a, mid.x) if 1 not in a.shape and nonnegative(mid.x) else None


def nonnegative(n: Node) -> bool:
    """Whether every entry of n is >= 0 by its form alone, in floating point as well:
    even powers, exp, sigmoid, 1 - sigmoid (NumPy's sigmoid never exceeds 1), relu, abs,
    sqrt, and products of those."""
    if isinstance(n, Broadcast):
        return nonnegative(n.x)
    if isinstance(n, (Ones, Identity)):
        return True
    if isinstance(n, Const):
        return n.value >= 0
    if isinstance(n, Power):
        p = n.p
        return isinstance(p, Const) and float(p.value).is_integer() and p.value % 2 == 0
    if isinstance(n, Func):                 # by its registry entry's image (matcalc.ops)
        return ops.ELEMENTWISE[n.name].domain.image in (ops.POSITIVE, ops.NONNEGATIVE)
    if isinstance(n, Hadamard):
        return all(nonnegative(f) for f in n.factors)
    if isinstance(n, Scale):
        return nonnegative(n.s) and nonnegative(n.x)
    return one_minus_sigmoid(n) is not None                    # 1 - sigmoid(u)
