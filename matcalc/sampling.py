"""Where a check looks: the sizes it runs at and the random points it draws.

A formula does not depend on the sizes of its dimensions, so a check runs at small ones:
- every symbolic dimension gets a size of its own (2, 3, 4, ... for the first
  DISTINCT_SIZES symbols; beyond that sizes repeat), so a transposed formula cannot pass
  because two sizes happen to agree;
- a literal dimension above KEEP_LITERAL (`--shape x=5000`) is checked at a small size of
  its own too: equal literals stay equal, 1 stays 1. A literal stays as it is when a
  constant of the formula may be that very size (`x'*x/5000`), since the constant would
  not shrink with it; if the check would then cost too much it is skipped for size;
- the sizes respect what products under inv, det and logdet need: A*X*B is singular
  unless its outer dimension is the smallest, X'*X unless X has at least as many rows
  as columns. When no valid point exists at the sizes anyway, they are tried in the
  other order.

Points are drawn for the expression's domain (positive under log/sqrt/division,
positive definite but not symmetric under logdet, well conditioned under inv/det), and
redrawn when they sit near a singularity or a kink (relu, abs, sign, step), where a
finite difference says nothing about the derivative. A scalar variable that may take
either sign is drawn with a given sign on request, so that a check sees both (relu(-alpha)
is 0 for every positive alpha).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping

import numpy as np

from matcalc import ops
from matcalc.evaluate import evaluate, evaluate_all, shape_of, size_of
from matcalc.expr import (
    Const,
    Contract,
    DimValue,
    Divide,
    Func,
    Hadamard,
    Det,
    Inv,
    LogDet,
    MatMul,
    Node,
    Power,
    Scale,
    Transpose,
    Var,
    walk_all,
)
from matcalc.ops import BOUNDED, POSITIVE, SPD, WELL_CONDITIONED
from matcalc.structure import STRUCTURES
from matcalc.structure import values as structured_values

NEGATIVE = "negative"      # every entry < 0: what a positive need asks below a negation
MARGIN = 1e-3              # distance kept from 0 by log/sqrt arguments and denominators,
                           # and from -1 and 1 by bounded arguments (arcsin)
KINK_MARGIN = 1e-3         # relative distance kept from the kink of relu/abs/sign/step
MAX_COND = 1e4             # worst condition number allowed under inv/det/logdet
POINT_TRIES = 50           # draws before giving up on finding a valid point
DISTINCT_SIZES = 24        # symbolic dimensions that get sizes of their own (the smallest
                           # sizes from 2 up that no literal dimension takes)
KEEP_LITERAL = 16          # literal dimensions up to this size are checked as they are
EVAL_BUDGET = 20_000_000   # floating-point operations one evaluation may cost; a check
                           # makes a few dozen evaluations
WIDE = 6.0                 # a wide draw scales the point by 2^u, u uniform in [-WIDE, WIDE]


# ---- sizes ----------------------------------------------------------------------------------

def assign_dims(roots: list[Node], fixed_dims: Mapping | None = None,
                descending: bool = False, resize_all: bool = False) -> dict:
    """A distinct size for each symbolic dimension, 2, 3, 4, ... in sorted order (or in
    reverse order: the largest to the first symbol), skipping sizes already taken by
    `fixed_dims` and by literal dimensions; `fixed_dims` wins. A literal dimension above
    KEEP_LITERAL is given a small size the same way (the key is the literal itself,
    which `evaluate.size_of` reads), unless a constant may be that size (with
    `resize_all`, even then; the small sizes then avoid the values of the constants, so
    that no formula can agree with the truth at the small sizes by a coincidence with a
    constant). Where a product under inv/det/logdet needs its outer dimension to be the
    smallest, the order gives way. Beyond DISTINCT_SIZES symbols the sizes repeat, in the
    same order: a product of 256 matrices whose sizes grew to 258 would cost a billion
    flops per evaluation."""
    fixed = tuple(sorted((fixed_dims or {}).items(), key=lambda kv: str(kv[0])))
    return dict(_assign_dims(tuple(roots), fixed, descending, resize_all))


@functools.lru_cache(maxsize=16)      # a check asks for the same sizes several times
def _assign_dims(roots: tuple[Node, ...], fixed_items: tuple, descending: bool,
                 resize_all: bool) -> dict:
    fixed = dict(fixed_items)
    symbols: set = set()
    literals: set[int] = set()
    consts: list[float] = []
    for node in walk_all(roots):
        for dim in node.shape + ((node.dim,) if isinstance(node, DimValue) else ()):
            (symbols if isinstance(dim, str) else literals).add(dim)
        if isinstance(node, Const) and isinstance(node.value, (int, float)):
            consts.append(float(node.value))
    resized = {n for n in literals if n > KEEP_LITERAL and
               (resize_all or not _may_be_a_value(n, consts))}
    taken = set(fixed.values()) | (literals - resized)
    if resize_all:
        taken |= {round(f) for c in consts if c for f in (abs(c), 1 / abs(c))
                  if f == round(f) and f < 1000}
    free = sorted(symbols - set(fixed), key=str) + sorted(resized)
    below, floor = _rank_needs(roots, set(free))
    order = _order(free, below, descending)
    dims: dict = {}
    sizes: list[int] = []                 # the sizes given so far, DISTINCT_SIZES at most
    for key in order:
        if len(sizes) == DISTINCT_SIZES:
            dims[key] = sizes[len(dims) % DISTINCT_SIZES]
            continue
        s = max([floor.get(key, 2)] + [dims[k] + 1 for k in below.get(key, ()) if k in dims])
        while s in taken or s in sizes:
            s += 1
        sizes.append(s)
        dims[key] = s
    dims.update({symbol: int(fixed[symbol]) for symbol in symbols & set(fixed)})
    return dict(sorted(dims.items(), key=lambda kv: (isinstance(kv[0], int), str(kv[0]))))


def _may_be_a_value(n: int, consts: list[float]) -> bool:
    """Whether a constant of the formula is n, 1/n, sqrt(n) or 1/sqrt(n): a value that
    may have come from the dimension n, and would not shrink with it."""
    forms = (n, 1 / n, math.sqrt(n), 1 / math.sqrt(n))
    return any(math.isclose(abs(c), f, rel_tol=1e-12) for c in consts for f in forms)


def _rank_needs(roots: list[Node], free: set) -> tuple[dict, dict]:
    """What products under inv/det/logdet need of the sizes: {dim: dims that must be
    smaller} and {dim: the least size} (from a literal outer dimension). A product
    A1*...*Ak that is n x n has rank at most its smallest inner dimension."""
    below: dict = {}
    floor: dict = {}
    for node in walk_all(roots):
        if isinstance(node, (Inv, Det, LogDet)):
            x = node.x
            while isinstance(x, (Scale, Transpose)):
                x = x.x if isinstance(x, Transpose) else x.args[1]
            if not isinstance(x, MatMul):
                continue
            outer = x.shape[0]
            for f in x.factors[1:]:
                inner = f.shape[0]
                if inner == outer or inner == 1:
                    continue
                if inner in free and outer in free:
                    below.setdefault(inner, set()).add(outer)
                elif inner in free and isinstance(outer, int):
                    floor[inner] = max(floor.get(inner, 2), outer)
    return below, floor


def _order(free: list, below: dict, descending: bool) -> list:
    """`free` in sorted (or reverse) order, except that a dimension comes after those
    that must be smaller (a cycle of needs is broken in the same order)."""
    pending = list(reversed(free)) if descending else list(free)
    done: list = []
    placed: set = set()
    while pending:
        ready = [k for k in pending if all(b in placed or b not in pending
                                           for b in below.get(k, ()))]
        key = (ready or pending)[0]
        pending.remove(key)
        placed.add(key)
        done.append(key)
    return done


def evaluation_cost(roots: list[Node], dims: Mapping) -> int:
    """About how many floating-point operations one evaluation of the roots costs at
    `dims` (entries made, products, factorisations)."""
    total = 0
    for node in walk_all(roots):
        total += math.prod(shape_of(node, dims))
        if isinstance(node, Contract):          # the einsum, as if done in one sweep
            total += math.prod(size_of(d, dims) for d in node.sizes().values())
        if isinstance(node, MatMul):
            inner = node.factors[0].shape[0]
            rows = size_of(inner, dims)
            for f in node.factors:
                fr, fc = shape_of(f, dims)
                total += rows * fr * fc
        elif isinstance(node, (Inv, Det, LogDet)):
            total += 4 * size_of(node.children[0].shape[0], dims) ** 3
    return total


def literal_sizes(roots: list[Node]) -> list[int]:
    """The literal dimensions above KEEP_LITERAL, in increasing order."""
    return sorted({d for node in walk_all(roots) for d in node.shape
                   if isinstance(d, int) and d > KEEP_LITERAL})


def sizes_text(dims: Mapping, literals=()) -> str:
    """`n = 3, 5000 -> 4`: the sizes a check ran at (a literal kept as it is, alone)."""
    return ", ".join([f"{k} -> {v}" if isinstance(k, int) else f"{k} = {v}"
                      for k, v in dims.items()] +
                     [str(n) for n in literals if n not in dims])


# ---- points ---------------------------------------------------------------------------------

def first_point(roots: list[Node], variables: dict[str, Var],
                fixed_dims: Mapping | None = None, seed: int = 0,
                labels: Mapping[str, str] | None = None,
                tied: Mapping[str, Node] | None = None, resize_all: bool = False,
                needs: dict | None = None):
    """(dims, rng, point): the sizes of assign_dims and a first point drawn at them (see
    find_point), with the generator to draw further points from. The sizes are in sorted
    order unless no valid point exists there and one does with the sizes in the other
    order: X'*X is singular when X is N x d with N < d, and the first order may give
    exactly that."""
    tries = []
    for descending in (False, True):
        dims = assign_dims(roots, fixed_dims, descending, resize_all)
        rng = np.random.default_rng(seed)
        point = find_point(roots, variables, dims, rng, labels=labels, tied=tied,
                           needs=needs)
        if not isinstance(point, str):
            return dims, rng, point
        tries.append((dims, rng, point))
    return tries[0]


def find_point(roots: list[Node], variables: dict[str, Var], dims: Mapping,
               rng: np.random.Generator, spread: float = 1.0,
               labels: Mapping[str, str] | None = None,
               tied: Mapping[str, Node] | None = None,
               signs: Mapping[str, float] | None = None,
               prefer: Callable[[dict, dict], bool] | None = None,
               wide: bool = False, needs: dict | None = None) -> tuple[dict, dict] | str:
    """(values, every node's value) at a random point where the roots are finite and away
    from singularities and kinks; after POINT_TRIES failures, why the last one failed.
    Later tries shrink the draws, which helps expressions like log(1 - x); `wide` draws
    at scales spread over [2^-WIDE, 2^WIDE] instead. A `tied` variable takes the value
    of its expression over the others. `signs` gives scalar variables their sign. With
    `prefer`, draws go on until a valid point satisfies it (the first valid one if none
    does). `needs`: what point_needs says, if known."""
    needs = needs if needs is not None else point_needs(roots, variables, tied)
    reason = "no tries"
    fallback = None
    for attempt in range(POINT_TRIES):
        scale = spread * (2.0 ** rng.uniform(-WIDE, WIDE) if wide else
                          0.5 ** (attempt // 10))
        values = {name: draw(rng, shape_of(var, dims), needs.get(name, set()), scale)
                  for name, var in sorted(variables.items())}
        for name, kind in sorted((labels or {}).items()):
            if name in values and kind in STRUCTURES:        # symmetric, spd, diagonal, ...
                values[name] = structured_values(values[name], kind, needs.get(name, set()))
            elif name in values:
                values[name] = label_values(rng, values[name].shape, kind)
        for name, sign in sorted((signs or {}).items()):
            if name in values and name not in (labels or {}):
                values[name] = sign * np.abs(values[name])
        try:
            with np.errstate(all="ignore"):
                for name, expr in sorted((tied or {}).items()):
                    if name in values:
                        values[name] = np.asarray(evaluate(expr, values, dims), dtype=float)
                memo = evaluate_all(roots, values, dims)
                reason = why_bad(memo)
        except np.linalg.LinAlgError as e:
            reason = f"linear algebra failed ({e})"
        if reason is None:
            if prefer is None or prefer(values, memo):
                return values, memo
            fallback = fallback or (values, memo)
    return fallback or f"no valid point in {POINT_TRIES} tries (the last: {reason})"


def point_needs(roots: list[Node], variables: dict[str, Var], tied=None) -> dict:
    """What each variable's values must be (domain_needs), tied variables followed."""
    return domain_needs(roots + _tied_in(roots, variables, tied))


def either_sign(variables: dict[str, Var], needs: dict,
                labels: Mapping[str, str] | None = None, tied=None) -> list[str]:
    """The scalar variables whose domain (`needs`) lets them take either sign."""
    return [name for name, v in sorted(variables.items())
            if v.shape == (1, 1) and name not in (labels or {}) and name not in (tied or {})
            and not needs.get(name, set()) & {POSITIVE, NEGATIVE, SPD}]


def _tied_in(roots: list[Node], variables: dict[str, Var], tied) -> list[Node]:
    """The roots with each tied variable replaced by its expression, so that what the
    variable needs (positive under a log) flows to the variables it is computed from."""
    if not tied:
        return []
    from matcalc.expr import substitute_all
    mapping = {variables[n]: e for n, e in tied.items() if n in variables}
    return substitute_all(roots, mapping) if mapping else []


def domain_needs(roots: list[Node]) -> dict[str, set[str]]:
    """For each variable name, what its values must be: POSITIVE (under log, sqrt, a
    denominator, a negative or fractional power), BOUNDED (in (-1, 1), under arcsin),
    SPD (a square matrix under logdet or log det), WELL_CONDITIONED (a matrix under inv
    or det, square or a factor of a product that is): each operation's domain in the
    registry (matcalc.ops) says which. A need flows from a node to everything below it,
    so log(A*x + b) makes A, x and b positive."""
    order = list(walk_all(roots))        # children before parents, across all roots
    need: dict[Node, set[str]] = {n: set() for n in order}
    for node in reversed(order):         # parents before children
        for child, child_need in zip(node.children, _child_needs(node, need[node])):
            need[child] |= child_need
    out: dict[str, set[str]] = {}
    for node in order:
        if isinstance(node, Var):
            out.setdefault(node.name, set()).update(need[node])
    return out


def _child_needs(node: Node, need: set[str]) -> list[set[str]]:
    """What a node asks of each of its children, given what is asked of the node. A
    negative constant factor turns positive into negative and back (log(W .* (-W1))
    needs W1 < 0); a negative product, its first factor negative and the others
    positive; anything else asks nothing negative of its argument."""
    n = len(node.children)
    op = ops.of(node)
    signed = need - {NEGATIVE}
    if op is not None:
        return [op.domain.needs(signed)]
    if isinstance(node, Divide):
        return [need, signed | {POSITIVE}]
    if isinstance(node, Power):
        natural = isinstance(node.p, Const) and isinstance(node.p.value, int) \
            and node.p.value >= 0
        return [signed if natural else signed | {POSITIVE}, signed]
    if isinstance(node, Scale) and isinstance(node.children[0], Const) and \
            node.children[0].value < 0:
        flip = {POSITIVE: NEGATIVE, NEGATIVE: POSITIVE}
        return [set(), {flip.get(x, x) for x in need}]
    if NEGATIVE in need and isinstance(node, (Scale, MatMul, Hadamard)):
        return [need] + [signed | {POSITIVE}] * (n - 1)
    return [need] * n


def label_values(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    """Labels as assumed (matcalc.assumptions): random signs -1/+1 ("signs"), or one-hot:
    one 1 per column ("columns"; a column vector has a single 1) or per row ("rows")."""
    r, c = shape
    if kind == "signs":
        signs = rng.choice((-1.0, 1.0), size=shape)
        if signs.size > 1 and abs(signs.sum()) == signs.size:   # both signs, always: with
            signs.flat[rng.integers(signs.size)] *= -1           # all +1, y and y.^2 agree
        return signs
    axis = kind
    out = np.zeros(shape)
    if axis == "rows":
        out[np.arange(r), rng.integers(0, c, size=r)] = 1.0
    else:
        out[rng.integers(0, r, size=c), np.arange(c)] = 1.0
    return out


def draw(rng: np.random.Generator, shape: tuple[int, int], need: set[str],
         spread: float = 1.0) -> np.ndarray:
    """Random values of `shape` meeting `need` (see domain_needs). Negative overrules
    positive, which may only be a denominator's (1/W of log(W .* (-W1)))."""
    r, c = shape[:2]
    if len(shape) != 2:                  # a tensor: no matrix structure to honour
        need = need - {SPD, WELL_CONDITIONED}
    positive = POSITIVE in need and NEGATIVE not in need
    if r == c and SPD in need and len(shape) == 2:
        # S = B B'/n + I is SPD with eigenvalues in [1, 1 + |B|^2/n]; adding a small skew
        # part K keeps x'(S + K)x = x'Sx > 0 (so det > 0) but breaks the symmetry, so a
        # transposed formula cannot pass. With B > 0 the entries stay positive.
        b = rng.uniform(0.5, 2.0, (r, r)) if positive else rng.standard_normal((r, r))
        k = rng.uniform(-0.1, 0.1, (r, r))
        return spread * (b @ b.T / r + np.eye(r) + k - k.T)
    if r == c and WELL_CONDITIONED in need:
        # I + E with every row of |E| summing below 1/2: condition number below 3.
        e = rng.uniform(0.1, 0.5, (r, r)) if positive else rng.uniform(-0.5, 0.5, (r, r))
        return spread * (np.eye(r) + e / r)
    if BOUNDED in need:
        # well inside (-1, 1): products and sums of a few such entries mostly stay there
        return min(spread, 1.0) * (rng.uniform(0.1, 0.5, shape) if positive else
                                   rng.uniform(-0.5, 0.5, shape))
    if WELL_CONDITIONED in need and not positive and min(r, c) > 1:
        # a factor of a product under inv/det (A*X*B): near orthonormal rows or columns,
        # so that the product of several stays well conditioned
        q, _ = np.linalg.qr(rng.standard_normal((max(r, c), min(r, c))))
        q = q if r >= c else q.T
        return spread * (q + 0.3 * rng.standard_normal(shape) / math.sqrt(max(r, c)))
    if positive or SPD in need:
        return spread * rng.uniform(0.5, 2.0, shape)
    if NEGATIVE in need:
        return -spread * rng.uniform(0.5, 2.0, shape)
    return spread * rng.standard_normal(shape)


def why_bad(memo: Mapping[Node, np.ndarray]) -> str | None:
    """Why the evaluated DAG sits at a bad point for finite differences, or None. `memo`
    lists children before parents, so a node's arguments are known to be finite."""
    for node, value in memo.items():
        reason = _domain_violation(node, memo)
        if reason is None and not np.all(np.isfinite(value)):
            reason = f"a non-finite value in {_kind(node)}"
        if reason is not None:
            return reason
    return None


def _domain_violation(node: Node, memo: Mapping[Node, np.ndarray]) -> str | None:
    """Why this node's argument is too close to a singularity or a kink, or None."""
    if not node.children:
        return None
    x = memo[node.children[0]]
    op = ops.of(node)
    if op is not None:
        return _outside(op, x)
    if isinstance(node, Divide) and np.abs(memo[node.b]).min() < MARGIN:
        return "a denominator near 0"
    if isinstance(node, Power):
        p = float(memo[node.p][0, 0])
        if p != round(p) and x.min() < MARGIN:
            return f"a power {p:g} of {x.min():.2g}"
        if p < 0 and np.abs(x).min() < MARGIN:
            return f"a power {p:g} of a value near 0"
    return None


def _outside(op: ops.Op, x: np.ndarray) -> str | None:
    """Why the argument x is too close to the edge of op's domain (matcalc.ops.Domain), to
    a pole or to a kink, or None."""
    domain, need = op.domain, op.domain.argument
    if POSITIVE in need and x.min() < MARGIN:
        return f"{op.name} of {x.min():.2g}"
    if BOUNDED in need and np.abs(x).max() > 1 - MARGIN:
        return f"{op.name} of {x.flat[np.abs(x).argmax()]:.2g}"
    if domain.pole is not None and np.abs(domain.pole(x)).min() < MARGIN:
        return f"{op.name} near a pole"
    if domain.kink and np.abs(x).min() <= KINK_MARGIN * np.abs(x).max():
        return f"{op.name} near its kink at 0"
    if domain.nonzero and not np.any(x):
        return f"{op.name} of zero"
    if SPD in need and np.linalg.slogdet(x)[0] <= 0:
        return f"{op.name} of a matrix with det <= 0"
    if (SPD in need or WELL_CONDITIONED in need) and np.linalg.cond(x) > MAX_COND:
        return f"{op.name} of an ill-conditioned matrix"
    return None


def is_kink(node: Node) -> bool:
    """Whether node is f(u) with a kink of f at u = 0 (relu, abs, sign, step, norm1)."""
    op = ops.of(node)
    return op is not None and op.domain.kink


def variables_of(roots: list[Node]) -> dict[str, Var]:
    found: dict[str, Var] = {}
    for node in walk_all(roots):
        if isinstance(node, Var):
            other = found.setdefault(node.name, node)
            if other is not node:
                raise ValueError(f"variable {node.name} has two shapes, "
                                 f"{other.shape} and {node.shape}")
    return found


def _kind(node: Node) -> str:
    return node.name if isinstance(node, Func) else type(node).__name__.lower()
