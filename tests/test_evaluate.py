"""The NumPy interpreter of the IR: each node kind against the same computation written by
hand in NumPy, memoisation, deep DAGs, matrix-chain order, and its errors."""
import numpy as np
import pytest

from matcalc.evaluate import EVAL, chain_order, evaluate, multiply_chain, shape_of
from matcalc.expr import (
    NODE_KINDS,
    Add,
    Broadcast,
    Const,
    Det,
    DiagMat,
    DiagVec,
    DimValue,
    Divide,
    Func,
    Hadamard,
    Identity,
    Inv,
    LogDet,
    LogSumExp,
    MatMul,
    Node,
    Norm1,
    Norm2,
    Ones,
    Power,
    Scale,
    Softmax,
    Tril,
    Triu,
    Sum,
    Trace,
    Transpose,
    Var,
    Zero,
)

DIMS = {"n": 3, "m": 4, "k": 2}
X, Y = Var("X", ("n", "m")), Var("Y", ("n", "m"))
A = Var("A", ("k", "m"))
S = Var("S", ("n", "n"))
v = Var("v", ("n", 1))
r = Var("r", (1, "m"))
s = Var("s", (1, 1))

rng = np.random.default_rng(0)
VALUES = {
    "X": rng.standard_normal((3, 4)),
    "Y": rng.uniform(0.5, 2.0, (3, 4)),
    "A": rng.standard_normal((2, 4)),
    "S": np.eye(3) + 0.2 * rng.standard_normal((3, 3)),
    "v": rng.standard_normal((3, 1)),
    "r": rng.standard_normal((1, 4)),
    "s": np.array([[1.7]]),
}
x_, y_, a_, S_, v_, r_ = (VALUES[k] for k in "XYASvr")


def _softmax(z):
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


CASES = {
    "Var":            (X, x_),
    "Const":          (Const(2.5), [[2.5]]),
    "DimValue":       (DimValue("m"), [[4.0]]),
    "Zero":           (Zero(("n", "m")), np.zeros((3, 4))),
    "Ones":           (Ones(("n", 1)), np.ones((3, 1))),
    "Identity":       (Identity("k"), np.eye(2)),
    "Add":            (Add((X, Y, X)), 2 * x_ + y_),
    "Scale":          (Scale(s, X), 1.7 * x_),
    "MatMul":         (MatMul((X, A.T, A)), x_ @ a_.T @ a_),
    "Transpose":      (Transpose(X), x_.T),
    "Broadcast row":  (Broadcast(r, ("n", "m")), np.tile(VALUES["r"], (3, 1))),
    "Broadcast col":  (Broadcast(v, ("n", "m")), np.tile(v_, (1, 4))),
    "Broadcast 1x1":  (Broadcast(s, ("n", "m")), np.full((3, 4), 1.7)),
    "Hadamard":       (Hadamard((X, Y, Y)), x_ * y_ * y_),
    "Divide":         (Divide(X, Y), x_ / y_),
    "Power":          (Power(Y, Const(1.5)), y_ ** 1.5),
    "Power -1":       (Power(Y, Const(-1)), 1 / y_),
    "exp":            (Func("exp", X), np.exp(x_)),
    "log":            (Func("log", Y), np.log(y_)),
    "sin":            (Func("sin", X), np.sin(x_)),
    "cos":            (Func("cos", X), np.cos(x_)),
    "tan":            (Func("tan", X), np.tan(x_)),
    "tanh":           (Func("tanh", X), np.tanh(x_)),
    "sigmoid":        (Func("sigmoid", X), 1 / (1 + np.exp(-x_))),
    "relu":           (Func("relu", X), np.maximum(x_, 0)),
    "abs":            (Func("abs", X), np.abs(x_)),
    "sign":           (Func("sign", X), np.sign(x_)),
    "sqrt":           (Func("sqrt", Y), np.sqrt(y_)),
    "step":           (Func("step", X), (x_ > 0) * 1.0),
    "Sum":            (Sum(X), [[x_.sum()]]),
    "Trace":          (Trace(S), [[np.trace(S_)]]),
    "Norm1":          (Norm1(X), [[np.abs(x_).sum()]]),
    "Norm2":          (Norm2(X), [[np.sqrt((x_ ** 2).sum())]]),
    "Det":            (Det(S), [[np.linalg.det(S_)]]),
    "LogDet":         (LogDet(S), [[np.log(abs(np.linalg.det(S_)))]]),
    "Inv":            (Inv(S), np.linalg.inv(S_)),
    "DiagMat":        (DiagMat(v), np.diagflat(v_)),
    "DiagVec":        (DiagVec(S), np.diag(S_)[:, None]),
    "Tril":           (Tril(S), np.tril(S_)),
    "Triu":           (Triu(S), np.triu(S_)),
    "Softmax":        (Softmax(X), _softmax(x_)),
    "LogSumExp":      (LogSumExp(X), np.log(np.exp(x_).sum(axis=0, keepdims=True))),
}


@pytest.mark.parametrize("name", CASES)
def test_each_node_kind_matches_numpy(name):
    node, want = CASES[name]
    got = evaluate(node, VALUES, DIMS)
    assert got.dtype == np.float64 and got.shape == shape_of(node, DIMS)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_every_node_kind_has_an_evaluator():
    assert set(EVAL) == set(NODE_KINDS)
    assert {type(node) for node, _ in CASES.values()} == set(NODE_KINDS)


def test_a_kind_without_an_evaluator_raises():
    class Mystery(Node):
        __slots__ = ()
        fields = ("x",)
        children_fields = ("x",)

        def _check(self):
            return self.args[0].shape

    with pytest.raises(NotImplementedError, match="Mystery"):
        evaluate(Sum(Mystery(X)), VALUES, DIMS)


def test_a_list_of_nodes_gives_a_list_of_values():
    got = evaluate([Sum(X), X.T], VALUES, DIMS)
    assert isinstance(got, list) and len(got) == 2
    np.testing.assert_allclose(got[1], x_.T)


def test_the_caller_owns_the_results():
    got = evaluate(X, VALUES, DIMS)
    got[:] = 0.0
    assert np.any(VALUES["X"] != 0.0)
    a, b = evaluate([X.T, X.T], VALUES, DIMS)
    a[:] = 0.0
    np.testing.assert_allclose(b, x_.T)


def test_a_shared_subexpression_is_evaluated_once(monkeypatch):
    calls = []
    original = EVAL[Func]
    monkeypatch.setitem(EVAL, Func, lambda n, xs, env: calls.append(n) or original(n, xs, env))
    e = Func("exp", X)                       # interned: both uses are one node
    got = evaluate([Sum(e * e), Sum(e + e)], VALUES, DIMS)
    assert len(calls) == 1
    np.testing.assert_allclose(got[0], [[np.sum(np.exp(2 * x_))]])


def test_a_10000_deep_chain_evaluates_without_recursion():
    # e_{i+1} = e_i' + S, S square: alternating Add and Transpose nodes, 20,000 deep
    e = S
    for _ in range(10_000):
        e = Add((Transpose(e), S))
    want = S_.copy()
    for _ in range(10_000):
        want = want.T + S_
    np.testing.assert_allclose(evaluate(e, VALUES, DIMS), want)


def test_sigmoid_softmax_and_logsumexp_are_stable_at_large_arguments():
    z = Var("z", (2, 1))
    big = {"z": np.array([[-1000.0], [1000.0]])}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(evaluate(Func("sigmoid", z), big, {}), [[0.0], [1.0]])
        np.testing.assert_allclose(evaluate(Softmax(z), big, {}), [[0.0], [1.0]])
        np.testing.assert_allclose(evaluate(LogSumExp(z), big, {}), [[1000.0]])


def test_logdet_is_log_of_the_absolute_determinant():
    flip = {"S": np.diag([-2.0, 1.0, 1.0])}
    np.testing.assert_allclose(evaluate(LogDet(S), flip, DIMS), [[np.log(2.0)]])


def test_broadcast_values_are_writable_copies():
    got = evaluate(Broadcast(s, ("n", "m")), VALUES, DIMS)
    got[0, 0] = 0.0                          # np.broadcast_to alone would be read-only
    assert got[1, 1] == 1.7


# ---- matrix chains ------------------------------------------------------------------------

def test_chain_order_picks_the_cheapest_parenthesisation():
    # A (10x1) B (1x10) C (10x1): A (B C) costs 20 multiplications, (A B) C costs 200
    assert chain_order([10, 1, 10, 1])[0][2] == 0
    # A (1x10) B (10x1) C (1x10): (A B) C costs 20, A (B C) costs 200
    assert chain_order([1, 10, 1, 10])[0][2] == 1


_PRODUCTS: list[tuple[int, int]] = []


class _Recorded(np.ndarray):
    """An array that records the shape of every product it takes part in."""

    def __matmul__(self, other):
        out = super().__matmul__(other)
        _PRODUCTS.append(out.shape)
        return out


def test_a_chain_is_multiplied_in_the_cheapest_order():
    # u u' u, u of 500 x 1: left to right builds a 500 x 500 matrix, u (u' u) never does
    u = np.ones((500, 1))
    _PRODUCTS.clear()
    got = multiply_chain([u.view(_Recorded), u.T.view(_Recorded), u.view(_Recorded)])
    assert _PRODUCTS == [(1, 1), (500, 1)]
    np.testing.assert_allclose(got, 500 * u)
    chain = Var("u", ("n", 1))
    np.testing.assert_allclose(
        evaluate(MatMul((chain, chain.T, chain)), {"u": u}, {"n": 500}), 500 * u)


@pytest.mark.parametrize("length", [2, 3, 5, 8, 70])
def test_any_chain_gives_the_left_to_right_product(length):
    g = np.random.default_rng(length)
    p = g.integers(1, 6, length + 1)
    ms = [g.standard_normal((p[i], p[i + 1])) for i in range(length)]
    want = ms[0]
    for m in ms[1:]:
        want = want @ m
    np.testing.assert_allclose(multiply_chain(ms), want, rtol=1e-10, atol=1e-10)


# ---- errors -------------------------------------------------------------------------------

def test_a_missing_variable_is_named():
    with pytest.raises(KeyError, match="'X'"):
        evaluate(X, {}, DIMS)


def test_a_value_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="variable 'X'"):
        evaluate(X, {"X": np.zeros((4, 3))}, DIMS)


def test_a_missing_dimension_is_named():
    with pytest.raises(KeyError, match="'m'"):
        evaluate(Ones(("m", 1)), {}, {})


def test_shape_of_substitutes_dimensions():
    assert shape_of(MatMul((X, A.T)), DIMS) == (3, 2)
    assert shape_of(Ones((5, "k")), DIMS) == (5, 2)
