"""Derivation speed in process, and matcalc side by side with SymPy (issue 8, parts 2, 4).

    python benchmarks/derive.py [--sympy-max-L 16] [--no-sympy] [--profile]

Part A, the six examples of the foundation issue, each "parse to printed text"
(`matcalc.derive` plus the `.text` of every derivative):
  first  the first derivation of that program in a warm process (code loaded, parser
         built). matcalc interns IR nodes and memoises simplification for the life of the
         process, so every timed repetition renames the variables (X -> X_r7, ...) to build
         new nodes; the text is checked to be the same formula under the new names;
  again  the very same program derived again (interned nodes, memoised simplification).
  Target (issue 8): under 2 ms.

Part B, the cases both tools can do, with respect to the same variables: matcalc (parse
to printed text) against SymPy's matrix calculus (`MatrixSymbol` expressions built in
Python, then `.diff` once per variable; SymPy's printing is not counted, which favours
SymPy). Both "first" (new symbols every repetition; SymPy has caches too) and "again".
Every SymPy answer is evaluated on random matrices and compared with central finite
differences; a case where SymPy errs, returns an unevaluated derivative, or returns a wrong
value is reported and left out of the ratios. The matcalc answer is checked too
(`Derivation.check`).
Target (issue 8): matcalc >= 20x faster than SymPy on every common case.

Times are CPU time of this process (time.process_time), medians over repetitions: the
machines are shared, and CPU time does not count the time other processes held the CPU.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scaling import chain_norm2, chain_tr, clock, derive_and_print, fresh_suffix, measure

import matcalc

WARM_TARGET_MS = 2.0
RATIO_TARGET = 20.0

# --- part A: the foundation examples --------------------------------------------------------

FOUNDATION = [
    # (label, program with {s} after every name, shapes with {s})
    ("Y = X*A' + b'  (X: N x n)", "Y{s} = X{s}*A{s}' + b{s}'", {"X{s}": ("N", "n")}),
    ("z = x'*A*y", "z{s} = x{s}'*A{s}*y{s}", {}),
    ("x'*A*x", "x{s}'*A{s}*x{s}", {}),
    ("tr(A*X*B)", "tr(A{s}*X{s}*B{s})", {}),
    ("0.5*norm2(W*x - y)^2", "0.5*norm2(W{s}*x{s} - y{s})^2", {}),
    ("log(det(X))", "log(det(X{s}))", {}),
]


def instantiate(template: str, shapes: dict, s: str) -> tuple[str, dict]:
    return template.format(s=s), {k.format(s=s): v for k, v in shapes.items()}


def texts(program: str, shapes: dict) -> dict[str, str]:
    d = matcalc.derive(program, shapes=shapes)
    return {k: v.text for k, v in d.derivatives.items()}


def part_a() -> list[str]:
    print("\n## A. The foundation examples, parse to printed text "
          "(CPU ms per derivation)\n")
    print(f"{'program':28s} {'first med':>9s} {'first min':>9s} {'again med':>9s} "
          f"{'reps':>5s}  result")
    verdicts = []
    for label, template, shapes in FOUNDATION:
        base = texts(*instantiate(template, shapes, ""))
        s = fresh_suffix()                # renaming builds the same formula under new names
        renamed = texts(*instantiate(template, shapes, s))
        same = {k.replace(s, ""): re.sub(re.escape(s) + r"\b", "", v)
                for k, v in renamed.items()} == base
        if not same:
            print(f"  warning: {label}: renamed variables gave a different formula")

        def first(template=template, shapes=shapes):
            return derive_and_print(*instantiate(template, shapes, fresh_suffix()))[:2]

        program, sh = instantiate(template, shapes, "")
        (fd, fp), fmin, reps = measure(first, budget=0.5, max_reps=200)
        (ad, ap), _, _ = measure(lambda p=program, sh=sh: derive_and_print(p, sh)[:2],
                                 budget=0.5, max_reps=200)
        f_ms, a_ms = (fd + fp) * 1e3, (ad + ap) * 1e3
        result = "; ".join(f"{k}: {v}" for k, v in base.items())
        print(f"{label:28s} {f_ms:9.3f} {fmin * 1e3:9.3f} {a_ms:9.3f} {reps:5d}  {result}")
        verdicts.append((label, f_ms, a_ms))
    worst_first = max(v[1] for v in verdicts)
    worst_again = max(v[2] for v in verdicts)
    print(f"\ntarget: every example under {WARM_TARGET_MS} ms warm: slowest first "
          f"{worst_first:.2f} ms -> {'MET' if worst_first < WARM_TARGET_MS else 'NOT MET'}; "
          f"slowest again {worst_again:.2f} ms -> "
          f"{'MET' if worst_again < WARM_TARGET_MS else 'NOT MET'}")
    return [v[0] for v in verdicts]


# --- part B: SymPy side by side ---------------------------------------------------------------

DIM_VALUES = {"n": 3, "m": 2, "k": 4}


def sympy_cases(max_L: dict[str, int]):
    """(label, matcalc template, sympy builder, numpy function, variable shapes)."""
    import numpy as np
    import sympy as sp
    from sympy import Determinant, Inverse, MatrixSymbol, Trace

    def dims(s):
        return {d: sp.Symbol(d + s, integer=True, positive=True) for d in DIM_VALUES}

    def ms(name, r, c, s, D):
        return MatrixSymbol(name + s, D[r] if isinstance(r, str) else r,
                            D[c] if isinstance(c, str) else c)

    def make(spec, build):
        """spec: {base name: (rows, cols)}; build(V) -> scalar SymPy expression."""
        def builder(s):
            D = dims(s)
            V = {name: ms(name, r, c, s, D) for name, (r, c) in spec.items()}
            return build(V), V, D
        return builder

    cases = []

    def add(label, template, spec, build, f):
        cases.append((label, template, make(spec, build), f, spec))

    add("x'*A*x", "x{s}'*A{s}*x{s}", {"x": ("n", 1), "A": ("n", "n")},
        lambda V: V["x"].T * V["A"] * V["x"], lambda v: (v["x"].T @ v["A"] @ v["x"]).item())
    add("z = x'*A*y", "z{s} = x{s}'*A{s}*y{s}",
        {"x": ("n", 1), "A": ("n", "m"), "y": ("m", 1)},
        lambda V: V["x"].T * V["A"] * V["y"], lambda v: (v["x"].T @ v["A"] @ v["y"]).item())
    add("tr(A*X*B)", "tr(A{s}*X{s}*B{s})", {"A": ("n", "m"), "X": ("m", "k"), "B": ("k", "n")},
        lambda V: Trace(V["A"] * V["X"] * V["B"]),
        lambda v: float(np.trace(v["A"] @ v["X"] @ v["B"])))
    add("tr(X'*A*X)", "tr(X{s}'*A{s}*X{s})", {"X": ("n", "m"), "A": ("n", "n")},
        lambda V: Trace(V["X"].T * V["A"] * V["X"]),
        lambda v: float(np.trace(v["X"].T @ v["A"] @ v["X"])))
    add("tr(inv(X)*A)", "tr(inv(X{s})*A{s})", {"X": ("n", "n"), "A": ("n", "n")},
        lambda V: Trace(Inverse(V["X"]) * V["A"]),
        lambda v: float(np.trace(np.linalg.inv(v["X"]) @ v["A"])))
    add("x'*inv(A)*x", "x{s}'*inv(A{s})*x{s}", {"x": ("n", 1), "A": ("n", "n")},
        lambda V: V["x"].T * Inverse(V["A"]) * V["x"],
        lambda v: (v["x"].T @ np.linalg.inv(v["A"]) @ v["x"]).item())
    add("0.5*norm2(W*x - y)^2", "0.5*norm2(W{s}*x{s} - y{s})^2",
        {"W": ("m", "n"), "x": ("n", 1), "y": ("m", 1)},
        lambda V: sp.S.Half * (V["W"] * V["x"] - V["y"]).T * (V["W"] * V["x"] - V["y"]),
        lambda v: 0.5 * float(np.sum((v["W"] @ v["x"] - v["y"]) ** 2)))
    add("log(det(X))", "log(det(X{s}))", {"X": ("n", "n")},
        lambda V: sp.log(Determinant(V["X"])),
        lambda v: float(np.log(np.linalg.det(v["X"]))))
    add("det(X)", "det(X{s})", {"X": ("n", "n")},
        lambda V: Determinant(V["X"]), lambda v: float(np.linalg.det(v["X"])))
    for L in [2 ** k for k in range(10) if 2 ** k <= max_L["tr"]]:
        spec = {f"W{i}": ("n", "n") for i in range(L, 0, -1)} | {"X": ("n", "n")}

        def build(V, L=L):
            P = V["X"]
            for i in range(1, L + 1):
                P = V[f"W{i}"] * P
            return Trace(P)

        def f(v, L=L):
            P = v["X"]
            for i in range(1, L + 1):
                P = v[f"W{i}"] @ P
            return float(np.trace(P))
        add(f"tr chain L={L}", chain_tr(L, "{s}")[0], spec, build, f)
    for L in [2 ** k for k in range(10) if 2 ** k <= max_L["norm2"]]:
        spec = {f"W{i}": ("n", "n") for i in range(L, 0, -1)} | {"x": ("n", 1)}

        def build(V, L=L):
            P = V["x"]
            for i in range(1, L + 1):
                P = V[f"W{i}"] * P
            return P.T * P

        def f(v, L=L):
            P = v["x"]
            for i in range(1, L + 1):
                P = v[f"W{i}"] @ P
            return float(np.sum(P ** 2))
        add(f"norm2 chain L={L}", chain_norm2(L, "{s}")[0], spec, build, f)
    return cases


def sympy_diff_all(builder, s, names):
    expr, V, _ = builder(s)
    return [expr.diff(V[n]) for n in names]


def random_values(spec, rng):
    import numpy as np
    vals = {}
    for name, (r, c) in spec.items():
        shape = (DIM_VALUES.get(r, r), DIM_VALUES.get(c, c))
        a = rng.standard_normal(shape)
        if shape[0] == shape[1] and shape[0] > 1:
            a = a / shape[0] + 2 * np.eye(shape[0])   # well conditioned, positive det
        vals[name] = a
    return vals


def finite_difference(f, vals, name, h=1e-6):
    import numpy as np
    g = np.zeros_like(vals[name])
    for idx in np.ndindex(*g.shape):
        plus = {k: v.copy() for k, v in vals.items()}
        minus = {k: v.copy() for k, v in vals.items()}
        plus[name][idx] += h
        minus[name][idx] -= h
        g[idx] = (f(plus) - f(minus)) / (2 * h)
    return g


def sympy_numeric(result, V, D, vals, shape):
    """SymPy's derivative evaluated at `vals`, as an array of the variable's shape."""
    import numpy as np
    import sympy as sp
    dsub = {D[d]: v for d, v in DIM_VALUES.items()}
    e = result.subs(dsub)
    rep = {V[k].subs(dsub): sp.ImmutableMatrix(vals[k]) for k in V}
    try:
        out = e.xreplace(rep).doit()
        if isinstance(out, sp.MatrixBase):
            arr = np.array(out.tolist(), dtype=float)
        elif isinstance(out, sp.Expr) and out.is_number:
            arr = np.full(shape, float(out))
        else:
            raise TypeError
    except Exception:  # noqa: BLE001  (an array expression: expand it, substitute entries)
        ex = e.as_explicit()
        entries = {}
        for k in V:
            sym = V[k].subs(dsub)
            for i in range(vals[k].shape[0]):
                for j in range(vals[k].shape[1]):
                    entries[sym[i, j]] = vals[k][i, j]
        arr = np.array(sp.Array(ex).subs(entries).tolist(), dtype=float)
    if arr.size != shape[0] * shape[1]:
        raise ValueError(f"SymPy's result has shape {arr.shape}, not {shape}")
    return arr.reshape(shape)


def verify_sympy(builder, f, spec, names) -> str | None:
    """None if SymPy's answers match finite differences; else why not."""
    import numpy as np
    import sympy as sp
    rng = np.random.default_rng(1)
    try:
        expr, V, D = builder("_verify")
        results = [expr.diff(V[n]) for n in names]
    except Exception as e:                                   # noqa: BLE001
        return f"error: {type(e).__name__}: {str(e)[:60]}"
    vals = random_values(spec, rng)
    for n, res in zip(names, results):
        if res.has(sp.Derivative):
            return f"unevaluated: d/d{n} = {sp.sstr(res)[:50]}"
        try:
            got = sympy_numeric(res, V, D, vals, vals[n].shape)
        except Exception as e:                               # noqa: BLE001
            return f"cannot evaluate d/d{n} ({type(res).__name__}): {str(e)[:50]}"
        want = finite_difference(f, vals, n)
        err = np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))
        if not err < 1e-5:
            return f"wrong: d/d{n} = {sp.sstr(res)[:40]} (rel. error {err:.1e})"
    array_form = [n for n, r in zip(names, results) if "Array" in type(r).__name__ or
                  "Permute" in type(r).__name__]
    if array_form:
        return "ok*"   # right values, but as an array expression, not a matrix formula
    return None


def part_b(max_L: dict[str, int]) -> None:
    import sympy as sp
    print(f"\n## B. matcalc against SymPy {sp.__version__} (CPU ms per derivation, "
          "every variable)\n")
    # warm SymPy's own lazy imports and matcalc's, on something else
    x = sp.MatrixSymbol("warm", 3, 1)
    (x.T * x).diff(x)
    matcalc.derive("q'*Q*q")
    head = (f"{'case':22s} {'vars':>4s} {'matcalc':>9s} {'again':>8s} {'SymPy':>9s} "
            f"{'again':>8s} {'ratio':>7s} {'again':>7s}  SymPy answer / matcalc check")
    print(head)
    ratios = []
    excluded = []
    for label, template, builder, f, spec in sympy_cases(max_L):
        program = template.format(s="")
        d = matcalc.derive(program)
        names = list(d.derivatives)
        try:
            mc_ok = d.check().ok
        except Exception as e:                               # noqa: BLE001
            mc_ok = f"check error {type(e).__name__}"
        (m1, p1, *_), _, _ = measure(
            lambda t=template: derive_and_print(t.format(s=fresh_suffix()), {}), budget=0.3,
            max_reps=100)
        (m2, p2, *_), _, _ = measure(lambda p=program: derive_and_print(p, {}), budget=0.3,
                                    max_reps=100)
        mc_first, mc_again = (m1 + p1) * 1e3, (m2 + p2) * 1e3
        verdict = verify_sympy(builder, f, spec, names)

        def sympy_first(builder=builder, names=names):
            t0 = clock()
            sympy_diff_all(builder, fresh_suffix(), names)
            return (clock() - t0,)

        expr, V, _ = builder("")

        def sympy_again(expr=expr, V=V, names=names):
            t0 = clock()
            for n in names:
                expr.diff(V[n])
            return (clock() - t0,)
        try:
            (s1,), _, _ = measure(sympy_first, budget=1.0, min_reps=3, max_reps=30,
                                  max_single=3.0)
            (s2,), _, _ = measure(sympy_again, budget=0.6, min_reps=3, max_reps=30,
                                  max_single=3.0)
            s1, s2 = s1 * 1e3, s2 * 1e3
        except Exception as e:                               # noqa: BLE001
            s1 = s2 = float("nan")
            verdict = verdict or f"error: {type(e).__name__}"
        usable = verdict in (None, "ok*")
        r1, r2 = s1 / mc_first, s2 / mc_again
        note = ("correct" if verdict is None else
                "correct values, but an array expression, not a matrix formula"
                if verdict == "ok*" else verdict)
        note += f" / matcalc check {'ok' if mc_ok is True else mc_ok}"
        rs = (f"{r1:7.1f} {r2:7.1f}" if usable else f"{'(' + format(r1, '.0f') + ')':>7s} "
              f"{'(' + format(r2, '.0f') + ')':>7s}")
        print(f"{label:22s} {len(names):4d} {mc_first:9.3f} {mc_again:8.3f} {s1:9.2f} "
              f"{s2:8.2f} {rs}  {note}")
        if usable:
            ratios.append((label, r1, r2))
        else:
            excluded.append((label, note))
    print("\nratio = SymPy time / matcalc time (first with first, again with again); in "
          "parentheses: cases SymPy gets wrong or cannot do, left out of the target")
    if ratios:
        worst1 = min(ratios, key=lambda r: r[1])
        worst2 = min(ratios, key=lambda r: r[2])
        ok = worst1[1] >= RATIO_TARGET and worst2[2] >= RATIO_TARGET
        print(f"target: matcalc >= {RATIO_TARGET:.0f}x faster on every common case: "
              f"smallest ratio first {worst1[1]:.1f} ({worst1[0]}), again {worst2[2]:.1f} "
              f"({worst2[0]}) -> {'MET' if ok else 'NOT MET'}")
        below = [r for r in ratios if min(r[1], r[2]) < RATIO_TARGET]
        if below:
            print("  below target: " + ", ".join(f"{r[0]} ({r[1]:.1f} / {r[2]:.1f})"
                                                 for r in below))
    if excluded:
        print("left out (SymPy): " + "; ".join(f"{l}: {n.split(' / ')[0]}"
                                               for l, n in excluded))


def profile_foundation(reps: int = 200, top: int = 25) -> None:
    """cProfile of first-time derivations of the six examples, `reps` times each."""
    progs = []
    for _ in range(reps):
        for _, template, shapes in FOUNDATION:
            progs.append(instantiate(template, shapes, fresh_suffix()))
    pr = cProfile.Profile()
    pr.enable()
    for program, shapes in progs:
        d = matcalc.derive(program, shapes=shapes)
        for v in d.derivatives.values():
            _ = v.text
    pr.disable()
    print(f"\n## Profile: the six examples, first time, {reps} times each")
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats(key).print_stats(top)
        print(f"\n### sorted by {key}")
        print("\n".join(line for line in buf.getvalue().splitlines()
                        if line.strip() and "Ordered by" not in line
                        and "List reduced" not in line))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sympy-max-L", type=int, default=16,
                    help="longest tr chain given to SymPy (the norm2 chain: half of it)")
    ap.add_argument("--no-sympy", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    print(f"# matcalc derivation speed  (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    matcalc.derive("x'*A*x")                 # lazy imports and the parser, once
    start = time.perf_counter()
    part_a()
    if not args.no_sympy:
        part_b({"tr": args.sympy_max_L, "norm2": max(1, args.sympy_max_L // 2)})
    print(f"\n(took {time.perf_counter() - start:.0f} s wall; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    if args.profile:
        profile_foundation()


if __name__ == "__main__":
    main()
