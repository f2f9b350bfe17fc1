"""The derivative rule table, walked: every node kind has a rule and a test, and every
rule agrees with two independent oracles (SymPy, finite differences) in every layout.

`CASES` holds, for each node kind, small programs whose IR contains that kind; a kind
of `matcalc.rules.VJP` or of `matcalc.expr.NODE_KINDS` (leaves aside) without a case
fails `test_every_node_kind_has_a_rule_and_a_case`, so a new kind is tested the day it
lands. Each case is checked twice: the rule's raw output (before simplification) and the
full pipeline (simplified, in the numerator, denominator and mixed layouts).
"""
import zlib

import numpy as np
import pytest
from oracle import (
    assert_matches_fd,
    assert_matches_sympy,
    assign_dims,
    check_program,
    draw_point,
    exact_gradient_at,
    exact_gradients_chained,
    node_kinds,
    np_eval,
)

import matcalc
from matcalc import expr as E
from matcalc import ops
from matcalc.differentiate import gradient
from matcalc.rules import VJP
from matcalc.rules.elementwise import DERIVATIVE


def case(program: str, signed: bool = False, **shapes):
    """A program, its --shape declarations, and whether inputs may be negative."""
    return (program, shapes, signed)


# node kind -> programs whose IR contains it
CASES = {
    E.Add: [case("x + y"), case("sum(X + Y - Z)"), case("tr(A + B + C)")],
    E.Scale: [case("alpha*x"), case("sum(alpha*X*beta)"), case("-(x'*y)*z")],
    E.MatMul: [case("A*x"), case("tr(A*B*C)"), case("x'*A*y"), case("A*B*C*D"),
               case("W*X + b*vector(1)'")],
    E.Transpose: [case("A'"), case("sum(A'*B)"), case("x'")],
    E.Broadcast: [case("X + b'", X="N,n"), case("X + b", X="n,N"), case("x + alpha"),
                  case("sum(X*w + beta)"), case("X + alpha")],
    E.Hadamard: [case("x .* y"), case("sum(X .* Y .* Z)"), case("x .* x")],
    E.Divide: [case("x ./ y"), case("sum(X ./ Y)"), case("alpha ./ x")],
    E.Power: [case("x .^ 3"), case("(x'*y)^2"), case("sum(X .^ 0.5)"),
              case("alpha^beta"), case("x .^ alpha"), case("sum(X)/alpha")],
    E.Func: [case("exp(x)"), case("sum(log(X))")],
    E.Sum: [case("sum(x)"), case("sum(X)"), case("sum(A*B)")],
    E.Trace: [case("tr(X)"), case("tr(A*B)")],
    E.Norm1: [case("norm1(x)", signed=True), case("norm1(X)", signed=True)],
    E.Norm2: [case("norm2(x)"), case("norm2(X)"), case("norm2(A*x - y)^2")],
    E.Det: [case("det(X)"), case("det(A*B)", A="n,m")],
    E.LogDet: [case("logdet(X)"), case("logdet(A'*A + eye)")],
    E.Inv: [case("inv(X)"), case("tr(inv(X))"), case("x'*inv(X)*y")],
    E.DiagMat: [case("diag(x)"), case("x'*diag(a)*y")],
    E.DiagVec: [case("diag(X)"), case("sum(diag(A*B))")],
    E.Tril: [case("tril(X)"), case("x'*tril(A*B)*y")],
    E.Triu: [case("triu(X)"), case("sum(triu(A'*B))")],
    E.Softmax: [case("softmax(x)"), case("softmax(X)"), case("y'*softmax(W*x)")],
    E.LogSumExp: [case("logsumexp(x)"), case("logsumexp(X)"), case("sum(logsumexp(W*X))")],
}

# every elementwise function, on a vector and inside a matrix expression
FUNC_CASES = {
    "exp": [case("exp(x)"), case("sum(exp(A*x))")],
    "log": [case("log(x)"), case("sum(log(A*x))")],
    "sin": [case("sin(x)", signed=True), case("sum(sin(A*x))")],
    "cos": [case("cos(x)", signed=True), case("sum(cos(A*x))")],
    "tan": [case("tan(x)", signed=True), case("sum(tan(0.3*A*x))")],
    "tanh": [case("tanh(x)", signed=True), case("sum(tanh(A*x))")],
    "sigmoid": [case("sigmoid(x)", signed=True), case("sum(sigmoid(A*x))")],
    "relu": [case("relu(x)", signed=True), case("sum(relu(A*x - y))")],
    "abs": [case("abs(x)", signed=True), case("sum(abs(A*x - y))")],
    "sqrt": [case("sqrt(x)"), case("sum(sqrt(A*x))")],
    "arcsin": [case("arcsin(0.5*x)", signed=True), case("sum(arcsin(0.1*W*x))")],
    "arccos": [case("arccos(0.5*x)", signed=True), case("sum(arccos(0.1*W*x))")],
    "arctan": [case("arctan(x)", signed=True), case("sum(arctan(A*x))")],
    "sign": [case("sign(x)", signed=True), case("sum(sign(A*x - z))")],
    "step": [case("x > y"), case("sum(A*x > y)")],
}
ZERO_DERIVATIVE = ("sign", "step")      # piecewise constant: the derivative is zero


def _ids(table):
    return [(f"{getattr(k, '__name__', k)}-{p}", p, s, sg)
            for k, cases in table.items() for (p, s, sg) in cases]


ALL = _ids(CASES) + _ids(FUNC_CASES)


def _seed(program: str) -> int:
    return zlib.crc32(program.encode())


# ---- coverage of the table -------------------------------------------------------------

def test_every_node_kind_has_a_rule_and_a_case():
    kinds = set(VJP) | {k for k in E.NODE_KINDS if k not in E.LEAVES}
    assert kinds - set(CASES) == set(), "node kinds without a test case"
    assert {k for k in E.NODE_KINDS if k not in E.LEAVES} - set(VJP) == set(), \
        "node kinds without a derivative rule"


def test_every_elementwise_function_has_a_case():
    # the registry lists the functions (matcalc.ops); each has its rule and its cases
    assert set(ops.ELEMENTWISE) - set(FUNC_CASES) == set(), "functions without a test case"
    assert set(DERIVATIVE) - set(FUNC_CASES) == set()


@pytest.mark.parametrize("kind", list(CASES), ids=lambda k: k.__name__)
def test_each_case_exercises_its_kind(kind):
    for program, shapes, _ in CASES[kind]:
        d = matcalc.derive(program, shapes=shapes)
        assert kind in node_kinds(d.output), f"{program!r} has no {kind.__name__} node"


@pytest.mark.parametrize("name", list(FUNC_CASES))
def test_each_function_case_applies_its_function(name):
    for program, shapes, _ in FUNC_CASES[name]:
        d = matcalc.derive(program, shapes=shapes)
        assert any(isinstance(n, E.Func) and n.name == name for n in E.walk(d.output)), \
            f"{program!r} does not apply {name}"


# ---- each rule against both oracles -----------------------------------------------------

@pytest.mark.parametrize("program,shapes,signed", [a[1:] for a in ALL], ids=[a[0] for a in ALL])
def test_raw_rule_output_matches_sympy_and_finite_differences(program, shapes, signed):
    # the reverse sweep's adjoint, before simplification and layout: the rules alone
    d = matcalc.derive(program, shapes=shapes)
    wrt = list(d.inputs.values())
    raw = gradient(d.output, wrt, d.adjoint_upstream)
    dims = assign_dims(d.output, d.adjoint_upstream, *raw.values())
    values = draw_point(d.output, dims, _seed(program), d.adjoint_upstream, signed)
    for v in wrt:
        assert raw[v].shape == v.shape, f"adjoint of {v.name} has shape {raw[v].shape}"
        assert_matches_sympy(d.output, raw[v], v, dims, d.adjoint_upstream, values=values)
        assert_matches_fd(d.output, raw[v], v, dims, d.adjoint_upstream, values=values)


@pytest.mark.parametrize("program,shapes,signed", [a[1:] for a in ALL], ids=[a[0] for a in ALL])
def test_derivative_matches_both_oracles_in_every_layout(program, shapes, signed):
    assert check_program(program, shapes, seed=_seed(program), signed=signed) > 0


@pytest.mark.parametrize("program,shapes,signed", [a[1:] for a in ALL], ids=[a[0] for a in ALL])
def test_the_two_sympy_routes_agree(program, shapes, signed):
    # the oracle itself: sympy.diff of the whole loss = local sympy.diffs chained
    d = matcalc.derive(program, shapes=shapes)
    wrt = list(d.inputs.values())
    dims = assign_dims(d.output, d.adjoint_upstream)
    values = draw_point(d.output, dims, _seed(program), d.adjoint_upstream, signed)
    chained = exact_gradients_chained(d.output, wrt, values, dims, d.adjoint_upstream)
    for v in wrt:
        whole = exact_gradient_at(d.output, v, values, dims, d.adjoint_upstream)
        np.testing.assert_allclose(chained[v], whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ZERO_DERIVATIVE)
def test_piecewise_constant_functions_have_zero_derivative(name):
    for program, shapes, signed in FUNC_CASES[name]:
        for layout in ("denominator", "numerator", "mixed"):
            d = matcalc.derive(program, shapes=shapes, layout=layout)
            for v in d.derivatives:
                adj = d.adjoint_form(v)
                dims = assign_dims(d.output, d.adjoint_upstream, adj)
                values = draw_point(d.output, dims, _seed(program), d.adjoint_upstream, signed)
                assert np.all(np_eval(adj, values, dims) == 0), \
                    f"d {program} / d{v} [{layout}] is not zero"
