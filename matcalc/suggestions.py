"""What a refused program should say instead: the fixes and hints of shape and name errors.

A user error names what to write instead, and that suggestion must itself work: `fix`
writes the program again with some of its nodes replaced (parenthesised where their
place needs it), as a `Fix` the CLI and the web page can offer to run. Besides the
rewrites of one failed operation (a transpose, `./` for `/`, a declaration of a
dimension), some programs are refused before typing because they most likely mean
something else: a name that is a product of names (`AX`), powers that notes write
otherwise (`e^x`, `X^TX`, `X^-T`), index notation without brackets (`b_j`), another
tool's function (`dot(x, y)` is `x'*y`) or a near spelling (`tahn`).

`Suggestions` is mixed into the inference pass (`matcalc.shapes._Infer`), whose state it
reads: the program and its source, the types found so far, the declarations.
"""
from __future__ import annotations

import re

from . import ops
from . import syntax as S
from .dimensions import (
    GREEK,
    Declaration,
    Dimish,
    DimVar,
    Type,
    _dim_names,
    _find,
    default_kind,
)
from .errors import Fix, MatcalcError, NameError_


class Suggestions:
    """The methods of the inference pass that write what to say instead (see above)."""

    # -- the program rewritten, a valid input to suggest ---------------------------------
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

    # -- names and notations refused before typing ---------------------------------------
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

    # -- hints for one operation that does not type --------------------------------------
    def _atom(self, node) -> str:
        """The operand as written, parenthesised unless it is a name, number or call."""
        t = self.text(node)
        return t if isinstance(node, (S.Name, S.Number, S.Call, S.Norm)) or \
            t.startswith("(") and t.endswith(")") else f"({t})"

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
            typed = type(self)(self.program, {**self.decls, name: Declaration(1, 1)}, self.kinds)
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

    # -- a call of a name that is no function --------------------------------------------
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
