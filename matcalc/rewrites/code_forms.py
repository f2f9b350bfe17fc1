"""The forms generated code computes, read by `matcalc.codegen.passes`: stable forms
(`STABLE_FORMS`, in three passes: relu' read off the activation, log-softmax and softmax
through logsumexp, the logistic function by name, (A + B) x as A x + B x) and
transposes that cancel where they meet (`MEET`).
"""
from __future__ import annotations

from ..expr import (
    SCALAR,
    Add,
    Const,
    Func,
    Hadamard,
    LogSumExp,
    MatMul,
    Node,
    Scale,
    Transpose,
    Var,
    add,
    broadcast_to,
)
from ..patterns import Name, P, Rewrite, RuleSet, dag_order, rewrite_dag
from .display import FACTORS
from .transpose import _FUNC_OF_TRANSPOSE, _T, push_transpose
from .vocabulary import ONE_PLUS_EXP, column, fs, row, scalar, ts, x

# ---- stable forms for generated code -------------------------------------------------------


def tr(x: Node) -> Node:
    """x' without a double transpose (a scalar is its own transpose)."""
    return push_transpose(x) if scalar(x) or isinstance(x, Transpose) else Transpose(x)


def _log_softmax(z: Node) -> Node:
    # log softmax(z) = z - logsumexp(z), column by column: never log of an underflowed 0
    return add(z, -broadcast_to(LogSumExp(z), z.shape))


def strip_transposes(x: Node) -> Node:
    """x with its outer transposes removed."""
    while isinstance(x, Transpose):
        x = x.x
    return x


def sum_of_arguments(x: Node) -> bool:
    """A sum of matrices that are arguments (or their transposes, scaled): computing it is
    all cost, no sharing."""
    if not isinstance(x, Add) or 1 in x.shape:
        return False
    for t in x.terms:
        while isinstance(t, Scale) and t.s.shape == SCALAR and isinstance(t.s, Const):
            t = t.x
        if not isinstance(strip_transposes(t), Var):
            return False
    return True


_SIGMOID = FACTORS.rules[0]

STABLE_FORMS = (
    RuleSet("stable forms", [
        # (x')' = x: a forward x'' is not .T.T
        _T["(X')' = X"],
        # step(z) = step(relu(z)): relu'(z) read off the activation, where it is computed
        Rewrite("step(z) = step(relu(z))", P.Func("step", x),
                lambda x: Func("step", Func("relu", x)), when=lambda old, ctx: old.x in ctx),
        # log(softmax(z)) = z - logsumexp(z), column by column
        Rewrite("log(softmax(z)) = z - logsumexp(z)", P.Func("log", P.Softmax(x)),
                lambda x: _log_softmax(x), when=lambda x: not row(x)),
        # log(softmax(z)') = z' - logsumexp(z)'
        Rewrite("log(softmax(z)') = z' - logsumexp(z)'",
                Name("L", P.Func("log", P.Transpose(P.Softmax(x)))),
                lambda L, x: add(tr(x), -broadcast_to(tr(LogSumExp(x)), L.shape)),
                when=lambda x: not row(x)),
        # exp(u) ./ (1 + exp(u)) = sigmoid(u): no inf/inf for large u
        _SIGMOID,
        # a .* exp(u) ./ (1 + exp(u)) = a .* sigmoid(u)
        Rewrite("a .* exp(u) ./ (1 + exp(u)) = a .* sigmoid(u)",
                P.Divide(P.Hadamard(fs), ONE_PLUS_EXP),
                lambda fs, u: Hadamard((*_without(fs, Func("exp", u)), Func("sigmoid", u))),
                when=lambda fs, u: Func("exp", u) in fs),
    ], doc="pass 1: relu', log softmax, the logistic function"),
    RuleSet("stable forms, products", [
        # (A + B) x = A x + B x: two matrix-vector products, not a matrix sum
        Rewrite("(A + B) x = A x + B x", P.MatMul(Name("S", P.Add(ts)), x),
                lambda ts, x: Add(tuple(MatMul((a, x)) for a in ts)),
                when=lambda S, x: sum_of_arguments(S) and column(x)),
        # x'(A + B) = x'A + x'B
        Rewrite("x'(A + B) = x'A + x'B", P.MatMul(x, Name("S", P.Add(ts))),
                lambda ts, x: Add(tuple(MatMul((x, a)) for a in ts)),
                when=lambda S, x: sum_of_arguments(S) and row(x)),
    ], doc="pass 2: matrix sums of arguments times a vector"),
    RuleSet("stable forms, softmax", [
        # softmax(z) = exp(z - logsumexp(z)), where logsumexp(z) is computed anyway
        Rewrite("softmax(z) = exp(z - logsumexp(z))", P.Softmax(x),
                lambda x: Func("exp", _log_softmax(x)), when=lambda x, ctx: x in ctx),
    ], doc="pass 3: softmax through the logsumexp the loss computes"),
)


def _without(fs: tuple, one: Node) -> list:
    rest = list(fs)
    rest.remove(one)
    return rest


def stable_forms(roots: list[Node]) -> list[Node]:
    """The roots in the forms generated code computes stably (`STABLE_FORMS`, in three
    passes over the DAG): relu'(z) read off the activation, log-softmax and softmax
    through logsumexp, the logistic function by name, (A + B) x as A x + B x."""
    first, products, softmax = STABLE_FORMS
    relu_args = {n.x for n in dag_order(roots) if isinstance(n, Func) and n.name == "relu"}
    roots = rewrite_dag(roots, first, ctx=relu_args)
    roots = rewrite_dag(roots, products)
    lse_args = {n.x for n in dag_order(roots) if isinstance(n, LogSumExp) and n.x.shape[0] != 1}
    if not lse_args:
        return roots
    return rewrite_dag(roots, softmax, ctx=lse_args)


# (x')' = x and f(x') = f(x)': where transposes meet, they cancel (generated code)
MEET = RuleSet("transposes meet", [_T["(X')' = X"], _FUNC_OF_TRANSPOSE])
