"""The typed program built into the IR: the second pass of shape inference.

The first pass (`matcalc.shapes`) typed every AST node, unifying dimensions; this one
walks the AST again with every dimension resolved (the unbound ones named n, m, p, ...,
avoiding names in use, the inputs' first) and builds interned IR nodes bottom-up: chains
of + and - and of matrix products as one n-ary node each, broadcasts as explicit
`Broadcast` nodes, and each statement twice, staged (earlier names as variables, for the
steps) and inlined (for the derivative).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import expr as E
from . import ops
from . import syntax as S
from .dimensions import Dimish, DimVar, TensorType, Type, _dim_names, _find
from .errors import MatcalcError, ShapeError, Span

if TYPE_CHECKING:
    from .shapes import _Infer


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


def build_ir(inf: _Infer) -> Typed:
    """The IR of a program typed by `inf` (shapes._Infer, run), with its inputs, named
    intermediates and statements."""
    return _Build(inf).run()


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
