"""Every corpus program and every example through the torch and JAX targets.

test_codegen.py checks a chosen set of programs through torch and JAX in depth; here every
program of test_corpus.py and every derivation the examples show is generated for both
targets and run at a valid point, so no program is left to meet a target's quirks in a
user's hands (torch.sqrt refuses an int, save_for_backward a number). Oracles: torch's
gradcheck (fast mode: finite differences along random directions) and, for both targets,
the NumPy module of the same derivation (itself checked against the reference
interpreter and finite differences in test_codegen.py), forward value and gradient.

Cost: torch runs each program eagerly. JAX compiles every operation it meets for every
new shape (tens of milliseconds each), so its programs run in batches, each batch traced
through jax.vjp of the custom_vjp functions and compiled as one jit; a batch that fails
is run program by program to name the culprit.
"""
import ast
import functools
import importlib.util
import zlib
from pathlib import Path

import numpy as np
import pytest
from test_codegen import as_adjoint, user_value
from test_corpus import CORPUS

import matcalc
from matcalc.check import first_point
from matcalc.expr import variables

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example_programs() -> list[tuple[str, dict]]:
    spec = importlib.util.spec_from_file_location("_generate", EXAMPLES / "_generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return [call for example in generate.MODULES for call in generate.run(example)[0]]


# (program, derive options, fixed sizes) for every corpus entry and every example
PROGRAMS = [(p, {"shapes": s or None, "kinds": k}, sizes) for p, s, sizes, k in CORPUS] + \
    [(p, options, {}) for p, options in _example_programs()]
IDS = [f"{p} {o}" if any(o.values()) else p for p, o, _ in PROGRAMS]


@functools.cache
def derivation(i: int):
    program, options, _ = PROGRAMS[i]
    return matcalc.derive(program, **options)


@functools.cache
def case(i: int):
    """(derivation, NumPy module, positional arguments, upstream gradient in the output's
    shape (None for a scalar output), the NumPy module's derivatives in each variable's
    shape) of PROGRAMS[i] at a valid point."""
    program, _, sizes = PROGRAMS[i]
    d = derivation(i)
    grads = [d.adjoint_form(n) for n in d.derivatives]
    roots = [d.output, *grads] + ([d.adjoint_upstream] if d.adjoint_upstream else [])
    vs = {v.name: v for r in roots for v in variables(r)}
    dims, _, point = first_point(roots, vs, sizes, zlib.crc32(program.encode()),
                                 labels=d.onehot)
    assert not isinstance(point, str), f"no valid point at {dims}: {point}"
    values, _ = point
    args = [user_value(values[n], v, d.keep_2d) for n, v in d.inputs.items()]
    mod = d.compile()
    up, kwargs = None, {}
    if d.adjoint_upstream is not None:
        u = values[d.adjoint_upstream.name]
        up = user_value(u, d.adjoint_upstream, ())
        mine = u.T if d.layout == "numerator" else u
        kwargs[d.python_names.get(d.upstream_name, d.upstream_name)] = \
            user_value(mine, d.upstream, ())
    value, grads = mod.value_and_gradient(*args, **kwargs)
    want = {n: as_adjoint(g, d.layout) for n, g in grads.items()}
    return d, value, args, up, want


def test_every_program_is_here():
    assert len(PROGRAMS) >= len(CORPUS) + 8


# ---- torch: every program, one by one ---------------------------------------------------------

@pytest.mark.parametrize("i", range(len(PROGRAMS)), ids=IDS)
def test_torch_module_agrees_with_gradcheck_and_the_numpy_module(i):
    torch = pytest.importorskip("torch", reason="torch is not installed (an optional extra)")
    d, value, args, up, want = case(i)
    tmod = d.compile("torch")
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=n in d.derivatives)
          for a, n in zip(args, d.inputs, strict=True)]
    assert torch.autograd.gradcheck(tmod.forward, ts, eps=1e-6, atol=1e-5, rtol=1e-4,
                                    fast_mode=True)
    y = tmod.forward(*ts)
    np.testing.assert_allclose(y.detach().numpy(), value, rtol=1e-9, atol=1e-12)
    y.backward(None if up is None else torch.tensor(up))
    for t, name in zip(ts, d.inputs, strict=True):
        if name in d.derivatives:
            assert t.grad.shape == want[name].shape, name
            np.testing.assert_allclose(t.grad.numpy(), want[name], rtol=1e-8, atol=1e-11,
                                       err_msg=name)


# ---- JAX: every program, in batches compiled as one --------------------------------------------

BATCH = 40


def _jax_check(jax, cases) -> list:
    """jax.vjp through each module's custom_vjp forward, all `cases` (derivation, module,
    upstream gradient, arguments) in one jit: for each, (forward value, the gradient of
    every input)."""
    def run(all_args):
        out = []
        for (_, jmod, up, _), args in zip(cases, all_args, strict=True):
            y, vjp = jax.vjp(jmod.forward, *args)
            out.append((y, vjp(np.float64(1.0) if up is None else up)))
        return out
    args = [[np.asarray(a, dtype=np.float64) for a in c[3]] for c in cases]
    return jax.jit(run).lower(args).compile(FAST_COMPILE)(args)


# XLA's CPU compiler at its lowest optimisation: the batches are run once, and at the
# default level compiling them takes twice as long
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@pytest.mark.parametrize("start", range(0, len(PROGRAMS), BATCH),
                         ids=lambda s: f"programs {s}-{min(s + BATCH, len(PROGRAMS)) - 1}")
def test_jax_modules_agree_with_the_numpy_modules(start):
    jax = pytest.importorskip("jax", reason="jax is not installed (an optional extra)")
    indices = range(start, min(start + BATCH, len(PROGRAMS)))
    cases = []
    for i in indices:
        d, _, args, up, _ = case(i)
        cases.append((d, d.compile("jax"), up, args))
    with jax.enable_x64(True):
        try:
            results = _jax_check(jax, cases)
        except Exception:                   # noqa: BLE001  (found again, one by one, below)
            results = []
            for c in cases:
                try:
                    results.append(_jax_check(jax, [c])[0])
                except Exception as e:       # noqa: BLE001
                    results.append(e)
    failures = []
    for i, result in zip(indices, results, strict=True):
        d, value, _, _, want = case(i)
        try:
            if isinstance(result, Exception):
                raise result
            y, got = result
            np.testing.assert_allclose(np.asarray(y), value, rtol=1e-9, atol=1e-12)
            for name, g in zip(d.inputs, got, strict=True):
                if name in d.derivatives:
                    assert np.shape(g) == want[name].shape, name
                    np.testing.assert_allclose(np.asarray(g), want[name], rtol=1e-8,
                                               atol=1e-11, err_msg=name)
        except Exception as e:               # noqa: BLE001  (all of a batch's failures, named)
            failures.append(f"{IDS[i]}: {type(e).__name__}: {str(e)[:300]}")
    assert not failures, "\n".join(failures)


# ---- what the backward pass keeps: exactly the forward names it reads --------------------------

def _assigned(fn) -> list[str]:
    """The names a function assigns, in order."""
    return list(dict.fromkeys(t.id for node in ast.walk(fn) if isinstance(node, ast.Assign)
                              for target in node.targets
                              for t in (target.elts if isinstance(target, ast.Tuple) else [target])
                              if isinstance(t, ast.Name)))


def _read(fn) -> set[str]:
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _kept(call) -> list[str]:
    return [a.id for a in call.elts if isinstance(a, ast.Name)] if isinstance(call, ast.Tuple) \
        else [a.id for a in call.args]


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_the_backward_keeps_exactly_the_forward_names_it_reads(target):
    # the names kept come from the planner's record of what each statement reads, not from
    # reading the code back; here the code is read back (by ast) to check that record, and
    # that a function computes its dtype (and torch's device) exactly when it uses them
    wrong = []
    for i, name in enumerate(IDS):
        tree = ast.parse(derivation(i).codegen(target))
        fns = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        inputs = [a.arg for a in fns["_forward" if target == "jax" else "forward"].args.args
                  if a.arg != "ctx"]
        if target == "torch":
            forward, backward = fns["forward"], fns["backward"]
            calls = [n for n in ast.walk(forward) if isinstance(n, ast.Call) and
                     ast.unparse(n.func) == "ctx.save_for_backward"]
            kept = _kept(calls[0])
            numbers = [n.value for n in ast.walk(forward) if isinstance(n, ast.Assign) and
                       ast.unparse(n.targets[0]) == "ctx.numbers"]
            kept += _kept(numbers[0]) if numbers else []
        else:
            forward, backward = fns["_forward"], fns["_backward"]
            returned = next(n for n in ast.walk(forward) if isinstance(n, ast.Return))
            kept = _kept(returned.value.elts[1])
        made = [n for n in _assigned(forward) if n not in inputs and
                not n.startswith(("dtype", "device"))]        # each function makes its own
        want = [n for n in made if n in _read(backward)]
        if sorted(kept) != sorted(inputs + want):
            wrong.append(f"{name}: keeps {kept}, reads {inputs + want}")
        for fn in (forward, backward):
            for local in _assigned(fn):
                if local.startswith(("dtype", "device")) and local not in _read(fn):
                    wrong.append(f"{name}: {fn.name} computes {local} and never uses it")
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_torch_and_jax_modules_call_no_numpy(target):
    # the printers spell every function in the target's library: nothing is renamed after
    for i, name in enumerate(IDS):
        tree = ast.parse(derivation(i).codegen(target))
        assert not any(isinstance(n, ast.Name) and n.id == "np" for n in ast.walk(tree)), name
