"""Finite-difference verification of Jacobians, Hessians and Hessian-vector products, on
the engine of matcalc.check.

Each result is a linear map J of a move V of its variable. Along a random move V and with
a random weight W on the differentiated node N (the output for a Jacobian, a gradient for
a Hessian block or H v), the scalar <W, J V> must equal the directional derivative of
<W, N>, by the same stencil, the same absolute scales and the same points as gradients:
a comparison where N does not move with the variable at all (a relu that is off, an exp
that underflows) is no evidence, and a result with nothing but such comparisons is NOT
CHECKED. At each point where the comparison says something, every other form of the
result (its matrix, its linear map, its vec (Kronecker) form, its NumPy code) is compared
with the index form, which the finite differences verified.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import expr as E
from .check import (
    CUT_SHORT,
    DEGENERATE,
    DEGENERATE_REASON,
    DIRECTION_TRIES,
    EPS,
    NOISE,
    SMALLEST_SCALE,
    TOLERANCE,
    UNRELIABLE_REASON,
    CheckReport,
    Sampler,
    Tally,
    VarCheck,
    check_gradients,
    compare,
    Target,
    deadline_after,
    step,
    unit,
)
from .evaluate import evaluate, shape_of, size_of
from .magnitude import Slopes, magnitudes, sensitivities
from .printing.numpy import python_name
from .structure import as_projected, pairing_array, project_array, structures
from .tensor import kron_value, term_values


def check_higher(hd, seed: int = 0, deadline: float | None = None) -> CheckReport:
    """A `matcalc.check.CheckReport` for a HigherDerivation: for Hessians and H v, first
    the gradients they differentiate (against differences of the output), then every
    result."""
    deadline = deadline if deadline is not None else deadline_after()
    results = {}
    present = {v.name for v in E.variables(hd.output)}
    if hd.gradients:
        kinds = structures(hd.onehot)
        grads = {n: as_projected(g, kinds[n], hd.convention) if n in kinds else g
                 for n, g in hd.gradients.items() if n in present}
        report = check_gradients(hd.output, grads, None, seed=seed, labels=hd.onehot,
                                 deadline=deadline) if grads else None
        for name in hd.gradients:
            key = f"gradient {name}"
            results[key] = replace(report.results[name], name=key) if name in grads else \
                VarCheck(key, 0.0, True, f"{hd.output_name} does not depend on {name}: zero")
    roots = _roots(hd)
    variables: dict[str, E.Var] = {}
    for n in E.walk_all(roots):
        if isinstance(n, E.Var):
            variables.setdefault(n.name, n)
    # the direction of H v along a structured variable has its structure
    kinds = structures(hd.onehot)
    labels = {**hd.onehot, **{v.name: kinds[n] for n, v in hd.directions.items() if n in kinds}}
    sampler = Sampler(roots, variables, None, seed, labels=labels, deadline=deadline,
                      extra_cost=lambda dims: _tensor_cost(hd, dims))
    tallies = {key: Tally(reason=sampler.skipped or "") for key in hd.derivatives}
    targets: dict = {}
    if sampler.skipped is None:
        for point in sampler.points(wanted=lambda: any(not t.checked
                                                       for t in tallies.values()),
                                    live=lambda v, m: _live(hd, tallies, m, sampler.dims)):
            checks = _Point(hd, sampler, point, targets)
            for key, d in hd.derivatives.items():
                if not tallies[key].done and not sampler.out_of_time:
                    checks.block(d, tallies[key])
        for t in tallies.values():
            if not t.checked and not t.reason:
                t.reason = CUT_SHORT if sampler.out_of_time else DEGENERATE_REASON
    results.update({key: sampler.verdict(key, t) for key, t in tallies.items()})
    return CheckReport(results, all(r.ok for r in results.values()), sampler.dims)


def _roots(hd) -> list[E.Node]:
    """Every node a check evaluates: the output, what each result differentiates, each
    form of each result, the directions of H v, and every input (a variable the output
    ignores, too)."""
    roots = [hd.output]
    for d in hd.derivatives.values():
        roots.append(d.of)
        if d.kind == "hvp":
            roots.append(hd.gradients[d.name])
        roots += [n for n in (d.node, d.jvp) if n is not None]
        if d.tensor is not None:
            roots += [f.node for t in d.tensor.terms for f in t.factors]
        if d.kron is not None:
            roots += [n for t in d.kron.terms for n in (t.left, t.right, t.scalar)
                      if n is not None]
    return roots + list(hd.directions.values()) + list(hd.inputs.values())


def _tensor_cost(hd, dims) -> int:
    """About what the index forms cost to evaluate at `dims` (their entries, per term;
    the contractions themselves follow a good path, see tensor.term_values)."""
    total = 0
    for d in hd.derivatives.values():
        if d.tensor is not None:
            entries = math.prod(size_of(d.tensor.sizes[i], dims) for i in d.tensor.free)
            total += entries * (2 * len(d.tensor.terms) + 1)
    return total


@np.errstate(all="ignore")
def _live(hd, tallies, memo, dims) -> bool:
    """Whether the node some result not yet checked differentiates moves with its
    variable at this point, above round-off."""
    slopes = Slopes(memo, dims)
    mags = magnitudes(memo, dims, slopes=slopes)
    for key, d in hd.derivatives.items():
        if tallies[key].checked:
            continue
        node = hd.gradients[d.name] if d.kind == "hvp" else d.of
        weight = np.ones(memo[node].shape)
        sens = sensitivities(node, weight, memo, dims, slopes)
        noise = NOISE * EPS * float(np.sum(mags[node]))
        moved = hd.directions if d.kind == "hvp" else {d.wrt.name: None}
        natural = sum(float(np.sum(sens.get(n, 0))) * step(memo[hd.inputs[n]])
                      / math.sqrt(memo[hd.inputs[n]].size) for n in moved)
        if natural > max(SMALLEST_SCALE, DEGENERATE * noise):
            return True
    return False


class _Point:
    """The comparisons of every result at one point (`targets`: each differentiated node
    as a Target, kept from point to point)."""

    def __init__(self, hd, sampler, point, targets: dict):
        self.hd, self.sampler, self.rng, self.dims = hd, sampler, sampler.rng, sampler.dims
        self.values, self.memo = point
        self.slopes = Slopes(self.memo, self.dims)
        self.mags = magnitudes(self.memo, self.dims, slopes=self.slopes)
        self.targets = targets

    def target(self, node: E.Node) -> Target:
        if node not in self.targets:
            self.targets[node] = Target(node)
        return self.targets[node]

    @np.errstate(all="ignore")
    def block(self, d, tally: Tally) -> None:
        hd, values, dims = self.hd, self.values, self.dims
        node = hd.gradients[d.name] if d.kind == "hvp" else d.of
        weight = self.rng.standard_normal(shape_of(node, dims))
        sens = sensitivities(node, weight, self.memo, dims, self.slopes)
        target = self.target(node)
        present = target.variables
        t = t_size = None
        if d.kind != "hvp":                      # the index form, and its round-off scale
            parts = term_values(d.tensor, values, dims, tuple(d.out_letters + d.in_letters),
                                self.memo)
            t = sum(parts[1:], parts[0])
            t_size = sum((np.abs(p) for p in parts[1:]), np.abs(parts[0]))
        for _ in range(DIRECTION_TRIES):
            moves, a, noise_a = self._formula(d, node, weight, t, t_size)
            # exact when N ignores every moved variable; else the moves of those it uses
            natural = sum(float(np.sum(sens[n] * np.abs(m))) for n, m in moves.items()
                          if n in sens) if present.intersection(moves) else math.inf
            noise_d = target.noise(weight, self.mags, moves)
            if natural <= max(SMALLEST_SCALE, DEGENERATE * (noise_d + noise_a)):
                return                          # nothing moves here: no evidence
            diff = target.difference(weight, values, dims, moves, self.memo, self.mags,
                                     TOLERANCE)
            if diff is not None:
                break
            if d.kind == "hvp":                 # its move is the drawn direction: no other
                tally.reason = UNRELIABLE_REASON
                return
        else:
            tally.reason = UNRELIABLE_REASON
            return
        errors = {"finite differences": compare(diff.d, a, diff.uncertainty + noise_a,
                                                TOLERANCE).rel}
        errors.update(self._forms(d, t, t_size, tally))
        worst_form, worst = max(errors.items(), key=lambda kv: kv[1])
        if worst <= TOLERANCE:
            tally.passed(worst, tuple(errors))
        else:
            tally.mismatch(worst, worst_form)

    def _formula(self, d, node, weight, t, t_size):
        """(the moves per unit t, <W, J V> by the result's formula, its round-off)."""
        values = self.values
        if d.kind == "hvp":
            h = max(step(values[n]) for n in self.hd.directions)
            moves = {n: h * values[v.name] for n, v in self.hd.directions.items()}
            got = self.memo[d.node]
            return moves, h * float(np.sum(weight * got)), \
                NOISE * EPS * h * float(np.sum(np.abs(weight) * self.mags[d.node]))
        x = values[d.wrt.name]
        m = step(x) * unit(self.rng, x.shape)
        paired = m
        kind = structures(self.hd.onehot).get(d.wrt.name)
        if kind is not None:            # a structured move, paired as its convention says
            m = project_array(m, kind, x)
            paired = pairing_array(m, kind, self.hd.convention)
        jv = _apply(d, t, paired)
        w = weight.reshape(jv.shape)
        return {d.wrt.name: m}, float(np.sum(w * jv)), \
            NOISE * EPS * float(np.sum(np.abs(w) * _apply(d, t_size, np.abs(paired))))

    def _forms(self, d, t, t_size, tally: Tally) -> dict[str, float]:
        """The relative error of every other form of d against the index form."""
        hd, values, dims = self.hd, self.values, self.dims
        errors: dict[str, float] = {}
        if d.kind == "hvp":
            got = self.memo[d.node]
            noise = NOISE * EPS * float(self.mags[d.node].max(initial=0.0))
            if not self.sampler.resized and not tally.parts:
                errors["numpy"] = _relative(_run_numpy(hd, d, values),
                                            _numpy_shaped(got, d.node), noise)
            return errors
        noise = NOISE * EPS * float(t_size.max(initial=0.0))
        if d.node is not None:              # its axes are the result's (axis_letters)
            m = _squeezed(self.memo[d.node], d.node.shape)
            canon = np.transpose(m, [d.axis_letters.index(i)
                                     for i in d.out_letters + d.in_letters])
            errors["matrix"] = _relative(canon, t, noise)
        x_shape = shape_of(d.wrt, dims)
        if d.jvp is not None:
            vals = dict(values)
            dv = self.rng.standard_normal(x_shape)
            vals[d.dvar.name] = dv
            got = evaluate(d.jvp, vals, dims)
            want = _apply(d, t, dv)
            errors["linear map"] = _relative(got.reshape(want.shape), want,
                                             noise * float(np.abs(dv).sum()))
        if d.kron is not None:
            p, q = shape_of(d.of, dims)
            r, c = x_shape
            vec = t.reshape(p, q, r, c).transpose(1, 0, 3, 2).reshape(p * q, r * c)
            k = kron_value(d.kron, values, dims)
            flipped = not d.numerator_form and not d.symmetric
            errors["vec"] = _relative(k, vec.T if flipped else vec, noise)
        if not self.sampler.resized and not tally.parts:   # once: the code spells the
            # literal sizes, and says the same at every point
            canon = d.out_letters + d.in_letters
            want = np.transpose(t, [canon.index(i) for i in d.axis_letters])
            errors["numpy"] = _relative(_run_numpy(hd, d, values), want, noise)
        return errors


def _apply(d, t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """J v for the index form t (output axes, then the variable's) and a move v."""
    n_in = len(d.in_letters)
    if not n_in:
        return t * v.reshape(())
    return np.tensordot(t, _squeezed(v, d.wrt.shape), axes=n_in)


def _squeezed(value, shape) -> np.ndarray:
    """A value with one axis per index of its node (`matcalc.expr.axes`): the singleton
    axes of a 2-D value dropped, a tensor's kept."""
    return value.reshape(E.axes(tuple(value.shape))) if len(shape) == 2 else value


def _relative(got, want, noise: float) -> float:
    """max |got - want| / max(|got|, |want|, noise / TOLERANCE): differences within the
    round-off `noise` of the forms (absolute) never fail a (zero) derivative."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return math.inf
    scale = max(float(np.abs(want).max(initial=0.0)), float(np.abs(got).max(initial=0.0)),
                noise / TOLERANCE)
    err = float(np.abs(got - want).max(initial=0.0))
    return 0.0 if err == 0 else err / scale if scale > 0 else math.inf


def _run_numpy(hd, d, values):
    """The result's NumPy expression evaluated on `values` (2-D arrays, converted to the
    NumPy convention: vectors 1-D, scalars 0-d, unless declared with an explicit 1)."""
    env = {}
    for name, arr in values.items():
        var = hd.inputs.get(name) or next((v for v in hd.directions.values()
                                           if v.name == name), None)
        if var is None:
            continue
        py = hd.base.python_names.get(name, python_name(name))
        if name in hd.keep_2d:
            env[py] = arr
        elif var.shape == E.SCALAR:
            env[py] = float(arr[0, 0])
        elif 1 in var.shape:
            env[py] = arr.ravel()
        else:
            env[py] = arr
    return np.asarray(eval(d.numpy, {"np": np}, env), dtype=float)


def _numpy_shaped(value, node: E.Node):
    """A 2-D value in the NumPy convention of its node: vectors 1-D, scalars 0-d."""
    if node.shape == E.SCALAR:
        return value.reshape(())
    if 1 in node.shape:
        return value.ravel()
    return value
