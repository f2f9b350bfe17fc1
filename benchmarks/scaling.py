"""How derivation time grows with the depth of the program (issue 8, part 3).

    python benchmarks/scaling.py [--max-L 256] [--budget 240] [--check] [--profile]

Three families, for L = 1, 2, 4, ..., 256:
  tr chain      tr(W_L*...*W_1*X)
  norm2 chain   norm2(W_L*...*W_1*x)^2
  MLP           z1 = W1*x + b1; a1 = relu(z1); ...; zL = WL*a(L-1) + bL;
                J = -y'*log(softmax(zL))     (layers declared n x n: see MLP_NOTE)

Per L: the time of one derivation "parse to printed text" (`matcalc.derive` plus the
`.text` of every derivative), split into derive (to the simplified IR) and print, with
respect to every variable ("all") and to W1 alone ("W1", the deepest layer, whose formula
is the longest); the printed size in characters; the same program derived again in the
same process ("again": interned nodes and memoised simplification make it a lookup).
For the MLP also the "steps" form (derive, then the adjoint of every named intermediate,
`Derivation.steps`, printed instead of the inlined formulas).

Honest first-time numbers: IR nodes are interned and simplification is memoised for the
life of the process, so every timed repetition renames all variables (W1 -> W1_r7, ...) to
build new nodes; only "again" reuses them.

Each family stops growing L once one derivation wrt all takes longer than --cap seconds
(the next size would then take several times that); the table says where. The log-log
slope is fitted over the upper half of the L range reached (L >= sqrt(L_max)).
Target (issue 8): slope <= 1.15 for every chain family up to L = 256.

With respect to one variable the time is linear in L. With respect to every variable the
result itself is quadratic: the gradient of a chain with respect to W_i is a product of
the L - 1 other factors, and the L gradients share no sub-product (each is one flat
product in the IR and one line of text), so the derivation builds Theta(L^2) operands and
prints Theta(L^2) characters, whatever it does; MLP formulas inline the forward pass into
every layer's gradient, Theta(L^3) characters in all (the steps form is linear). So the
tables also give the operands each derivation built (its work count, which
matcalc.expr.WORK_LIMIT bounds) and the printed characters, and the slopes of the derive
time against the operands and of the print time against the characters: the time per
unit of result, which is what can be linear.

--check runs `Derivation.check()` on the largest L of each family (or --check-L), in a
subprocess with a time limit (--check-timeout), and reports its time separately;
--check-only skips the timing. The check of a chain at L = 256 once took many minutes:
every symbolic dimension got a size of its own, 2, 3, ..., 258, so one evaluation of the
chain multiplied 256 matrices of about 130 x 130 (a billion flops), and the long chain was
ordered by a quadratic greedy loop; now the sizes repeat beyond 24 dimensions
(matcalc.check.DISTINCT_SIZES), the greedy order costs O(n log n), and a finite
difference recomputes only what depends on the variable it moves: about 6 s for each
chain at L = 256, a minute for the MLP (most of it its 256 step checks), every gradient
checked. --profile prints the cProfile top functions of the largest derivation of each
family.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import os
import pstats
import statistics
import subprocess
import sys
import time

import matcalc

SLOPE_TARGET = 1.15

MLP_NOTE = ("MLP layers are declared W_i = n x n, b_i = x = y = n (left undeclared, every "
            "layer gets a width of its own)")


# --- the programs ------------------------------------------------------------------------

def chain_tr(L: int, s: str = "") -> tuple[str, dict]:
    return "tr(" + "*".join(f"W{i}{s}" for i in range(L, 0, -1)) + f"*X{s})", {}


def chain_norm2(L: int, s: str = "") -> tuple[str, dict]:
    return "norm2(" + "*".join(f"W{i}{s}" for i in range(L, 0, -1)) + f"*x{s})^2", {}


def mlp(L: int, s: str = "", declare: bool = True) -> tuple[str, dict]:
    stmts, prev = [], f"x{s}"
    shapes = {f"x{s}": "n", f"y{s}": "n"}
    for i in range(1, L + 1):
        stmts.append(f"z{i}{s} = W{i}{s}*{prev} + b{i}{s}")
        shapes[f"W{i}{s}"], shapes[f"b{i}{s}"] = "n,n", "n"
        if i < L:
            stmts.append(f"a{i}{s} = relu(z{i}{s})")
            prev = f"a{i}{s}"
    stmts.append(f"J{s} = -y{s}'*log(softmax(z{L}{s}))")
    return "; ".join(stmts), (shapes if declare else {})


FAMILIES = {"tr chain": chain_tr, "norm2 chain": chain_norm2, "MLP": mlp}


# --- timing ------------------------------------------------------------------------------

_FRESH = [0]


def fresh_suffix() -> str:
    """A suffix never used before in this process: new names, so new IR nodes."""
    _FRESH[0] += 1
    return f"_r{_FRESH[0]}"


# CPU time of this process, not wall time: the machines these run on are shared, and the
# CPU time of a single-threaded derivation does not count the time others held the CPU.
clock = time.process_time


def derive_and_print(program: str, shapes: dict, wrt=None, steps: bool = False):
    """(derive seconds, print seconds, printed characters, IR operands built) of one
    derivation; the operands are the derivation's work count (matcalc.expr.WORK_LIMIT
    bounds it): the size of what it built, its result included."""
    t0 = clock()
    d = matcalc.derive(program, wrt=wrt, shapes=shapes)
    t1 = clock()
    operands = matcalc.expr._work[0]
    if steps:
        chars = sum(len(st.text) for st in d.steps)
    else:
        chars = sum(len(v.text) for v in d.derivatives.values())
    t2 = clock()
    return t1 - t0, t2 - t1, chars, operands


def measure(fn, budget: float = 0.4, min_reps: int = 3, max_reps: int = 25,
            max_single: float = 2.0):
    """Run fn() (returning a tuple of floats) until `budget` seconds are spent (at least
    min_reps, at most max_reps; a single run only if it takes longer than max_single);
    returns the per-component medians, the minimum of the first component, the count."""
    results = []
    spent = 0.0
    gc.collect()
    while True:
        t0 = clock()
        results.append(fn())
        spent += clock() - t0
        n = len(results)
        if n >= max_reps or (spent >= budget and n >= min_reps) or \
                (n == 1 and spent > max_single):
            break
    meds = tuple(statistics.median(r[i] for r in results) for i in range(len(results[0])))
    return meds, min(r[0] for r in results), len(results)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log y against log x."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def upper_half(rows: dict[int, dict], key: str) -> list[tuple[float, float]]:
    Ls = sorted(L for L in rows if key in rows[L])
    if not Ls:
        return []
    lo = math.sqrt(Ls[-1])
    return [(L, rows[L][key]) for L in Ls if L >= lo]


# --- one family --------------------------------------------------------------------------

def describe_error(e: BaseException) -> str:
    """`RecursionError in expr.py:122 (sort_key)`: the exception and where it was raised."""
    import traceback
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if "/matcalc/" in f.filename or "/rules/" in f.filename]
    where = mine[-1] if mine else (frames[-1] if frames else None)
    at = f" in {os.path.basename(where.filename)}:{where.lineno} ({where.name})" if where else ""
    msg = str(e).splitlines()[0][:80] if str(e) else ""
    return f"{type(e).__name__}{at}" + (f": {msg}" if msg else "")


def run_family(name: str, Ls: list[int], cap: float, deadline: float,
               errors: dict) -> tuple[dict, int | None]:
    make = FAMILIES[name]
    rows: dict[int, dict] = {}
    capped_at = None
    for L in Ls:
        if time.perf_counter() > deadline:
            capped_at = L
            break
        row: dict[str, float] = {}
        try:
            def first_all(L=L):
                s = fresh_suffix()
                return derive_and_print(*make(L, s))

            (dt, pt, chars, ops), mn, reps = measure(first_all)
            row.update(all_derive=dt * 1e3, all_print=pt * 1e3, all=(dt + pt) * 1e3,
                       all_min=mn * 1e3, all_chars=chars, all_ops=ops, reps=reps)

            def first_one(L=L):
                s = fresh_suffix()
                prog, shapes = make(L, s)
                return derive_and_print(prog, shapes, wrt=[f"W1{s}"])

            (dt1, pt1, chars1, _), _, _ = measure(first_one)
            row.update(one=(dt1 + pt1) * 1e3, one_chars=chars1)

            prog, shapes = make(L, "_again")
            derive_and_print(prog, shapes)                    # once: now every node exists

            (da, pa, *_), _, _ = measure(lambda p=prog, sh=shapes: derive_and_print(p, sh))
            row.update(again=(da + pa) * 1e3)

            if name == "MLP":
                def first_steps(L=L):
                    s = fresh_suffix()
                    return derive_and_print(*make(L, s), steps=True)

                (ds, ps, chars_s, _), _, _ = measure(first_steps)
                row.update(steps=(ds + ps) * 1e3, steps_chars=chars_s)
        except Exception as e:                               # noqa: BLE001
            errors[L] = describe_error(e)
            print(f"  {name} L={L}: {errors[L]}", file=sys.stderr, flush=True)
            break
        rows[L] = row
        print(f"  {name} L={L}: {row['all']:.1f} ms ({reps} reps)", file=sys.stderr, flush=True)
        if row["all"] / 1e3 > cap:
            capped_at = next((x for x in Ls if x > L), None)
            break
    return rows, capped_at


def print_family(name: str, rows: dict[int, dict], capped_at: int | None) -> dict[str, float]:
    mlp_cols = name == "MLP"
    print(f"\n### {name}: " + {"tr chain": "tr(W_L*...*W_1*X)",
                                "norm2 chain": "norm2(W_L*...*W_1*x)^2",
                                "MLP": "L relu layers, softmax cross-entropy head"}[name])
    head = (f"{'L':>4s} {'all: derive':>11s} {'operands':>9s} {'print':>9s} {'total':>9s} "
            f"{'chars':>10s} {'W1: total':>10s} {'chars':>9s} {'again':>9s}")
    if mlp_cols:
        head += f" {'steps':>9s} {'chars':>7s}"
    print("(CPU ms per derivation, median; first time in the process unless 'again')")
    print(head)
    for L in sorted(rows):
        r = rows[L]
        line = (f"{L:4d} {r['all_derive']:11.2f} {r['all_ops']:9.0f} {r['all_print']:9.2f} "
                f"{r['all']:9.2f} {r['all_chars']:10.0f} {r['one']:10.2f} "
                f"{r['one_chars']:9.0f} {r['again']:9.2f}")
        if mlp_cols:
            line += f" {r['steps']:9.2f} {r['steps_chars']:7.0f}"
        print(line)
    if capped_at:
        print(f"(stopped before L = {capped_at}: the last derivation took "
              f"{rows[max(rows)]['all'] / 1e3:.1f} s, or the time budget ran out)")
    keys = [("all", "time, all"), ("all_derive", "derive only, all"),
            ("all_ops", "operands built, all"),
            ("all_print", "print only, all"), ("all_chars", "printed size, all"),
            ("one", "time, W1 only"), ("one_chars", "printed size, W1"),
            ("again", "time, again")]
    if mlp_cols:
        keys += [("steps", "time, steps form"), ("steps_chars", "printed size, steps")]
    pts = upper_half(rows, "all")
    span = f"L = {int(pts[0][0])}..{int(pts[-1][0])}" if pts else "-"
    slopes = {k: slope(upper_half(rows, k)) for k, _ in keys}
    print(f"log-log slopes over {span}: " +
          ", ".join(f"{label} {slopes[k]:.2f}" for k, label in keys))
    upper = [L for L in sorted(rows) if L >= (pts[0][0] if pts else 0)]
    top = rows[max(rows)]
    slopes["per_output"] = slope([(rows[L]["all_ops"], rows[L]["all_derive"]) for L in upper])
    slopes["per_char"] = slope([(rows[L]["all_chars"], rows[L]["all_print"]) for L in upper])
    print(f"  against the size of the result (all): derive time against operands built, "
          f"slope {slopes['per_output']:.2f} ({1e3 * top['all_derive'] / top['all_ops']:.2f} us "
          f"per operand at L = {max(rows)}); print time against printed characters, slope "
          f"{slopes['per_char']:.2f} ({1e3 * top['all_print'] / max(top['all_chars'], 1):.2f} "
          f"us per character)")
    return slopes


def met(slope_: float, reached: bool) -> str:
    return "MET" if slope_ <= SLOPE_TARGET and reached else "NOT MET"


# --- check and profile of the largest case ------------------------------------------------

CHECK_CHILD = r"""
import sys, time
sys.path.insert(0, {here!r})
import matcalc
from scaling import FAMILIES
prog, shapes = FAMILIES[{name!r}]({L})
t0 = time.process_time()
d = matcalc.derive(prog, shapes=shapes)
t1 = time.process_time()
r = d.check()
t2 = time.process_time()
worst = max(x.max_rel_error for x in r.results.values())
print(len(r.results), r.ok, worst, (t1 - t0), (t2 - t1))
"""


def check_largest(name: str, L: int, timeout: float) -> None:
    code = CHECK_CHILD.format(here=os.path.dirname(os.path.abspath(__file__)), name=name, L=L)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"  {name} L={L}: d.check() did not finish within {timeout:.0f} s")
        return
    if out.returncode != 0:
        print(f"  {name} L={L}: check failed to run: {out.stderr.strip().splitlines()[-1:]}")
        return
    n, ok, worst, dt, ct = out.stdout.split()
    print(f"  {name} L={L}: {n} gradients checked, ok={ok}, max rel. error {float(worst):.1e}; "
          f"derive {float(dt):.2f} s, check {float(ct):.1f} s (CPU)")


def profile_case(name: str, L: int, top: int = 18, wrt_one: bool = False) -> None:
    s = fresh_suffix()
    prog, shapes = FAMILIES[name](L, s)
    wrt = [f"W1{s}"] if wrt_one else None
    pr = cProfile.Profile()
    pr.enable()
    d = matcalc.derive(prog, shapes=shapes, wrt=wrt)
    for v in d.derivatives.values():
        _ = v.text
    pr.disable()
    buf = io.StringIO()
    st = pstats.Stats(pr, stream=buf)
    st.sort_stats("tottime").print_stats(top)
    print(f"\n#### profile: {name} L={L}, wrt {'W1' if wrt_one else 'all'} "
          f"(first time), sorted by own time")
    body = buf.getvalue()
    print("\n".join(line for line in body.splitlines()
                    if line.strip() and not line.startswith("   Ordered")
                    and "List reduced" not in line))
    buf = io.StringIO()
    pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(r"matcalc", 14)
    print("  by cumulative time (matcalc functions):")
    print("\n".join(line for line in buf.getvalue().splitlines()
                    if "/matcalc/" in line or "/rules/" in line or "ncalls" in line))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-L", type=int, default=256)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--cap", type=float, default=4.0,
                    help="stop a family once one derivation wrt all takes longer (s)")
    ap.add_argument("--budget", type=float, default=240.0,
                    help="total seconds for the timing tables")
    ap.add_argument("--check", action="store_true",
                    help="check the largest case of each family (a subprocess each)")
    ap.add_argument("--check-timeout", type=float, default=600.0)
    ap.add_argument("--check-L", type=int, default=None,
                    help="check this L instead of the largest (with --check-only: required)")
    ap.add_argument("--check-only", action="store_true",
                    help="skip the timing tables: only --check at --check-L")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    Ls = [2 ** k for k in range(20) if 2 ** k <= args.max_L]
    names = [n.strip() for n in args.families.split(",")]
    print(f"# matcalc scaling  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    if "MLP" in names:
        print(f"note: {MLP_NOTE}")
    if args.check_only:
        print(f"\n## d.check() at L = {args.check_L} (limit {args.check_timeout:.0f} s each)")
        for name in names:
            check_largest(name, args.check_L, args.check_timeout)
        return
    matcalc.derive("x'*A*x")                  # lazy imports and the parser, once
    start = time.perf_counter()     # the budget is wall time
    largest: dict[str, int] = {}
    verdicts = []
    for i, name in enumerate(names):
        deadline = start + args.budget * (i + 1) / len(names)
        errors: dict[int, str] = {}
        rows, capped_at = run_family(name, Ls, args.cap, deadline, errors)
        slopes = print_family(name, rows, capped_at)
        for L, err in errors.items():
            print(f"L = {L}: FAILED: {err}")
        largest[name] = max(rows)
        if name != "MLP":
            reached = max(rows) >= 256 and not errors
            linear = max(slopes["per_output"], slopes["per_char"])
            verdicts.append(
                f"{name}, up to L = {max(rows)}:\n"
                f"    wrt W1: slope {slopes['one']:.2f} -> {met(slopes['one'], reached)}\n"
                f"    wrt every variable: slope {slopes['all']:.2f} -> "
                f"{met(slopes['all'], reached)}: the result itself grows as "
                f"L^{slopes['all_ops']:.2f} (operands built) and L^{slopes['all_chars']:.2f} "
                f"(characters printed)\n"
                f"    wrt every variable, against the size of the result: slope "
                f"{slopes['per_output']:.2f} (derive) and {slopes['per_char']:.2f} (print) "
                f"-> {met(linear, reached)}")
        else:
            verdicts.append(f"{name} (not a chain family, for reference): slope (time, all) "
                            f"{slopes['all']:.2f}, (W1) {slopes['one']:.2f}, "
                            f"(steps form) {slopes['steps']:.2f}, up to L = {max(rows)}")
    print(f"\n## Target: log-log slope <= {SLOPE_TARGET} up to L = 256")
    for v in verdicts:
        print("  " + v)
    print(f"(timing took {time.perf_counter() - start:.0f} s; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    if args.profile:
        print("\n## Profiles of the largest derivations")
        for name in names:
            profile_case(name, largest[name])
    if args.check:
        print(f"\n## d.check() on the largest case of each family (limit "
              f"{args.check_timeout:.0f} s each)")
        for name in names:
            check_largest(name, args.check_L or largest[name], args.check_timeout)


if __name__ == "__main__":
    main()
