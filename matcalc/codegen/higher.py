"""Jacobian, Hessian and Hessian-vector-product modules (--jacobian, --hessian, --hvp).

The same module as a gradient's (module.Module: a docstring with every shape, SHAPES,
the shape checks at entry, arrays in the arguments' dtype, the helpers), with `forward`
and one function named after the mode (`jacobian`, `hessian`, `hvp`) that returns a
dict of results keyed like the derivation's. A result that is a matrix is planned like
a gradient, with the others (temporaries for what they share, updates in place, the
passes, and A'*diag(w)*A as B'*B for BLAS's syrk); a result with more axes is a sum of
`np.einsum` terms over its index form (printing.index.einsum_code), whose factors are
planned with the matrices. NumPy only: torch and JAX compute these with their own
`jacobian` and `hessian`.
"""
from __future__ import annotations

from ..printing.numpy import numpy_shape
from .module import Module, docstring, runtime_source
from .passes import gram_forms, optimize
from .plan import Root
from .printers import DTYPE
from .text import _describe_dims, inert, literal

# what a mode's module computes, as its docstrings name it
RESULTS = {"jacobian": "Jacobians", "hessian": "Hessian blocks",
           "hvp": "Hessian-vector products"}


class HigherModule(Module):
    """The module of a HigherDerivation (matcalc.jacobian)."""

    def __init__(self, hd):
        super().__init__(hd, hd.base.python_names, list(hd.directions.values()))
        self.what = RESULTS[hd.mode]
        self.results = list(hd.derivatives.values())
        self.forward = optimize(hd.output, [])[0]
        matrices = [d for d in self.results if d.node is not None]
        _, nodes = optimize(None, [d.node for d in matrices])
        nodes, self.grams = gram_forms(nodes)
        self.nodes = {d.name: n for d, n in zip(matrices, nodes, strict=True)}
        # the factors the einsum of each tensor reads (an identity is written by einsum_code)
        self.factors = [f.node for d in self.results if d.node is None
                        for t in d.tensor.terms for f in t.factors if not f.is_delta]
        self.targets = {d.name: self.fresh_name(hd._target(d)) for d in self.results}

    def roots_of_code(self):
        return [self.forward, *self.nodes.values(), *self.factors]

    def listing(self) -> list[tuple[str, tuple, str]]:
        """(key, NumPy shape, what it is) of every result, for the module docstring."""
        out = []
        for d in self.results:
            dims = numpy_shape(d.node.shape) if d.node is not None else tuple(d.dims)
            axes = f", axes [{', '.join(d.axis_letters)}] = {d.index_lhs}" \
                if d.kind != "hvp" else ""
            out.append((d.name, dims, inert(f", {d.lhs_text}{axes}")))
        return out

    def text(self) -> str:
        hd = self.d
        directions = {self.pyname(v.name): self.pyname(x) for x, v in hd.directions.items()}
        notes = {v: f"the direction of {x}" for v, x in directions.items()}
        out = self.header(f"NumPy forward and {self.what}", notes,
                          f"{self.what[0].upper()}{self.what[1:]} ({hd.layout} layout)",
                          self.listing())
        out += ["import numpy as np", ""] + self.shapes_table()
        helpers: set[str] = set()

        body, results = self.body(self.inputs, [Root(self.out, self.forward)], self.forward)
        helpers |= body.helpers
        lines = self.prologue(self.inputs, body) + body.lines
        lines.append(f"return {results[self.out].text}")
        sizes = {d: n for d, n in self.free.items() if d in body.p.free_used}
        doc = f"The output {self.out} ({_describe_dims(self.out_dims())})."
        out += self.function("forward", self.inputs, list(sizes.values()),
                             docstring(doc, (), sizes), lines)

        args = self.inputs + self.extras
        roots = [Root(self.targets[key], node) for key, node in self.nodes.items()]
        body, results = self.body(args, roots, keep=tuple(self.factors),
                                  hints=dict.fromkeys(self.grams, "B"))
        helpers |= body.helpers
        lines, needs = list(body.lines), body.needs()
        for d in self.results:
            if d.node is None:
                lines.append(self.einsum(d, body.p))
                needs |= {DTYPE}
        values = [f"{literal(d.name)}: "
                  f"{results[self.targets[d.name]].text if d.node is not None else self.targets[d.name]}"
                  for d in self.results]
        lines = self.prologue(args, body, needs) + lines + ["return {" + ", ".join(values) + "}"]
        sizes = {d: n for d, n in self.free.items() if d in body.p.free_used}
        keys = ", ".join(f"{literal(d.name)}: {inert(d.lhs_text)}" for d in self.results)
        notes = [f"{a.py}: the direction of {directions[a.py]}, {_describe_dims(a.dims)}."
                 for a in self.extras]
        out += self.function(hd.mode, args, list(sizes.values()),
                             docstring(f"The {self.what} {{{keys}}}.", notes, sizes), lines)
        out += runtime_source("_arrays", "_shape_error", *sorted(helpers))
        return "\n".join(out) + "\n"

    def einsum(self, d, p) -> str:
        """`target = ...`: the tensor d as np.einsum terms over its planned factors, in the
        arguments' dtype (einsum_code's identities and ones are float64)."""
        from ..printing.index import einsum_code
        code = einsum_code(d.tensor, d.axis_letters,
                           lambda n: p.finish(p.print(n), n.shape, False).text, p.dim)
        return f"{self.targets[d.name]} = np.asarray({code}, dtype={self.dtype})"
