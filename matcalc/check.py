"""Finite-difference verification of gradients, on the IR evaluated with NumPy.

A gradient in the adjoint convention is checked through the scalar L = <U, F(x)> (U a
random upstream adjoint, or 1 for a scalar F): along a random unit direction V, the
directional derivative dL/dt of L(x + tV) must equal <G, V>. Each direction costs six
evaluations of F whatever the size of x, and a random direction catches any wrong entry
of G with probability one.

What makes a check trustworthy rather than lucky:
- every symbolic dimension gets its own size (2, 3, 4, ..., for the first
  DISTINCT_SIZES symbols; beyond that sizes repeat), so a transposed formula cannot pass
  because two sizes happen to agree; when no valid point exists at those sizes (X'*X
  singular for N < d), the sizes are tried in the other order;
- inputs are drawn for the expression's domain (positive under log/sqrt/division,
  positive definite but not symmetric under logdet, well conditioned under inv/det), and
  a point is redrawn when it sits near a singularity or a kink (relu, abs, sign, step),
  where a finite difference says nothing about the derivative;
- a fourth-order central stencil in float64, itself checked against the same stencil at
  twice the step; a direction whose stencil crosses a kink or disagrees with itself is
  not used, and a variable left without usable directions is checked at a new point or
  reported as not checked, never as a mismatch;
- differences within the stencil's round-off are not counted against the gradient, so a
  zero gradient passes however the function's value rounds.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from matcalc import ops
from matcalc.evaluate import evaluate, evaluate_all, shape_of
from matcalc.expr import Const, DimValue, Divide, Func, Node, Power, Var, walk
from matcalc.ops import BOUNDED, POSITIVE, SPD, WELL_CONDITIONED

# The worst relative error |d - a| / max(|d|, |a|) a correct gradient may show. Measured
# on 25,000 variables of random depth-5 expressions (scalar and matrix outputs, every node
# kind) with their exact gradients: median 4e-12, 99.9th percentile 5e-8, worst 3e-7 (the
# stencil's truncation error is near 1e-16 at STEP; what remains is round-off amplified by
# cancellation inside F). A wrong factor of 2 shows 0.5, a wrong transpose an error of
# order 1, a stray 1e-3 added to every entry about 1e-3 / |G|. So 1e-6: three times the
# worst correct gradient seen, five orders of magnitude below the usual mistakes.
TOLERANCE = 1e-6
CLAIM_TOLERANCE = 1e-8     # two closed forms of one derivative: only round-off separates them
STEP = 1e-4                # h = STEP * max(1, max|x|): truncation O(h^4) ~ 1e-16, round-off
                           # ~ eps/h ~ 2e-12 (1e-5 and 1e-6 measured 10x and 100x noisier)
MARGIN = 1e-3              # distance kept from 0 by log/sqrt arguments and denominators,
                           # and from -1 and 1 by bounded arguments (arcsin)
KINK_MARGIN = 1e-3         # relative distance kept from the kink of relu/abs/sign/step
MAX_COND = 1e4             # worst condition number allowed under inv/det/logdet
POINT_TRIES = 50           # draws before giving up on finding a valid point
POINT_ROUNDS = 3           # points tried for a variable whose differences are unreliable
DIRECTION_TRIES = 5        # directions tried at one point
NOISE = 256.0              # round-off of the stencil, in units of eps * sum|U * F| / h
SMALLEST_SCALE = 1e-290    # a gradient norm below this is near the subnormals: no verdict
DISTINCT_SIZES = 24        # symbolic dimensions that get sizes of their own (the smallest
                           # sizes from 2 up that no literal dimension takes)


class CheckFailed(AssertionError):
    """A gradient did not match its finite differences."""


@dataclass(frozen=True)
class VarCheck:
    """The verdict for one variable: the worst relative error over the directions tried
    (inf for a gradient of the wrong shape, nan when no valid point was found)."""
    name: str
    max_rel_error: float
    ok: bool
    message: str = ""

    def line(self) -> str:
        status = "ok" if self.ok else "NOT CHECKED" if math.isnan(self.max_rel_error) \
            else "MISMATCH"
        return f"{self.name}: {status} ({self.message})"


@dataclass(frozen=True)
class CheckReport:
    results: dict[str, VarCheck]
    ok: bool
    dims: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per variable: `X: ok (max rel. error 3.2e-10)`."""
        return "\n".join(r.line() for r in self.results.values())

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise CheckFailed(self.summary())


# ---- the two entry points ---------------------------------------------------------------

def check_gradients(output: Node, grads: Mapping[str, Node], upstream: Var | None = None, *,
                    seed: int = 0, directions: int = 3, fixed_dims: Mapping | None = None,
                    tolerance: float = TOLERANCE,
                    labels: Mapping[str, str] | None = None,
                    tied: Mapping[str, Node] | None = None) -> CheckReport:
    """Compare each gradient (adjoint convention: the shape of its variable; it may use the
    upstream Var) with central finite differences of L = <U, output> along `directions`
    random unit directions. Deterministic for a given seed. `labels` names label
    variables as matcalc.assumptions does ("columns"/"rows" one-hot, "signs" -1/+1),
    drawn accordingly. `tied` gives some variables their value from the others (a
    program's intermediate, freed for the check of its step, starts from the value the
    program gives it)."""
    roots = _roots(output, upstream, grads.values()) + list((tied or {}).values())
    variables = _variables(roots)
    dims = assign_dims(roots, fixed_dims)
    results: dict[str, VarCheck] = {}
    pending = []
    for name, grad in grads.items():
        # A variable the expression does not use has a zero derivative: it is checked
        # like any other, as a variable of the gradient's shape that moves nothing.
        var = variables.setdefault(name, Var(name, grad.shape))
        if shape_of(grad, dims) != shape_of(var, dims):
            results[name] = VarCheck(name, math.inf, False,
                                     f"gradient is {_shape_text(grad, dims)} but {name} is "
                                     f"{_shape_text(var, dims)}")
        else:
            results[name] = VarCheck(name, math.nan, False, "not checked")
            pending.append(name)
    # A variable whose finite differences are unreliable at one point (every direction
    # crossed a kink or met strong curvature) is checked again at a new, smaller point.
    if pending:
        dims, rng, point = first_point(roots, variables, fixed_dims, seed, labels, tied)
    for round_ in range(POINT_ROUNDS):
        if not pending:
            break
        if round_:
            point = find_point(roots, variables, dims, rng, spread=0.5 ** round_,
                               labels=labels, tied=tied)
        for name in pending:
            results[name] = (VarCheck(name, math.nan, False, point) if isinstance(point, str)
                             else _check_one(output, upstream, grads[name], variables[name],
                                             point, dims, rng, directions, tolerance))
        if isinstance(point, str):
            break
        pending = [name for name in pending if math.isnan(results[name].max_rel_error)]
    results = {name: results[name] for name in grads}
    return CheckReport(results, all(r.ok for r in results.values()), dims)


def check_claim(output: Node, upstream: Var | None, true_grad: Node, claimed: Node, var: str,
                *, seed: int = 0, points: int = 3, fixed_dims: Mapping | None = None,
                tolerance: float = CLAIM_TOLERANCE,
                labels: Mapping[str, str] | None = None) -> tuple[bool, float]:
    """Whether `claimed` equals `true_grad` (two IR forms of the derivative of `output` with
    respect to `var`) at `points` random valid inputs; returns (ok, worst relative error
    in the Frobenius norm), inf for a claim of the wrong shape, nan with no valid point."""
    roots = _roots(output, upstream, [true_grad, claimed])
    variables = _variables(roots)
    dims = assign_dims(roots, fixed_dims)
    target = variables.get(var, true_grad)
    if shape_of(claimed, dims) != shape_of(target, dims):
        return False, math.inf
    dims, rng, point = first_point(roots, variables, fixed_dims, seed, labels)
    worst = 0.0
    for i in range(points):
        if i:
            point = find_point(roots, variables, dims, rng, labels=labels)
        if isinstance(point, str):
            return False, math.nan
        t, c = point[1][true_grad], point[1][claimed]
        worst = max(worst, _relative(np.linalg.norm(t - c), np.linalg.norm(t),
                                     np.linalg.norm(c)))
    return worst <= tolerance, worst


# ---- one variable ------------------------------------------------------------------------

@np.errstate(all="ignore")
def _check_one(output, upstream, grad, var, point, dims, rng, directions, tolerance):
    values, memo = point
    u = values[upstream.name] if upstream is not None else np.ones((1, 1))
    g = memo[grad]
    scale = np.linalg.norm(g)
    if math.isinf(scale) and np.all(np.isfinite(g)):     # finite, but their squares overflow
        big = float(np.abs(g).max())
        scale = big * float(np.linalg.norm(g / big))
    if 0 < float(np.abs(g).max(initial=0)) < SMALLEST_SCALE:     # (whose norm underflows)
        return VarCheck(var.name, math.nan, False, "the gradient's values are too small for "
                        "double precision here (subnormal): no finite difference can check them")
    x = values[var.name]
    h = STEP * max(1.0, float(np.abs(x).max()))
    fixed = _independent_of(var, output, memo)
    kinks = [k for k in _kink_arguments(output) if k not in fixed]   # the others stay put
    signature = [np.sign(memo[k]) for k in kinks]
    worst = 0.0
    for _ in range(directions):
        for _ in range(DIRECTION_TRIES):
            v = rng.standard_normal(x.shape)
            v /= np.linalg.norm(v)
            fd = _directional_derivative(output, values, dims, u, var.name, v, h, kinks,
                                         signature, tolerance, fixed)
            if fd is not None:
                break
        else:
            return VarCheck(var.name, math.nan, False,
                            "finite differences unreliable in every direction tried "
                            "(kinks, singularities or strong curvature)")
        d, uncertainty = fd
        a = float(np.sum(g * v))
        if not math.isfinite(a):
            return VarCheck(var.name, math.nan, False, "the gradient's values exceed double "
                            "precision here: no finite difference can check them")
        # The stencil resolves a derivative only to its uncertainty: measure errors
        # against uncertainty / tolerance at least, so round-off alone never fails a
        # (zero) gradient.
        worst = max(worst, _relative(abs(d - a), abs(d), abs(a), 1e-8 * scale,
                                     uncertainty / tolerance))
    return VarCheck(var.name, worst, worst <= tolerance, f"max rel. error {worst:.2g}")


def _directional_derivative(output, values, dims, u, name, v, h, kinks, signature,
                            tolerance, fixed=None):
    """(d, its uncertainty): d = dL/dt at t = 0 for L(t) = <U, F(x + tV)>, by the stencil
    (-L(2h) + 8L(h) - 8L(-h) + L(-2h)) / 12h, whose error is O(h^4). None when d cannot
    be trusted: the stencil crosses a kink (an argument of relu, abs, sign or step changes
    sign) or leaves the domain, or the same stencil at step 2h (truncation error 16 times
    larger) disagrees by more than the tolerance or the round-off estimate. `fixed`: the
    values of the nodes that do not depend on the variable moved."""
    ls, magnitudes = {}, []
    for t in (4, 2, 1, -1, -2, -4):
        shifted = dict(values)
        shifted[name] = values[name] + (t * h) * v
        try:
            with np.errstate(all="ignore"):
                memo = evaluate_all([output], shifted, dims, fixed)
        except np.linalg.LinAlgError:
            return None
        terms = u * memo[output]
        if not np.all(np.isfinite(terms)):
            return None
        if any(not np.array_equal(np.sign(memo[k]), s) for k, s in zip(kinks, signature)):
            return None
        ls[t] = float(terms.sum())
        magnitudes.append(float(np.abs(terms).sum()))
    d = (-ls[2] + 8 * ls[1] - 8 * ls[-1] + ls[-2]) / (12 * h)
    d2 = (-ls[4] + 8 * ls[2] - 8 * ls[-2] + ls[-4]) / (24 * h)
    if not (math.isfinite(d) and math.isfinite(d2)):    # beyond double precision
        return None
    noise = NOISE * np.finfo(np.float64).eps * max(magnitudes) / h
    if abs(d - d2) > max(tolerance * abs(d), noise):
        return None
    return d, max(noise, abs(d - d2))


def _relative(err: float, *sizes: float) -> float:
    """err / max(sizes), 0 when both are 0."""
    denominator = max(sizes)
    return 0.0 if err == 0 else err / denominator if denominator > 0 else math.inf


def _independent_of(var: Var, root: Node, memo: Mapping[Node, np.ndarray]) -> dict:
    """The values in `memo` of the nodes below root that do not depend on `var`."""
    moved = {var}
    fixed = {}
    for node in walk(root):
        if node is var or any(c in moved for c in node.children):
            moved.add(node)
        else:
            fixed[node] = memo[node]
    return fixed


def _kink_arguments(root: Node) -> list[Node]:
    return [n.x for n in walk(root) if (op := ops.of(n)) is not None and op.domain.kink]


# ---- dimensions -------------------------------------------------------------------------

def assign_dims(roots: list[Node], fixed_dims: Mapping | None = None,
                descending: bool = False) -> dict[str, int]:
    """A distinct size for each symbolic dimension, 2, 3, 4, ... in sorted order (or in
    reverse order: the largest to the first symbol), skipping sizes already taken by
    `fixed_dims` and by literal dimensions; `fixed_dims` wins. Beyond DISTINCT_SIZES
    symbols the sizes repeat, in the same order: a product of 256 matrices whose sizes
    grew to 258 would cost a billion flops per evaluation."""
    fixed = dict(fixed_dims or {})
    symbols: set[str] = set()
    taken = set(fixed.values())
    for root in roots:
        for node in walk(root):
            for dim in node.shape + ((node.dim,) if isinstance(node, DimValue) else ()):
                if isinstance(dim, str):
                    symbols.add(dim)
                else:
                    taken.add(dim)
    free = sorted(symbols - set(fixed))
    sizes: list[int] = []                 # the smallest sizes not taken, DISTINCT_SIZES at most
    size = 2
    while len(sizes) < min(len(free), DISTINCT_SIZES):
        if size not in taken:
            sizes.append(size)
        size += 1
    dims = {symbol: sizes[i % len(sizes)]
            for i, symbol in enumerate(reversed(free) if descending else free)}
    dims.update({symbol: int(fixed[symbol]) for symbol in symbols & set(fixed)})
    return dict(sorted(dims.items()))


def first_point(roots: list[Node], variables: dict[str, Var],
                fixed_dims: Mapping | None = None, seed: int = 0,
                labels: Mapping[str, str] | None = None,
                tied: Mapping[str, Node] | None = None):
    """(dims, rng, point): the sizes of assign_dims and a first point drawn at them (see
    find_point), with the generator to draw further points from. The sizes are in sorted
    order unless no valid point exists there and one does with the sizes in the other
    order: X'*X is singular when X is N x d with N < d, and the first order may give
    exactly that."""
    tries = []
    for descending in (False, True):
        dims = assign_dims(roots, fixed_dims, descending)
        rng = np.random.default_rng(seed)
        point = find_point(roots, variables, dims, rng, labels=labels, tied=tied)
        if not isinstance(point, str):
            return dims, rng, point
        tries.append((dims, rng, point))
    return tries[0]


# ---- the domain: what each variable needs, drawing a point, rejecting a bad one ----------

def find_point(roots: list[Node], variables: dict[str, Var], dims: dict[str, int],
               rng: np.random.Generator, spread: float = 1.0,
               labels: Mapping[str, str] | None = None,
               tied: Mapping[str, Node] | None = None) -> tuple[dict, dict] | str:
    """(values, every node's value) at a random point where the roots are finite and away
    from singularities and kinks; after POINT_TRIES failures, why the last one failed.
    Later tries shrink the draws, which helps expressions like log(1 - x). A `tied`
    variable takes the value of its expression over the others."""
    needs = domain_needs(roots + _tied_in(roots, variables, tied))
    reason = "no tries"
    for attempt in range(POINT_TRIES):
        values = {name: draw(rng, shape_of(var, dims), needs.get(name, set()),
                             spread * 0.5 ** (attempt // 10))
                  for name, var in sorted(variables.items())}
        for name, kind in sorted((labels or {}).items()):
            if name in values:
                values[name] = label_values(rng, values[name].shape, kind)
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
            return values, memo
    return f"no valid point in {POINT_TRIES} tries (the last: {reason})"


def _tied_in(roots: list[Node], variables: dict[str, Var], tied) -> list[Node]:
    """The roots with each tied variable replaced by its expression, so that what the
    variable needs (positive under a log) flows to the variables it is computed from."""
    if not tied:
        return []
    from matcalc.layout import substitute
    mapping = {variables[n]: e for n, e in tied.items() if n in variables}
    return [substitute(r, mapping) for r in roots] if mapping else []


def domain_needs(roots: list[Node]) -> dict[str, set[str]]:
    """For each variable name, what its values must be: POSITIVE (under log, sqrt, a
    denominator, a negative or fractional power), BOUNDED (in (-1, 1), under arcsin),
    SPD (a square matrix under logdet or log det), WELL_CONDITIONED (a square matrix under
    inv or det): each operation's domain in the registry (matcalc.ops) says which. A need
    flows from a node to everything below it, so log(A*x + b) makes A, x and b positive."""
    order: list[Node] = []
    seen: set[Node] = set()
    for root in roots:
        for node in walk(root):          # children before parents, across all roots
            if node not in seen:
                seen.add(node)
                order.append(node)
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
    """What a node asks of each of its children, given what is asked of the node."""
    n = len(node.children)
    op = ops.of(node)
    if op is not None:
        return [op.domain.needs(need)]
    if isinstance(node, Divide):
        return [need, need | {POSITIVE}]
    if isinstance(node, Power):
        natural = isinstance(node.p, Const) and isinstance(node.p.value, int) \
            and node.p.value >= 0
        return [need if natural else need | {POSITIVE}, need]
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
    """Random values of `shape` meeting `need` (see domain_needs)."""
    r, c = shape
    positive = POSITIVE in need
    if r == c and SPD in need:
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
        return spread * (rng.uniform(0.1, 0.5, shape) if positive else
                         rng.uniform(-0.5, 0.5, shape))
    if positive or SPD in need:
        return spread * rng.uniform(0.5, 2.0, shape)
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


# ---- small helpers ------------------------------------------------------------------------

def _roots(output: Node, upstream: Var | None, grads) -> list[Node]:
    if upstream is None and not output.is_scalar:
        raise ValueError(f"a non-scalar output {output.shape} needs an upstream Var")
    if upstream is not None and upstream.shape != output.shape:
        raise ValueError(f"the upstream {upstream.shape} must have the output's shape "
                         f"{output.shape}")
    return [output, *([upstream] if upstream is not None else []), *grads]


def _variables(roots: list[Node]) -> dict[str, Var]:
    found: dict[str, Var] = {}
    for root in roots:
        for node in walk(root):
            if isinstance(node, Var):
                other = found.setdefault(node.name, node)
                if other is not node:
                    raise ValueError(f"variable {node.name} has two shapes, "
                                     f"{other.shape} and {node.shape}")
    return found


def _kind(node: Node) -> str:
    return node.name if isinstance(node, Func) else type(node).__name__.lower()


def _shape_text(node: Node, dims) -> str:
    (r, c), (nr, nc) = node.shape, shape_of(node, dims)
    sizes = "" if (r, c) == (nr, nc) else f" = {nr} x {nc}"
    return f"{r} x {c}{sizes}"
