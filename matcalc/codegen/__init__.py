"""Code generation: a derivation as an importable module (SPEC section 5).

The module computes the function and its derivatives the way a careful person writes
NumPy by hand, and it gets there by construction rather than by tuning:

- One DAG. The forward output and every derivative are walked together. The IR is
  interned, so the forward intermediates a gradient reuses (relu(X*W1 + b1') in an MLP)
  are the very nodes the forward pass computes: a node used twice is computed once, as
  a temporary named in traversal order and commented with its text form.
- Exact identities first, each a small pass over that DAG (`optimize`): relu'(z) =
  step(relu(z)), so the pre-activation need not outlive the activation; log softmax(z) =
  z - logsumexp(z), softmax(z) = exp(z - logsumexp(z)) beside it; a .* e^x ./ (1 + e^x) =
  a .* sigmoid(x); (A + A')*x = A*x + A'*x; a subexpression met again transposed is the
  first one, transposed (the gradient of b1 reads the hidden-layer gradient of W1); a
  scalar that every use of a subexpression applies (the 1/N of a mean) is applied once,
  to the error signal; runs of factors that product chains share and that end in a
  vector are computed once (backprop's W1*x, W2*W1*x, W3'*dy, ...); a sum contained in
  another sum is added to, not recomputed.
- Statements rather than one expression: a temporary the function owns is updated in
  place at its last use (`t1 += b1`, `np.maximum(t1, 0, out=t1)`, `t2 *= t1 > 0`), never
  an argument; `reg*W` is added a block at a time (a fresh array as large as W costs page
  faults on every call); chains of three or more matrices go through
  `np.linalg.multi_dot`, which picks the cheapest order for the run-time shapes;
  softmax, logsumexp, log-sigmoid and softplus are written in their stable forms;
  arrays are made in the arguments' dtype.

The package, a module per job, in the order a module is made:

    passes.py      the identities above, each a pass over the DAG (`optimize`, `gram_forms`)
    printers.py    a code printer per target: NumpyCode, TorchCode and JaxCode (subclasses)
    plan.py        `Body`: which nodes become statements, updates in place, and a record
                   of what each statement reads (the backward pass's kept names, the dtype)
    module.py      `Module`: what every generated module says and checks; the NumPy
                   gradient module
    functional.py  torch's autograd.Function and JAX's custom_vjp, from one plan
    higher.py      Jacobian, Hessian and Hessian-vector-product modules (NumPy)
    text.py        `inert`, the one door for the user's text; lines folded to WIDTH
    _runtime.py    the helpers every module carries, as Python (its text is copied)

Adding a target: a printer class (printers.py) that subclasses NumpyCode or one of its
subclasses, names its library (`target`, `alias`, `modules`) and overrides a method per
form its library writes differently; a Module subclass that writes the library's wrapper
(module.py, functional.py); its entry in TARGETS; its spellings in the registry
(matcalc.ops, an `Op` field) where they are not NumPy's name in the library; and its run
over the corpus in tests/test_targets.py.
"""
from __future__ import annotations

from types import ModuleType

from ..errors import LimitError, OptionError
from ..expr import gc_paused, reset_work
from .functional import JaxModule, TorchModule
from .higher import HigherModule
from .module import GENERATED_MARKER, CodegenError, GradientModule
from .text import inert, literal, program_lines

# the module of a gradient derivation, by target
TARGETS = {"numpy": GradientModule, "torch": TorchModule, "jax": JaxModule}


def generate(derivation, target: str = "numpy") -> str:
    """The source text of a module computing `derivation`, a Derivation (gradients) or a
    HigherDerivation (Jacobians, Hessians, Hessian-vector products; NumPy only)."""
    if target not in TARGETS:
        raise OptionError(f"unknown codegen target {target!r}: expected numpy, torch or jax")
    mode = getattr(derivation, "mode", "gradient")
    if mode != "gradient" and target != "numpy":
        raise OptionError(f"--{mode} generates NumPy code only (--target numpy)")
    kind = TARGETS[target] if mode == "gradient" else HigherModule
    reset_work()              # a module's own work has WORK_LIMIT, as a derivation has
    try:
        return gc_paused(lambda: kind(derivation).source())()
    except RecursionError:        # Python's own parser and compiler recurse on nesting
        raise LimitError("the generated code would be nested too deeply for Python to "
                         "compile; split the program into named steps") from None


def compile_module(source: str, name: str) -> ModuleType:
    """The module of `source`, imported from a temporary file under `name` (a fresh module
    object, not entered in sys.modules); tracebacks still show its source lines."""
    import importlib.util
    import linecache
    import os
    import tempfile
    with tempfile.TemporaryDirectory(prefix="matcalc-") as tmp:
        # the file's name, not the module's: a long output name would be over the file
        # system's 255 bytes
        path = os.path.join(tmp, name[:100] + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    return module


__all__ = ["GENERATED_MARKER", "TARGETS", "CodegenError", "compile_module", "generate",
           "inert", "literal", "program_lines"]
