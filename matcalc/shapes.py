"""AST -> IR: kinds by name, declarations, dimension unification, explicit broadcasts.

Dimensions are unified like type variables in a type checker: every undeclared dimension
starts as a fresh `DimVar`, each operation states its constraint once (`_unify`), and a
failed constraint becomes a `ShapeError` that names the operation, both operands as the
user wrote them and both shapes. Whether a value is a scalar, a row, a column or a matrix
is decided structurally (a dimension is the literal 1 or it is not), so broadcasting is
decided during inference and made explicit as `Broadcast` nodes when the IR is built.

Two passes: `_Infer` walks the AST once, unifying; then `_Build` walks it again with every
dimension resolved (unbound ones named n, m, p, ... avoiding names in use) and builds
interned IR nodes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import expr as E
from . import ops
from . import syntax as S
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

GREEK = frozenset("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota
kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi varphi chi psi omega""".split())

DIM_POOL = ("n", "m", "p", "q", "k", "r", "s", "t", "u", "v", "w", "l", "j", "i")
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


class DimVar:
    """An unknown dimension; unified through a union-find `parent` link or bound to a value."""

    __slots__ = ("parent", "value", "order")
    _counter = 0

    def __init__(self):
        self.parent: DimVar | None = None
        self.value: str | int | None = None
        DimVar._counter += 1
        self.order = DimVar._counter


Dimish = DimVar | str | int


def _find(d: Dimish) -> Dimish:
    while isinstance(d, DimVar):
        if d.value is not None:
            return d.value
        if d.parent is None:
            return d
        d = d.parent
    return d


class _Mismatch(Exception):
    pass


def _unify(a: Dimish, b: Dimish) -> None:
    a, b = _find(a), _find(b)
    if a is b or (not isinstance(a, DimVar) and not isinstance(b, DimVar) and a == b):
        return
    if isinstance(a, DimVar) and b == 1 or isinstance(b, DimVar) and a == 1:
        raise _Mismatch()            # a vector's or matrix's dimension is never the unit 1
    if isinstance(a, DimVar):
        if isinstance(b, DimVar):
            # keep the older variable as the root so naming follows first appearance
            if a.order < b.order:
                b.parent = a
            else:
                a.parent = b
        else:
            a.value = b
        return
    if isinstance(b, DimVar):
        b.value = a
        return
    raise _Mismatch()


def _is_one(d: Dimish) -> bool:
    return _find(d) == 1


@dataclass
class Type:
    rows: Dimish
    cols: Dimish

    @property
    def is_scalar(self) -> bool:
        return _is_one(self.rows) and _is_one(self.cols)

    @property
    def is_row(self) -> bool:
        return _is_one(self.rows) and not _is_one(self.cols)

    @property
    def is_matrix(self) -> bool:
        return not _is_one(self.rows) and not _is_one(self.cols)

    @property
    def is_col(self) -> bool:
        return _is_one(self.cols) and not _is_one(self.rows)


SCALAR_T = lambda: Type(1, 1)  # noqa: E731


@dataclass
class TensorType(Type):
    """An order-3 to order-6 value (`--shape A=L,n,m`, or `T[i,j,k] = ...`): only index
    notation reads it; rows and cols are its first two dimensions."""

    dims: tuple = ()

    @property
    def is_matrix(self) -> bool:
        return False


@dataclass
class Declaration:
    """What `--shape NAME=DIMS` said: dims (rows, cols) and whether a 1 was explicit."""

    rows: str | int
    cols: str | int
    explicit_2d: bool = False   # `n,1` or `1,n`: keep 2-D in NumPy
    dims: tuple = ()            # a tensor's dimensions (three to six); () for a matrix

    def type(self) -> Type:
        return TensorType(self.dims[0], self.dims[1], tuple(self.dims)) if self.dims else \
            Type(self.rows, self.cols)


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


def default_kind(name: str, kinds: str) -> str:
    """'scalar', 'vector' or 'matrix' by the naming convention (SPEC section 1)."""
    if kinds == "mc":
        c = name[0]
        if "a" <= c <= "g":
            return "scalar"
        if "h" <= c <= "z":
            return "vector"
        return "matrix"
    if name in GREEK:                 # alpha, lambda; but Sigma, Lambda are matrices
        return "scalar"
    return "vector" if name[0].islower() else "matrix"


@dataclass
class Typed:
    """The result of shape inference: the IR of the program and what the printers need."""

    output: E.Node                       # the last statement, intermediates inlined
    output_name: str
    inputs: dict[str, E.Var]             # every variable, in order of first appearance
    statements: list[tuple[str, E.Node]]  # (name, node) with earlier names as Vars (for steps)
    intermediates: dict[str, E.Var]      # named intermediates as Vars (for steps)
    inline: dict[E.Var, E.Node]          # intermediate Var -> its inlined value
    keep_2d: frozenset[str]              # vars declared with an explicit 1
    dim_names: set[str] = field(default_factory=set)
    spans: dict[str, Span] = field(default_factory=dict)  # a name's first use
    origins: dict[str, str] = field(default_factory=dict)  # where an input's kind came from
    notes: list[str] = field(default_factory=list)         # guesses that decide the output


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
    typed = _Build(inf).run()
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


class _Infer:
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

    # -- suggested rewrites --------------------------------------------------------------
    def parents(self) -> dict[int, object]:
        """id(AST node) -> its parent node (a Statement for a statement's expression)."""
        if self._parents is None:
            self._parents = {}
            for st in self.program.statements:
                self._parents[id(st.expr)] = st
                for n in S.right_first_preorder(st.expr):
                    for k in S.ast_children(n):
                        self._parents[id(k)] = n
        return self._parents

    def fix(self, instead: dict[int, tuple[object, str]], shapes=(),
            renamed: dict[str, str] | None = None) -> Fix:
        """The program with each AST node of `instead` (id -> (node, text in matcalc's
        language)) written as that text, parenthesised where its place needs it, the
        statements' names in `renamed` renamed, and the declarations `shapes` added: a
        valid input to suggest. Read from LaTeX, the whole program is written in
        matcalc's language."""
        parents = self.parents()
        renamed = renamed or {}

        def placed(node, text: str) -> str:
            return text if _level_of(text) >= _least(node, parents.get(id(node))) \
                else f"({text})"
        if self.latex:
            lines = []
            for st in self.program.statements:
                body = S.unparse(st.expr, {k: placed(n, t) for k, (n, t) in instead.items()})
                name = renamed.get(st.name, st.name)
                lines.append(body if name is None else f"{name} = {body}")
            return Fix("; ".join(lines), tuple(shapes))
        instead = dict(instead)
        for st in self.program.statements:
            if st.name in renamed:                 # the name assigned, as a node of its own
                lhs = S.Name(st.name, st.name_span)
                instead[id(lhs)] = (lhs, renamed[st.name])
        out, last = [], 0
        for node, text in sorted(instead.values(), key=lambda nt: nt[0].span.start):
            out += [self.src[last:node.span.start], placed(node, text)]
            last = node.span.end
        return Fix("".join(out) + self.src[last:], tuple(shapes))

    def fix_node(self, node, text: str, shapes=()) -> Fix:
        """The program with `node` written as `text` (see `fix`)."""
        return self.fix({id(node): (node, text)}, shapes)

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

    def _check_names(self) -> None:
        """Refuse, before typing, the names that are most likely something else: a
        multi-letter name made of the program's other names or single capitals (`AX`,
        `Wx` beside x), which is read as one name, and names that look like index notation
        (`z_j = x'*A_j*y + b_j`), which the language does not read."""
        nodes: dict[str, list] = {}
        assigned = {st.name for st in self.program.statements if st.name is not None}
        for st in self.program.statements:
            for n in reversed(S.right_first_preorder(st.expr)):
                if type(n) is S.Name:
                    nodes.setdefault(n.name, []).append(n)
        self.name_nodes = nodes
        self.all_names = set(nodes) | assigned
        self.first_use = {name: uses[0].span.start for name, uses in nodes.items()}
        if self.latex:
            return                       # LaTeX spells a product of letters as it is meant
        self._powers_of_notes(assigned)
        names = self.all_names - set(ops.LANGUAGE)     # a piece is never the whole name
        for name, uses in nodes.items():
            if len(name) < 2 or name in assigned or name in self.decls or \
                    name in self.dim_symbols or name in ops.LANGUAGE or name.lower() in GREEK:
                continue
            pieces = _split(name, names) if len(name) <= 12 else None
            quadratic = _TRANSPOSED.fullmatch(name)
            if pieces is None and quadratic is None:
                continue
            # xTy, xTAx: notes' x^T y and x^T A x, with the T run into the names
            product = "*".join(pieces) if pieces is not None else \
                quadratic[1] + "'*" + "*".join(filter(None, quadratic.groups()[1:]))
            uses = sorted(uses, key=lambda n: n.span.start)
            raise NameError_(f"{name} is read as one name; for the product write {product}",
                             uses[0].span, self.src,
                             f"did you mean {product} ? (if {name} is one variable, declare "
                             f"it, e.g. --shape {name}={self._declared_like(name)})",
                             fix=self.fix({id(n): (n, product) for n in uses}))

    def _powers_of_notes(self, assigned: set[str]) -> None:
        """Refuse, before typing, the powers that notes mean otherwise: e^x and e.^x where
        e is no variable of the program (exp(x)), and x^Ty, X^TX, X^-T (X^{-T}) where T is
        none (x^T y, X^T X, the inverse transposed), which the language reads as powers of
        a variable e, of a name Ty or TX, of a variable T."""
        powers = [n for st in self.program.statements for n in S.right_first_preorder(st.expr)
                  if type(n) is S.Binary and n.op in ("^", ".^")]
        if "e" not in assigned and "e" not in self.decls:
            for n in powers:
                if type(n.left) is S.Name and n.left.name == "e":
                    instead = f"exp({self.text(n.right, operand=False)})"
                    self.fail(f"{self.text(n, operand=False)} reads as a power of a variable "
                              f"e; for the exponential write {instead}", n.span,
                              f"did you mean {instead} ? (if e is a variable, declare it)",
                              self.fix_node(n, instead))
        powers = [n for n in powers if n.op == "^"]
        inverse_t = {id(n.right.operand) for n in powers if type(n.right) is S.Neg and
                     type(n.right.operand) is S.Name and n.right.operand.name == "T"}
        if "T" in assigned or "T" in self.decls or \
                any(id(u) not in inverse_t for u in self.name_nodes.get("T", ())):
            return                                # T is a name of the program
        for n in powers:
            right, base = n.right, self._atom(n.left)
            if type(right) is S.Name and len(right.name) > 1 and \
                    right.name.startswith("T") and right.name not in assigned and \
                    right.name not in self.decls:
                rest = right.name[1:]
                instead, said = f"{base}'*{rest}", f"{base}^T {rest}"
            elif type(right) is S.Neg and type(right.operand) is S.Name and \
                    right.operand.name == "T":
                instead, said = f"inv({self.text(n.left, operand=False)})'", \
                    "the inverse transposed"
            else:
                continue
            self.fail(f"{self.text(n, operand=False)} reads as a power of "
                      f"{self.text(right, operand=False)}; for {said} write {instead}",
                      n.span, f"did you mean {instead} ?", self.fix_node(n, instead))

    def _declared_like(self, name: str) -> str:
        kind = default_kind(name, self.kinds)
        return "scalar" if kind == "scalar" else "n" if kind == "vector" else "m,n"

    def _spread(self, operand) -> None:
        """Note a name that a scalar is spread over (`sum(x.^2) + eps`) when its kind is
        only its name's: the likeliest misreading of a scalar (see _kind_notes)."""
        if type(operand) is S.Name and operand.name in self.origins and \
                self.origins[operand.name].endswith("by its name") and \
                operand.name not in self.spread:
            self.spread.append(operand.name)

    def _index_notation(self, n: S.Binary, scalar, other) -> None:
        """Refuse a scalar broadcast into a name with an index suffix (_i, _j, _k, _l):
        `z_j = x'*A_j*y + b_j` is index notation, which matcalc would read as whole names,
        and so spread the scalar x'*A_j*y over the vector b_j."""
        indexed = [k for k in _names_in(other) if _INDEXED.fullmatch(k.name) and
                   k.name not in self.decls and k.name not in self.stmt_types]
        if not indexed:
            return
        index = _INDEXED.fullmatch(indexed[0].name)[2]
        names = sorted({k for k in self.all_names if (m := _INDEXED.fullmatch(k)) and
                        m[2] == index}, key=lambda k: self.first_use.get(k, 0))
        single = {k: _INDEXED.fullmatch(k)[1] for k in names}
        fix = None                                  # stripping the index would clash
        if len(set(single.values())) == len(single) and \
                not set(single.values()) & (self.all_names - set(names)):
            assigned = {st.name for st in self.program.statements}
            scalars = sorted(b for k, b in single.items() if k in self.name_nodes and
                             k not in assigned and default_kind(b, self.kinds) == "vector")
            fix = self.fix({id(u): (u, single[k]) for k in names
                            for u in self.name_nodes.get(k, ())},
                           [(b, "scalar") for b in scalars], renamed=single)
        one = "" if fix is None else f"; for one {index}, write {fix.program}" + (
            f" with {fix.declarations}" if fix.shapes else "")
        from .indices import index_statement_for
        statement = index_statement_for(self, index)
        if statement is not None:                   # the index statement it means
            self.fail(f"{', '.join(names)} look like index notation, which matcalc reads "
                      f"in brackets: as whole names, {self.text(scalar)} (a scalar) would "
                      f"be spread over {self.text(other)}", n.span,
                      f"write the index statement {statement} (an index on the right "
                      f"that is not on the left is summed)", Fix(statement))
        self.fail(f"{', '.join(names)} look like index notation, which matcalc reads only "
                  f"in brackets: as whole names, {self.text(scalar)} (a scalar) would be "
                  f"spread over {self.text(other)}", n.span,
                  f"write it as an index statement, as z[j] = x[k]*A[j,k,l]*y[l] + b[j]"
                  f"{one}", fix)

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

    def _atom(self, node) -> str:
        """The operand as written, parenthesised unless it is a name, number or call."""
        t = self.text(node)
        return t if isinstance(node, (S.Name, S.Number, S.Call, S.Norm)) or \
            t.startswith("(") and t.endswith(")") else f"({t})"

    @staticmethod
    def _unifies(a: Dimish, b: Dimish) -> bool:
        try:
            _unify(a, b)
        except _Mismatch:
            return False
        return True

    def _divisor_hint(self, divisor) -> tuple[str, Fix | None]:
        """What to say of a divisor that is not a scalar: a name in it that counts
        something (used only as a divisor, `/N`, `/(2*m)`, and not declared) is most
        likely a dimension of the program, so the hint names that dimension in a
        declaration (--shape X=N,n), and only then a scalar variable of its own."""
        for k in _names_in(divisor):
            name = k.name
            if name not in self.var_types or name in self.decls or \
                    self.var_types[name].is_scalar:
                continue
            divisors = {id(m) for r in self._divisors() for m in _names_in(r)}
            if not all(id(u) in divisors for u in self.name_nodes.get(name, ())):
                continue
            typed = _Infer(self.program, {**self.decls, name: Declaration(1, 1)}, self.kinds)
            try:                    # the whole program, to see every dimension it may count
                typed.run()
            except MatcalcError:
                typed = self
            found = typed._dimension_for(name)
            if found is None:
                continue
            owner, dims, said = found
            kind = default_kind(name, self.kinds)
            return (f"\n{name} is a {kind} by its name; if it counts {said}, name that "
                    f"dimension: --shape {owner}={dims} (then {name} is that number); if it "
                    f"is a scalar variable, declare --shape {name}=scalar",
                    Fix(self.src, ((owner, dims),)))
        return self._default_hint(*_names_in(divisor)), None

    def _divisors(self) -> list:
        """The right operands of every '/' of the program."""
        return [n.right for st in self.program.statements
                for n in S.right_first_preorder(st.expr)
                if type(n) is S.Binary and n.op == "/"]

    def _dimension_for(self, count: str) -> tuple[str, str, str] | None:
        """(input, its declaration with `count` for a dimension, what that counts) for a
        count used as a divisor: the first unnamed dimension of the inputs, the rows of a
        matrix first (samples, in the notes' convention)."""
        inputs = [v for v in self.var_order if v != count]
        for want_matrix in (True, False):
            for name in inputs:
                t = self.var_types[name]
                if t.is_matrix != want_matrix or t.is_scalar:
                    continue
                rows, cols = _find(t.rows), _find(t.cols)
                if isinstance(rows, DimVar) and not t.is_row:
                    other = "1" if t.is_col else self._other_dim(cols, count)
                    return name, count if t.is_col else f"{count},{other}", \
                        f"the rows of {name}" if t.is_matrix else f"the entries of {name}"
                if isinstance(cols, DimVar):
                    other = "1" if t.is_row else self._other_dim(rows, count)
                    return name, f"{other},{count}", f"the columns of {name}"
        return None

    def _other_dim(self, d: Dimish, avoid: str) -> str:
        """A dimension as a declaration writes it, never named `avoid`."""
        d = _find(d)
        if not isinstance(d, DimVar):
            return str(d)
        name = self._dname(d)
        if name == avoid:
            used = set(self.var_types) | set(self.stmt_types) | self.dim_symbols | {avoid}
            name = next(p for p in _dim_names() if p not in used)
        return name

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

    def _fits(self, a: Type, b: Type) -> bool:
        ra, ca, rb, cb = (_find(a.rows), _find(a.cols), _find(b.rows), _find(b.cols))
        return _may_be(ra, rb) and _may_be(ca, cb)

    def _spreads(self, a: Type, b: Type) -> bool:
        """Whether a vector spreads over the other operand by the rules of _elementwise:
        a column and a row make an outer sum, a row goes down a matrix, a column across."""
        if a.is_col and b.is_row or a.is_row and b.is_col:
            return True
        if a.is_row != b.is_row and not (a.is_col or b.is_col):
            return _may_be(_find(a.cols), _find(b.cols))
        if a.is_col != b.is_col and not (a.is_row or b.is_row):
            return _may_be(_find(a.rows), _find(b.rows))
        return False

    def _transposed(self, node) -> str:
        if isinstance(node, S.Transpose):
            return self.text(node.operand)
        t = self.text(node)
        return f"{t}'" if isinstance(node, (S.Name, S.Call)) else f"({t})'"

    def _default_hint(self, *nodes) -> str:
        for node in nodes:
            if isinstance(node, S.Name) and node.name in self.var_types and \
                    node.name not in self.decls:
                kind = default_kind(node.name, self.kinds)
                if kind != "scalar":
                    return (f"\n{node.name} is a {kind} by its name; if it is a scalar, "
                            f"declare --shape {node.name}=scalar")
        return ""

    def _matmul_error(self, n: S.Binary, a: Type, b: Type):
        msg = (f"cannot multiply {self.text(n.left)} ({self.show(a)}) by "
               f"{self.text(n.right)} ({self.show(b)})")
        why = f"the inner dimensions {self._dname(a.cols)} and {self._dname(b.rows)} differ"
        ar, ac, br, bc = (_find(a.rows), _find(a.cols), _find(b.rows), _find(b.cols))

        def fits(x, y):
            return x is y or (isinstance(x, DimVar) and y != 1) or \
                (isinstance(y, DimVar) and x != 1) or x == y
        declare = self._default_hint(*(k for k in (n.left, n.right)
                                       if not (isinstance(k, S.Name) and
                                               self.types[id(k)].is_matrix)))
        if declare:                           # the likeliest cause: a scalar named like a vector
            hint = why + declare
        elif fits(ac, bc):
            hint = f"{why}; did you mean {self.text(n.left)}*{self._transposed(n.right)} ?"
        elif fits(ar, br):
            hint = f"{why}; did you mean {self._transposed(n.left)}*{self.text(n.right)} ?"
        else:
            hint = why
        if (ar is br or ar == br) and (ac is bc or ac == bc):
            hint += "\nfor an elementwise product of same-shaped matrices use .*"
        self.fail(msg, n.span, hint=hint)

    def _call(self, n: S.Call) -> Type:
        f = n.func
        function = ops.CALLED.get(f)
        if function is None:
            self._unknown_function(n)
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

    def _unknown_function(self, n: S.Call):
        """Refuse a call of a name that is no function of the language, with what to
        write instead: another tool's function as its exact rewrite (dot(x, y) is x'*y),
        a near spelling, or a product (W(x + b) is W*(x + b))."""
        f = n.func
        args = [self._arg(a) for a in n.args]
        rewrite = ops.REWRITES.get(f)
        instead = rewrite(args) if rewrite is not None else None
        if instead is not None:
            raise NameError_(f"{f} is not a function of matcalc's language", n.name_span,
                             self.src, f"did you mean {instead} ?", self.fix_node(n, instead))
        product = f"{f}*{self._atom(n.args[0])}" if len(n.args) == 1 else None
        if len(f) > 1 and f not in self.all_names:
            product = None                     # foo(x): a function, by all appearances
        if f in self.stmt_types or f in self.var_types or f in self.decls:
            raise NameError_(f"{f} is not a function", n.name_span, self.src,
                             f"for the product write {product}" if product else None,
                             self.fix_node(n, product) if product else None)
        if rewrite is not None:
            raise NameError_(f"{f} is not a function of matcalc's language", n.name_span,
                             self.src, _NOT_REWRITTEN.get(f))
        what = ops.NOT_IN_LANGUAGE.get(f)
        if what is not None:             # no near spelling: it would mean something else
            raise NameError_(f"{f} ({what}) is not in matcalc's language", n.name_span,
                             self.src, "the functions are " + ", ".join(ops.LANGUAGE))
        import difflib  # only for this message
        close = difflib.get_close_matches(f, list(ops.CALLED), n=3)
        close.sort(key=lambda c: sorted(c) != sorted(f))   # letters swapped: tahn is tanh
        if close:
            said = f"{close[0]}({', '.join(a.text for a in args)})"
            raise NameError_(f"unknown function {f}", n.name_span, self.src,
                             f"did you mean {said} ?", self.fix_node(n, said))
        raise NameError_(f"unknown function {f}", n.name_span, self.src,
                         f"for the product write {product}; the functions are "
                         + ", ".join(ops.LANGUAGE) if product else
                         "known functions: " + ", ".join(ops.LANGUAGE),
                         self.fix_node(n, product) if product else None)

    def _arg(self, node) -> ops.Arg:
        """An argument of a call as a rewrite (matcalc.ops.spellings) reads it."""
        t = self.types[id(node)]
        value = node.value if type(node) is S.Number else \
            -node.operand.value if type(node) is S.Neg and type(node.operand) is S.Number \
            else None
        kind = "scalar" if t.is_scalar else "row" if t.is_row else "vector" if t.is_col \
            else "matrix"
        return ops.Arg(self.text(node, operand=False), self._atom(node), value, kind)


_NOT_REWRITTEN = {
    "max": "max takes two arguments; max(0, x) is relu(x)",
    "maximum": "max takes two arguments; max(0, x) is relu(x)",
    "min": "min takes two arguments; min(0, x) is -relu(-x)",
    "minimum": "min takes two arguments; min(0, x) is -relu(-x)",
    "norm": "norm(x) is norm2(x), norm(x, 1) is norm1(x)",
}


def _may_be(x, y) -> bool:
    """Whether two found dimensions may be one (either still unknown, or equal)."""
    return isinstance(x, DimVar) or isinstance(y, DimVar) or x == y


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


_LEVELS = {">": 10, "+": 20, "-": 20, "*": 30, "@": 30, "/": 30, ".*": 30, "./": 30,
           "^": 50, ".^": 50}


_TRANSPOSED = re.compile(r"([a-z])T([A-Z])?([a-z])")
_INDEXED = re.compile(r"([A-Za-z][A-Za-z0-9]*)_([ijkl])")


def _split(name: str, names: set[str]) -> list[str] | None:
    """`name` as two or more pieces, each a name of `names` or a single capital letter
    (AX -> [A, X], Wx -> [W, x] when x is a name), preferring the fewest pieces; None if
    it is not made so (quadratic in the name's length: the caller keeps names short)."""
    best: list[list[str] | None] = [None] * (len(name) + 1)
    best[0] = []
    for i in range(len(name)):
        if best[i] is None:
            continue
        for j in range(i + 1, len(name) + 1):
            piece = name[i:j]
            if piece != name and (piece in names or len(piece) == 1 and piece.isupper()) and \
                    (best[j] is None or len(best[i]) + 1 < len(best[j])):
                best[j] = best[i] + [piece]
    found = best[len(name)]
    return found if found is not None and len(found) > 1 else None


def _level_of(text: str) -> int:
    """The level of the loosest operator of an expression in matcalc's language, outside
    parentheses (10 comparison, 20 sum, 30 product, 40 leading minus, 50 power, 60
    transpose, 70 an atom), for a rewrite that the messages write: binary + and - are
    written with spaces around them, a leading minus without."""
    depth, level = 0, 70
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth:
            continue
        elif ch == ">":
            level = min(level, 10)
        elif ch in "+-" and 0 < i < len(text) - 1 and text[i - 1] == " " == text[i + 1]:
            level = min(level, 20)
        elif ch in "*/@":
            level = min(level, 30)
        elif ch == "-" and i == 0:
            level = min(level, 40)
        elif ch == "^":
            level = min(level, 50)
        elif ch == "'":
            level = min(level, 60)
    return level


def _least(node, parent) -> int:
    """The least level an expression needs in `node`'s place under `parent` not to be
    parenthesised (see _level_of)."""
    if isinstance(parent, S.Transpose):
        return 60
    if isinstance(parent, S.Neg):
        return 30                                  # -A*X is -(A*X)
    if not isinstance(parent, S.Binary):
        return 0                                   # a statement, an argument, a norm
    level = _LEVELS[parent.op]
    if level == 50:
        return 60
    if parent.left is node:
        return level + (parent.op == ">")
    return level if parent.op in ("+", "*", "@") else level + 1


def _dim_names():
    """n, m, p, q, ... then d1, d2, ...: names for dimensions nobody declared."""
    yield from DIM_POOL
    i = 1
    while True:
        yield f"d{i}"
        i += 1


def _is_literal_one(n) -> bool:
    """The number 1 as written (1, 1.0), which 1' makes the ones vector."""
    return type(n) is S.Number and n.value == 1


def _integer(n) -> int | None:
    """The integer an exponent is written as (2, -1, ⁻¹), or None."""
    sign = 1
    if type(n) is S.Neg:
        sign, n = -1, n.operand
    if type(n) is S.Number and isinstance(n.value, int):
        return sign * n.value
    return None


def _is_additive(n) -> bool:
    return isinstance(n, S.Binary) and n.op in ("+", "-")


def _additive_chain(n) -> tuple[list[int], list]:
    """The operands of a maximal chain of + and - (left-nested) and their signs."""
    signs, kids = [], []
    while _is_additive(n):
        signs.append(1 if n.op == "+" else -1)
        kids.append(n.right)
        n = n.left
    signs.append(1)
    kids.append(n)
    return signs[::-1], kids[::-1]


def _is_product(n) -> bool:
    return isinstance(n, S.Binary) and n.op in ("*", "@") and not n.indexed


def _product_chain(n, types) -> list:
    """The operands of a maximal left-nested chain of * and @ (a scalar-valued partial
    product such as (x'*x) in (x'*x)*A*x is an operand: it scales, it does not chain)."""
    kids = [n.right]
    n = n.left
    while _is_product(n) and not types[id(n)].is_scalar:
        kids.append(n.right)
        n = n.left
    kids.append(n)
    return kids[::-1]


class _Build:
    """Second pass: every dimension resolved; build interned IR nodes bottom-up."""

    def __init__(self, inf: _Infer):
        self.inf = inf
        self.names: dict[int, str] = {}        # id(root DimVar) -> chosen name
        used = set(inf.var_types) | set(inf.stmt_types) | inf.dim_symbols
        self.pool = (d for d in _dim_names() if d not in used)
        self.nodes: dict[int, E.Node] = {}
        self.env: dict[str, E.Node] = {}       # name -> IR (inputs, intermediates as Vars)
        self.inline: dict[E.Var, E.Node] = {}

    def dim(self, d: Dimish) -> E.Dim:
        d = _find(d)
        if isinstance(d, DimVar):
            key = id(d)
            if key not in self.names:
                self.names[key] = next(self.pool)
            return self.names[key]
        return d

    def shape(self, t: Type) -> E.Shape:
        if isinstance(t, TensorType):
            return tuple(self.dim(d) for d in t.dims)
        return (self.dim(t.rows), self.dim(t.cols))

    def run(self) -> Typed:
        inf = self.inf
        # name the dims of the inputs first, in order of appearance, so that names are stable
        for name in inf.var_order:
            self.shape(inf.var_types[name])
        inputs = {name: E.Var(name, self.shape(inf.var_types[name])) for name in inf.var_order}
        self.fixed = {d for v in inputs.values() for d in v.shape} | inf.dim_symbols
        self.env.update(inputs)
        statements: list[tuple[str, E.Node]] = []
        intermediates: dict[str, E.Var] = {}
        inline_env: dict[str, E.Node] = dict(inputs)
        staged_env: dict[str, E.Node] = dict(inputs)
        stmts = inf.program.statements
        last_name = None
        out_inline = None
        for st in stmts:
            if st.indices is not None:
                from .indices import build_statement as build
            else:
                build = self.build
            staged = build(st.expr, staged_env) if st.indices is None else \
                build(self, st, staged_env)
            # with no intermediate defined yet, the inlined form is the staged one
            inlined = (build(st.expr, inline_env) if st.indices is None else
                       build(self, st, inline_env)) if intermediates else staged
            name = st.name
            if name is None:
                name = _bare_output_name(staged, set(inputs) | set(intermediates))
            last_name = name
            statements.append((name, staged))
            if st.name is not None:
                v = E.Var(name, staged.shape)
                intermediates[name] = v
                staged_env[name] = v
                inline_env[name] = inlined
                self.inline[v] = inlined
            out_inline = inlined
        keep = frozenset(n for n, d in inf.decls.items() if d.explicit_2d and n in inputs)
        return Typed(output=out_inline, output_name=last_name, inputs=inputs,
                     statements=statements, intermediates=intermediates, inline=self.inline,
                     keep_2d=keep, dim_names={d for v in inputs.values() for d in v.shape
                                              if isinstance(d, str)} | inf.dim_symbols,
                     spans=dict(inf.var_span), origins=dict(inf.origins))

    def build(self, root, env: dict[str, E.Node]) -> E.Node:
        # chains a + b - c + ... and A*B*C*... become one n-ary node, built once (linear
        # time: folding them pairwise would copy the chain at every step); nodes are built
        # children first, left to right, from the reverse of a right-first pre-order
        order = []
        stack = [root]
        while stack:
            n = stack.pop()
            if _is_additive(n):
                signs, kids = _additive_chain(n)
            elif self._is_matrix_chain(n):
                signs, kids = None, _product_chain(n, self.inf.types)
            else:
                signs, kids = False, S.ast_children(n)
            order.append((n, signs, kids))
            stack.extend(kids)
        memo: dict[int, E.Node] = {}
        for n, signs, kids in reversed(order):
            parts = [memo[id(k)] for k in kids]
            if signs is False:
                memo[id(n)] = self._node(n, parts, env)
            elif signs is None:
                memo[id(n)] = E.MatMul(tuple(parts))
            else:
                memo[id(n)] = self._sum(n, signs, parts)
        return memo[id(root)]

    def _is_matrix_chain(self, n) -> bool:
        """A left-nested chain of * or @ whose operands are all non-scalars (a product)."""
        if not (_is_product(n) and _is_product(n.left)):
            return False
        return all(not self.inf.types[id(k)].is_scalar
                   for k in _product_chain(n, self.inf.types))

    def _not_zero(self, where, divisor: E.Node, what: str = "division by zero") -> None:
        """A divisor made of numbers alone that is 0 (x/0, x/(0.5 - 0.5), inv(0)) is
        refused: no derivative exists anywhere. `where` is the divisor's syntax node."""
        if any(not isinstance(k, E.Const) for k in E.walk(divisor) if not k.children):
            return
        from .simplify import simplify
        try:
            value = simplify(divisor)
        except MatcalcError as e:            # a constant beyond double precision, folded
            e.span, e.source = where.span, self.inf.src
            raise
        if isinstance(value, E.Const) and value.value == 0:
            said = "" if isinstance(where, S.Number) else f": {self.inf.text(where)} is 0"
            raise ShapeError(what + said, where.span, self.inf.src)

    def _sized(self, n, shape: E.Shape) -> None:
        """A constant whose size no variable fixes cannot be evaluated: say so."""
        free = [d for d in shape if isinstance(d, str) and d not in self.fixed]
        if free:
            raise ShapeError(f"the size of {self.inf.text(n)} is not fixed: no variable has "
                             f"its dimension {free[0]}", n.span, self.inf.src,
                             hint="use it with a variable of that size, or declare the size "
                                  "with --shape")

    def _sum(self, n, signs: list[int], kids: list[E.Node]) -> E.Node:
        """The terms of an additive chain, each broadcast to the sum's shape (broadcasting
        distributes over the sum, so this equals the step-by-step result)."""
        shape = self.shape(self.inf.types[id(n)])
        terms = []
        for sign, k in zip(signs, kids):
            k = E.broadcast_to(k, shape)
            terms.append(k if sign > 0 else E.Scale(E.Const(-1), k))
        return E.Add(tuple(terms))

    def _node(self, n, kids: list[E.Node], env: dict[str, E.Node]) -> E.Node:
        kind = type(n)
        if kind in (S.Indexed, S.IndexedGroup) or kind is S.Binary and n.indexed:
            from .indices import build_expression
            return build_expression(self, n, env)
        if kind is S.Name:
            node = env.get(n.name)
            if node is not None:
                return node
            if n.name in self.inf.dim_symbols:
                return E.DimValue(n.name)
            function = ops.LANGUAGE.get(n.name)
            if function is not None and function.arity == 0:      # eye
                shape = self.shape(self.inf.types[id(n)])
                self._sized(n, shape)
                return function.build(shape)
            raise AssertionError(n.name)
        if kind is S.Binary:
            a, b = kids
            op = n.op
            if op == "*" or op == "@":
                if a.is_scalar or b.is_scalar:
                    return E.Scale(a, b) if a.is_scalar else E.Scale(b, a)
                return E.MatMul((a, b))
            if op == "/":
                self._not_zero(n.right, b)
                return E.Scale(E.Power(b, E.Const(-1)), a)
            if op == "^" and not a.is_scalar:
                return _matrix_power(a, _integer(n.right))
            if op == ".^" and not b.is_scalar:
                return _array_power(a, b, self.shape(self.inf.types[id(n)]))
            if op == "^" or op == ".^":
                return E.Power(a, b)
            shape = self.shape(self.inf.types[id(n)])
            a, b = E.broadcast_to(a, shape), E.broadcast_to(b, shape)
            if op == "+":
                return E.Add((a, b))
            if op == "-":
                return E.Add((a, E.Scale(E.Const(-1), b)))
            if op == ".*":
                return E.Hadamard((a, b))
            if op == "./":
                self._not_zero(n.right, kids[1])
                return E.Divide(a, b)
            if op == ">":
                return E.Func("step", E.Add((a, E.Scale(E.Const(-1), b))))
            raise AssertionError(op)
        if kind is S.Transpose:
            if _is_literal_one(n.operand):                  # 1': a row of ones
                shape = self.shape(self.inf.types[id(n)])
                self._sized(n, shape)
                return E.Ones(shape)
            return E.Transpose(kids[0])
        if kind is S.Norm:
            return E.Norm1(kids[0]) if n.sub in ("1", "1,1") else E.Norm2(kids[0])
        if kind is S.Number:
            try:
                return E.Const(n.value)
            except MatcalcError as e:             # a literal beyond double precision
                e.span, e.source = n.span, self.inf.src
                raise
        if kind is S.Neg:
            return E.Scale(E.Const(-1), kids[0])
        if kind is S.Call:
            function = ops.CALLED[n.func]
            if len(kids) == 2:                        # f(X, dim)
                return function.along.build(kids[0], int(n.args[1].value))
            if function.sized:                        # a constant: its size is the program's
                shape = self.shape(self.inf.types[id(n)])
                self._sized(n, shape)
                return function.build(shape, *kids)
            if n.func == "inv" and kids and kids[0].shape == (1, 1):
                self._not_zero(n.args[0], kids[0], "the inverse of zero")
            return function.build(*kids)
        raise AssertionError(n)


def _array_power(x: E.Node, p: E.Node, shape: E.Shape) -> E.Node:
    """x.^P with an array exponent P, entry by entry: exp(P .* log(x)), which is x.^P
    wherever x > 0, where x.^P of any real P is real (and where its derivative in P, x.^P
    .* log(x), exists). Written with existing nodes for now: E.Power takes an array
    exponent, but code generation and the simplifier still transpose a power's base
    without its exponent (codegen._transposed, simplify._norm_power, _norm_transpose)."""
    if x.is_scalar:                                # 2.^p = exp(log(2) p)
        return E.Func("exp", E.Scale(E.Func("log", x), E.broadcast_to(p, shape)))
    x, p = E.broadcast_to(x, shape), E.broadcast_to(p, shape)
    return E.Func("exp", E.Hadamard((p, E.Func("log", x))))


def _matrix_power(x: E.Node, k: int) -> E.Node:
    """X^k for a square X: I, X, the product of k factors X, or for k < 0 of inv(X)."""
    if k == 0:
        return E.Identity(x.shape[0])
    base = x if k > 0 else E.Inv(x)
    return base if abs(k) == 1 else E.MatMul((base,) * abs(k))


def _bare_output_name(node: E.Node, taken: set[str]) -> str:
    r, c = node.shape
    base = "f" if (r, c) == (1, 1) else ("y" if c == 1 or r == 1 else "Y")
    name, i = base, 1
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


def _names_in(node) -> list:
    """The names in an AST subtree, left to right: `2*m` holds m."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, S.Name):
            out.append(n)
        elif isinstance(n, S.Binary):
            stack += [n.right, n.left]
        elif isinstance(n, (S.Neg, S.Transpose, S.Norm)):
            stack.append(n.operand)
        elif isinstance(n, S.Call):
            stack += reversed(n.args)
    return out
