"""Write the generated NumPy module of every derivation the examples show, beside them.

    python examples/_generate.py            # rewrite them all (each command checks first)
    python examples/_generate.py --list     # print the commands only

Each module is what `matcalc codegen PROGRAM [options] -o FILE` writes. The programs and
options are read from the example scripts themselves: each runs with a `show` that records
its arguments instead of printing, so a module cannot drift from its example (and
tests/test_examples.py regenerates every module and compares the bytes).
"""
from __future__ import annotations

import contextlib
import io
import re
import runpy
import shlex
import sys
import types
from pathlib import Path

import matcalc

HERE = Path(__file__).resolve().parent

# Each example's derivations in the order it shows them, and the module each one becomes.
MODULES = {
    "linear_layer": ["linear_layer_gradient"],
    "bilinear_form": ["bilinear_form_gradient", "bilinear_form_numerator_gradient"],
    "bilinear_layer": ["bilinear_layer_gradient", "bilinear_layer_steps_gradient"],
    "d2l_mlp_l2": ["d2l_mlp_l2_gradient"],
    "cs231n_two_layer": ["cs231n_two_layer_gradient"],
    "notes_sigmoid_softmax": ["notes_sigmoid_softmax_gradient",
                              "notes_sigmoid_softmax_batch_gradient"],
    "sigmoid_neuron": ["sigmoid_neuron_gradient"],
}


def run(example: str) -> tuple[list[tuple[str, dict]], dict]:
    """Run examples/<example>.py with a `show` that derives without printing or checking:
    the (program, options) of each `show(...)` call in order, and the script's globals."""
    calls = []

    def show(title, program, claims=(), **options):
        calls.append((program.strip(), options))
        return matcalc.derive(program, check=False, **options)

    stand_in = types.ModuleType("_show")
    stand_in.show = show
    saved = sys.modules.get("_show")
    sys.modules["_show"] = stand_in
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            namespace = runpy.run_path(str(HERE / f"{example}.py"), run_name="__example__")
    finally:
        if saved is None:
            del sys.modules["_show"]
        else:
            sys.modules["_show"] = saved
    return calls, namespace


def codegen_args(program: str, options: dict) -> list[str]:
    """The arguments of `matcalc codegen` for matcalc.derive(program, **options)."""
    args = ["codegen", program]
    for name, value in options.items():
        if name == "shapes":
            args += [a for var, dims in value.items() for a in ("--shape", f"{var}={dims}")]
        elif name in ("onehot", "signs"):
            args += [a for label in value for a in (f"--{name}", label)]
        elif name == "wrt":
            args += ["--wrt", ",".join(value)]
        elif name in ("layout", "kinds"):
            args += [f"--{name}", value]
        else:
            raise ValueError(f"_generate.py does not know the option {name}={value!r}")
    return args


def commands() -> list[tuple[Path, list[str]]]:
    """(module path, codegen arguments without -o) for every derivation shown."""
    out = []
    for example, modules in MODULES.items():
        calls, _ = run(example)
        if len(calls) != len(modules):
            raise ValueError(f"{example}.py shows {len(calls)} derivations; MODULES names "
                             f"{len(modules)} modules for it")
        out += [(HERE / f"{m}.py", codegen_args(p, o))
                for m, (p, o) in zip(modules, calls, strict=True)]
    return out


def shell_words(args: list[str]) -> str:
    """args as a POSIX shell command line, programs in double quotes (they hold ')."""
    def quote(a: str) -> str:
        if re.fullmatch(r"[\w.,=/-]+", a):
            return a
        return f'"{a}"' if not re.search(r'["$`\\!]', a) else shlex.quote(a)
    return " ".join(quote(a) for a in args)


def main(argv: list[str]) -> int:
    from matcalc.cli.main import cli
    for path, args in commands():
        print("matcalc " + shell_words(args + ["-o", f"examples/{path.name}"]))
        if "--list" in argv:
            continue
        status = cli.main(args + ["-o", str(path)], prog_name="matcalc",
                          standalone_mode=False)
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
