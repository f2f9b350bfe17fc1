"""The adjoint equations of a program, one per named intermediate, as the notes write them.

For `z = W1*x + b1; a = relu(z); o = W2*a + b2; J = 0.5*norm2(y - o)^2` the steps are
`do = o - y`, `dW2 = do*a'`, `db2 = do`, `da = W2'*do`, `dz = da .* (z > 0)`, ...:
each intermediate's adjoint `dv` (standing for dJ/dv) is a fresh Var, every statement is
differentiated on its own (its operands are the earlier names), and a formula that
contains the value of an intermediate is written with its name. Statements are visited in
reverse order; an input's equation is emitted once its last contribution has arrived.
"""
from __future__ import annotations

from .differentiate import vjp
from .errors import MatcalcError, Span
from .expr import Add, Const, Node, Var, Zero, variables
from .layout import substitute
from .simplify import simplify
from .structure import gradient as structure_gradient
from .structure import structures, use_structure


class Step:
    """One adjoint equation `name = formula` (name is e.g. "dz", standing for dJ/dz)."""

    def __init__(self, name: str, of: str, adjoint: Node, derivation):
        self.name = name
        self.of = of
        self.adjoint = adjoint             # adjoint form, in terms of names and adjoint Vars
        self.is_input = of in derivation.inputs
        node = derivation.finish(adjoint, derivation.adjoint_vars)
        self.derivative = derivation.derivative(name, node)

    @property
    def node(self) -> Node:
        return self.derivative.node

    @property
    def text(self) -> str:
        return self.derivative.text

    @property
    def latex(self) -> str:
        return self.derivative.latex

    @property
    def numpy(self) -> str:
        return self.derivative.numpy


def adjoint_names(d) -> dict[str, str]:
    """Intermediate name -> the name of its adjoint Var (`z` -> `dz`), avoiding clashes."""
    typed = d.typed
    taken = set(typed.inputs) | set(typed.intermediates) | {typed.output_name}
    if d.upstream_name:
        taken.add(d.upstream_name)
    out = {}
    for name, _ in typed.statements[:-1]:
        adj = "d" + name
        while adj in taken:
            adj += "_"
        taken.add(adj)
        out[name] = adj
    for name in d.derivatives:
        adj = "d" + name
        while adj in taken:
            adj += "_"
        taken.add(adj)
        out.setdefault(name, adj)
    return out


def program_steps(d) -> list[Step]:
    try:
        return _program_steps(d)
    except MatcalcError as e:          # e.g. a dead statement's constant beyond double range
        if e.span is None:
            e.span = Span(0, len(d.program.rstrip()) or 1)
        raise e.with_source(d.program)


def _program_steps(d) -> list[Step]:
    typed = d.typed
    stmts = typed.statements
    last = len(stmts) - 1
    names = adjoint_names(d)
    inter = typed.intermediates
    adj_vars = {n: Var(names[n], v.shape) for n, v in inter.items() if n != stmts[-1][0]}
    d.adjoint_vars = list(adj_vars.values()) + ([d.adjoint_upstream] if d.adjoint_upstream
                                                else [])
    wrt = [typed.inputs[n] for n in d.derivatives]
    first_use: dict[Var, int] = {}
    for k, (_, node) in enumerate(stmts):
        for v in variables(node):
            first_use.setdefault(v, k)
    # a formula that contains the value of an intermediate is written with its name
    by_value: dict[Node, Node] = {}
    for name, node in stmts:
        if name in inter:            # the output too, when it is named: ds = L*(1 - L)
            for value in (node, simplify(node)):
                if value.children:   # never a leaf: a zero is not "H1", a Var not its alias
                    by_value[value] = inter[name]

    kinds = structures(d.onehot)

    def named(node: Node) -> Node:
        node = use_structure(simplify(node), d.onehot)          # S' = S
        return simplify(substitute(node, by_value))

    acc: dict[Var, list[Node]] = {}
    steps: list[Step] = []
    seed = Const(1) if d.is_scalar else d.adjoint_upstream
    for k in range(last, -1, -1):
        name, node = stmts[k]
        if k < last:
            v = inter[name]
            parts = acc.pop(v, [])
            total = Zero(v.shape) if not parts else parts[0] if len(parts) == 1 else \
                Add(tuple(parts))
            steps.append(Step(names[name], name, named(total), d))
            g = adj_vars[name]
        else:
            g = seed
        earlier = [inter[n] for n, _ in stmts[:k] if n in inter]
        targets = [v for v in variables(node) if v in earlier or v in wrt]
        for v, share in vjp(node, g, targets).items():
            acc.setdefault(v, []).append(share)
        for v in variables(node):
            if v in wrt and first_use[v] == k:
                parts = acc.pop(v, [])
                total = Zero(v.shape) if not parts else parts[0] if len(parts) == 1 else \
                    Add(tuple(parts))
                if v.name in kinds:         # a structured input: its gradient's convention
                    total = structure_gradient(simplify(total), kinds[v.name], d.convention,
                                               d.onehot, v)
                steps.append(Step(names[v.name], v.name, named(total), d))
    return steps


def expanded_adjoints(d) -> dict[str, Node]:
    """Each step's formula with every name expanded down to the inputs, by the name of
    the variable it differentiates by (`z` -> the full dJ/dz)."""
    full: dict[Node, Node] = dict(d.typed.inline)
    out = {}
    for s in d.steps:
        full[Var(s.name, s.adjoint.shape)] = out[s.of] = substitute(s.adjoint, full)
    return out


def step_checks(d) -> list[tuple[str, Node, dict[str, Node], dict[str, Node]]]:
    """(label, function, {variable: gradient}, tied) that verify every step: an input's
    step with all names expanded against the whole program, an intermediate's step against
    the tail of the program that starts from it (the intermediate as a free variable). The
    check starts from the program's own values of the intermediates (`tied`: name -> value
    over the inputs), since a step may name a value the program computes twice
    (`h = W*x; f = sum(W*x .* h)`: dh = h), which equal each other only there."""
    typed = d.typed
    stmts = typed.statements
    last = len(stmts) - 1
    steps = d.steps
    inter = typed.intermediates
    adj_var = {s.of: Var(s.name, s.adjoint.shape) for s in steps}
    out: list[tuple[str, Node, dict[str, Node]]] = []
    # inputs: everything expanded down to the inputs
    full: dict[Node, Node] = dict(typed.inline)
    for s in steps:
        full[adj_var[s.of]] = substitute(s.adjoint, full)
    grads = {s.of: full[adj_var[s.of]] for s in steps if s.is_input}
    if grads:
        out.append(("inputs", typed.output, grads, {}))
    # intermediates: the tail function of each
    index = {name: k for k, (name, _) in enumerate(stmts)}
    for s in steps:
        if s.is_input:
            continue
        j = index[s.of]
        tail: dict[Node, Node] = {}
        for k in range(j + 1, last):
            tail[inter[stmts[k][0]]] = substitute(stmts[k][1], tail)
        fj = substitute(stmts[last][1], tail)
        exp = dict(tail)
        if stmts[last][0] in inter:            # a step may name the output itself (1 - f^2)
            exp[inter[stmts[last][0]]] = fj
        for t in steps:
            if t.is_input:
                continue
            if index[t.of] > j:
                exp[adj_var[t.of]] = substitute(t.adjoint, exp)
        step = substitute(s.adjoint, exp)
        free = {v.name for v in variables(fj)} | {v.name for v in variables(step)}
        tied = {name: typed.inline[var] for name, var in inter.items()
                if name in free and var in typed.inline}
        out.append((s.name, fj, {s.of: step}, tied))
    return out
