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
class Declaration:
    """What `--shape NAME=DIMS` said: dims (rows, cols) and whether a 1 was explicit."""

    rows: str | int
    cols: str | int
    explicit_2d: bool = False   # `n,1` or `1,n`: keep 2-D in NumPy


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
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise OptionError(f"bad --shape {text!r}: expected one or two dimensions "
                          f"(b=m, X=N,n, r=1,m) or 'scalar'")
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
    if name.lower() in GREEK:
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


@E.gc_paused
def infer_shapes(program: S.Program, shapes: dict[str, Declaration] | None = None,
                 kinds: str = "ml") -> Typed:
    """Type the program and build its IR; raises ShapeError / NameError_ with spans."""
    if kinds not in ("ml", "mc"):
        raise OptionError(f"unknown --kinds {kinds!r}: expected ml or mc")
    inf = _Infer(program, shapes or {}, kinds)
    inf.run()
    return _Build(inf).run()


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
            for v in (d.rows, d.cols):
                if isinstance(v, str):
                    self.dim_symbols.add(v)
        self.assigned: set[str] = set()
        self._shown: dict[int, str] = {}

    # -- helpers ---------------------------------------------------------------------
    def text(self, node) -> str:
        """The operand as the user wrote it (its middle elided when it is long)."""
        t = " ".join(re.sub(r"#[^\n]*", "", self.src[node.span.start:node.span.end]).split())
        if isinstance(node, S.Binary) and node.op in ("+", "-", ">"):
            t = f"({t})"                        # it was parenthesised to be an operand
        return t if len(t) <= 60 else t[:28] + "..." + t[-28:]

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

    def fail(self, msg: str, span: Span, hint: str | None = None):
        raise ShapeError(msg, span, self.src, hint)

    # -- the walk ----------------------------------------------------------------------
    def run(self) -> None:
        stmts = self.program.statements
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
            t = self.visit(st.expr)
            if st.name is not None and st.name in self.var_types:
                raise NameError_(f"{st.name} is used before it is assigned", st.name_span,
                                 self.src, hint=f"it was first used at "
                                 f"{self._where(self.var_span[st.name])}; rename one of them")
            if st.name is not None:
                if st.name in self.decls:
                    d = self.decls[st.name]
                    try:
                        _unify(t.rows, d.rows)
                        _unify(t.cols, d.cols)
                    except _Mismatch:
                        self.fail(f"{st.name} is declared {d.rows} x {d.cols} but its value is "
                                  f"{self.show(t)}", st.span)
                self.stmt_types[st.name] = t
                self.assigned.add(st.name)

    def _where(self, span: Span) -> str:
        line, col = line_and_column(self.src, span.start)
        return f"line {line}, column {col}"

    def visit(self, node) -> Type:
        # children before parents, left to right, without recursion (long flat chains never
        # hit the recursion limit): the reverse of a pre-order that takes the right first
        order = _right_first_preorder(node)
        types = self.types
        for n in reversed(order):
            types[id(n)] = self._type_of(n)
        return types[id(node)]

    def _type_of(self, n) -> Type:
        kind = type(n)
        if kind is S.Name:
            return self._name_type(n)
        if kind is S.Binary:
            return self._binary(n)
        if kind is S.Transpose:
            t = self.types[id(n.operand)]
            return Type(t.cols, t.rows)
        if kind is S.Number:
            return SCALAR_T()
        if kind is S.Neg:
            return self.types[id(n.operand)]
        if kind is S.Call:
            return self._call(n)
        raise AssertionError(kind)

    def _name_type(self, n: S.Name) -> Type:
        name = n.name
        if name in self.stmt_types:
            return self.stmt_types[name]
        if name in self.dim_symbols:
            return SCALAR_T()
        function = ops.LANGUAGE.get(name)
        if function is not None and function.arity == 0:      # a constant: eye
            return function.shape(Call(self, n))
        if function is not None:
            raise NameError_(f"{name} is a function; call it as {name}(...)", n.span, self.src)
        if name in self.var_types:
            return self.var_types[name]
        if name in self.decls:
            d = self.decls[name]
            t = Type(d.rows, d.cols)
        else:
            kind = default_kind(name, self.kinds)
            if kind == "scalar":
                t = SCALAR_T()
            elif kind == "vector":
                t = Type(DimVar(), 1)
            else:
                t = Type(DimVar(), DimVar())
        self.var_types[name] = t
        self.var_order.append(name)
        self.var_span[name] = n.span
        if len(self.var_order) > MAX_VARIABLES:
            raise LimitError(f"too many variables: more than {MAX_VARIABLES:,} "
                             f"(matcalc.shapes.MAX_VARIABLES)", n.span, self.src)
        return t

    def _binary(self, n: S.Binary) -> Type:
        a, b = self.types[id(n.left)], self.types[id(n.right)]
        op = n.op
        if op in ("*", "@"):
            if a.is_scalar or b.is_scalar:
                return b if a.is_scalar else a
            try:
                _unify(a.cols, b.rows)
            except _Mismatch:
                self._matmul_error(n, a, b)
            return Type(a.rows, b.cols)
        if op == "/":
            if not b.is_scalar:
                declare = self._default_hint(*_names_in(n.right))
                self.fail(f"cannot divide {self.text(n.left)} ({self.show(a)}) by "
                          f"{self.text(n.right)} ({self.show(b)}): '/' divides by a scalar",
                          n.span, hint="for elementwise division use ./" + declare)
            return a
        if op in ("^",):
            if not b.is_scalar:
                self.fail(f"the exponent {self.text(n.right)} must be a scalar, "
                          f"not {self.show(b)}", n.right.span)
            if not a.is_scalar:
                self.fail(f"cannot raise {self.text(n.left)} ({self.show(a)}) to a power with ^: "
                          f"it is not a scalar", n.span,
                          hint="for an elementwise power use .^ (a matrix power is not supported)")
            return a
        if op == ".^":
            if not b.is_scalar:
                self.fail(f"the exponent {self.text(n.right)} must be a scalar, "
                          f"not {self.show(b)}", n.right.span)
            return a
        # elementwise: + - .* ./ >  (NumPy broadcasting of scalars, rows, columns)
        return self._elementwise(n, a, b)

    def _elementwise(self, n: S.Binary, a: Type, b: Type) -> Type:
        verb = {"+": "add", "-": "subtract", ".*": "multiply elementwise",
                "./": "divide elementwise", ">": "compare"}[n.op]
        if a.is_scalar:
            return b
        if b.is_scalar:
            return a
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
            if (a.is_row and b.is_col) or (a.is_col and b.is_row):
                raise _Mismatch()
            _unify(a.rows, b.rows)
            _unify(a.cols, b.cols)
            return a
        except _Mismatch:
            hint = None
            l_t, r_t = Type(a.cols, a.rows), Type(b.cols, b.rows)
            if self._fits(a, r_t):
                hint = f"did you mean {self._transposed(n.right)} ?"
            elif self._fits(l_t, b):
                hint = f"did you mean {self._transposed(n.left)} ?"
            self.fail(f"cannot {verb} {self.text(n.left)} ({self.show(a)}) and "
                      f"{self.text(n.right)} ({self.show(b)})", n.span,
                      hint=hint or self._default_hint(n.left, n.right))

    def _fits(self, a: Type, b: Type) -> bool:
        ra, ca, rb, cb = (_find(a.rows), _find(a.cols), _find(b.rows), _find(b.cols))
        def ok(x, y):
            return isinstance(x, DimVar) or isinstance(y, DimVar) or x == y
        return ok(ra, rb) and ok(ca, cb)

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
        function = ops.LANGUAGE.get(f)
        if function is None:
            if f in self.stmt_types or f in self.var_types or f in self.decls:
                raise NameError_(f"{f} is not a function", n.name_span, self.src)
            import difflib  # only for this message
            close = [ops.ALIASES[f]] if f in ops.ALIASES else \
                difflib.get_close_matches(f, list(ops.LANGUAGE), n=1)
            raise NameError_(f"unknown function {f}", n.name_span, self.src,
                             hint=f"did you mean {close[0]} ?" if close else
                             "known functions: " + ", ".join(ops.LANGUAGE))
        arity = function.arity
        if len(n.args) != arity:
            want = "no arguments" if arity == 0 else "one argument"
            raise ShapeError(f"{f} takes {want}, got {len(n.args)}", n.span, self.src)
        return function.shape(Call(self, n))


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

    def fail(self, message: str, hint: str | None = None):
        self._inf.fail(message, self._n.span, hint)

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


def _dim_names():
    """n, m, p, q, ... then d1, d2, ...: names for dimensions nobody declared."""
    yield from DIM_POOL
    i = 1
    while True:
        yield f"d{i}"
        i += 1


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
    return isinstance(n, S.Binary) and n.op in ("*", "@")


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


def _ast_children(n) -> tuple:
    kind = type(n)
    if kind is S.Binary:
        return (n.left, n.right)
    if kind is S.Transpose or kind is S.Neg:
        return (n.operand,)
    if kind is S.Call:
        return n.args
    return ()


def _right_first_preorder(root) -> list:
    """The AST below root, parents first, the right operand's subtree before the left's:
    reversed, it lists children before parents and left before right."""
    order = []
    stack = [root]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(_ast_children(n))
    return order


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
            staged = self.build(st.expr, staged_env)
            # with no intermediate defined yet, the inlined form is the staged one
            inlined = self.build(st.expr, inline_env) if intermediates else staged
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
                     spans=dict(inf.var_span))

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
                signs, kids = False, _ast_children(n)
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
            return E.Transpose(kids[0])
        if kind is S.Number:
            try:
                return E.Const(n.value)
            except MatcalcError as e:             # a literal beyond double precision
                e.span, e.source = n.span, self.inf.src
                raise
        if kind is S.Neg:
            return E.Scale(E.Const(-1), kids[0])
        if kind is S.Call:
            function = ops.LANGUAGE[n.func]
            if function.sized:                        # a constant: its size is the program's
                shape = self.shape(self.inf.types[id(n)])
                self._sized(n, shape)
                return function.build(shape, *kids)
            if n.func == "inv" and kids and kids[0].shape == (1, 1):
                self._not_zero(n.args[0], kids[0], "the inverse of zero")
            return function.build(*kids)
        raise AssertionError(n)


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
        elif isinstance(n, (S.Neg, S.Transpose)):
            stack.append(n.operand)
        elif isinstance(n, S.Call):
            stack += reversed(n.args)
    return out
