"""torch and JAX modules: matcalc's formulas as the library's own differentiable function.

A torch module is a `torch.autograd.Function`, a JAX module a `jax.custom_vjp` function:
autograd calls matcalc's backward instead of tracing one. Both come from one plan of
the forward output and the derivatives, without updates in place; the planner's record
(plan.Body.split) says which lines are the forward pass and which forward temporaries
the backward pass reads, which the forward rule then keeps (`save_for_backward`, JAX's
residuals). The upstream gradient has the output's shape (the adjoint form), as both
libraries pass it.
"""
from __future__ import annotations

import textwrap

from ..printing.precedence import POSTFIX
from .module import GradientModule, runtime_source
from .passes import _order
from .plan import Body, Split
from .printers import JaxCode, TorchCode
from .text import INDENT, WIDTH, _para, _unpack, _wrap, inert, literal


class FunctionalModule(GradientModule):
    """The plan shared by the torch and JAX modules; `wrap` writes the library's form."""

    adjoint = True               # torch and JAX pass dY in the output's shape
    title: str                   # the first words of the module docstring
    sizes_as_arguments = False   # autograd calls the function with the inputs only

    def text(self) -> str:
        up = self.upstream is not None
        body, results = self.body(self.inputs, self.roots(True, True), self.forward)
        g = self.upstream.py if up else self.fresh_name("d" + self.out)
        grads = []
        for n in self.d.inputs:
            if n not in self.wrt:
                grads.append("None")
                continue
            v = results[self.grad_names[n]]
            text = v.text if v.prec >= POSTFIX else f"({v.text})"
            grads.append(text if up else f"{g} * {text}")
        split = body.split(set(_order([self.forward])), [self.out],
                           [self.grad_names[n] for n in self.wrt])
        out = self.gradient_header(self.title) + self.wrap(body, results[self.out].text, g,
                                                           grads, split)
        return "\n".join(out + runtime_source("_shape_error")) + "\n"

    def wrap(self, body: Body, value: str, g: str, grads: list[str], split: Split
             ) -> list[str]:
        """The module's lines after its docstring: the forward part returning `value`,
        the backward part taking `g` and returning `grads` (the inputs' cotangents, "None"
        where not derived)."""
        raise NotImplementedError


class TorchModule(FunctionalModule):
    printer = TorchCode
    title = "A torch.autograd.Function with matcalc's backward"

    def wrap(self, body: Body, value: str, g: str, grads: list[str], split: Split
             ) -> list[str]:
        inputs = self.names
        kept = split.kept
        out = ["import torch", ""] + self.shapes_table() + ["", ""]
        out += ["class Function(torch.autograd.Function):"]
        out += [INDENT + line for line in _para(
            f'"""{self.out} of the program, differentiated with the formulas matcalc '
            'derived (not by tracing)."""')]
        out += ["", INDENT + "@staticmethod"]
        out += [INDENT + line for line in _wrap("def forward(", ["ctx"] + inputs, "):", 1)]
        # save_for_backward takes tensors only: what no input feeds (t1 = 2, a size) is
        # kept on ctx as it is
        numbers = [name for name, n in kept if not body._has_var(n)]
        saved = [name for name, _ in kept if name not in numbers]
        body_f = self.checks(self.inputs) + body.p.dtype_lines(split.forward_needs, inputs)
        body_f += split.forward
        body_f += _wrap("ctx.save_for_backward(", inputs + saved, ")", 1)
        body_f += _wrap("ctx.numbers = (", numbers, ",)", 1) if numbers else []
        body_f.append(f"return {value}")
        out += [2 * INDENT + line for line in body_f]
        out += ["", INDENT + "@staticmethod", INDENT + f"def backward(ctx, {g}):"]
        body_b = _unpack(inputs + saved, "ctx.saved_tensors", [], "")
        body_b += _unpack(numbers, "ctx.numbers", [], "")
        body_b += self.not_derived_guard()
        body_b += body.p.dtype_lines(split.backward_needs, inputs) + split.backward
        body_b.append("return " + (", ".join(grads) or "()"))
        out += [2 * INDENT + line for line in body_b]
        out += ["", ""] + _wrap("def forward(", inputs, "):", 0)
        out += [INDENT + f'"""{self.out}, differentiable by torch.autograd."""']
        tensors = [f"torch.as_tensor({a})" for a in inputs]
        return out + [INDENT + line for line in _wrap("return Function.apply(", tensors, ")", 0)]

    def not_derived_guard(self) -> list[str]:
        """Torch's backward: an error, not a silent zero, when autograd asks for the
        derivative of an input outside --wrt (returning None would read as zero)."""
        missing = [i for i, n in enumerate(self.d.inputs) if n not in self.wrt]
        if not missing:
            return []
        names = ", ".join(n for n in self.d.inputs if n not in self.wrt)
        message = f"matcalc derived no derivative of {names}: derive again with --wrt"
        pieces = textwrap.wrap(message, WIDTH - 4 * len(INDENT) - 3, drop_whitespace=False,
                               break_on_hyphens=False)
        test = _wrap("if any(ctx.needs_input_grad[i] for i in [", [str(i) for i in missing],
                     "]):", 2)
        lines = test + [INDENT + "raise RuntimeError("]
        lines += [2 * INDENT + literal(p) for p in pieces] + [INDENT + ")"]
        return lines


class JaxModule(FunctionalModule):
    printer = JaxCode
    title = "A jax.custom_vjp function with matcalc's backward"

    def wrap(self, body: Body, value: str, g: str, grads: list[str], split: Split
             ) -> list[str]:
        inputs = self.names
        saved = [name for name, _ in split.kept]
        out = ["import jax", "import jax.numpy as jnp", ""] + self.shapes_table()
        out += ["", "", "@jax.custom_vjp"] + _wrap("def forward(", inputs, "):", 0)
        out += [INDENT + f'"""{self.out}, differentiable by JAX with matcalc\'s formulas."""']
        out += [INDENT + line for line in _wrap("return _forward(", inputs, ")[0]", 0)]
        out += ["", ""] + _wrap("def _forward(", inputs, "):", 0)
        body_f = _unpack(inputs, "", [f"jnp.asarray({a})" for a in inputs], "")
        body_f += self.checks(self.inputs) + body.p.dtype_lines(split.forward_needs, inputs)
        body_f += split.forward
        residuals = inputs + saved
        body_f.append(f"return {value}, ({', '.join(residuals)}"
                      f"{',' if len(residuals) == 1 else ''})")
        out += [INDENT + line for line in body_f]
        out += ["", ""] + [f"def _backward(residuals, {g}):"]
        body_b = _unpack(inputs + saved, "residuals", [], "")
        rest, fallback = self.fallback(g)
        cts = [x if x != "None" else rest.pop(0) for x in grads]
        body_b += body.p.dtype_lines(split.backward_needs, inputs) + split.backward + fallback
        body_b.append(f"return ({', '.join(cts)}{',' if len(cts) == 1 else ''})")
        out += [INDENT + line if line else "" for line in body_b]
        return out + ["", "", "forward.defvjp(_forward, _backward)"]

    def fallback(self, g: str) -> tuple[list[str], list[str]]:
        """JAX's backward for the inputs outside --wrt: JAX differentiates the forward
        statements there (a zero cotangent would be wrong, and custom_vjp cannot tell
        which cotangents are wanted; under jit, unused ones cost nothing). Returns the
        cotangents' names and the lines computing them."""
        rest = [a.py for a in self.inputs if a.name not in self.wrt]
        if not rest:
            return [], []
        inputs = self.names
        names = [self.fresh_name("d" + r) for r in rest]
        fn = self.fresh_name("_forward_of_the_rest")
        lines = ["", "# no formula derived for " + inert(", ".join(rest)) + " (--wrt): JAX "
                 "differentiates the forward there"]
        lines += _wrap(f"def {fn}(", rest, "):", 1)
        lines += [INDENT + line for line in _wrap("return _forward(", inputs, ")[0]", 2)]
        lines += [""] + _unpack(names, "jax.vjp(", [fn] + rest, f")[1]({g})")
        return names, lines
