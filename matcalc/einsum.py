"""Contractions in canonical form, and back in matrix notation wherever that exists.

`Contract` is einsum: the general node of which the matrix product, transpose, trace,
diagonal, sum of entries, outer product and Hadamard product are the two-dimensional
cases. Those keep their own nodes, because the simplifier's canonical forms (product
chains, transposes pushed to the leaves, `1'*G` as a column sum) and every printer are
written for them; `normalize` therefore rewrites a contraction that is one of them into
matrix notation (`C[i,j] = A[i,k]*B[k,j]` is `A*B`), so that a `Contract` which survives
simplification is a genuine tensor expression.

The reading of a contraction as a matrix expression is a walk: a matrix operand is an
edge between its two indices, a vector an end. A chain from the output's row index to
its column index, turning each edge the way it is walked (`X` or `X'`), is a matrix
product; a chain that ends at vectors is a vector, a scalar (`x'*A*y`) or an outer
product; a closed chain is a trace.
"""
from __future__ import annotations

import functools
import math

from .expr import (
    EINSUM_LETTERS,
    SCALAR,
    Const,
    Contract,
    DiagVec,
    Hadamard,
    MatMul,
    Node,
    Ones,
    Scale,
    Sum,
    Trace,
    Transpose,
    Zero,
    axes,
    contract,
    shape_of_axes,
)


def normalize(n: Contract, simplify) -> Node:
    """The canonical form of a contraction whose operands are canonical: zeros, scalars
    and transposes taken out of it, nested contractions merged into it, and in matrix
    notation if it has one (`simplify` normalises what is built)."""
    ops_, subs, out = list(n.operands), list(n.ins), n.out
    coef: list[Node] = []
    k = 0
    while k < len(ops_):
        x, sub = ops_[k], subs[k]
        if isinstance(x, Zero) or isinstance(x, Const) and x.value == 0:
            return Zero(n.shape) if n.shape != SCALAR else Const(0)
        if not sub:                                   # a scalar factor
            coef.append(x)
            del ops_[k], subs[k]
            continue
        if isinstance(x, Scale):                      # (s X)_ab = s X_ab
            coef.append(x.s)
            ops_[k] = x.x
            continue
        if isinstance(x, Transpose) and len(sub) == 2 and len(x.x.shape) == 2 and \
                len(axes(x.x.shape)) == 2:            # X'_ab = X_ba
            ops_[k], subs[k] = x.x, sub[::-1]
            continue
        if isinstance(x, Contract) and len(set(sub)) == len(sub):
            inner_ops, inner_subs = _renamed(x, sub, set("".join(subs)) | set(out))
            ops_[k:k + 1] = inner_ops
            subs[k:k + 1] = inner_subs
            continue
        k += 1
    if not ops_:
        core: Node = Const(1)
    else:                           # operands in a stable order: x*y and y*x are one node
        pairs = sorted(zip(ops_, subs), key=lambda p: (p[0].sort_key, _pattern(p[1], out)))
        ops_, subs = [p[0] for p in pairs], [p[1] for p in pairs]
        spec = ",".join(subs) + "->" + out
        core = as_matrix(ops_, subs, out) or contract(ops_, spec)
        if core is not n and core.children:
            core = simplify(core)
    for s in coef:
        core = simplify(Scale(s, core))
    return core


def _pattern(sub: str, out: str) -> str:
    """A subscript as the order key sees it: free letters by their output position, summed
    ones alike (so that the key does not depend on how summed letters are named)."""
    return "".join(str(out.index(ch)) if ch in out else "." for ch in sub)


def _renamed(c: Contract, sub: str, taken: set[str]) -> tuple[list[Node], list[str]]:
    """c's operands and subscripts, its output letters renamed to `sub` and its summed
    letters to letters unused in `taken`."""
    fresh = (ch for ch in EINSUM_LETTERS if ch not in taken)
    rename = dict(zip(c.out, sub))
    for ch in "".join(c.ins):
        if ch not in rename:
            rename[ch] = next(fresh)
    return list(c.operands), ["".join(rename[ch] for ch in s) for s in c.ins]


def _col(v: Node) -> Node:
    """A vector as a column."""
    return v if v.shape[1] == 1 else Transpose(v)


def as_matrix(ops_: list[Node], subs: list[str], out: str) -> Node | None:
    """The contraction in matrix notation, or None if it has none."""
    if any(len(s) > 2 or not s or len(x.shape) != 2 for x, s in zip(ops_, subs)) or \
            len(out) > 2:
        return None
    if len(ops_) == 1 and len(set(subs[0])) < len(subs[0]):      # X_aa
        x = ops_[0]
        return Trace(x) if out == "" else DiagVec(x)
    if any(len(set(s)) < len(s) for s in subs):
        return None
    hadamard = _hadamard(ops_, subs, out)
    if hadamard is not None:
        return hadamard
    count: dict[str, int] = {}
    for s in subs:
        for ch in s:
            count[ch] = count.get(ch, 0) + 1
    ops_, subs = list(ops_), list(subs)
    sizes = {ch: d for x, s in zip(ops_, subs) for ch, d in zip(s, axes(x.shape))}
    for ch, c in list(count.items()):
        if ch not in out and c == 1:                   # summed in one operand: times ones
            ops_.append(Ones(shape_of_axes((sizes[ch],))))
            subs.append(ch)
        elif c != (1 if ch in out else 2):
            return None
    return _Chains(ops_, subs).result(out)


def _hadamard(ops_, subs, out) -> Node | None:
    """X_ab Y_ab (-> ab, or summed): an elementwise product, of transposes where the
    letters are swapped."""
    if len(ops_) < 2 or not all(sorted(s) == sorted(subs[0]) for s in subs):
        return None
    first = subs[0]
    if out not in (first, "", first[::-1]) or len(out) == 1 and out != first:
        return None
    if len(first) == 1:
        fs = tuple(_col(x) for x in ops_)
    else:
        fs = tuple(x if s == first else Transpose(x) for x, s in zip(ops_, subs))
    h = Hadamard(fs)
    if out == "":
        return Sum(h)
    return h if out == first else Transpose(h)


class _Chains:
    """Walks along the operands (edges between indices, vectors as ends)."""

    def __init__(self, ops_, subs):
        self.ops = ops_
        self.subs = subs
        self.used = [False] * len(ops_)

    def _next(self, letter: str) -> int | None:
        for k, s in enumerate(self.subs):
            if not self.used[k] and letter in s:
                return k
        return None

    def walk(self, letter: str, stop: str | None) -> tuple[list[Node], str | None]:
        """Factors from `letter` on, as a product whose rows are `letter`; returns them and
        the letter it ended at (`stop`), or None if it ended at a vector (whose column is
        the last factor)."""
        factors: list[Node] = []
        while letter != stop:
            k = self._next(letter)
            if k is None:
                return factors, letter
            self.used[k] = True
            x, s = self.ops[k], self.subs[k]
            if len(s) == 1:
                factors.append(_col(x))
                return factors, None
            factors.append(x if s[0] == letter else Transpose(x))
            letter = s[1] if s[0] == letter else s[0]
        return factors, stop

    def result(self, out: str) -> Node | None:
        if len(out) == 2:
            a, b = out
            left, end = self.walk(a, b)
            if end == b and left:
                node = _product(left)
            elif end is None:
                right, end2 = self.walk(b, None)
                if end2 is not None or not right:
                    return None
                node = MatMul((_product(left), Transpose(_product(right))))
            else:
                return None
        elif len(out) == 1:
            left, end = self.walk(out, None)
            if end is not None or not left:
                return None
            node = _product(left)
        else:
            node = self._scalar()
            if node is None:
                return None
        return node if all(self.used) else None

    def _scalar(self) -> Node | None:
        """Every remaining chain closed into a scalar, multiplied together."""
        parts: list[Node] = []
        while not all(self.used):
            left = [k for k, u in enumerate(self.used) if not u]   # a vector starts a chain
            k = next((k for k in left if len(self.subs[k]) == 1), left[0])
            s = self.subs[k]
            self.used[k] = True
            if len(s) == 1:                             # x' ... y
                rest, end = self.walk(s, None)
                if end is not None or not rest:
                    return None
                parts.append(MatMul((Transpose(_col(self.ops[k])), *rest)))
            else:                                       # a closed chain: a trace
                rest, end = self.walk(s[1], s[0])
                if end != s[0]:
                    return None
                parts.append(Trace(_product([self.ops[k], *rest])))
        node = parts[0]
        for p in parts[1:]:
            node = Scale(p, node)
        return node


def _product(fs: list[Node]) -> Node:
    return fs[0] if len(fs) == 1 else MatMul(tuple(fs))


# ---- the order of a contraction: two operands at a time, by a cost model ----------------

NOMINAL_SIZE = 64       # the cost model's size of a symbolic dimension (a literal is itself)
ENUMERATE_UP_TO = 4     # operands whose every pairwise order is costed; more: greedily
KEEP_ORDERS = 4         # the cheapest orders of each contraction that the joint plan weighs
COMBINATIONS = 1024     # plans of several contractions costed together, at most


def _size(d) -> int:
    return d if isinstance(d, int) else NOMINAL_SIZE


def orders(subs: list[str], out: str, size: dict[str, int]) -> list[tuple[int, list]]:
    """Pairwise orders of einsum(subs -> out), each with its cost (multiply-adds: the
    product of the sizes of the indices a step touches), as np.einsum_path writes a path:
    positions in the shrinking operand list, each step's result appended last. Every
    order for a few operands; the greedy one (cheapest step first) for more."""
    return _orders(tuple(subs), out, tuple(sorted(size.items())))


@functools.lru_cache(maxsize=4096)
def _orders(subs: tuple[str, ...], out: str, sizes: tuple) -> list[tuple[int, list]]:
    size = dict(sizes)
    if len(subs) <= 2:
        letters = set("".join(subs))
        return [(math.prod(size[ch] for ch in letters), [tuple(range(len(subs)))])]
    steps = []
    for i in range(len(subs)):
        for j in range(i + 1, len(subs)):
            rest = [s for k, s in enumerate(subs) if k not in (i, j)]
            wanted = set(out).union(*rest)
            keep = "".join(dict.fromkeys(ch for ch in subs[i] + subs[j] if ch in wanted))
            cost = math.prod(size[ch] for ch in set(subs[i] + subs[j]))
            steps.append((cost, (i, j), rest + [keep]))
    if len(subs) > ENUMERATE_UP_TO:
        steps = [min(steps, key=lambda s: s[0])]
    return [(cost + c, [pair] + path) for cost, pair, new in steps
            for c, path in _orders(tuple(new), out, sizes)]


def _nested(c: Contract, path: list) -> tuple[Node, list[Node]]:
    """c computed along `path`: the final node and its intermediate steps (each a
    two-operand Contract with its operands in a fixed order, so that a pair met in two
    contractions is one node, computed once)."""
    ops_, subs, out = list(c.operands), list(c.ins), c.out
    steps: list[Node] = []
    for pair in path[:-1]:
        i, j = pair
        rest = [s for k, s in enumerate(subs) if k not in (i, j)]
        wanted = set(out).union(*rest)
        (a, sa), (b, sb) = sorted([(ops_[i], subs[i]), (ops_[j], subs[j])],
                                  key=lambda p: p[0].sort_key)
        keep = "".join(dict.fromkeys(ch for ch in sa + sb if ch in wanted))
        node = contract([a, b], f"{sa},{sb}->{keep}")
        steps.append(node)
        ops_ = [x for k, x in enumerate(ops_) if k not in (i, j)] + [node]
        subs = rest + [keep]
    return contract(ops_, ",".join(subs) + "->" + out), steps


def plan(roots: list[Node]) -> list[Node]:
    """The roots with every contraction that is a matrix expression written as one, and
    every other of three or more operands done two at a time, in
    the order that costs least in the cost model over all of them together: a step that
    two contractions share is counted (and later computed) once, so the forward pass's
    X[i,k]*A[j,k,l] serves the gradient of Y as well."""
    from .expr import substitute_all, walk_all
    found = [n for n in walk_all(roots) if isinstance(n, Contract)]
    lowered = {c: m for c in found if (m := as_matrix(list(c.operands), c.ins, c.out))}
    if lowered:                      # a contraction that is a matrix expression is one
        roots = substitute_all(roots, lowered)
        return plan(roots)
    found = [c for c in found if len(c.operands) > 2]
    if not found:
        return roots
    options = []
    for c in found:
        size = {ch: _size(d) for ch, d in c.sizes().items()}
        opts = []
        for _, path in sorted(orders(c.ins, c.out, size))[:KEEP_ORDERS]:
            final, steps = _nested(c, path)
            opts.append((final, [(s, _step_cost(s)) for s in steps] + [(final, _step_cost(final))]))
        options.append(opts)
    if math.prod(len(o) for o in options) <= COMBINATIONS:
        import itertools
        best = min(itertools.product(*options), key=_total)
    else:
        best = tuple(min(o, key=lambda p: _total([p])) for o in options)
    return substitute_all(roots, {c: p[0] for c, p in zip(found, best)})


def _step_cost(n: Node) -> int:
    return math.prod(_size(d) for d in n.sizes().values()) if isinstance(n, Contract) else 0


def _total(choice) -> int:
    """The cost of the steps of the chosen plans, each distinct step once."""
    steps: dict[Node, int] = {}
    for _, costed in choice:
        steps.update(costed)
    return sum(steps.values())
