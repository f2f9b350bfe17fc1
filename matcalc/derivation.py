"""The result of a gradient derivation (`matcalc.pipeline.derive` makes it).

A `Derivation` holds the formulas per variable in the chosen layout, with their text,
LaTeX and NumPy spellings computed on demand, the adjoint steps of a program, and
verification (`check`, `verify_claim`); JSON, code generation and compilation are the
`Result` base's. Heavy modules (NumPy for the checker, the code generator, SymPy) are
imported only when those methods are called.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from . import expr as E
from .assumptions import apply_assumptions, describe
from .claims import verify_claim
from .differentiate import gradient
from .errors import LimitError
from .layout import from_layout, to_layout, upstream_var
from .printing import latex as tex
from .printing import to_numpy
from .printing.index import free_indices
from .printing.json import json_shape
from .printing.latex import LatexPrinter, latex_style
from .printing.numpy import NumpyPrinter, python_name
from .printing.text import TextPrinter
from .result import Result
from .simplify import simplify, size
from .steps import adjoint_names, program_steps, step_checks
from .structure import as_projected, structures, use_structure
from .structure import gradient as structure_gradient
from .shapes import inputs_comment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .check import CheckReport
    from .claims import ClaimResult
    from .printing.latex import LatexStyle
    from .shapes import Typed
    from .steps import Step



SUMMATION = ("index notation: an index repeated on the right is summed (Einstein's "
             "convention); the free indices i, j, k, ... are the result's axes in order")


def _may_name(node: E.Node, limit: int) -> bool:
    """Whether `node` (at most `limit` distinct subexpressions) holds a subexpression that
    a `where` name could stand for (an elementwise function, a softmax): one walk that
    stops at the limit, so that formulas without any cost no more."""
    from . import ops
    found = False
    for k, n in enumerate(E.walk(node)):
        if k >= limit:
            return False
        if not found and n.children:
            op = ops.of(n)
            found = op is not None and op.names is not None
    return found


PRINT_LIMIT = 2_000_000   # tree size of one printed formula (configurable)
# Tree size of everything one call prints (text, LaTeX, NumPy code or JSON, steps
# included), each spelling counted: JSON spells every formula three times. Printing costs
# about half a microsecond and three to seven characters per term, so the cap keeps any
# output under about half a second and a few megabytes; a 200-layer MLP's gradient,
# written out, is 90 MB (its steps, 100 kB). Configurable.
OUTPUT_LIMIT = 1_000_000


def _printable(node: E.Node) -> E.Node:
    """`node`, unless written out as a tree it would be astronomically long (a program that
    reuses an intermediate at every step has a small DAG but an exponential tree)."""
    if size(node) > PRINT_LIMIT:
        raise LimitError(f"the formula, written out, would have {size(node):,} terms (more "
                         f"than matcalc.derivation.PRINT_LIMIT); use --steps, or generated "
                         f"code, which keep the intermediates")
    return node


def output_terms(nodes) -> int:
    """The tree size of `nodes` written out, one after another."""
    return sum(size(n) for n in nodes)


def refuse_output(terms: int, named_steps: bool = False) -> None:
    """Raise the LimitError of an output of `terms` terms if that is over OUTPUT_LIMIT;
    `named_steps`: the program has named intermediates, so --steps can write it in terms
    of them."""
    if terms <= OUTPUT_LIMIT:
        return
    ways = "use --steps, which writes each adjoint in terms of the program's named " \
        "intermediates, or generated code (matcalc codegen)" if named_steps else \
        "generated code (matcalc codegen) names the repeated subexpressions"
    raise LimitError(f"the output, written out, would have {terms:,} terms (more than "
                     f"matcalc.derivation.OUTPUT_LIMIT = {OUTPUT_LIMIT:,}); {ways}")


@dataclass
class Derivative:
    """d(output)/d(name) in one layout: the IR node and its spellings."""

    name: str
    node: E.Node
    derivation: "Derivation" = field(repr=False)

    @property
    def shape(self) -> list[E.Dim]:
        """The shape as JSON writes it: [] scalar, [n] vector, [p, q] matrix, both axes of
        a variable declared with an explicit 1 (a 2-D array in NumPy, SPEC 4)."""
        return json_shape(self.node.shape, self.name in self.derivation.keep_2d)

    @cached_property
    def _display(self) -> tuple[E.Node, list[tuple[E.Var, E.Node]]]:
        return self.derivation.display(self.node)

    @property
    def shown(self) -> E.Node:
        """The formula as text and LaTeX show it: with the program's own names for the
        values it named (`(o - y)*a'`) and short `where` names for a long subexpression it
        repeats (`s` for sigmoid(W*x + b)), unless the derivation is inlined; `node` is
        always in terms of the inputs (it is what NumPy, codegen and the check use)."""
        return self._display[0]

    @property
    def where(self) -> list[tuple[E.Var, E.Node]]:
        """The `where` names of `shown` with their definitions, each definition using only
        earlier names (empty if none)."""
        return self._display[1]

    @cached_property
    def where_text(self) -> dict[str, str]:
        """{name: definition} of the `where` names, in matcalc's language."""
        p = self.derivation._printers["text"]
        return {v.name: p.doprint(_printable(d)).text for v, d in self.where}

    @cached_property
    def where_latex(self) -> dict[str, str]:
        """{name: definition} of the `where` names, in LaTeX."""
        p = self.derivation._printers["latex"]
        return {v.name: p.doprint(_printable(d)).text for v, d in self.where}

    @cached_property
    def text(self) -> str:
        """The formula in matcalc's language (it parses back to the same formula, in the
        program's namespace)."""
        return self.derivation._printers["text"].doprint(_printable(self.shown)).text

    @cached_property
    def latex(self) -> str:
        """The formula in LaTeX, its adjoints as the derivatives they stand for."""
        return self.derivation._printers["latex"].doprint(_printable(self.shown)).text

    @cached_property
    def numpy(self) -> str:
        """One Python expression: `eval(numpy, {"np": numpy}, values)` is the value."""
        return self.derivation._numpy(_printable(self.node),
                                      result_2d=self.name in self.derivation.keep_2d)

    def _repr_latex_(self) -> str:
        """Jupyter's display: `∂L/∂X = ...` in display style."""
        d = self.derivation
        return f"$\\displaystyle {d._lhs_latex(self.name)} = {self.latex}$"

    def to_sympy(self, symbols: Mapping[str, Any] | None = None) -> Any:
        """The formula as a SymPy matrix expression over the symbols it was derived from
        (see `matcalc.interop.sympy.to_sympy`); needs the `sympy` extra."""
        from .interop.sympy_out import to_sympy  # SymPy: an optional extra, loaded when used
        return to_sympy(self, symbols=symbols)

    def __str__(self) -> str:
        return self.text


class Derivation(Result):
    """Derivatives of one program's output with respect to its variables."""

    @E.gc_paused
    def __init__(self, program: str, typed: Typed, wrt: list[str], layout: str,
                 onehot: dict[str, str] | None = None, convention: str = "projected",
                 inline: bool = False):
        self.program = program
        self.inline = inline            # formulas shown in terms of the inputs only
        # label name -> "columns" / "rows" (one-hot: that axis sums to one), "signs" (+-1),
        # or a structure of matcalc.structure ("symmetric", "spd", "diagonal", ...)
        self.onehot = dict(onehot or {})
        self.convention = convention        # of the gradients of structured variables
        self.typed = typed
        self.layout = layout
        self.output_name = typed.output_name
        self.output = typed.output
        out_shape = typed.output.shape
        self.is_scalar = out_shape == (1, 1)
        self.keep_2d = typed.keep_2d
        self.inputs = typed.inputs
        taken = set(typed.inputs) | set(typed.intermediates) | {typed.output_name}
        if self.is_scalar:
            self.upstream_name = None
            self.adjoint_upstream = None
            self.upstream = None
        else:
            name = "d" + typed.output_name
            while name in taken:
                name += "_"
            self.upstream_name = name
            self.adjoint_upstream = E.Var(name, out_shape)            # denominator form
            self.upstream = upstream_var(name, out_shape, layout)     # as the user sees it
        self.adjoint_vars = [self.adjoint_upstream] if self.adjoint_upstream else []
        wrt_vars = [typed.inputs[n] for n in wrt]
        adjoints = gradient(typed.output, wrt_vars, self.adjoint_upstream)
        self.derivatives: dict[str, Derivative] = {}
        # structured variables: the unconstrained gradient G (adjoint form, S' = S used),
        # of which the derivative is the projection or the entries form
        self.unconstrained: dict[str, E.Node] = {}
        kinds = structures(self.onehot)
        for v in wrt_vars:
            adjoint = adjoints[v]
            if v.name in kinds:
                self.unconstrained[v.name] = g = self.finish(adjoint, layout="denominator")
                adjoint = structure_gradient(g, kinds[v.name], convention, self.onehot, v)
            self.derivatives[v.name] = self.derivative(v.name, self.finish(adjoint))

    def derivative(self, name: str, node: E.Node) -> Derivative:
        """The derivative `name` with the formula `node` (finished), spelled as this
        derivation spells its own (the steps make theirs here)."""
        return Derivative(name, node, self)

    def finish(self, adjoint: E.Node, upstream=None, layout: str | None = None) -> E.Node:
        """An adjoint-form formula simplified, under the assumptions, in the layout."""
        node = apply_assumptions(simplify(adjoint), self.onehot)
        node = to_layout(node, layout or self.layout, upstream or self.adjoint_upstream)
        return use_structure(node, self.onehot)      # (inv(S)')' is inv(S)' in numerator

    def named(self, node: E.Node) -> E.Node:
        """`node` as shown: with the program's named values folded back into their names
        (matcalc.program_names), or as it is if the derivation is inlined or names nothing."""
        if self.inline or not self.typed.intermediates:
            return node
        return self._names.fold(node)

    WHERE_MIN = 16    # characters: sigmoid(x) is written out, sigmoid(W*x + b) named s
    # Formulas larger than this (distinct subexpressions) get no where names: choosing
    # them walks the formula, and a deep network's every gradient is as long as the
    # network (the steps are how those read); this keeps the cost linear in the program.
    WHERE_NODES = 400

    def display(self, node: E.Node) -> tuple[E.Node, list[tuple[E.Var, E.Node]]]:
        """(formula, where): `node` with the program's names folded back and the long
        subexpressions it repeats (an elementwise function, a softmax: as Jacobians name
        them) under short names, and those names' definitions in order."""
        node = self.named(node)
        if self.inline or not _may_name(node, self.WHERE_NODES):
            return node, []
        from .layout import substitute
        from .naming import choose_names, definitions
        from .printing import to_text
        names: dict[E.Node, E.Var] = {
            n: v for n, v in choose_names([node], self._taken, {}).items()
            if len(to_text(n)) >= self.WHERE_MIN}
        if not names:
            return node, []
        return substitute(node, dict[E.Node, E.Node](names)), definitions(names)

    @cached_property
    def _taken(self) -> set[str]:
        """The names a `where` name must not take."""
        return set(self.program_names) | {self.output_name} | \
            ({self.upstream_name} if self.upstream_name else set())

    @cached_property
    def _names(self):
        from .program_names import Names
        return Names(self.typed)

    # -- access ------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Derivative:
        return self.derivatives[name]

    @property
    def output_shape(self) -> E.Shape:
        """The output's IR shape (rows, cols); (1, 1) for a scalar."""
        return self.output.shape

    def adjoint_form(self, name: str) -> E.Node:
        """The derivative of `name` back in adjoint (denominator) form, for checking."""
        return from_layout(self.derivatives[name].node, self.layout, self.adjoint_upstream)

    def checked_form(self, name: str) -> E.Node:
        """The adjoint form of `name`'s derivative as the checker compares it: for a
        structured variable in the entries convention, the projected gradient it implies
        (off-diagonal entries halved), whose pairing <P, V> with a structured move V is
        the sum over the independent entries of dS_ij times the formula's entry ij."""
        node = self.adjoint_form(name)
        kind = structures(self.onehot).get(name)
        if kind is None:
            return node
        return as_projected(node, kind, self.convention)

    @cached_property
    def steps(self) -> list[Step]:
        """The adjoint equation of every named intermediate and input, in reverse program
        order, written in terms of the named intermediates (empty for one statement)."""
        if len(self.typed.statements) < 2:
            return []
        return program_steps(self)

    # -- spellings ---------------------------------------------------------------------
    @cached_property
    def python_names(self) -> dict[str, str]:
        """Names spelled otherwise in Python (`{"lambda": "lambda_"}`)."""
        names = list(self.inputs) + ([self.upstream_name] if self.upstream_name else []) + \
            list(self.typed.intermediates)
        taken = set(names)
        out = {}
        for n in names:
            p = python_name(n)
            while p != n and p in taken:      # lambda_ may already be the user's own name
                p += "_"
            if p != n:
                out[n] = p
                taken.add(p)
        return out

    @cached_property
    def dim_sources(self) -> dict[E.Dim, str]:
        """A Python expression for the size of each symbolic dimension."""
        src: dict[E.Dim, str] = {}
        vars_ = list(self.inputs.values()) + ([self.upstream] if self.upstream else [])
        for v in vars_:
            py = python_name(v.name)
            r, c = v.shape[:2]
            two_d = v.name in self.keep_2d
            for axis, d in enumerate(v.shape):
                if not isinstance(d, str) or d in src:
                    continue
                if two_d or len(v.shape) != 2:
                    src[d] = f"{py}.shape[{axis}]"
                elif r != 1 and c != 1:
                    src[d] = f"{py}.shape[{axis}]"
                elif (r, c) != (1, 1):
                    src[d] = f"{py}.shape[0]"
        return src

    @cached_property
    def _printers(self) -> dict:
        """One printer per spelling for every formula of this derivation, so that what
        the formulas share is printed once (the 400 derivatives of tr(A1*...*A400) read
        the same 400 transposes). The NumPy printer is shared when the sizes of the
        variables give every dimension a formula can name (as they do unless a dimension
        is only an intermediate's); else each formula gets its own (see _numpy)."""
        named = list(self.inputs.values()) + list(self.typed.intermediates.values()) + \
            ([self.upstream] if self.upstream is not None else [])
        dims = {d for v in named for d in v.shape if isinstance(d, str)}
        numpy = NumpyPrinter(self.keep_2d, self.python_names, self.dim_sources) \
            if dims <= set(self.dim_sources) else None
        return {"text": TextPrinter(), "latex": LatexPrinter(self._latex_style),
                "numpy": numpy}

    def _numpy(self, node: E.Node, result_2d: bool = False) -> str:
        p = self._printers["numpy"]
        if p is not None:
            return p.finish(p.doprint(node), node.shape, result_2d).text
        return to_numpy(node, keep_2d=self.keep_2d, python_names=self.python_names,
                        dim_sources=self.dim_sources, result_2d=result_2d)

    def _lhs(self, name: str) -> str:
        top = "L" if not self.is_scalar else self.output_name
        return f"d{top}/d{name}"

    def _lhs_latex(self, name: str) -> str:
        return LatexPrinter(self._latex_style).partial(self._loss, name)

    @property
    def _loss_clashes(self) -> bool:
        """Whether the program has an L of its own (seed 001's L bilinear forms), which
        the abstract loss L of dL/dY must be told apart from."""
        return "L" in self.typed.dim_names or "L" in self.typed.inputs

    @property
    def _loss(self) -> str:
        """The scalar every derivative is of: the output, or the abstract loss L."""
        return self.output_name if self.is_scalar else "L"

    def _shape_text(self, shape) -> str:
        if len(shape) != 2:
            return " x ".join(map(str, shape))
        r, c = shape
        if (r, c) == (1, 1):
            return "scalar"
        return f"{r} x {c}"

    def _inlined(self, steps: bool, spellings: int = 1) -> str | None:
        """None if the formulas in terms of the inputs fit OUTPUT_LIMIT (beside the steps,
        if `steps`), else the notice that stands for them after the steps; raises a
        LimitError when the output does not fit even so. `spellings`: how many times the
        output writes each formula."""
        step_terms = output_terms(st.node for st in self.steps) if steps else 0
        inlined = output_terms(d.node for d in self.derivatives.values())
        if (step_terms + inlined) * spellings <= OUTPUT_LIMIT:
            return None
        if steps and self.steps and step_terms * spellings <= OUTPUT_LIMIT:
            return (f"in terms of the inputs: omitted, {inlined * spellings:,} terms written "
                    f"out (more than matcalc.derivation.OUTPUT_LIMIT = {OUTPUT_LIMIT:,})")
        refuse_output((step_terms + inlined) * spellings,
                      not steps and len(self.typed.statements) > 1)
        return None                     # not reached: refuse_output raised

    def text(self, steps: bool = False) -> str:
        """The derivatives as text, one `dL/dX = ...` line each after a header naming
        the layout (and the adjoint equations of a program first if `steps`, the
        derivatives then inlined: the steps are where the program's names are used)."""
        lines = [f"# layout: {self.layout}", inputs_comment(self.typed),
                 *describe(self.onehot, self.convention)]
        if self.upstream is not None:
            loss = "L there an abstract scalar loss, not the program's L" if \
                self._loss_clashes else "L an abstract scalar loss"
            lines.append(f"# {self.upstream_name} = dL/d{self.output_name} "
                         f"({self._shape_text(self.upstream.shape)}), {loss}")
        if self._has_indices(steps):
            lines.append(f"# {SUMMATION}")
        omitted = self._inlined(steps)
        if steps and self.steps:
            top = "L" if not self.is_scalar else self.output_name
            lines.append(f"# steps, in reverse program order; dv stands for d{top}/dv")
            for st in self.steps:
                lines.append(f"{st.name}{free_indices(st.node)} = {st.text}")
            if omitted:
                lines.append(f"# the same, {omitted}")
                return "\n".join(lines)
            lines.append("# the same, inlined")
        inlined = steps and self.steps     # after the steps: the self-contained formulas
        from .naming import common_where
        wheres = [{} if inlined else d.where_text for d in self.derivatives.values()]
        once = common_where(wheres)

        def where_lines(where: dict[str, str], indent: str) -> None:
            for k, (n, definition) in enumerate(where.items()):
                lines.append(f"{indent}{'where' if k == 0 else '     '} {n} = {definition}")
        for (name, d), where in zip(self.derivatives.items(), wheres):
            text = self._printers["text"].doprint(_printable(d.node)).text if inlined \
                else d.text
            lines.append(f"{self._lhs(name)}{free_indices(d.node)} = {text}")
            if once is None:
                where_lines(where, "  ")
        if once:                    # the same names in every formula: defined once
            where_lines(once, "")
        if not self.derivatives:
            lines.append("# no variables: nothing to differentiate")
        return "\n".join(lines)

    def _has_indices(self, steps: bool) -> bool:
        """Whether a formula printed is in index notation (a Contract survived)."""
        nodes = [d.node for d in self.derivatives.values()]
        if steps:
            nodes += [st.node for st in self.steps]
        return any(isinstance(n, E.Contract) for n in E.walk_all(nodes))

    def latex_style(self, **options: Any) -> LatexStyle:
        """The LaTeX style of `options` (see `printing.latex.latex_style`) with what this
        derivation knows: the upstream dY stands for ∂L/∂Y, a step's dz for ∂J/∂z, and the
        program's names."""
        adjoints = []
        if self.upstream_name:
            adjoints.append((self.upstream_name, "L", self.output_name))
        if len(self.typed.statements) > 1:
            adjoints += [(adj, self._loss, of) for of, adj in adjoint_names(self).items()]
        return latex_style(adjoints=tuple(adjoints), program_names=self.program_names,
                           **options)

    @property
    def program_names(self) -> tuple[str, ...]:
        """The inputs and named intermediates of the program."""
        return (*self.inputs, *self.typed.intermediates)

    @cached_property
    def _latex_style(self):
        """The default style, made once for every Derivative and Step."""
        return self.latex_style()

    def latex(self, standalone: bool = False, steps: bool = False, transpose: str = "top",
              numbered: str = "subscript", upstream: str = "fraction",
              shapes: bool = False, notes: bool = False) -> str:
        """An align* block for notes, one equation per variable (a whole document if
        `standalone`): the adjoint equations of a program first if `steps`, each variable's
        shape first if `shapes` (the inputs, then the named intermediates the formulas
        use, then the upstream gradient), the layout and assumptions as a visible
        paragraph if `notes` (they are always `%` comments). `transpose` "top" or "T"
        (A^\\top, A^T); `numbered` "subscript" or "superscript" (W_1, W^{(1)}); `upstream`
        "fraction" or "bar"
        (the upstream dY as \\frac{\\partial L}{\\partial Y} or \\bar{Y})."""
        p = tex.LatexPrinter(self.latex_style(transpose=transpose, numbered=numbered,
                                              upstream=upstream, shapes=shapes, notes=notes))
        omitted = self._inlined(steps)
        steps = self.steps if steps else []

        def formula(node: E.Node) -> str:
            return p.doprint(_printable(node)).text

        said = [f"layout: {self.layout}"] + [a.removeprefix("# ") for a in
                                              describe(self.onehot, self.convention)]
        if self._has_indices(bool(steps)):
            said.append(SUMMATION)
        if omitted:
            said.append(f"the derivatives {omitted}; the steps give them")
        shown = [tex.text_mode(n) for n in said]
        if self.upstream is not None:
            up = p.spell(cast(str, self.upstream_name)).text
            other = ", not the program's L" if self._loss_clashes else ""
            said.append(f"{up} is the upstream gradient "
                        f"({self._shape_text(self.upstream.shape)}) of a scalar loss L{other}")
            shown.append(f"${up} \\in {tex.shape_latex(tuple(self.upstream.shape), p)}$ is the upstream "
                         f"gradient of a scalar loss $L${other}")
        rows = []
        if p.style.shapes:
            named = {st.of for st in steps}            # intermediates, in program order
            if not omitted and not steps:              # those the named formulas use
                named |= {v.name for d in self.derivatives.values()
                          for v in E.variables(d.shown)}
            vars_ = list(self.inputs.values()) + [v for n, v in self.typed.intermediates.items()
                                                  if n in named and n not in self.inputs]
            vars_ += [self.upstream] if self.upstream is not None else []
            rows += [f"{p.spell(v.name).text} &\\in {tex.shape_latex(v.shape, p)}"
                     for v in vars_]
        rows += [f"{p.spell(st.name).text}{free_indices(st.node, True)} &= {formula(st.node)}"
                 for st in steps]
        if not omitted:
            if steps:
                rows.append(tex.intertext("and in terms of the inputs:"))
            from .naming import common_where
            wheres = [{} if steps else {v.name: formula(df) for v, df in d.where}
                      for d in self.derivatives.values()]
            once = common_where(wheres)
            for (n, d), where in zip(self.derivatives.items(), wheres):
                rows.append(f"{p.partial(self._loss, n)}{free_indices(d.node, True)} &= "
                            f"{formula(d.node if steps else d.shown)}")
                rows += [] if once is not None else tex.where_row(where, p)
            rows += tex.where_row(once or {}, p)
        if upstream == "bar" and steps:                 # what the bars mean
            rows.append(f"&\\text{{where }} \\bar{{v}} = {p.partial(self._loss, 'v')}")
        elif upstream == "bar" and self.upstream is not None:
            rows.append(f"&\\text{{where }} {p.spell(cast(str, self.upstream_name)).text} = "
                        f"{p.partial('L', self.output_name)}")
        body = tex.comments(said) + (tex.notes_paragraph(shown) if notes else "") \
            + tex.align(rows)
        return tex.standalone(body) if standalone else body

    def _repr_latex_(self) -> str:
        """Jupyter's display: the equations in an aligned block."""
        self._inlined(False)
        rows = [f"{self._lhs_latex(n)} &= {d.latex}" for n, d in self.derivatives.items()]
        return "$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$"

    def numpy_code(self, steps: bool = False) -> str:
        """Python statements `d_X = ...` computing every derivative with NumPy."""
        lines = [f"# layout: {self.layout}", *describe(self.onehot, self.convention)]
        omitted = self._inlined(steps)
        if steps and self.steps:
            for st in self.steps:
                lines.append(f"{python_name(st.name)} = {st.numpy}")
            if omitted:
                lines.append(f"# the derivatives {omitted}; the steps above compute them")
                return "\n".join(lines)
        for name, d in self.derivatives.items():
            lines.append(f"d_{python_name(name)} = {d.numpy}")
        return "\n".join(lines)

    # -- verification --------------------------------------------------------------------
    def check(self, seed: int = 0, deadline: float | None = None) -> CheckReport:
        """Finite-difference report for every derivative (see matcalc.check), the steps
        of a program included, all within one time limit (`deadline`, a
        matcalc.check.clock(); by default matcalc.check.TIME_LIMIT from now)."""
        # the checker (NumPy): loaded when a check is asked for, never at start-up
        from .check import CUT_SHORT, CheckReport, VarCheck, check_gradients, clock, deadline_after
        deadline = deadline if deadline is not None else deadline_after()
        grads = {n: self.checked_form(n) for n in self.derivatives}
        report = check_gradients(self.output, grads, self.adjoint_upstream, seed=seed,
                                 labels=self.onehot, deadline=deadline)
        if not self.steps:
            return report
        results = dict(report.results)
        kinds = structures(self.onehot)
        for label, fn, step_grads, tied in step_checks(self):
            step_grads = {n: as_projected(g, kinds[n], self.convention) if n in kinds else g
                          for n, g in step_grads.items()}
            through = " (through every step)" if label == "inputs" else ""
            if clock() > deadline:
                r = {name: VarCheck(name, math.nan, False, CUT_SHORT) for name in step_grads}
            else:
                r = check_gradients(fn, step_grads, self.adjoint_upstream, seed=seed,
                                    labels=self.onehot, tied=tied,
                                    deadline=deadline).results
            for name, res in r.items():
                key = f"step d{name}{through}"
                results[key] = replace(res, name=key)
        return CheckReport(results, all(r.ok for r in results.values()), report.dims)

    def verify_claim(self, text: str, seed: int = 0) -> ClaimResult:
        """Check a hand-derived `NAME = FORMULA` (see matcalc.claims); returns a ClaimResult."""
        return verify_claim(self, text, seed=seed)

    def __repr__(self) -> str:
        return f"<Derivation of {self.output_name} ({self.layout}): " + \
            ", ".join(f"{n} = {d.text}" for n, d in self.derivatives.items()) + ">"

    # -- code generation (the base's compile imports the module) --------------------------
    def codegen(self, target: str = "numpy") -> str:
        """The source of a module with forward, gradient and value_and_gradient (SPEC 5);
        `target` "torch" or "jax" gives an autograd.Function or a custom_vjp instead."""
        return super().codegen(target)

    def module_name(self) -> str:
        return f"matcalc_generated_{python_name(self.output_name)}"
