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

The printer is the NumPy printer (printing/numpy.py), taught to read named temporaries
(`CodePrinter`); `Body` plans and emits one function's statements; `_Module` writes the
module around them. Torch and JAX targets reuse the same statements without in-place
updates: the forward statements in the forward rule, the others in the backward rule.
"""
from __future__ import annotations

from ..errors import OptionError
from .functional import JaxModule, TorchModule
from .module import GENERATED_MARKER, CodegenError, GradientModule
from .text import inert, literal, program_lines

# the module of a gradient derivation, by target
TARGETS = {"numpy": GradientModule, "torch": TorchModule, "jax": JaxModule}


def generate(derivation, target: str = "numpy") -> str:
    """The source text of a module computing `derivation` (see the module docstring)."""
    if target not in TARGETS:
        raise OptionError(f"unknown codegen target {target!r}: expected numpy, torch or jax")
    mode = getattr(derivation, "mode", None)
    if mode not in (None, "gradient"):
        raise OptionError(f"codegen writes gradients; it cannot write a {mode}")
    return TARGETS[target](derivation).source()


__all__ = ["GENERATED_MARKER", "TARGETS", "CodegenError", "generate", "inert", "literal",
           "program_lines"]
