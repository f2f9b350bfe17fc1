"""Jacobians, Hessians and Hessian-vector products: the linear map of a VJP in its upstream.

Reverse mode already knows every first derivative, as a map: the VJP `G(U)` of an output in
its upstream `U` (the rule table, in adjoint form) is linear in `U`. So a Jacobian is not a
new derivation but a reading of `G`:

- its transpose, the JVP `dX ↦ J(dX)`, is the VJP of `G` in `U` (reverse mode over a
  linear map transposes it, as jax's `linear_transpose` does);
- for vectors, a structural pass over the canonical `G(U)` recognises the matrix `M` with
  `G(U) = M U`: `A*U` gives `A`, `a .* U` gives `diag(a)`, `(a'U) b` gives `b a'`, and a
  matrix linear in U read as outer products, `(C .* (U b')) q`, gives
  `diag(C (b .* q))`. `M` is the Jacobian in denominator layout, `M'` in numerator
  layout. The pass is exact or gives up (then the index form is the answer): it asks
  whether a node depends on U of nodes it builds as it goes, too (`tensor.depends_on`);
- for matrices, the JVP's terms `L dX R` and `L dX' R` (or their transposes) give the
  Kronecker form `d vec(Y)/d vec(X) = Σ (R' ⊗ L) [K]` (column-major vec, K the
  commutation matrix);
- always, and exactly, the index form (`matcalc.tensor`): one einsum over the factors of
  `G`, which also gives NumPy code for the full tensor.

The Hessian is the Jacobian of the gradient `g(x)` (itself a formula in the IR, so the same
reading applies), and the Hessian-vector product is the VJP of the gradient along `v`:
`H v = ∇<g(x), v>`, never forming `H`. The gradient is canonical, so it is already in the
form that differentiates well: the simplifier writes `exp(u) ./ (1 + exp(u))` as
`sigmoid(u)`, whose derivative is `s .* (1 - s)`.

Layouts (SPEC section 2): numerator puts the output's axes first, denominator the
variable's, mixed is denominator for a scalar output and numerator otherwise. Scalar by
matrix follows the table (numerator: the transposed shape); a 2-D result in denominator
layout is always the transpose of its numerator form, and a tensor with one scalar side
has its axes reversed there, as a gradient's. Tensors list their axes in that order in
NumPy; in index notation ∂Y_ij/∂X_kl names the output's axes i, j and the variable's
k, l in every layout (a tensor's go on: ∂C_ijk/∂A_lmn). A program in index notation has
its results in index notation (matcalc.tensor reads through its contractions). A
Hessian block d²f/da db is the Jacobian of ∇_a f by b (its output axes are a's); a
Hessian-vector product has the variable's shape in every layout.

Canonical spelling, beyond the simplifier's: a sum lists a term before its transpose
(`A + A'`); a symmetric Hessian takes whichever of its two forms has fewer transposes;
softmax and elementwise functions that occur more than once are named (`p` for softmax,
`s` for sigmoid, `t` for tanh, `e` for exp, or the program's own name for that value)
and printed with `where`; products are multiplied out where that shortens the formula
counting named parts once (`diag(p) - p*p'`). The logistic loss keeps its exact Hessian
`X'*diag(y.^2 .* s .* (1 - s))*X` unless the labels are declared -1/+1 (`signs`, see
matcalc.assumptions): then y.^2 = 1 and it is `X'*diag(s .* (1 - s))*X`.
"""
from __future__ import annotations

from functools import cached_property

from . import expr as E
from .assumptions import apply_assumptions, describe
from .derivation import SUMMATION, Derivation, output_terms, python_name, refuse_output
from .differentiate import vjp
from .errors import OptionError
from .expr import substitute
from .layout import flip
from .matrix_reading import as_column, clearer, matrix_of, pair_transposes
from .naming import choose_names, common_where, definitions, fresh, fresh_name
from .printing import latex as tex
from .printing import to_text
from .printing.index import (
    FREE_NAMES,
    INDEX_NAMES,
    einsum_code,
    free_indices,
    index_latex,
    index_text,
    kron_latex,
    kron_text,
)
from .printing.json import JsonPrinter, json_shape
from .printing.latex import LatexPrinter, latex_style
from .result import Result
from .simplify import simplify
from .structure import as_projected, structures
from .structure import gradient as structure_gradient
from .tensor import Kron, Tensor, axes, einsum_node, index_form, kron_form

MODES = ("jacobian", "hessian", "hvp")
FREE_LETTERS = "ijklmnpqrstuvw"      # the free indices of a tensor-valued result, in order


def free_letters(n_out: int, n_in: int) -> tuple[str, str]:
    """The indices of ∂Y/∂X's axes, (output's, variable's): i, j and k, l when both are
    at most matrices (∂Y_ij/∂X_kl); else the letters i, j, k, l, m, n, p, ... in order
    (∂C_ijk/∂A_lmn)."""
    if n_out <= 2 and n_in <= 2:
        return "ij"[:n_out], "kl"[:n_in]
    return FREE_LETTERS[:n_out], FREE_LETTERS[n_out:n_out + n_in]


def derive_higher(program, typed, wrt, layout, mode, onehot_labels=None,
                  convention: str = "projected") -> HigherDerivation:
    """Jacobians (`mode="jacobian"`), Hessians ("hessian") or Hessian-vector products
    ("hvp") of the program's output with respect to `wrt`, in `layout`; second
    derivatives with respect to a structured variable in `convention`."""
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    return HigherDerivation(program, typed, list(wrt), layout, mode, onehot_labels or {},
                            convention)


# ---- one derivative ------------------------------------------------------------------------

class HigherDerivative:
    """One Jacobian, Hessian block or Hessian-vector product, in one layout.

    `node`: the matrix (IR) when the result has at most two non-singleton axes, else None;
    `jvp`: the linear map dX ↦ J(dX) (its argument `dvar`); `tensor`: the exact index form
    (`Tensor`, free indices i, j for the output, k, l for the variable); `kron`: the
    Kronecker form in this layout or None; `axis_letters`: the result's axes as NumPy
    returns them. Spellings (`text`, `latex`, `numpy`, `index`, `kron_text`, `map`) use the names
    in `where` for repeated subexpressions."""

    def __init__(self, owner: HigherDerivation, key: str, kind: str, of: E.Node,
                 wrt: E.Var, lhs: tuple[str, str, str], symmetric: bool = False):
        self.owner = owner
        self.name = key
        self.kind = kind
        self.of = of                # the differentiated node (output, or a gradient)
        self.wrt = wrt
        self.lhs_text, self.lhs_latex, self.index_lhs = lhs
        self.symmetric = symmetric
        self.node: E.Node | None = None
        self.jvp: E.Node | None = None
        self.dvar: E.Var | None = None
        self.tensor: Tensor | None = None
        self.kron: Kron | None = None
        self.names: dict[E.Node, E.Var] = {}

    # -- the derivation ----------------------------------------------------------------
    def build(self) -> HigherDerivative:
        owner = self.owner
        of, x = self.of, self.wrt
        u = E.Var(fresh_name("U", owner.taken), of.shape)
        dvar = E.Var(fresh_name("d" + x.name, owner.taken), x.shape)
        labels = owner.onehot                              # what the user assumes
        g = apply_assumptions(simplify(vjp(of, u, [x])[x]), labels)   # G(U): linear in U
        kind = structures(labels).get(x.name)
        if kind is not None:            # a structured X: the gradient's map, again linear in U
            g = structure_gradient(g, kind, owner.convention, labels, x)
        jvp = apply_assumptions(simplify(vjp(g, dvar, [u])[u]), labels)  # J(dX) = G's transpose
        self.dvar, self.jvp = dvar, pair_transposes(jvp)
        out_ax, in_ax = axes(of.shape), axes(x.shape)
        if len(out_ax) + len(in_ax) > E.MAX_ORDER:
            raise OptionError(f"--{self.kind}: {self.lhs_text} would be a tensor of order "
                             f"{len(out_ax) + len(in_ax)}, over matcalc.expr.MAX_ORDER = "
                             f"{E.MAX_ORDER}; the gradients (backprop) have the variables' "
                             f"orders, and --hvp gives H v without forming H")
        self.out_letters, self.in_letters = free_letters(len(out_ax), len(in_ax))
        self.tensor = index_form(g, u, tuple(self.in_letters), tuple(self.out_letters))
        self.n_out, self.n_in = len(out_ax), len(in_ax)
        layout = owner.layout
        self.numerator_form = layout == "numerator" or (layout == "mixed" and self.n_out > 0)
        # a program in index notation: its results are read in index notation too
        self.tensorial = any(len(n.shape) != 2 or isinstance(n, E.Contract)
                             for n in E.walk_all((g, jvp)))
        one_sided = self.n_out == 0 or self.n_in == 0
        if self.is_matrix or (self.tensorial and one_sided):
            num, den = self._matrices(g, u, jvp, dvar)
            self.node = num if self.numerator_form else den
            if self.node is None and self.tensorial:     # no matrix reading: the einsum
                self.node = einsum_node(self.tensor, self.axis_letters)
            if self.node is not None:
                self.node = pair_transposes(self.node)
        elif not self.tensorial:                         # vec forms are of matrices
            kron = kron_form(jvp, dvar)
            if kron is not None and not self.numerator_form and not self.symmetric:
                kron = kron.transposed()
            self.kron = kron
        roots = [self.node] if self.node is not None else \
            [jvp] + [f.node for t in self.tensor.terms for f in t.factors]
        # a name never reads as one of the index form's indices, nor, in a program in
        # index notation, as an index of the printed formulas (p[i,j] = softmax(B[p]...))
        indices = {i for t in self.tensor.terms for f in t.factors for i in f.idx}
        if self.tensorial:
            indices |= INDEX_NAMES
        self.names = choose_names([r for r in roots if r is not None],
                                  owner.taken | indices | set(self.tensor.free),
                                  owner.user_names)
        return self

    @property
    def is_matrix(self) -> bool:
        return self.n_out + self.n_in <= 2

    def _matrices(self, g, u, jvp, dvar) -> tuple[E.Node | None, E.Node | None]:
        """(numerator, denominator) 2-D forms (see the module docstring)."""
        if self.n_in == 0:                                  # dY/dx, x scalar: J(1)
            d = simplify(substitute(jvp, {dvar: E.Const(1)}))
            num = simplify(d.T) if (self.n_out == 1 and d.shape[0] == 1) else d
            return num, simplify(flip(num))
        if self.n_out == 0:                                 # df/dX: G(1), the gradient
            a = simplify(substitute(g, {u: E.Const(1)}))
            den = simplify(a.T) if (self.n_in == 1 and a.shape[0] == 1) else a
            return simplify(flip(den)), den
        num = matrix_of(*as_column(jvp, dvar))
        den = matrix_of(*as_column(g, u))
        if num is None and den is None:
            return None, None
        num = num if num is not None else simplify(den.T)
        den = den if den is not None else simplify(num.T)
        if self.symmetric:                                  # H = H': the clearer spelling
            return (best := clearer(num, den)), best
        return num, den

    # -- shapes and axes -----------------------------------------------------------------
    @property
    def axis_letters(self) -> tuple[str, ...]:
        """The index of each axis of the result as returned (NumPy order)."""
        out, inn = tuple(self.out_letters), tuple(self.in_letters)
        if self.kind == "hvp":
            return inn
        if not out or not inn:          # one side scalar: the other's axes, reversed in
            num = out or inn[::-1]      # the layout where a gradient is (as a 2-D form
            return num if self.numerator_form else num[::-1]     # and its transpose)
        return out + inn if self.numerator_form else inn + out

    @property
    def dims(self) -> list:
        sizes = dict(self.tensor.sizes) if self.tensor is not None else {}
        if self.kind == "hvp":
            return json_shape(self.node.shape)
        return [sizes[i] for i in self.axis_letters]

    @property
    def shape(self) -> list:
        """The result's shape as JSON writes it (SPEC section 4)."""
        if self.node is not None:
            return json_shape(self.node.shape)
        return self.dims

    # -- spellings -----------------------------------------------------------------------
    def _rename(self, node: E.Node, names: dict | None = None) -> E.Node:
        names = self.names if names is None else names
        return substitute(node, names) if names else node

    def _ordered_names(self, names: dict | None = None) -> list[tuple[E.Var, E.Node]]:
        """(name, definition) pairs, each definition using only earlier names."""
        return definitions(self.names if names is None else names)

    @cached_property
    def _numpy_parts(self) -> tuple[list[tuple[str, str]], str]:
        """([(python name, code)], body): the named subexpressions, and for an einsum the
        factors it uses more than once (`t1 = np.linalg.inv(X)`), then the result."""
        owner = self.owner
        names = dict(self.names)
        if self.node is None:
            uses: dict[E.Node, int] = {}
            for term in self.tensor.terms:
                for f in term.factors:
                    uses[f.node] = uses.get(f.node, 0) + 1
            taken = owner.taken | {v.name for v in names.values()}
            for n, k in uses.items():
                if k > 1 and n not in names and not isinstance(
                        n, (E.Var, E.Identity, E.Ones, E.Const, E.DimValue, E.Transpose)):
                    v = E.Var(fresh(("t",), taken), n.shape)
                    taken.add(v.name)
                    names[n] = v
        pairs = [(python_name(v.name), owner.base._numpy(d))
                 for v, d in self._ordered_names(names)]
        if self.node is not None:
            body = owner.base._numpy(self._rename(self.node, names))
        else:
            body = einsum_code(self.tensor, self.axis_letters,
                               lambda n: owner.base._numpy(self._rename(n, names)),
                               owner.dim_code)
        return pairs, body

    def printed_nodes(self) -> list[E.Node]:
        """What its spellings write out: the matrix, or the linear map and the factors of
        the index form, and the definitions of the named subexpressions."""
        if self.node is not None:
            main = [self.node]
        else:
            main = ([self.jvp] if self.jvp is not None else []) + \
                [f.node for t in self.tensor.terms for f in t.factors]
        return [self._rename(n) for n in main] + [d for _, d in self._ordered_names()]

    @cached_property
    def where(self) -> dict[str, str]:
        return {v.name: to_text(d) for v, d in self._ordered_names()}

    @cached_property
    def where_latex(self) -> dict[str, str]:
        return self._where_tex(self.owner.latex_printer())

    def _where_tex(self, p) -> dict[str, str]:
        """The named subexpressions' definitions, printed by the LatexPrinter `p`."""
        return {v.name: p.doprint(d).text for v, d in self._ordered_names()}

    @cached_property
    def map(self) -> str | None:
        """`dX ↦ J(dX)` in text (None for a Hessian-vector product)."""
        if self.jvp is None:
            return None
        return f"{self.dvar.name} ↦ {to_text(self._rename(self.jvp))}"

    @cached_property
    def map_latex(self) -> str | None:
        return self._map_tex(self.owner.latex_printer())

    def _map_tex(self, p) -> str | None:
        """`\\mathrm{d}X \\mapsto J(\\mathrm{d}X)` (None for a Hessian-vector product)."""
        if self.jvp is None:
            return None
        return f"{p.spell(self.dvar.name).text} \\mapsto {p.doprint(self._rename(self.jvp)).text}"

    @cached_property
    def index(self) -> str | None:
        if self.tensor is None:
            return None
        return f"{self.index_lhs} = {index_text(self.tensor, self.names)}"

    @cached_property
    def index_latex(self) -> str | None:
        if self.tensor is None:
            return None
        p = self.owner.latex_printer()
        return f"{self.owner.index_lhs_latex(self, p)} = {self._index_tex(p)}"

    def _index_tex(self, p) -> str:
        """The right-hand side of the index form, in the style of the LatexPrinter `p`."""
        return index_latex(self.tensor, self.names, p.style)

    @cached_property
    def kron_text(self) -> str | None:
        if self.kron is None:
            return None
        return kron_text(self.kron, self.names)

    @cached_property
    def kron_latex(self) -> str | None:
        return self._kron_tex(self.owner.latex_printer())

    def _kron_tex(self, p) -> str | None:
        if self.kron is None:
            return None
        return kron_latex(self.kron, self.names, p.style)

    @cached_property
    def text(self) -> str:
        """The matrix formula; for a higher-order tensor, its linear map `dX ↦ ...`;
        for a tensor without either, the index form."""
        if self.node is not None:
            return to_text(self._rename(self.node))
        return self.map if self.map is not None else self.index

    @cached_property
    def latex(self) -> str:
        return self._formula_tex(self.owner.latex_printer())

    def _formula_tex(self, p) -> str:
        """The matrix formula; else the linear map; else the index form (as `text`)."""
        if self.node is not None:
            return p.doprint(self._rename(self.node)).text
        if self.jvp is not None:
            return self._map_tex(p)
        return f"{self.owner.index_lhs_latex(self, p)} = {self._index_tex(p)}"

    @cached_property
    def numpy(self) -> str:
        """One self-contained NumPy expression for the full result (a tensor in the
        layout's axis order), named subexpressions bound first with `:=`."""
        pairs, body = self._numpy_parts
        if not pairs:
            return body
        # eval(code, {"np": np}, values) must work: names are bound by `:=` in order
        binds = ", ".join(f"{name} := {code}" for name, code in pairs)
        return f"({binds}, {body})[-1]"

    def numpy_lines(self, target: str, bound: dict[str, str] | None = None) -> list[str]:
        """Statements that compute the result into `target`, named subexpressions first
        (except those already in `bound`, name -> code, which it updates)."""
        bound = {} if bound is None else bound
        pairs, body = self._numpy_parts
        lines = []
        for name, code in pairs:
            if bound.get(name) != code:
                lines.append(f"{name} = {code}")
                bound[name] = code
        return lines + [f"{target} = {body}"]

    def to_json(self) -> dict:
        """Its JSON object (the JSON printer's, as in its derivation's `derivatives`)."""
        return JsonPrinter().print(self)

    def to_sympy(self, form: str | None = None, symbols=None):
        """The result as a SymPy matrix expression over the symbols it was derived from:
        the matrix, else the Kronecker form; `form` "matrix", "kron" or "map" (a
        `Lambda(dX, J(dX))`) chooses (see `matcalc.interop.sympy.to_sympy`)."""
        from .interop.sympy_out import to_sympy  # SymPy: an optional extra, loaded when used
        return to_sympy(self, form=form, symbols=symbols)

    def _repr_latex_(self) -> str:
        """Jupyter's display: the result and its named subexpressions, in display style."""
        p = self.owner.latex_printer()
        where = "".join(f", \\quad {p.spell(n).text} = {t}" for n, t in self.where_latex.items())
        return f"$\\displaystyle {self.lhs_latex} = {self.latex}{where}$"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<{self.kind} {self.lhs_text} = {self.text}>"


class HessianVectorProduct(HigherDerivative):
    """(H v)_x = Σ_y d²f/dx dy v_y, as the VJP of the gradient along the direction."""

    def __init__(self, owner, key, node: E.Node, lhs):
        super().__init__(owner, key, "hvp", owner.output, owner.inputs[key], lhs)
        self.node = pair_transposes(node)
        self.out_letters, self.in_letters = free_letters(0, len(axes(node.shape)))
        self.n_out, self.n_in = 0, len(self.in_letters)
        self.numerator_form = False
        tensorial = any(isinstance(n, E.Contract) for n in E.walk(node))
        self.names = choose_names([node], owner.taken | (INDEX_NAMES if tensorial else set()),
                                  owner.user_names)


# ---- the result ----------------------------------------------------------------------------

class HigherDerivation(Result):
    """Jacobians, Hessians or Hessian-vector products of one program's output; a `Result`
    like `Derivation` (`text`, `latex`, `numpy_code`, `to_json`, `check`, `[name]`)."""

    def __init__(self, program: str, typed, wrt: list[str], layout: str, mode: str,
                 onehot: dict[str, str], convention: str = "projected"):
        self.program = program
        self.typed = typed
        self.layout = layout
        self.mode = mode
        self.output = typed.output
        self.output_name = typed.output_name
        self.inputs = typed.inputs
        self.keep_2d = typed.keep_2d
        self.is_scalar = self.output.shape == E.SCALAR
        if mode in ("hessian", "hvp") and not self.is_scalar:
            raise OptionError(f"--{mode} needs a scalar output, and {self.output_name} is "
                              f"{' x '.join(map(str, self.output.shape))}; "
                              "use --jacobian for the derivative of a non-scalar output")
        # the gradients (adjoint form), and the spelling helpers of a gradient derivation
        self.convention = convention
        self.base = Derivation(program, typed, wrt, "denominator", onehot, convention)
        self.taken = set(typed.inputs) | set(typed.intermediates) | {typed.output_name} \
            | set(typed.dim_names) | ({self.base.upstream_name} - {None})
        self.user_names = self._user_names()
        self.gradients: dict[str, E.Node] = {}
        if mode != "jacobian":
            # second derivatives differentiate the exact gradients: an assumption such as
            # y.^2 = 1 holds at the label values only, so it may not be differentiated;
            # it applies to the results (HigherDerivative.build)
            # (a structure holds along every direction a check or a user moves S, so S' = S
            # and the projection of the gradient may be differentiated)
            kept = structures(onehot)
            exact = self.base if kept == onehot else \
                Derivation(program, typed, wrt, "denominator", kept, convention)
            for name in wrt:
                self.gradients[name] = exact.derivatives[name].node
        self.directions: dict[str, E.Var] = {}
        self.derivatives: dict[str, HigherDerivative] = {}
        if mode == "jacobian":
            for name in wrt:
                self.derivatives[name] = HigherDerivative(
                    self, name, "jacobian", self.output, self.inputs[name],
                    self._lhs(name)).build()
        elif mode == "hessian":
            for i, a in enumerate(wrt):
                for b in wrt[i:]:
                    key = a if a == b else f"{a},{b}"
                    self.derivatives[key] = HigherDerivative(
                        self, key, "hessian", self.gradients[a], self.inputs[b],
                        self._lhs(a, b), symmetric=a == b).build()
        else:
            self._hvp(wrt)

    @property
    def onehot(self) -> dict[str, str]:
        """The label assumptions (as Derivation.onehot)."""
        return self.base.onehot

    def _user_names(self) -> dict[E.Node, str]:
        """The program's named intermediates, by their canonical value."""
        out = {}
        for var in self.typed.intermediates.values():
            value = self.typed.inline.get(var)
            if value is not None and var.name != self.output_name:
                out.setdefault(simplify(value), var.name)
        return out

    def _hvp(self, wrt: list[str]) -> None:
        single = len(wrt) == 1
        for name in wrt:
            x = self.inputs[name]
            base = "V" if x.shape[0] != 1 and x.shape[1] != 1 else "v"
            v = E.Var(fresh_name(base if single else f"{base}_{name}", self.taken), x.shape)
            self.taken.add(v.name)
            self.directions[name] = v
        # (H v)_x = ∇_x Σ_y <∇_y f, v_y>   (H symmetric)
        parts: dict[str, list[E.Node]] = {n: [] for n in wrt}
        xs = [self.inputs[n] for n in wrt]
        kinds = structures(self.onehot)
        for y in wrt:
            # <∇_y f, v_y> with the projected gradient: H v is the derivative of the
            # gradient (in its convention) along the structured move v
            grad = as_projected(self.gradients[y], kinds[y], self.convention) \
                if y in kinds else self.gradients[y]
            adj = vjp(grad, self.directions[y], xs)
            for x in xs:
                parts[x.name].append(adj[x])
        for name in wrt:
            ps = parts[name]
            node = simplify(ps[0] if len(ps) == 1 else E.Add(tuple(ps)))
            kind = structures(self.onehot).get(name)
            if kind is not None:        # (H v)_S within the structure, as the gradient
                node = structure_gradient(node, kind, self.convention, self.onehot,
                                          self.inputs[name])
            else:
                node = apply_assumptions(node, structures(self.onehot))
            lhs = ("H*v" if single else f"(H*v)_{name}", self._lhs_latex("hvp", name), "")
            self.derivatives[name] = HessianVectorProduct(self, name, node, lhs)

    # -- names and left-hand sides ---------------------------------------------------------
    def latex_style(self, **options):
        """The LaTeX style of `options` (see `printing.latex.latex_style`); a differential
        dX is written \\mathrm{d}X."""
        differentials = tuple((d.dvar.name, d.wrt.name) for d in self.derivatives.values()
                              if d.dvar is not None)
        return latex_style(differentials=differentials, program_names=self.base.program_names,
                           **options)

    def latex_printer(self, **options):
        return LatexPrinter(self.latex_style(**options))

    def _lhs_latex(self, kind: str, a: str, b: str | None = None, p=None) -> str:
        """∂y/∂a, ∂²f/∂a², ∂²f/∂a ∂b, H v or (H v)_a in LaTeX (by the LatexPrinter `p`)."""
        p = p or LatexPrinter()

        def name(n: str, power: str = "") -> str:       # {W^{(1)}}^2: one superscript each
            tex = p.name(n)
            return ("{" + tex.tex() + "}" if power and tex.sup else tex.tex()) + power
        if kind == "hvp":
            return "H v" if len(self.directions) == 1 else f"(H v)_{{{name(a)}}}"
        if kind == "jacobian":
            return p.partial(self.output_name, a)
        y = name(self.output_name)
        if a == b:
            return f"\\frac{{\\partial^2 {y}}}{{\\partial {name(a, '^2')}}}"
        return f"\\frac{{\\partial^2 {y}}}{{\\partial {name(a)} \\, \\partial {name(b)}}}"

    def _lhs(self, a: str, b: str | None = None, letters: tuple[str, str] | None = None
             ) -> tuple[str, str, str]:
        """(text, LaTeX, index-notation) left-hand sides; `letters`: the indices of the
        output's (or a's) axes and of the variable's (b's), if not `free_letters`."""
        y = self.output_name
        if self.mode == "jacobian":
            out, inn = letters or free_letters(len(axes(self.output.shape)),
                                               len(axes(self.inputs[a].shape)))
            return (f"d{y}/d{a}", self._lhs_latex("jacobian", a),
                    f"∂{y}{_sub(out)}/∂{a}{_sub(inn)}")
        ia, ib = letters or free_letters(len(axes(self.inputs[a].shape)),
                                         len(axes(self.inputs[b].shape)))
        if a == b:
            return (f"d²{y}/d{a}²", self._lhs_latex("hessian", a, b),
                    f"∂²{y}/∂{a}{_sub(ia)}∂{b}{_sub(ib)}")
        return (f"d²{y}/d{a}d{b}", self._lhs_latex("hessian", a, b),
                f"∂²{y}/∂{a}{_sub(ia)}∂{b}{_sub(ib)}")

    def index_lhs_latex(self, d: HigherDerivative, p=None) -> str:
        """∂Y_ij/∂X_kl in LaTeX (a name with its own subscript is grouped: {W_1}_{kl})."""
        p = p or LatexPrinter()

        def sub(name, letters):
            tex = p.name(name).tex()
            if not letters:
                return tex
            return f"{{{tex}}}_{{{letters}}}" if "_" in tex else f"{tex}_{{{letters}}}"
        y = self.output_name
        if d.kind == "jacobian":
            return (f"\\frac{{\\partial {sub(y, d.out_letters)}}}"
                    f"{{\\partial {sub(d.wrt.name, d.in_letters)}}}")
        a, b = self._operands(d)
        return (f"\\frac{{\\partial^2 {p.name(y).tex()}}}{{\\partial {sub(a, d.out_letters)}"
                f" \\, \\partial {sub(b, d.in_letters)}}}")

    @staticmethod
    def _operands(d: HigherDerivative) -> tuple[str, str]:
        """The two variables of a result's key ("X", or "X,A" for a mixed Hessian block)."""
        a, _, b = d.name.partition(",")
        return a, b or a

    def dim_code(self, d) -> str:
        if isinstance(d, int):
            return str(d)
        src = self.base.dim_sources.get(d)
        if src is None:
            raise OptionError(f"the NumPy code needs the size {d}, which no variable gives")
        return src

    # -- access ------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> HigherDerivative:
        return self.derivatives[name]

    # -- spellings -----------------------------------------------------------------------------
    def _no_steps(self, steps: bool, spellings: int = 1) -> None:
        """Refuse --steps, and an output over OUTPUT_LIMIT (`spellings`: how many times
        the output writes each formula)."""
        if steps:
            raise OptionError(f"--steps lists backprop steps; it does not apply to --{self.mode}")
        refuse_output(spellings * output_terms(n for d in self.derivatives.values()
                                               for n in d.printed_nodes()))

    def _axes_comment(self, d: HigherDerivative) -> str:
        """`# dy/dx is n x m: entry [k, i] = ∂y_i/∂x_k`; where the formula is in index
        notation (`dy/dx[i,j] = ...`), in its letters: `entry [i, j] = ∂y_j/∂x_i`."""
        dims = " x ".join(str(x) for x in d.shape) or "scalar"
        letters, what = d.axis_letters, d.index_lhs
        if d.node is not None and free_indices(d._rename(d.node)):
            to = dict(zip(d.axis_letters, FREE_NAMES))
            letters = tuple(to[i] for i in d.axis_letters)
            renamed = ("".join(to[i] for i in d.out_letters),
                       "".join(to[i] for i in d.in_letters))
            what = self._lhs(*self._operands(d), renamed)[2] if d.kind == "hessian" else \
                self._lhs(d.wrt.name, None, renamed)[2]
        entry = ", ".join(letters)
        what = what if d.kind != "hvp" else ""
        return f"# {d.lhs_text} is {dims}" + (f": entry [{entry}] = {what}" if entry else "")

    @property
    def in_index_notation(self) -> bool:
        """Whether some result prints in index notation (a program with tensors)."""
        return any(isinstance(n, E.Contract) for n in E.walk_all(
            root for d in self.derivatives.values() for root in d.printed_nodes()))

    def _header(self) -> list[str]:
        lines = [f"# layout: {self.layout}", *describe(self.onehot, self.convention)]
        if self.mode == "hvp":
            names = ", ".join(v.name for v in self.directions.values())
            lines.append(f"# Hessian-vector product H*v = d/dt ∇{self.output_name}"
                         f"(x + t*v) at t = 0, without forming H; direction {names}")
        elif self.mode == "hessian":
            lines.append(f"# Hessian blocks d²{self.output_name}/da db = d(∇_a "
                         f"{self.output_name})/db: the Jacobian of the gradient")
        if self.in_index_notation:
            lines.append(f"# {SUMMATION}")
        if any(d.node is None for d in self.derivatives.values()):
            lines.append("# tensors: the linear map dX ↦ ..., vec form on column-major vec "
                         "(K vec(A) = vec(A'), the commutation matrix), index form "
                         "(indices only on the right are summed)")
        return lines

    def text(self, steps: bool = False) -> str:
        self._no_steps(steps)
        lines = self._header()
        for d in self.derivatives.values():
            if d.kind != "hvp":
                lines.append(self._axes_comment(d))
            if d.node is not None:
                lines.append(f"{d.lhs_text}{free_indices(d._rename(d.node))} = {d.text}")
            else:
                lines.append(f"{d.lhs_text}: {d.text}")
                if d.kron is not None:
                    lines.append(f"  vec: {d.kron_text}")
                lines.append(f"  index: {d.index}")
            for n, (v, definition) in enumerate(d._ordered_names()):
                lines.append(f"  {'where' if n == 0 else '     '} {v.name}"
                             f"{free_indices(definition)} = {d.where[v.name]}")
        return "\n".join(lines)

    def latex(self, standalone: bool = False, steps: bool = False, transpose: str = "top",
              numbered: str = "subscript", upstream: str = "fraction",
              shapes: bool = False, notes: bool = False) -> str:
        """An align* block (a whole document if `standalone`), with the options of
        `Derivation.latex`: a matrix result as an equation, a tensor as its linear map,
        its vec form and its index form; named subexpressions in one `where` row at the
        end (a row after each result only where two results give one name two values)."""
        self._no_steps(steps)
        p = self.latex_printer(transpose=transpose, numbered=numbered, upstream=upstream,
                               shapes=shapes, notes=notes)
        said = [f"layout: {self.layout}"] + [a.removeprefix("# ")
                                             for a in describe(self.onehot, self.convention)]
        if self.in_index_notation:
            said.append(SUMMATION)
        shown = [tex.text_mode(n) for n in said]
        if self.mode == "hvp":
            directions = ", ".join(p.spell(v.name).text for v in self.directions.values())
            said.append("H v: the Hessian times the direction " + directions)
            shown.append(f"$H v$: the Hessian times the direction ${directions}$")
        rows = []
        if p.style.shapes:
            vars_ = list(self.inputs.values()) + list(self.directions.values())
            rows += [f"{p.spell(v.name).text} &\\in {tex.shape_latex(v.shape, p)}"
                     for v in vars_]
        wheres = [d._where_tex(p) for d in self.derivatives.values()]
        once = common_where(wheres)
        for d, where in zip(self.derivatives.values(), wheres):
            lhs = self._lhs_latex(d.kind, *self._operands(d), p)
            if d.node is not None:
                rows.append(f"{lhs}{free_indices(d._rename(d.node), True)} &= "
                            f"{d._formula_tex(p)}")
            else:
                rows.append(f"{lhs} &: {d._map_tex(p)}")
                if d.kron is not None:
                    rows.append(f"&= {d._kron_tex(p)} "
                                "\\quad \\text{(on $\\operatorname{vec}$, column-major)}")
                rows.append(f"{self.index_lhs_latex(d, p)} &= {d._index_tex(p)}")
            rows += [] if once is not None else tex.where_row(where, p)
        rows += tex.where_row(once or {}, p)
        body = tex.comments(said) + (tex.notes_paragraph(shown) if notes else "") \
            + tex.align(rows)
        return tex.standalone(body) if standalone else body

    def _repr_latex_(self) -> str:
        """Jupyter's display: the results in an aligned block."""
        self._no_steps(False)
        rows = [f"{d.lhs_latex} &= {d.latex}" for d in self.derivatives.values()]
        return "$\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}$"

    def _target(self, d: HigherDerivative) -> str:
        key = "_".join(python_name(n) for n in d.name.split(","))
        return {"jacobian": "d_", "hessian": "d2_", "hvp": "hvp_"}[d.kind] + key

    def numpy_code(self, steps: bool = False) -> str:
        self._no_steps(steps)
        lines = [f"# layout: {self.layout}", *describe(self.onehot, self.convention)]
        bound: dict[str, str] = {}
        for d in self.derivatives.values():
            lines += d.numpy_lines(self._target(d), bound)
        return "\n".join(lines)

    # -- generated code (the base's compile imports the module) --------------------------------
    def codegen(self, target: str = "numpy") -> str:
        """An importable module: `forward(...)` and `jacobian`/`hessian`/`hvp(...)`
        returning a dict of results keyed like `derivatives` (matcalc.codegen)."""
        return super().codegen(target)

    def module_name(self) -> str:
        return f"matcalc_{self.mode}_{python_name(self.output_name)}"

    # -- verification ----------------------------------------------------------------------------
    def check(self, seed: int = 0, deadline: float | None = None):
        """Finite-difference report: each result against directional differences of the
        output (Jacobians) or of the gradient (Hessians, H v), and every other form of it
        (matrix, linear map, vec, index, NumPy code) against the first (see
        matcalc.check_higher)."""
        # the checker (NumPy): loaded when a check is asked for, never at start-up
        from .check_higher import check_higher
        return check_higher(self, seed, deadline)

    def verify_claim(self, text: str, seed: int = 0):
        raise OptionError(f"--claim checks gradients; it does not apply to --{self.mode}")

    def __repr__(self) -> str:
        return f"<{self.mode} of {self.output_name} ({self.layout}): " + \
            ", ".join(f"{d.lhs_text} = {d.text}" for d in self.derivatives.values()) + ">"


def _sub(letters: str) -> str:
    return f"_{letters}" if letters else ""
