"""Finite-difference verification of derivatives, on the IR evaluated with NumPy.

One engine serves every check: a derivative is compared with central finite differences
of the node it differentiates, as a scalar. For a gradient G of an output F with upstream
U (1 for a scalar F), L = <U, F>: along a move V of the variables, the directional
derivative dL/dt of L(x + tV) must equal <G, V>. Jacobians and Hessians
(matcalc.check_higher) use the same comparison with a random weight W in place of U.
A move costs six evaluations of F whatever the size of x, and a random direction
catches any wrong entry of G with probability one.

What makes a verdict trustworthy rather than lucky:
- an absolute scale (matcalc.magnitude): the round-off of each side is measured from the
  size of the terms that make it, and the derivative's natural size from the sizes of
  all the paths from the variable to the output. A comparison where that natural size
  is lost in round-off (a relu that is off, an exp that underflows, a factor that is 0
  here, values too small for double precision) tells a right formula from no wrong
  one: it is *degenerate*, and a variable with nothing but degenerate comparisons is
  NOT CHECKED, never verified. A zero derivative of a function that really is constant
  (x'*x - norm2(x)^2, sum(softmax(u))) keeps a natural size and is verified as zero;
- several points: the first, one with the sign of every free scalar flipped, and while
  something is not yet checked, points drawn at scales far and near (matcalc.sampling);
- a fourth-order central stencil in float64, itself checked against the same stencil at
  twice the step; a move whose stencil crosses a kink or disagrees with itself is not
  used, and a variable left without usable moves is reported as not checked, never as a
  mismatch;
- every variable at once: one joint move over many variables, each scaled so that its
  share of the directional derivative is about the same size, and held to the tolerance
  of that share (so that no large gradient hides a small wrong one); variables go
  together only as far as the round-off of the move leaves each share its tolerance,
  and a move recomputes only the terms of the output that the moved variables reach. A
  group that fails is halved until the culprits are named. So a check costs about what
  a few evaluations of the output cost, not a set of them per variable;
- a time limit (TIME_LIMIT seconds of processor time): a check that runs out of time
  says what it verified and what it did not.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from matcalc.evaluate import evaluate_all, shape_of
from matcalc.expr import Add, Node, Var, walk
from matcalc.magnitude import Slopes, magnitudes, sensitivities
from matcalc.structure import project_array, structures
from matcalc.sampling import (  # noqa: F401  (the sampling API, as the checker uses it)
    EVAL_BUDGET,
    POINT_TRIES,
    assign_dims,
    domain_needs,
    draw,
    either_sign,
    evaluation_cost,
    find_point,
    first_point,
    is_kink,
    label_values,
    literal_sizes,
    point_needs,
    sizes_text,
    variables_of,
    why_bad,
)

# The worst relative error |d - a| / max(|d|, |a|) a correct gradient may show. Measured
# on 25,000 variables of random depth-5 expressions (scalar and matrix outputs, every node
# kind) with their exact gradients: median 4e-12, 99.9th percentile 5e-8, worst 3e-7 (the
# stencil's truncation error is near 1e-16 at STEP; what remains is round-off amplified by
# cancellation inside F). A wrong factor of 2 shows 0.5, a wrong transpose an error of
# order 1, a stray 1e-3 added to every entry about 1e-3 / |G|. So 1e-6: three times the
# worst correct gradient seen, five orders of magnitude below the usual mistakes.
TOLERANCE = 1e-6
CLAIM_TOLERANCE = 1e-8     # two closed forms of one derivative: only round-off separates them
STEP = 1e-4                # h = STEP * max|x|: truncation O(h^4) ~ 1e-16, round-off
                           # ~ eps/h ~ 2e-12 (1e-5 and 1e-6 measured 10x and 100x noisier)
NOISE = 256.0              # round-off of a computed value, in units of eps * its magnitude
DEGENERATE = 1e5           # a comparison says something when the derivative's natural size
                           # exceeds the round-off of both sides this many times
SMALLEST_SCALE = 1e-290    # a natural size below this is near the subnormals: no verdict
POINTS = 2                 # points every check looks at (the second flips scalar signs)
EXTRA_POINTS = 4           # further points, far and near, for what is not checked yet
DIRECTION_TRIES = 5        # moves tried at one point before a variable is left unchecked
TIME_LIMIT = 3.0           # seconds a check may take; then it says what it did not verify
EPS = float(np.finfo(np.float64).eps)


class CheckFailed(AssertionError):
    """A derivative did not match its finite differences, or could not be checked."""


@dataclass(frozen=True)
class VarCheck:
    """The verdict for one variable: the worst relative error over the comparisons made
    (inf for a gradient of the wrong shape, nan when nothing could be compared)."""
    name: str
    max_rel_error: float
    ok: bool
    message: str = ""

    @property
    def status(self) -> str:
        """"ok", "MISMATCH" or "NOT CHECKED"."""
        return "ok" if self.ok else "NOT CHECKED" if math.isnan(self.max_rel_error) \
            else "MISMATCH"

    def line(self) -> str:
        return f"{self.name}: {self.status} ({self.message})"


@dataclass(frozen=True)
class CheckReport:
    results: dict[str, VarCheck]
    ok: bool
    dims: dict = field(default_factory=dict)

    @property
    def mismatch(self) -> bool:
        """Whether some formula is wrong (rather than only not verified)."""
        return any(r.status == "MISMATCH" for r in self.results.values())

    def summary(self) -> str:
        """One line per variable: `X: ok (max rel. error 3.2e-10)`."""
        return "\n".join(r.line() for r in self.results.values())

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise CheckFailed(self.summary())


def deadline_after(seconds: float | None = None) -> float:
    """The clock() at which a check started now must stop."""
    return clock() + (TIME_LIMIT if seconds is None else seconds)


def clock() -> float:
    """The clock of the time limit: processor time, so that a check on a busy machine
    does the same work as on an idle one."""
    return time.process_time()


CUT_SHORT = f"cut short: the check's time limit ({TIME_LIMIT:g} s) ran out first"


# ---- the verdict of one variable over many comparisons ----------------------------------------

@dataclass
class Tally:
    """What the comparisons of one variable (or one derivative) found so far."""
    verified: float = -1.0          # worst relative error of a passing comparison, or -1
    failed: float = -1.0            # worst relative error of a failing one, or -1
    worst_part: str = ""            # what failed worst (a form of a Jacobian)
    parts: tuple = ()               # what the passing comparisons compared
    reason: str = ""                # why nothing was compared, the last time

    @property
    def done(self) -> bool:
        return self.failed >= 0

    @property
    def checked(self) -> bool:
        return self.verified >= 0 or self.failed >= 0

    def passed(self, rel: float, parts: tuple = ()) -> None:
        self.verified = max(self.verified, rel)
        self.parts = self.parts or parts

    def mismatch(self, rel: float, part: str = "") -> None:
        if rel > self.failed:
            self.failed, self.worst_part = rel, part

    def verdict(self, name: str) -> VarCheck:
        if self.failed >= 0:
            worst = f"; worst: {self.worst_part}" if self.worst_part else ""
            return VarCheck(name, self.failed, False,
                            f"max rel. error {self.failed:.2g}{worst}")
        if self.verified >= 0:
            parts = f"; {', '.join(self.parts)}" if self.parts else ""
            return VarCheck(name, self.verified, True,
                            f"max rel. error {self.verified:.2g}{parts}")
        return VarCheck(name, math.nan, False, self.reason or "not checked")


DEGENERATE_REASON = ("the output does not move with it at any point tried (every path "
                     "from it vanishes or underflows there): no finite difference can tell "
                     "a right formula from a wrong one")
UNRELIABLE_REASON = ("finite differences unreliable in every direction tried (kinks, "
                     "singularities or strong curvature)")


# ---- the points a check looks at ------------------------------------------------------------

class Sampler:
    """The sizes and points of one check: POINTS points (the second with every free
    scalar's sign flipped), then, while `wanted()`, up to EXTRA_POINTS points drawn at
    scales far and near that `live` accepts if any does. `skipped` says why there are
    none (too costly at the sizes, or no valid point); `extra_cost(dims)` adds to the
    cost of an evaluation what else the check computes at each point."""

    def __init__(self, roots: list[Node], variables: dict[str, Var],
                 fixed_dims: Mapping | None, seed: int, labels=None, tied=None,
                 deadline: float | None = None, extra_cost=None):
        self.roots, self.variables = roots, variables
        self.labels, self.tied = labels, tied
        self.deadline = deadline if deadline is not None else deadline_after()
        self.skipped: str | None = None
        self.first = None
        self.free_scalars: list[str] = []
        self.rng = np.random.default_rng(seed)
        # At small sizes unless a constant may be a literal size that would not shrink
        # with the rest (x'*A*x/5000): then at the literal size if that is affordable,
        # else at small sizes with a disagreement taken for no evidence (`doubtful`).
        for resize_all in (False, True):
            dims = assign_dims(roots, fixed_dims, resize_all=resize_all)
            cost = evaluation_cost(roots, dims) + (extra_cost(dims) if extra_cost else 0)
            if cost <= EVAL_BUDGET:
                break
        self.dims = dims
        self.doubtful = resize_all and any(isinstance(k, int) for k in dims)
        self.resized = any(isinstance(k, int) for k in dims)    # literal sizes made small
        if cost > EVAL_BUDGET:
            self.skipped = (f"skipped for size: one evaluation at the sizes "
                            f"{sizes_text(dims, literal_sizes(roots))} would cost about "
                            f"{cost:.1g} operations (more than matcalc.sampling.EVAL_BUDGET)")
            return
        self.needs = point_needs(roots, variables, tied)
        self.dims, self.rng, point = first_point(roots, variables, fixed_dims, seed,
                                                 labels, tied, resize_all, self.needs)
        if isinstance(point, str):          # none near the origin: far and near, then
            wide = self._draw(wide=True)    # (sqrt(tau - 8) needs tau > 8)
            point = point if isinstance(wide, str) else wide
        if isinstance(point, str):
            self.skipped = point
        else:
            self.first = point
        self.free_scalars = either_sign(variables, self.needs, labels, tied)

    def verdict(self, name: str, tally: "Tally") -> "VarCheck":
        """The tally's verdict; at sizes made small despite a constant that may be one of
        them, a disagreement is no evidence of a wrong formula."""
        if self.doubtful and tally.done:
            return VarCheck(name, math.nan, False,
                            f"not verified: at the small sizes {sizes_text(self.dims)} the "
                            f"formula and finite differences disagree (max rel. error "
                            f"{tally.failed:.2g}), but a constant of the formula may be "
                            f"one of the literal sizes, which did not shrink with it")
        return tally.verdict(name)

    @property
    def out_of_time(self) -> bool:
        return clock() > self.deadline

    def points(self, wanted=lambda: True, live=None):
        """The points, as (values, memo)."""
        if self.first is None:
            return
        yield self.first
        values = self.first[0]
        signs = {n: -math.copysign(1.0, values[n][0, 0]) for n in self.free_scalars}
        for k in range(1, POINTS):
            if self.out_of_time:
                return
            point = self._draw(signs=signs if k == 1 else None)
            if not isinstance(point, str):
                yield point
        for _ in range(EXTRA_POINTS):
            if self.out_of_time or not wanted():
                return
            point = self._draw(prefer=live, wide=True)
            if not isinstance(point, str):
                yield point

    def _draw(self, **how):
        return find_point(self.roots, self.variables, self.dims, self.rng,
                          labels=self.labels, tied=self.tied, needs=self.needs, **how)


# ---- one comparison: a finite difference against a formula -----------------------------------

@dataclass
class Difference:
    """dL/dt at t = 0 for L(t) = <W, N(x + t V)>, with its uncertainty (round-off, and the
    disagreement of the stencil with itself at twice the step)."""
    d: float
    uncertainty: float


class Target:
    """The node N a check differences, split into its terms (N = t1 + ... + tk, or k = 1).
    A move recomputes only the terms that depend on the moved variables: the others are
    constants along it, and their round-off would drown a small share (1e6*sum(x) +
    1e-3*sum(y): y's share is lost in the round-off of 1e6*sum(x) when that is
    recomputed, and exact when it is not). Within a term, what does not depend on the
    moved variables is not recomputed either."""

    def __init__(self, node: Node):
        self.node = node
        self.order = list(walk(node))
        below: dict[Node, frozenset] = {}
        for n in self.order:
            below[n] = frozenset([n.name]) if isinstance(n, Var) else \
                frozenset().union(*(below[c] for c in n.children))
        self.terms = list(node.terms) if isinstance(node, Add) else [node]
        self.uses = [below[t] for t in self.terms]
        self.variables = below[node]
        self.terms_of: dict[str, list[int]] = {}     # variable -> the terms that use it
        for i, uses in enumerate(self.uses):
            for name in uses:
                self.terms_of.setdefault(name, []).append(i)

    def term_noise(self, weight: np.ndarray, mags: Mapping, moved=None) -> list[float]:
        """The round-off of each term (of those that `moved` variables reach, if given):
        NOISE eps times its weighted magnitude."""
        w = np.abs(weight)
        return [NOISE * EPS * float(np.sum(w * mags[t]))
                for t, uses in zip(self.terms, self.uses)
                if moved is None or not uses.isdisjoint(moved)]

    def noise(self, weight: np.ndarray, mags: Mapping, moved) -> float:
        """The round-off of the stencil along a move of `moved` (absolute, per unit t):
        that of the terms it recomputes."""
        return sum(self.term_noise(weight, mags, moved))

    def difference(self, weight: np.ndarray, values: dict, dims: Mapping,
                   moves: Mapping[str, np.ndarray], memo: Mapping, mags: Mapping,
                   tolerance: float) -> Difference | None:
        """The stencil (-L(2) + 8L(1) - 8L(-1) + L(-2)) / 12, error O(|V|^4), checked
        against the same stencil at twice the step. None when it cannot be trusted: it
        crosses a kink (an argument of relu, abs, sign, step or norm1 that depends on the
        moved variables changes sign) or leaves the domain, or the two stencils disagree
        by more than the tolerance or the round-off."""
        terms = [t for t, uses in zip(self.terms, self.uses) if not uses.isdisjoint(moves)]
        if not terms:
            return Difference(0.0, 0.0)         # nothing moves: exactly 0
        noise = self.noise(weight, mags, moves)
        moving: set[Node] = set()
        fixed: dict[Node, np.ndarray] = {}      # what does not move is not recomputed
        kinks = []
        for n in self.order:
            if (isinstance(n, Var) and n.name in moves) or \
                    any(c in moving for c in n.children):
                moving.add(n)
                if is_kink(n):
                    kinks.append(n.children[0])
            else:
                fixed[n] = memo[n]
        signature = [np.sign(memo[k]) for k in kinks]
        ls = {}
        for t in (4, 2, 1, -1, -2, -4):
            shifted = dict(values)
            for name, v in moves.items():
                shifted[name] = values[name] + t * v
            try:
                with np.errstate(all="ignore"):
                    at = evaluate_all(terms, shifted, dims, fixed)
            except np.linalg.LinAlgError:
                return None
            parts = [weight * at[term] for term in terms]
            if not all(np.all(np.isfinite(p)) for p in parts):
                return None
            if any(not np.array_equal(np.sign(at[k]), s) for k, s in zip(kinks, signature)):
                return None
            ls[t] = math.fsum(float(p.sum()) for p in parts)
        d = (-ls[2] + 8 * ls[1] - 8 * ls[-1] + ls[-2]) / 12
        d2 = (-ls[4] + 8 * ls[2] - 8 * ls[-2] + ls[-4]) / 24
        if not (math.isfinite(d) and math.isfinite(d2)):    # beyond double precision
            return None
        if abs(d - d2) > max(tolerance * abs(d), noise):
            return None
        return Difference(d, max(noise, abs(d - d2)))


@dataclass
class Verdict:
    ok: bool
    rel: float


def compare(d: float, a: float, uncertainty: float, tolerance: float,
            part: float = 0.0) -> Verdict:
    """Whether d and a agree: within tolerance * max(|d|, |a|), or, for a sum of parts,
    within tolerance * the least `part` (each part is held to the tolerance), or within
    the uncertainty of the comparison (round-off of both sides), which is absolute: the
    caller has made sure it is far below the derivative's natural size."""
    err = abs(d - a)
    size = part if part else max(abs(d), abs(a))
    rel = 0.0 if err == 0 else err / max(size, uncertainty / tolerance)
    return Verdict(rel <= tolerance, rel)


def norm(a) -> float:
    """The Frobenius norm, without overflow for finite entries whose squares overflow."""
    a = np.asarray(a, dtype=float)
    big = float(np.abs(a).max(initial=0.0))
    if big == 0 or not math.isfinite(big):
        return big
    return big * float(np.linalg.norm(a / big))


def unit(rng: np.random.Generator, shape) -> np.ndarray:
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v)


def step(x: np.ndarray) -> float:
    """The finite-difference step for a variable with values x: relative to its size (a
    scalar 1e-3, or a point drawn small to keep exp(-1000*x'*x) from underflowing, is
    moved by a small fraction of itself), but not below STEP * 1e-3."""
    return STEP * max(1e-3, float(np.abs(x).max(initial=0.0)))


# ---- gradients ----------------------------------------------------------------------------------

def check_gradients(output: Node, grads: Mapping[str, Node], upstream: Var | None = None, *,
                    seed: int = 0, directions: int = 2, fixed_dims: Mapping | None = None,
                    tolerance: float = TOLERANCE,
                    labels: Mapping[str, str] | None = None,
                    tied: Mapping[str, Node] | None = None,
                    deadline: float | None = None) -> CheckReport:
    """Compare each gradient (adjoint convention: the shape of its variable; it may use the
    upstream Var) with central finite differences of L = <U, output>, along `directions`
    joint random moves at each point. Deterministic for a given seed (unless the time
    limit cuts it short). `labels` names label variables as matcalc.assumptions does
    ("columns"/"rows" one-hot, "signs" -1/+1), drawn accordingly. `tied` gives some
    variables their value from the others (a program's intermediate, freed for the check
    of its step, starts from the value the program gives it). `deadline`: a
    matcalc.check.clock() after which the check stops (default: TIME_LIMIT from now)."""
    roots = _roots(output, upstream, grads.values()) + list((tied or {}).values())
    variables = variables_of(roots)
    # A variable the expression does not use has a zero derivative: it is checked like
    # any other, as a variable of the gradient's shape that moves nothing.
    for name, grad in grads.items():
        variables.setdefault(name, Var(name, grad.shape))
    used = {v.name for v in walk(output) if isinstance(v, Var)}
    sampler = Sampler(roots, variables, fixed_dims, seed, labels, tied, deadline)
    dims = sampler.dims
    results: dict[str, VarCheck] = {}
    tallies: dict[str, Tally] = {}
    for name, grad in grads.items():
        var = variables[name]
        if shape_of(grad, dims) != shape_of(var, dims):
            results[name] = VarCheck(name, math.inf, False,
                                     f"gradient is {_shape_text(grad, dims)} but {name} is "
                                     f"{_shape_text(var, dims)}")
        else:
            tallies[name] = Tally(reason=sampler.skipped or "")
    if tallies and sampler.skipped is None:
        run = _GradientRun(output, grads, upstream, dims, sampler, tolerance, used)
        for point in sampler.points(wanted=lambda: any(not t.checked for t in
                                                       tallies.values()),
                                    live=run.live(tallies)):
            run.at(point, tallies, directions)
        for t in tallies.values():
            if not t.checked and not t.reason:
                t.reason = CUT_SHORT if sampler.out_of_time else DEGENERATE_REASON
    results.update({name: sampler.verdict(name, t) for name, t in tallies.items()})
    results = {name: results[name] for name in grads}
    return CheckReport(results, all(r.ok for r in results.values()), dims)


class _GradientRun:
    """The comparisons of check_gradients at one point after another."""

    def __init__(self, output, grads, upstream, dims, sampler, tolerance, used):
        self.output, self.grads, self.upstream = output, grads, upstream
        self.dims, self.sampler, self.rng = dims, sampler, sampler.rng
        self.tolerance, self.used = tolerance, used
        self.target = Target(output)
        self.structured = structures(sampler.labels)

    def _weight(self, values) -> np.ndarray:
        return values[self.upstream.name] if self.upstream is not None else np.ones((1, 1))

    def live(self, tallies):
        """Whether a point shows some variable not yet checked: its derivative's natural
        size is above the round-off there (a `prefer` for Sampler.points)."""
        @np.errstate(all="ignore")
        def prefer(values, memo):
            weight = self._weight(values)
            slopes = Slopes(memo, self.dims)
            mags = magnitudes(memo, self.dims, slopes=slopes)
            sens = sensitivities(self.output, weight, memo, self.dims, slopes)
            for name, t in tallies.items():
                if t.checked or name not in sens:
                    continue
                x = values[name]
                h = step(x) / math.sqrt(x.size)     # about a unit move's |entries|
                natural = h * float(np.sum(sens[name]))
                noise = NOISE * EPS * h * float(np.sum(mags[self.grads[name]])) + \
                    self.target.noise(weight, mags, {name})
                if natural > max(SMALLEST_SCALE, DEGENERATE * noise):
                    return True
            return False
        return prefer

    @np.errstate(all="ignore")
    def at(self, point, tallies: dict[str, Tally], directions: int) -> None:
        values, memo = point
        weight = self._weight(values)
        slopes = Slopes(memo, self.dims)
        mags = magnitudes(memo, self.dims, slopes=slopes)
        sens = sensitivities(self.output, weight, memo, self.dims, slopes)
        self.values, self.memo, self.mags, self.sens, self.weight = \
            values, memo, mags, sens, weight
        self.term_noise = self.target.term_noise(weight, mags)
        pending = [n for n, t in tallies.items() if not t.done]
        for name in pending:
            if name in self.structured:
                self._within(name, tallies[name])
        for _ in range(directions):
            if self.sampler.out_of_time:
                return
            moves = {n: self._move(n) for n in pending if not tallies[n].done}
            big, small = [], []
            for name, m in moves.items():
                noise = self._noise([name], moves)
                if m.natural <= max(SMALLEST_SCALE, DEGENERATE * noise):
                    continue                           # degenerate here: nothing to learn
                (big if m.a != 0 and abs(m.a) * self.tolerance >= noise else
                 small).append(name)
            # a group's round-off must stay below what each member's verdict needs: the
            # tolerance of its share (scaled), or its natural size / DEGENERATE
            for group in self._pack(big, moves, lambda m: abs(m.a) / 2 * self.tolerance):
                self._group(group, moves, tallies, scaled=True)
            for group in self._pack(small, moves, lambda m: m.natural / DEGENERATE):
                self._group(group, moves, tallies, scaled=False)

    def _within(self, name: str, tally: Tally) -> None:
        """A structured variable's gradient must lie in the structure (a symmetric S has
        a symmetric gradient): else it pairs correctly with every structured move and is
        still not the gradient within the structure."""
        g = self.memo[self.grads[name]]
        off = norm(g - project_array(g, self.structured[name], self.values[name]))
        if off > max(self.tolerance * norm(g),
                     NOISE * EPS * norm(self.mags[self.grads[name]])):
            tally.mismatch(off / max(norm(g), SMALLEST_SCALE))

    def _noise(self, group, moves) -> float:
        """The round-off of a joint move of `group`: of the terms it recomputes, and of
        the formulas' side."""
        terms = {i for n in group for i in self.target.terms_of.get(n, ())}
        return sum(self.term_noise[i] for i in terms) + sum(moves[n].noise for n in group)

    def _pack(self, names: list[str], moves: dict, room) -> list[list[str]]:
        """`names` in groups whose joint round-off fits the `room` of every member (a
        member with little room goes with others that bring little noise)."""
        groups: list[list[str]] = []
        group: list[str] = []
        terms: set[int] = set()
        noise = 0.0
        for name in sorted(names, key=lambda n: -room(moves[n])):
            new = set(self.target.terms_of.get(name, ())) - terms
            more = moves[name].noise + sum(self.term_noise[i] for i in new)
            if group and noise + more > room(moves[name]):
                groups.append(group)
                group, terms, noise = [], set(), 0.0
                new = set(self.target.terms_of.get(name, ()))
                more = moves[name].noise + sum(self.term_noise[i] for i in new)
            group.append(name)
            terms |= new
            noise += more
        return groups + ([group] if group else [])

    def _move(self, name: str) -> "_Move":
        x = self.values[name]
        m = step(x) * unit(self.rng, x.shape)
        kind = self.structured.get(name)
        if kind is not None:            # a structured variable moves within its structure
            m = project_array(m, kind, x)
        g = self.memo[self.grads[name]]
        # an output without the variable does not move at all: its differences are
        # exactly 0, so every point shows that the derivative is 0
        natural = float(np.sum(self.sens.get(name, 0) * np.abs(m))) \
            if name in self.used else math.inf
        return _Move(m, float(np.sum(g * m)),
                     NOISE * EPS * float(np.sum(self.mags[self.grads[name]] * np.abs(m))),
                     natural)

    def _group(self, names: list[str], moves: dict, tallies: dict, scaled: bool) -> None:
        """Check `names` with one joint move; halve a group that fails until the culprits
        are single (each half with new moves if a move crossed a kink)."""
        stack = [names] if names else []
        while stack:
            if self.sampler.out_of_time:
                return
            group = stack.pop()
            outcome = self._joint(group, moves, scaled)
            if outcome is not None and (outcome.ok or len(group) == 1):
                for name in group:
                    (tallies[name].passed if outcome.ok else tallies[name].mismatch)(outcome.rel)
                continue
            if len(group) > 1:
                order = list(self.rng.permutation(len(group)))
                half = len(group) // 2
                stack.append([group[i] for i in order[half:]])
                stack.append([group[i] for i in order[:half]])
                continue
            name = group[0]                    # one variable, every move unreliable so far
            for _ in range(DIRECTION_TRIES - 1):
                moves[name] = self._move(name)
                outcome = self._joint(group, moves, scaled=False)
                if outcome is not None:
                    (tallies[name].passed if outcome.ok else tallies[name].mismatch)(outcome.rel)
                    break
            else:
                tallies[name].reason = UNRELIABLE_REASON

    def _joint(self, group: list[str], moves: dict, scaled: bool) -> Verdict | None:
        """One joint move over `group`. When `scaled`, each variable's move is scaled so
        that its share <G, V> of the directional derivative lies between the least share
        and twice that, at random (equal shares of random sign could cancel exactly), and
        the difference is held to the tolerance of the least share, so that no large
        gradient hides a small wrong one."""
        if scaled and len(group) > 1:
            least = min(abs(moves[n].a) for n in group) / 2
            c = {n: least * self.rng.uniform(1, 2) / abs(moves[n].a) for n in group}
        else:
            least, c = 0.0, {n: 1.0 for n in group}
        a = sum(c[n] * moves[n].a for n in group)
        noise_a = sum(c[n] * moves[n].noise for n in group)
        diff = self.target.difference(self.weight, self.values, self.dims,
                                      {n: c[n] * moves[n].m for n in group}, self.memo,
                                      self.mags, self.tolerance)
        if diff is None:
            return None
        if least and diff.uncertainty + noise_a > self.tolerance * least:
            return None                 # too uncertain for the least share: split it
        return compare(diff.d, a, diff.uncertainty + noise_a, self.tolerance, least)


@dataclass
class _Move:
    m: np.ndarray          # the move of one variable per unit t
    a: float               # <G, m>: the formula's directional derivative
    noise: float           # its round-off
    natural: float         # <S, |m|>: the size the directional derivative could have


# ---- claims --------------------------------------------------------------------------------------

class ClaimCheck(NamedTuple):
    """The verdict on a claimed formula: `ok`, the worst relative error (inf for the
    wrong shape, nan when nothing could be compared) and why nothing could be."""
    ok: bool
    error: float
    reason: str = ""


@np.errstate(all="ignore")
def check_claim(output: Node, upstream: Var | None, true_grad: Node, claimed: Node, var: str,
                *, seed: int = 0, fixed_dims: Mapping | None = None,
                tolerance: float = CLAIM_TOLERANCE,
                labels: Mapping[str, str] | None = None,
                deadline: float | None = None) -> ClaimCheck:
    """Whether `claimed` equals `true_grad` (two IR forms of the derivative of `output` with
    respect to `var`, adjoint convention): equal after simplification, or equal at random
    valid points where the derivative does not vanish for want of a live path (a relu
    that is off, an underflow): the relative error of the Frobenius norms is measured
    against the derivative's natural size, and a point where both sides vanish is none."""
    from matcalc.simplify import simplify
    roots = _roots(output, upstream, [true_grad, claimed])
    variables = variables_of(roots)
    target = variables.get(var, true_grad)
    if claimed.shape != target.shape:
        return ClaimCheck(False, math.inf)
    if simplify(claimed) is simplify(true_grad):
        return ClaimCheck(True, 0.0)
    used = var in {v.name for v in walk(output) if isinstance(v, Var)}
    sampler = Sampler(roots, variables, fixed_dims, seed, labels, None, deadline)
    if sampler.skipped:
        return ClaimCheck(False, math.nan, sampler.skipped)
    tally = Tally()

    @np.errstate(all="ignore")
    def scales(values, memo) -> tuple[float, float]:
        """(the derivative's natural size, the round-off of the two formulas)."""
        slopes = Slopes(memo, sampler.dims)
        mags = magnitudes({n: memo[n] for n in walk(true_grad)} |
                          {n: memo[n] for n in walk(claimed)}, sampler.dims, slopes=slopes)
        noise = NOISE * EPS * (norm(mags[true_grad]) + norm(mags[claimed]))
        if not used:
            return math.inf, noise       # exactly zero, everywhere: every point shows it
        weight = values[upstream.name] if upstream is not None else np.ones((1, 1))
        sens = sensitivities(output, weight, memo, sampler.dims, slopes).get(var, 0)
        return norm(sens), noise

    def live(values, memo) -> bool:
        natural, noise = scales(values, memo)
        return natural > max(SMALLEST_SCALE, DEGENERATE * noise)

    for values, memo in sampler.points(wanted=lambda: not tally.checked, live=live):
        if not live(values, memo):
            continue
        t, c = memo[true_grad], memo[claimed]
        _, noise = scales(values, memo)
        err = norm(t - c)
        size = max(norm(t), norm(c), noise / tolerance)
        rel = 0.0 if err == 0 else err / size
        (tally.passed if rel <= tolerance else tally.mismatch)(rel)
        if tally.done:
            break
    if tally.checked:
        verdict = sampler.verdict(var, tally)
        return ClaimCheck(verdict.ok, verdict.max_rel_error,
                          verdict.message if math.isnan(verdict.max_rel_error) else "")
    reason = sampler.skipped or (CUT_SHORT if sampler.out_of_time else
                                 "the derivative vanishes at every point tried (every path "
                                 "from it to the output is 0 or underflows there)")
    return ClaimCheck(False, math.nan, reason)


# ---- small helpers ------------------------------------------------------------------------

def _roots(output: Node, upstream: Var | None, grads) -> list[Node]:
    if upstream is None and not output.is_scalar:
        raise ValueError(f"a non-scalar output {output.shape} needs an upstream Var")
    if upstream is not None and upstream.shape != output.shape:
        raise ValueError(f"the upstream {upstream.shape} must have the output's shape "
                         f"{output.shape}")
    return [output, *([upstream] if upstream is not None else []), *grads]


def _shape_text(node: Node, dims) -> str:
    (r, c), (nr, nc) = node.shape, shape_of(node, dims)
    sizes = "" if (r, c) == (nr, nc) else f" = {nr} x {nc}"
    return f"{r} x {c}{sizes}"
