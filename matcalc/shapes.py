"""AST -> IR: the types of a program's values, inferred, and its IR built with them.

Dimensions are unified like type variables in a type checker (`matcalc.dimensions`): every
undeclared dimension starts as a fresh `DimVar`, each operation states its constraint once
(`_unify`), and a failed constraint becomes a `ShapeError` that names the operation, both
operands as the user wrote them and both shapes, with what to write instead
(`matcalc.suggestions`). Whether a value is a scalar, a row, a column or a matrix is
decided structurally (a dimension is the literal 1 or it is not), so broadcasting is
decided during inference and made explicit as `Broadcast` nodes when the IR is built.

Two passes: `_Infer` walks the AST once, unifying; then `build_ir` (`matcalc.build_ir`)
walks it again with every dimension resolved (unbound ones named n, m, p, ... avoiding
names in use) and builds interned IR nodes. The stage's door is `infer_shapes`; the
`--shape` declarations it takes are read here (`parse_shape_option`), under the limits.
"""
from __future__ import annotations

import re

from . import expr as E
from . import ops
from . import syntax as S
from .build_ir import Typed, _integer, _is_literal_one, build_ir
from .dimensions import (
    DIM_POOL,
    GREEK,
    SCALAR_T,
    Declaration,
    Dimish,
    DimVar,
    TensorType,
    Type,
    _dim_names,
    _find,
    _is_one,
    _Mismatch,
    _unify,
    default_kind,
)
from .errors import (
    Fix,
    LimitError,
    MatcalcError,
    NameError_,
    OptionError,
    ShapeError,
    Span,
    line_and_column,
)
from .suggestions import Suggestions

# the names callers import from this stage (some are defined in dimensions.py, build_ir.py)
__all__ = ["DIM_POOL", "GREEK", "MAX_DIM_DIGITS", "MAX_KIND_CHECKS", "MAX_MATRIX_POWER",
           "MAX_VARIABLES", "SCALAR_T", "Call", "Declaration", "DimVar", "Dimish",
           "TensorType", "Type", "Typed", "declaration", "default_kind", "infer_shapes",
           "inputs_comment", "parse_shape_option"]

# Each variable costs its own derivative and formula (about 0.1 ms): ten thousand of them
# are derived and printed in about a second. Configurable.
MAX_VARIABLES = 10_000
# A literal dimension has at most this many digits: a derivation does not depend on the
# size, so any number is accepted, as long as it, and a product of two, stays within
# double precision, where the formulas carry it (sum(X)/N, N = 10^300). A size that
# large is better a name. Configurable.
MAX_DIM_DIGITS = 150
# The largest integer power of a matrix written X^k: it is a product of k factors, and its
# derivative has k terms of k - 1 factors each. Configurable.
MAX_MATRIX_POWER = 64
# how many names a derivation re-types to see whether their kind by name decides the
# output's kind (the note on standard error): the first few, so that the cost stays flat
MAX_KIND_CHECKS = 3


def declaration(name: str, dims) -> tuple[str, Declaration]:
    """(name, Declaration) of a declaration as the API takes it: a Declaration, a string
    ("N,n", "scalar") or a sequence of dimensions (("N", 3); () for a scalar)."""
    if isinstance(dims, Declaration):
        return name, dims
    if isinstance(dims, (tuple, list)):
        for d in dims:               # digits counted before str(), which refuses 4,301
            if isinstance(d, int) and d.bit_length() > 3.33 * MAX_DIM_DIGITS + 4:
                raise _too_many_digits(name, int(d.bit_length() * 0.30103) + 1)
        dims = ",".join(str(d) for d in dims) if dims else "scalar"
    return parse_shape_option(f"{name}={dims}")


def _too_many_digits(name: str, digits: int) -> LimitError:
    return LimitError(f"--shape {name}: a dimension of {digits:,} digits is over the limit "
                      f"of {MAX_DIM_DIGITS} (matcalc.shapes.MAX_DIM_DIGITS); name it instead, "
                      f"as n (the formulas do not depend on the size)")


def parse_shape_option(text: str) -> tuple[str, Declaration]:
    """`X=N,n` -> ("X", Declaration("N", "n")); `b=m`, `r=1,m`, `c=scalar`."""
    if "=" not in text:
        raise OptionError(f"bad --shape {text!r}: expected NAME=DIMS, e.g. X=N,n or b=m or c=scalar")
    name, _, dims = text.partition("=")
    name, dims = name.strip(), dims.strip()
    if not _is_identifier(name):
        raise OptionError(f"bad --shape {text!r}: {name!r} is not a name")
    if dims in ("scalar", "1", "1,1"):
        return name, Declaration(1, 1)
    parts = [p.strip() for p in dims.split(",")]
    if not 1 <= len(parts) <= E.MAX_ORDER or not all(parts):
        raise OptionError(f"bad --shape {text!r}: expected one to {E.MAX_ORDER} dimensions "
                          f"(b=m, X=N,n, r=1,m, A=L,n,m) or 'scalar'")
    vals: list[str | int] = []
    for p in parts:
        if p.isascii() and p.isdigit():
            digits = len(p.lstrip("0"))
            if digits > MAX_DIM_DIGITS:
                raise _too_many_digits(name, digits)
            v = int(p)
            if v <= 0:
                raise OptionError(f"bad --shape {text!r}: a dimension must be positive")
            vals.append(v)
        elif _is_identifier(p):
            vals.append(p)
        else:
            raise OptionError(f"bad --shape {text!r}: {p!r} is not a dimension "
                              f"(a name like n or a positive integer)")
    if len(vals) == 1:
        return name, Declaration(vals[0], 1)
    if len(vals) > 2:
        if 1 in vals:       # an index names an axis of a tensor, and 1 is no axis to name
            spare = iter(d for d in ("B", "C", "D", "E", "F", "G", "H") if d not in vals)
            named = ",".join(next(spare) if v == 1 else str(v) for v in vals)
            raise OptionError(f"bad --shape {text!r}: a tensor's dimension cannot be 1; "
                              f"name it ({name}={named}), its size may be 1 when the code "
                              f"runs, or drop that axis from {name} and its indices")
        return name, Declaration(vals[0], vals[1], dims=tuple(vals))
    return name, Declaration(vals[0], vals[1], explicit_2d=1 in vals)


def _is_identifier(s: str) -> bool:
    return bool(s) and s[0].isascii() and s[0].isalpha() and all(
        c.isascii() and (c.isalnum() or c == "_") for c in s)


def inputs_comment(typed: Typed) -> str:
    """The comment line that says every input's shape and where its kind came from:
    `# inputs: X N x n (declared), w n (vector by its name), eps n (vector by its name)`,
    so that nothing taken by a naming convention goes unsaid."""
    def shown(shape) -> str:
        if len(shape) != 2:
            return " x ".join(map(str, shape))
        r, c = shape
        return "scalar" if (r, c) == (1, 1) else f"{r}" if c == 1 else f"{r} x {c}"
    parts = [f"{name} {shown(v.shape)} ({typed.origins.get(name, 'declared')})"
             for name, v in typed.inputs.items()]
    return "# inputs: " + (", ".join(parts) if parts else "none")


@E.gc_paused
def infer_shapes(program: S.Program, shapes: dict[str, Declaration] | None = None,
                 kinds: str = "ml") -> Typed:
    """Type the program and build its IR; raises ShapeError / NameError_ with spans."""
    if kinds not in ("ml", "mc"):
        raise OptionError(f"unknown --kinds {kinds!r}: expected ml or mc")
    inf = _Infer(program, shapes or {}, kinds)
    inf.run()
    typed = build_ir(inf)
    typed.notes = _kind_notes(inf)
    return typed


def _kind(t: Type) -> str:
    return "scalar" if t.is_scalar else "matrix" if t.is_matrix else "vector"


def _kind_notes(inf: _Infer) -> list[str]:
    """A note for each name whose kind comes only from its letter case and decides the
    output's kind (`sqrt(sum(x.^2) + eps)`: eps, a vector by its name, makes the output a
    vector): a name is a candidate when a scalar is spread over it in + - .* ./ .^ > and
    it alone carries a dimension of the output; the program typed again with it a scalar
    says whether the output's kind then changes."""
    out = inf.output_type()
    if out.is_scalar:
        return []
    carried: dict[int, list[str]] = {}
    for name in inf.var_order:
        t = inf.var_types[name]
        for d in {id(_find(t.rows)): 0, id(_find(t.cols)): 0}:
            carried.setdefault(d, []).append(name)
    outputs = {id(_find(d)) for d in (out.rows, out.cols) if isinstance(_find(d), DimVar)}
    notes = []
    candidates = [name for name in inf.spread if not inf.var_types[name].is_scalar and
                  any(carried.get(d) == [name] for d in outputs)]
    for name in candidates[:MAX_KIND_CHECKS]:
        other = _Infer(inf.program, {**inf.decls, name: Declaration(1, 1)}, inf.kinds)
        try:
            other.run()
        except MatcalcError:
            continue
        changed = _kind(other.output_type())
        if changed != _kind(out):
            notes.append(f"{name} is a {_kind(inf.var_types[name])} by its name, and so the "
                         f"output is a {_kind(out)} (with {name} a scalar it would be a "
                         f"{changed}); if {name} is a scalar, declare --shape {name}=scalar")
    return notes


class _Infer(Suggestions):
    """The first pass: every AST node typed, its dimensions unified; what a failure says
    instead comes from `Suggestions` (matcalc.suggestions)."""

    def __init__(self, program: S.Program, decls: dict[str, Declaration], kinds: str):
        self.program = program
        self.src = program.source
        self.decls = decls
        self.kinds = kinds
        self.types: dict[int, Type] = {}            # id(ast node) -> type
        self.var_types: dict[str, Type] = {}        # input variables
        self.var_order: list[str] = []
        self.var_span: dict[str, Span] = {}
        self.stmt_types: dict[str, Type] = {}       # assigned names
        self.dim_symbols: set[str] = set()
        for d in decls.values():
            for v in (d.rows, d.cols, *d.dims):
                if isinstance(v, str):
                    self.dim_symbols.add(v)
        self.assigned: set[str] = set()
        self._shown: dict[int, str] = {}
        self.origins: dict[str, str] = {}          # input -> where its kind came from
        self.spread: list[str] = []                # names a scalar is spread over
        self.latex = program.notation == "latex"
        self._parents: dict[int, object] | None = None
        self.index_scopes: dict[int, object] = {}    # id(AST) -> its indices (indices.py)

    # -- helpers ---------------------------------------------------------------------
    def text(self, node, operand: bool = True) -> str:
        """The operand as the user wrote it (its middle elided when it is long), in
        parentheses if it is a sum (`operand`, as it was written to be one); read from
        LaTeX, or a number written as a superscript (²), as matcalc's language writes it."""
        if self.latex or type(node) is S.Number and node.text != \
                self.src[node.span.start:node.span.end]:
            t = S.unparse(node)
        else:
            t = " ".join(re.sub(r"#[^\n]*", "", self.src[node.span.start:node.span.end]).split())
        if operand and isinstance(node, S.Binary) and node.op in ("+", "-", ">"):
            t = f"({t})"                        # it was parenthesised to be an operand
        return t if len(t) <= 60 else t[:28] + "..." + t[-28:]

    def output_type(self) -> Type:
        last = self.program.statements[-1]
        return self.stmt_types[last.name] if last.name is not None else \
            self.types[id(last.expr)]

    def show(self, t: Type) -> str:
        if t.is_scalar:
            return "scalar"
        return f"{self._dname(t.rows)} x {self._dname(t.cols)}"

    def _dname(self, d: Dimish) -> str:
        d = _find(d)
        if isinstance(d, DimVar):       # name it as the result would (n, m, p, ...)
            if id(d) not in self._shown:
                used = set(self.var_types) | set(self.stmt_types) | self.dim_symbols | \
                    set(self._shown.values())
                self._shown[id(d)] = next(p for p in _dim_names() if p not in used)
            return self._shown[id(d)]
        return str(d)

    def fail(self, msg: str, span: Span, hint: str | None = None, fix: Fix | None = None):
        raise ShapeError(msg, span, self.src, hint, fix)

    # -- the walk ----------------------------------------------------------------------
    def run(self) -> None:
        stmts = self.program.statements
        self._check_names()
        for i, st in enumerate(stmts):
            if st.name is not None:
                if st.name in self.assigned:
                    raise NameError_(f"{st.name} is assigned twice", st.name_span, self.src)
                if st.name in ops.LANGUAGE:
                    raise NameError_(f"{st.name} is a function name and cannot be assigned",
                                     st.name_span, self.src)
                if st.name in self.dim_symbols:
                    raise NameError_(f"{st.name} is a dimension symbol and cannot be assigned",
                                     st.name_span, self.src)
            if st.indices is not None:
                from .indices import infer_statement
                t = infer_statement(self, st)
            else:
                t = self.visit(st.expr)
            if st.name is not None and st.name in self.var_types:
                raise NameError_(f"{st.name} is used before it is assigned", st.name_span,
                                 self.src, hint=f"it was first used at "
                                 f"{self._where(self.var_span[st.name])}; rename one of them")
            if st.name is not None:
                if st.name in self.decls and st.indices is None:
                    d = self.decls[st.name]
                    try:
                        _unify(t.rows, d.rows)
                        _unify(t.cols, d.cols)
                    except _Mismatch:
                        self.fail(f"{st.name} is declared {d.rows} x {d.cols} but its value is "
                                  f"{self.show(t)}", st.span)
                self.stmt_types[st.name] = t
                self.assigned.add(st.name)

    def _spread(self, operand) -> None:
        """Note a name that a scalar is spread over (`sum(x.^2) + eps`) when its kind is
        only its name's: the likeliest misreading of a scalar (see _kind_notes)."""
        if type(operand) is S.Name and operand.name in self.origins and \
                self.origins[operand.name].endswith("by its name") and \
                operand.name not in self.spread:
            self.spread.append(operand.name)

    def _where(self, span: Span) -> str:
        line, col = line_and_column(self.src, span.start)
        return f"line {line}, column {col}"

    def visit(self, node) -> Type:
        # children before parents, left to right, without recursion (long flat chains never
        # hit the recursion limit): the reverse of a pre-order that takes the right first
        order = S.right_first_preorder(node)
        types = self.types
        for n in reversed(order):
            types[id(n)] = self._type_of(n)
        return types[id(node)]

    def _type_of(self, n) -> Type:
        kind = type(n)
        if kind is S.Name:
            return self._name_type(n)
        if kind is S.Binary and not n.indexed:
            return self._binary(n)
        if kind is S.Transpose:
            return self._transpose(n)
        if kind is S.Number:
            return SCALAR_T()
        if kind is S.Neg:
            return self.types[id(n.operand)]
        if kind is S.Call:
            return self._call(n)
        if kind is S.Norm:
            return self._norm(n)
        if kind in (S.Indexed, S.IndexedGroup) or kind is S.Binary and n.indexed:
            from .indices import infer_expression
            return infer_expression(self, n)
        raise AssertionError(kind)

    def _transpose(self, n: S.Transpose) -> Type:
        x = n.operand
        if n.mark == "^T" and "T" in self.all_names | set(self.decls) | self.dim_symbols:
            self.fail(f"{self.text(x)}^T reads as the transpose of {self.text(x)}, but T is "
                      f"also a name in this program", n.span,
                      f"write {self._transposed(x)} for the transpose, or "
                      f"{self.text(x)}^(T) for a power",
                      self.fix_node(n, self._transposed(x)))
        if _is_literal_one(x):          # 1' is the ones vector laid down: 1'*x sums x
            return Type(1, DimVar())
        t = self.types[id(x)]
        return Type(t.cols, t.rows)

    def _norm(self, n: S.Norm) -> Type:
        """||x|| and ||x||_2 of a vector are its Euclidean norm, ||X||_F the Frobenius
        norm, ||x||_1 the sum of |x_i|; of a matrix, ||X|| and ||X||_2 are the spectral
        norm, and ||X||_1 the largest column sum, which matcalc does not have."""
        t = self.types[id(n.operand)]
        if t.is_matrix and n.sub not in ("F", "1,1"):
            x = self.text(n.operand)
            if n.sub == "1":
                self.fail(f"||{x}||_1 of a matrix is its largest column sum of |{x}_ij|, "
                          f"which matcalc does not have", n.span,
                          f"for the sum of every |{x}_ij| write norm1({x})",
                          self.fix_node(n, f"norm1({x})"))
            said = "||X||" if n.sub is None else "||X||_2"
            self.fail(f"{said} of a matrix is its spectral norm (the largest singular "
                      f"value), which matcalc does not have; {x} is {self.show(t)}", n.span,
                      f"for the Frobenius norm write ||{x}||_F, which is norm2({x})",
                      self.fix_node(n, f"norm2({x})"))
        return SCALAR_T()

    def _name_type(self, n: S.Name) -> Type:
        t = self._named_type(n)
        if isinstance(t, TensorType):
            from .indices import tensor_used_as_matrix
            tensor_used_as_matrix(self, n, t)
        return t

    def _named_type(self, n: S.Name) -> Type:
        name = n.name
        if name in self.stmt_types:
            return self.stmt_types[name]
        if name in self.dim_symbols:
            return SCALAR_T()
        function = ops.LANGUAGE.get(name)
        if function is not None and function.arity == 0:      # a constant: eye
            return function.shape(Call(self, n))
        if function is not None:                             # sin x: sin(x)
            parent = self.parents().get(id(n))
            call = f"{name}({self.text(parent.right, operand=False)})" \
                if type(parent) is S.Binary and parent.op in ("*", "@") and \
                parent.left is n else None
            raise NameError_(f"{name} is a function; call it as {name}(...)", n.span, self.src,
                             f"did you mean {call} ?" if call else None,
                             self.fix_node(parent, call) if call else None)
        if name in self.var_types:
            return self.var_types[name]
        if name in self.decls:
            t = self.decls[name].type()
            self.origins[name] = "declared"
        else:
            kind = default_kind(name, self.kinds)
            self.origins[name] = f"{kind} by its letter, --kinds mc" if self.kinds == "mc" \
                else f"{kind} by its name"
            if kind == "scalar":
                t = SCALAR_T()
            elif kind == "vector":
                t = Type(DimVar(), 1)
            else:
                t = Type(DimVar(), DimVar())
        return self.register(name, t, n.span)

    def register(self, name: str, t: Type, span: Span) -> Type:
        """Make `name` an input of type `t`, first used at `span`."""
        self.var_types[name] = t
        self.var_order.append(name)
        self.var_span[name] = span
        if len(self.var_order) > MAX_VARIABLES:
            raise LimitError(f"too many variables: more than {MAX_VARIABLES:,} "
                             f"(matcalc.shapes.MAX_VARIABLES)", span, self.src)
        return t

    def _binary(self, n: S.Binary) -> Type:
        a, b = self.types[id(n.left)], self.types[id(n.right)]
        op = n.op
        if op in ("*", "@"):
            if _is_literal_one(n.right) and (a.is_row or a.is_matrix):
                left = self.text(n.left)
                self.fail(f"{left}*1 is {left} itself: 1 is the number one here", n.span,
                          f"for the ones vector write vector(1): {left}*vector(1) sums "
                          f"each row", self.fix_node(n.right, "vector(1)"))
            if a.is_scalar or b.is_scalar:
                return b if a.is_scalar else a
            try:
                _unify(a.cols, b.rows)
            except _Mismatch:
                self._matmul_error(n, a, b)
            return Type(a.rows, b.cols)
        if op == "/":
            if not b.is_scalar:
                message = (f"cannot divide {self.text(n.left)} ({self.show(a)}) by "
                           f"{self.text(n.right)} ({self.show(b)}): '/' divides by a scalar")
                declare, fix = self._divisor_hint(n.right)
                if fix is None and (a.is_scalar or self._fits(a, b)):
                    fix = self.fix_node(n, f"{self._atom(n.left)} ./ {self._atom(n.right)}")
                self.fail(message, n.span, "for elementwise division use ./" + declare, fix)
            return a
        if op == "^":
            return self._power(n, a, b)
        if op == ".^" and b.is_scalar:
            return a
        # elementwise: + - .* ./ .^ >  (NumPy broadcasting of scalars, rows, columns)
        return self._elementwise(n, a, b)

    def _power(self, n: S.Binary, a: Type, b: Type) -> Type:
        """x^p of a scalar; X^k of a square matrix, an integer k: the product of k factors
        X (k < 0: of inv(X)); anything else is refused, naming the elementwise power."""
        x = self.text(n.left)
        p = S.unparse(n.right) if _integer(n.right) is not None else self.text(n.right)
        atom = p if isinstance(n.right, (S.Name, S.Number, S.Call)) else f"({p})"
        elementwise = self.fix_node(n, f"{self._atom(n.left)}.^{atom}")
        if not b.is_scalar:
            same = a.is_scalar or self._fits(a, b)         # 2^x: each entry's power of 2
            self.fail(f"the exponent {p} must be a scalar, not {self.show(b)}", n.right.span,
                      f"for the elementwise power write {self._atom(n.left)}.^{atom}"
                      if same else None, elementwise if same else None)
        if a.is_scalar:
            return a
        k = _integer(n.right)
        if a.is_matrix:
            if k is not None and self._unifies(a.rows, a.cols):
                if abs(k) > MAX_MATRIX_POWER:
                    raise LimitError(f"matrix power too large: {x}^{k} is a product of "
                                     f"{abs(k):,} matrices (the limit is {MAX_MATRIX_POWER}, "
                                     f"matcalc.shapes.MAX_MATRIX_POWER)", n.span, self.src,
                                     "name a smaller power and multiply it: P = X^8; P*P")
                return a
            why = f"{x} ({self.show(a)}) is not square" if k is not None else \
                f"a matrix power needs an integer exponent, not {p}"
            self.fail(f"cannot raise {x} to the power {p} with ^: {why}", n.span,
                      f"for the elementwise power write {self._atom(n.left)}.^{atom}",
                      elementwise)
        squared = f", or {self._atom(n.left)}'*{self._atom(n.left)} for the squared norm" \
            if k == 2 else ""
        self.fail(f"cannot raise the vector {x} ({self.show(a)}) to a power with ^: ^ raises "
                  f"a scalar or a square matrix", n.span,
                  f"write {self._atom(n.left)}.^{atom} for the elementwise power{squared}",
                  elementwise)

    @staticmethod
    def _unifies(a: Dimish, b: Dimish) -> bool:
        try:
            _unify(a, b)
        except _Mismatch:
            return False
        return True

    def _elementwise(self, n: S.Binary, a: Type, b: Type) -> Type:
        verb = {"+": "add", "-": "subtract", ".*": "multiply elementwise",
                "./": "divide elementwise", ".^": "raise elementwise", ">": "compare"}[n.op]
        if a.is_scalar and not b.is_scalar:
            self._index_notation(n, n.left, n.right)
            self._spread(n.right)
            return b
        if b.is_scalar:
            if not a.is_scalar:
                self._index_notation(n, n.right, n.left)
                self._spread(n.left)
            return a
        if a.is_col and b.is_row:                 # an outer sum, as NumPy broadcasts it
            return Type(a.rows, b.cols)
        if a.is_row and b.is_col:
            return Type(b.rows, a.cols)
        try:
            if a.is_row and not b.is_row and not b.is_col:   # row down a matrix
                _unify(a.cols, b.cols)
                return b
            if b.is_row and not a.is_row and not a.is_col:
                _unify(a.cols, b.cols)
                return a
            if a.is_col and not b.is_col and not b.is_row:   # column across a matrix
                _unify(a.rows, b.rows)
                return b
            if b.is_col and not a.is_col and not a.is_row:
                _unify(a.rows, b.rows)
                return a
            _unify(a.rows, b.rows)
            _unify(a.cols, b.cols)
            return a
        except _Mismatch:
            hint, fix = None, None
            l_t, r_t = Type(a.cols, a.rows), Type(b.cols, b.rows)
            # one operand transposed: the same shape, or a vector spread as NumPy spreads
            # it (X - mu with mu of X's width is X - mu'; x + y of two lengths, x + y')
            tries = [(n.right, a, r_t, b), (n.left, l_t, b, a)]
            tries.sort(key=lambda t: not (t[3].is_col or t[3].is_row))  # a vector first
            for node, a2, b2, _ in tries:
                if self._fits(a2, b2) or self._spreads(a2, b2):
                    instead = self._transposed(node)
                    hint, fix = f"did you mean {instead} ?", self.fix_node(node, instead)
                    break
            self.fail(f"cannot {verb} {self.text(n.left)} ({self.show(a)}) and "
                      f"{self.text(n.right)} ({self.show(b)})", n.span,
                      hint=hint or self._default_hint(n.left, n.right), fix=fix)

    def _call(self, n: S.Call) -> Type:
        f = n.func
        function = ops.CALLED.get(f)
        if function is None:
            self._unknown_function(n)
        spaced = self.src[n.name_span.end:n.name_span.end + 1].isspace()
        if f != function.name and len(n.args) == 1 and spaced and (
                f in self.all_names or f in self.decls):
            # sigma(x) is the logistic function; but `sigma (x)`, spaced as a product is,
            # where sigma is also a value of the program (b/sigma), does not say which
            product = f"{f}*{self._atom(n.args[0])}"
            raise NameError_(f"{f} is a variable of this program, and {f}(...) here could "
                             f"be the product or the function {function.name}", n.name_span,
                             self.src, f"for the product write {product}; for the function "
                             f"write {function.name}(...)", self.fix_node(n, product))
        arity = function.arity
        if function.along is not None and len(n.args) == 2:
            return function.along.shape(Call(self, n), self._dimension(n))
        if len(n.args) != arity:
            want = "no arguments" if arity == 0 else "one argument"
            if function.along is not None:
                want += f" (and a dimension: {f}(X, 1) down each column, {f}(X, 2) along " \
                        f"each row)"
            fix = self.fix_node(n, function.name) if arity == 0 else None
            raise ShapeError(f"{f} takes {want}, got {len(n.args)}", n.span, self.src,
                             f"its size is inferred: write {function.name}" if fix else None,
                             fix)
        return function.shape(Call(self, n))

    def _dimension(self, n: S.Call) -> int:
        """The dimension argument of f(X, dim): 1 or 2, written as a number."""
        dim = n.args[1]
        if type(dim) is S.Number and dim.value in (1, 2):
            return int(dim.value)
        fix, why = None, ""
        value = dim.value if type(dim) is S.Number else -dim.operand.value \
            if type(dim) is S.Neg and type(dim.operand) is S.Number else None
        if isinstance(value, int) and value > 2 and n.func in ("sum", "mean"):
            fix = self.fix_node(n, self._atom(n.args[0]))  # MATLAB: a third dimension, size 1
            why = f"; along a third dimension, of size 1, {n.func}(X, {value}) is X itself"
        elif value in (0, -1, -2):                # NumPy's axis: 0 and -2 down, -1 along
            axis = 2 if value == -1 else 1
            instead = f"{n.func}({self.text(n.args[0], operand=False)}, {axis})"
            fix = self.fix_node(n, instead)
            why = f"; NumPy's axis={value} is dim {axis} here: {instead}"
        raise ShapeError(f"the dimension of {n.func}(..., dim) is 1 or 2, not "
                         f"{self.text(dim)}", dim.span, self.src,
                         f"{n.func}(X, 1) works down each column, {n.func}(X, 2) along each "
                         f"row (MATLAB's numbering){why}", fix)


class Call:
    """What a function's shape rule (matcalc.ops) sees of one call: the argument's type
    `arg`, unification, new types, and a failure at the call's span that shows the
    argument as the user wrote it."""

    def __init__(self, inf: _Infer, n):
        self._inf, self._n = inf, n
        self.name = n.func if isinstance(n, S.Call) else n.name
        self._arg = n.args[0] if isinstance(n, S.Call) and n.args else None
        self.arg: Type | None = None if self._arg is None else inf.types[id(self._arg)]

    def unify(self, a: Dimish, b: Dimish) -> bool:
        """Whether the dimensions a and b can be one (they are, from now on)."""
        try:
            _unify(a, b)
        except _Mismatch:
            return False
        return True

    def fail(self, message: str, hint: str | None = None, instead: str | None = None):
        """Refuse the call; `instead`, what to write in its place (a valid rewrite)."""
        fix = None if instead is None else self._inf.fix_node(self._n, instead)
        self._inf.fail(message, self._n.span, hint, fix)

    @staticmethod
    def is_one(d: Dimish) -> bool:
        """Whether a dimension is the unit 1 (a vector's other dimension)."""
        return _is_one(d)

    def type(self, rows: Dimish, cols: Dimish) -> Type:
        return Type(rows, cols)

    def scalar(self) -> Type:
        return SCALAR_T()

    def fresh(self) -> DimVar:
        return DimVar()

    @property
    def text(self) -> str:
        """The argument as the user wrote it: `A*x`."""
        return self._inf.text(self._arg)

    @property
    def shown(self) -> str:
        """The argument with its shape: `A*x (n x 1)`."""
        return f"{self.text} ({self._inf.show(self.arg)})"

    @property
    def transposed(self) -> str:
        """The argument transposed, as the user would write it: `x'`, `(A*x)'`."""
        return self._inf._transposed(self._arg)
