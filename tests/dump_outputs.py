"""Print every output matcalc writes for a corpus of programs, to diff before and after a
refactoring that must not change a byte.

    python tests/dump_outputs.py > before.txt      # on the old code
    python tests/dump_outputs.py > after.txt       # on the new code
    diff before.txt after.txt

The programs: tests/test_corpus.py's corpus, the Jacobian and Hessian programs of
tests/test_jacobian.py, the structured programs of tests/test_structure_oracle.py in both
conventions, and every derivation the examples show. Each is derived in every
layout and mode (gradient with and without steps, Jacobian, Hessian, Hessian-vector
product) and printed as text, LaTeX, NumPy statements and JSON, with the generated NumPy, torch and
JAX modules of each (their source: neither torch nor JAX is imported). A user error prints its message (a mode that does not apply).
One process derives everything in a fixed order, as the test suite does.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))

import matcalc  # noqa: E402
from matcalc.errors import MatcalcError  # noqa: E402

LAYOUTS = ("denominator", "numerator", "mixed")
MODES = ("gradient", "jacobian", "hessian", "hvp")
TARGETS = ("numpy", "torch", "jax")           # module source only: no torch or jax needed


def programs() -> list[tuple[str, dict]]:
    """(program, derive options) for every program of the corpus, in a fixed order."""
    from test_corpus import CORPUS
    from test_jacobian import HESSIANS, JACOBIANS

    import _generate
    out = [(p, {"shapes": shapes, "kinds": kinds}) for p, shapes, _, kinds in CORPUS]
    out += [(p, {"wrt": wrt, "shapes": shapes}) for p, wrt, shapes in JACOBIANS]
    out += [(p, {"wrt": wrt}) for p, wrt in HESSIANS]
    from test_structure_oracle import CASES as STRUCTURED
    for case in STRUCTURED:
        for convention in ("projected", "entries"):
            if convention == "entries" and "orthogonal" in case.assume.values():
                continue
            out.append((case.program, {"assume": case.assume, "convention": convention,
                                       "shapes": case.shapes, "wrt": case.wrt}))
    for example in _generate.MODULES:
        calls, _ = _generate.run(example)
        out += [(p, {k: v for k, v in o.items() if k != "layout"}) for p, o in calls]
    return out


def spellings(d, mode: str, steps: bool) -> list[str]:
    out = [d.text(steps=steps), d.latex(steps=steps), d.numpy_code(steps=steps),
           json.dumps(d.to_json(steps=steps), sort_keys=True, ensure_ascii=False)]
    if not steps:
        for target in TARGETS:
            try:
                out.append(d.codegen(target))
            except MatcalcError as e:             # a target that cannot take the program
                out.append(f"error: {e}")
    return out


def dump(program: str, options: dict, write) -> None:
    for layout in LAYOUTS:
        for mode in MODES:
            for steps in ((False, True) if mode == "gradient" else (False,)):
                write(f"==== {program!r} {options} {layout} {mode} steps={steps}\n")
                try:
                    d = matcalc.derive(program, layout=layout, mode=mode, **options)
                    for s in spellings(d, mode, steps):
                        write(s.rstrip("\n") + "\n--\n")
                except MatcalcError as e:
                    write(f"error: {e}\n")


def main() -> None:
    write = sys.stdout.write
    for program, options in programs():
        dump(program, options, write)


if __name__ == "__main__":
    main()
