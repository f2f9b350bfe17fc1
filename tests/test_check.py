"""Finite-difference verification: right gradients pass, wrong ones fail with a message,
inputs respect the expression's domain, and the verdicts are deterministic.

The IR is built by hand here (no parser, no rule table), so these tests say what the
checker does whatever the rest of matcalc does; the random-expression test at the end
brings its own small reverse mode for the same reason."""
import math
import random
import re

import numpy as np
import pytest

import matcalc
from matcalc import check, ops
from matcalc.check import (
    CheckFailed,
    assign_dims,
    check_claim,
    check_gradients,
    domain_needs,
    draw,
    find_point,
)
from matcalc.expr import (
    Add,
    Broadcast,
    Const,
    Det,
    DiagMat,
    DiagVec,
    Divide,
    Func,
    Hadamard,
    Identity,
    Inv,
    LogDet,
    LogSumExp,
    MatMul,
    Norm1,
    Norm2,
    Ones,
    Power,
    Scale,
    Softmax,
    Sum,
    Trace,
    Transpose,
    Var,
    Zero,
    broadcast_to,
    variables,
    walk,
)

x = Var("x", ("n", 1))
X = Var("X", ("n", "m"))
A = Var("A", ("k", "n"))
B = Var("B", ("m", "k"))
S = Var("S", ("n", "n"))


def verdict(report, name):
    return report.results[name]


# ---- right gradients pass, wrong ones fail --------------------------------------------------

def test_sum_of_squares():
    # d sum(x .* x) = 2 x
    f = Sum(Hadamard((x, x)))
    right = check_gradients(f, {"x": 2 * x})
    assert right.ok, right.summary()
    wrong = check_gradients(f, {"x": x})
    assert not wrong.ok
    assert verdict(wrong, "x").max_rel_error == pytest.approx(0.5, rel=1e-6)


def test_trace_of_a_product():
    # d tr(A X B) / dX = A' B'   (Matrix Cookbook (100)); X is n x m, not square
    f = Trace(MatMul((A, X, B)))
    assert check_gradients(f, {"X": A.T @ B.T, "A": (X @ B).T, "B": (A @ X).T}).ok
    wrong = check_gradients(f, {"X": (A.T @ B.T).T})
    r = verdict(wrong, "X")
    assert not r.ok and math.isinf(r.max_rel_error)
    assert r.message == "gradient is m x n = 3 x 4 but X is n x m = 4 x 3"


def test_a_transposed_gradient_of_a_square_matrix_fails():
    # d tr(S C) / dS = C'; C itself has the right shape but the wrong values
    C = Var("C", ("n", "n"))
    f = Trace(S @ C)
    assert check_gradients(f, {"S": C.T}).ok
    assert not check_gradients(f, {"S": C}).ok


def test_log_det():
    # d log det(S) = inv(S)'   (Matrix Cookbook (57)); the draw is positive definite but
    # not symmetric, so inv(S) without the transpose fails
    for f in (Func("log", Det(S)), LogDet(S)):
        assert check_gradients(f, {"S": Inv(S).T}).ok
        assert not check_gradients(f, {"S": Inv(S)}).ok


def test_det_and_inverse():
    # d det(S) = det(S) inv(S)';  d sum(inv(S)) = -inv(S)' 1 1' inv(S)'
    assert check_gradients(Det(S), {"S": Det(S) * Inv(S).T}).ok
    ones = Ones(("n", "n"))
    assert check_gradients(Sum(Inv(S)), {"S": -(Inv(S).T @ ones @ Inv(S).T)}).ok


def test_relu_away_from_its_kink():
    # d sum(relu(x)) = step(x), checked where no entry of x is near 0
    assert check_gradients(Sum(Func("relu", x)), {"x": Func("step", x)}).ok
    assert check_gradients(Norm1(X), {"X": Func("sign", X)}).ok
    assert not check_gradients(Sum(Func("relu", x)), {"x": Ones(("n", 1))},
                               fixed_dims={"n": 8}).ok


def test_a_matrix_output_is_checked_through_its_upstream():
    # Y = X A' (N x k) with upstream U = dL/dY:  dX = U A,  dA = U' X
    Xb = Var("X", ("N", "n"))
    Ak = Var("A", ("k", "n"))
    U = Var("U", ("N", "k"))
    f = Xb @ Ak.T
    right = check_gradients(f, {"X": U @ Ak, "A": U.T @ Xb}, U)
    assert right.ok, right.summary()
    wrong = check_gradients(f, {"X": 2 * (U @ Ak), "A": Xb.T @ U}, U)
    assert not verdict(wrong, "X").ok and not verdict(wrong, "A").ok
    assert "gradient is n x k" in verdict(wrong, "A").message


def test_a_non_scalar_output_needs_an_upstream():
    with pytest.raises(ValueError, match="upstream"):
        check_gradients(X, {"X": X})


def test_a_zero_gradient_passes_despite_round_off():
    # sum(softmax(x)) = 1 whatever x: its finite differences are pure round-off
    assert check_gradients(Sum(Softmax(x)), {"x": Zero(("n", 1))}).ok
    assert check_gradients(Sum(Softmax(x)) * Sum(x), {"x": Ones(("n", 1))}).ok


def test_a_variable_the_expression_does_not_use_has_a_zero_gradient():
    assert check_gradients(Sum(x), {"y": Zero(("n", 1))}).ok
    r = verdict(check_gradients(Sum(x), {"y": x}), "y")
    assert not r.ok and r.max_rel_error == 1.0


# ---- the domain ------------------------------------------------------------------------------

def test_log_gets_positive_inputs():
    # d sum(log(A x)) = A' (1 ./ (A x)): A and x are drawn positive, so A x > 0
    Ax = A @ x
    f = Sum(Func("log", Ax))
    needs = domain_needs([f])
    assert "positive" in needs["A"] and "positive" in needs["x"]
    report = check_gradients(f, {"x": A.T @ (1 / Ax), "A": (1 / Ax) @ x.T})
    assert report.ok, report.summary()


@pytest.mark.parametrize("f, var", [
    (Func("sqrt", x), "x"),
    (Divide(Ones(("n", 1)), x), "x"),
    (Power(x, Const(-2)), "x"),
    (Power(x, Const(0.5)), "x"),
])
def test_what_needs_positive_values(f, var):
    assert domain_needs([Sum(f)])[var] == {"positive"}


def test_what_needs_no_positive_values():
    # exp, sigmoid, softmax are positive whatever their argument
    for f in (Func("log", Func("exp", x)), Func("log", Func("sigmoid", x)),
              Func("log", Softmax(x))):
        assert domain_needs([Sum(f)]).get("x", set()) == set()


def test_matrix_domains():
    assert domain_needs([LogDet(S)])["S"] == {"spd"}
    assert domain_needs([Func("log", Det(S))])["S"] == {"spd"}
    assert domain_needs([Det(S)])["S"] == {"well-conditioned"}
    assert domain_needs([Sum(Inv(S.T))])["S"] == {"well-conditioned"}


def test_positive_definite_draws_are_not_symmetric():
    m = draw(np.random.default_rng(0), (4, 4), {"spd"})
    assert np.all(np.linalg.eigvalsh((m + m.T) / 2) >= 1.0)
    assert not np.allclose(m, m.T)
    w = draw(np.random.default_rng(0), (4, 4), {"well-conditioned"})
    assert np.linalg.cond(w) < 3
    p = draw(np.random.default_rng(0), (4, 4), {"spd", "positive"})
    assert np.all(p > 0) and np.linalg.det(p) > 0


def test_bounded_draws_stay_inside_minus_one_and_one():
    b = draw(np.random.default_rng(0), (30, 30), {"bounded"})
    assert np.abs(b).max() < 1 and b.min() < 0 < b.max()
    p = draw(np.random.default_rng(0), (30, 30), {"bounded", "positive"})
    assert 0 < p.min() and p.max() < 1


def test_a_bounded_domain_flows_down_and_rejects_points_near_its_edge():
    # what arcsin asks of its argument: |x| < 1, and x > 0 where arcsin x must be > 0;
    # what arccos asks: |x| < 1 only (arccos x > 0 on the whole domain)
    bounded = ops.Domain(argument=frozenset({ops.BOUNDED}))
    assert bounded.needs(set()) == {"bounded"}
    assert bounded.needs({"positive"}) == {"positive", "bounded"}
    positive = ops.Domain(argument=frozenset({ops.BOUNDED}), image=ops.POSITIVE)
    assert positive.needs({"positive"}) == {"bounded"}
    op = ops.Op(name="f", node=Func, evaluate=np.arcsin, domain=bounded, latex="f")
    assert check._outside(op, np.array([[0.5, -0.9995]])) == "f of -1"
    assert check._outside(op, np.array([[0.5, -0.99]])) is None


@pytest.mark.parametrize("name", [name for name, op in ops.ELEMENTWISE.items()
                                  if op.arity is not None])
def test_every_function_is_checked_inside_its_domain(name):
    # each function's domain (matcalc.ops) flows through W*x + b to W, x and b
    report = matcalc.derive(f"sum({name}(W*x + b))").check()
    assert report.ok, report.summary()


def test_points_near_kinks_and_singularities_are_redrawn():
    y = Var("y", ("n", 1))
    roots = [Sum(Func("abs", y)), Sum(Func("log", x)), Sum(Inv(S))]
    vs = {v.name: v for r in roots for v in variables(r)}
    for seed in range(20):
        values, _ = find_point(roots, vs, {"n": 3}, np.random.default_rng(seed))
        assert np.abs(values["y"]).min() >= 1e-3 * np.abs(values["y"]).max()
        assert values["x"].min() >= 1e-3
        assert np.linalg.cond(values["S"]) <= 1e4


def test_no_valid_point_is_reported_not_raised():
    # log(-x.^2) is defined nowhere
    f = Sum(Func("log", -Power(x, Const(2))))
    report = check_gradients(f, {"x": Zero(("n", 1))})
    r = verdict(report, "x")
    assert not report.ok and math.isnan(r.max_rel_error)
    assert report.summary().startswith("x: NOT CHECKED (no valid point in 50 tries (the last: log")


def test_log_of_one_minus_x_finds_small_positive_x():
    # 1 - x > 0 needs x < 1 in every entry: later draws shrink until one fits
    one = Ones(("n", 1))
    f = Sum(Func("log", one - x))
    assert check_gradients(f, {"x": -(1 / (one - x))}).ok


# ---- dimensions, determinism, cost ------------------------------------------------------------

def test_each_dimension_gets_its_own_size():
    f = Trace(MatMul((A, X, B)))
    assert assign_dims([f]) == {"k": 2, "m": 3, "n": 4}
    assert assign_dims([f], {"m": 3}) == {"k": 2, "m": 3, "n": 4}
    assert assign_dims([f], {"k": 3}) == {"k": 3, "m": 2, "n": 4}
    assert assign_dims([Var("v", ("n", 2))]) == {"n": 3}      # 2 is taken by a literal
    assert check_gradients(f, {"X": A.T @ B.T}, fixed_dims={"n": 7}).dims == \
        {"k": 2, "m": 3, "n": 7}


def test_the_same_seed_gives_the_same_report():
    f = Sum(Func("tanh", X @ B))
    grads = {"X": (1 - Func("tanh", X @ B) ** 2) @ B.T}
    assert check_gradients(f, grads, seed=3) == check_gradients(f, grads, seed=3)
    assert check_gradients(f, grads, seed=3).ok


def test_a_check_costs_a_few_evaluations_per_direction_whatever_the_size(monkeypatch):
    calls = []
    real = check.evaluate_all
    monkeypatch.setattr(check, "evaluate_all", lambda *a: calls.append(1) or real(*a))
    f = Sum(Func("sin", X))
    g = {"X": Func("cos", X)}
    counts = []
    for size in (2, 40):
        calls.clear()
        assert check_gradients(f, g, directions=3, fixed_dims={"n": size, "m": size}).ok
        counts.append(len(calls))
    assert counts[0] == counts[1] == 1 + 3 * 6


# ---- the report --------------------------------------------------------------------------------

def test_summary_and_raise_if_failed():
    f = Sum(Hadamard((x, x)))
    report = check_gradients(f, {"x": 2 * x})
    assert re.fullmatch(r"x: ok \(max rel\. error [0-9.e+-]+\)", report.summary())
    report.raise_if_failed()
    bad = check_gradients(f, {"x": 3 * x})
    assert bad.summary() == "x: MISMATCH (max rel. error 0.33)"
    with pytest.raises(CheckFailed, match=r"x: MISMATCH") as info:
        bad.raise_if_failed()
    assert isinstance(info.value, AssertionError)


# ---- claims ------------------------------------------------------------------------------------

def test_check_claim_compares_two_forms_of_one_derivative():
    f = LogDet(S)
    assert check_claim(f, None, Inv(S).T, Inv(S.T), "S") == (True, pytest.approx(0, abs=1e-12))
    ok, err = check_claim(f, None, Inv(S).T, Inv(S), "S")
    assert not ok and err > 1e-3
    assert check_claim(Trace(MatMul((A, X, B))), None, A.T @ B.T, B @ A, "X") == \
        (False, math.inf)


# ---- random expressions: the tolerance is right ------------------------------------------------
# A small reverse mode over the IR, independent of matcalc's rules, gives exact gradients of
# random depth-5 expressions; every one must pass, and twice it must fail unless it is zero.

def _vjp(y, g):
    t = type(y)
    if t is Add:
        return [g] * len(y.terms)
    if t is Scale:
        return [Sum(Hadamard((g, y.x))) if not y.x.is_scalar else Scale(g, y.x), Scale(y.s, g)]
    if t is MatMul:
        fs = y.factors
        return [MatMul(tuple([f.T for f in reversed(fs[:i])] + [g]
                             + [f.T for f in reversed(fs[i + 1:])])) for i in range(len(fs))]
    if t is Transpose:
        return [g.T]
    if t is Broadcast:
        (r, c), (R, C) = y.x.shape, y.shape
        return [Sum(g) if (r, c) == (1, 1) else Ones((1, R)) @ g if r == 1
                else g @ Ones((C, 1))]
    if t is Hadamard:
        fs = y.factors
        return [Hadamard((g,) + fs[:i] + fs[i + 1:]) for i in range(len(fs))]
    if t is Divide:
        return [g / y.b, -(g * y.a / (y.b * y.b))]
    if t is Power:
        return [g * (y.p.value * Power(y.x, Const(y.p.value - 1))), Zero((1, 1))]
    if t is Func:
        x_, n = y.x, y.name
        return [{"exp": lambda: g * y, "log": lambda: g / x_, "sin": lambda: g * Func("cos", x_),
                 "cos": lambda: -(g * Func("sin", x_)), "tanh": lambda: g * (1 - y * y),
                 "sigmoid": lambda: g * y * (1 - y), "relu": lambda: g * Func("step", x_),
                 "abs": lambda: g * Func("sign", x_), "sqrt": lambda: g * 0.5 / y}[n]()]
    if t is Sum:
        return [broadcast_to(g, y.x.shape)]
    if t is Trace:
        return [g * Identity(y.x.shape[0])]
    if t is Norm2:
        return [g * (y.x / y)]
    if t is Det:
        return [(g * y) * Inv(y.x).T]
    if t is LogDet:
        return [g * Inv(y.x).T]
    if t is Inv:
        return [-(y.T @ g @ y.T)]
    if t is DiagMat:
        return [DiagVec(g)]
    if t is DiagVec:
        return [DiagMat(g)]
    if t is Softmax:
        n = y.x.shape[0]
        return [y * (g - Ones((n, 1)) @ (Ones((1, n)) @ (g * y)))]
    if t is LogSumExp:
        return [Softmax(y.x) * (Ones((y.x.shape[0], 1)) @ g)]
    raise NotImplementedError(t)


def _gradients(f, upstream):
    order = list(walk(f))
    adjoint = {f: upstream}
    for node in reversed(order):
        g = adjoint.get(node)
        if g is not None and node.children:
            for c, gc in zip(node.children, _vjp(node, g)):
                adjoint[c] = adjoint[c] + gc if c in adjoint else gc
    return {n.name: adjoint.get(n, Zero(n.shape)) for n in order if isinstance(n, Var)}


def _random_expression(rng, shape, depth):
    """A random well-shaped expression of `shape`, `depth` operations deep at most."""
    if depth == 0 or rng.random() < 0.15:
        return Var(f"V{rng.choice('ab')}_{shape[0]}_{shape[1]}", shape)
    r, c = shape

    def sub(s):
        return _random_expression(rng, s, depth - 1)

    def dim():
        return rng.choice(["n", "m", "k", 1])

    def square():
        k = dim()
        return sub((k, k))

    ops = ["add", "had", "scale", "mm", "mm", "T", "f", "f", "div", "pow", "softmax"]
    if shape == (1, 1):
        ops += ["sum", "trace", "norm2", "logdet", "det", "lse"]
    if r == c:
        ops += ["inv"] + (["diagmat"] if r != 1 else [])
    if c == 1:
        ops += ["diagvec"]
    op = rng.choice(ops)
    if op == "mm":
        k = dim()
        return sub((r, k)) @ sub((k, c))
    if op == "div":
        a, b = sub(shape), sub(shape)
        return a / b if a is not b else a          # a ./ a is exactly 1: nothing to check
    return {
        "add": lambda: sub(shape) + sub(shape),
        "had": lambda: sub(shape) * sub(shape),
        "scale": lambda: Scale(sub((1, 1)), sub(shape)),
        "T": lambda: sub((c, r)).T,
        "f": lambda: Func(rng.choice(["exp", "log", "sin", "cos", "tanh", "sigmoid", "relu",
                                      "abs", "sqrt"]), sub(shape)),
        "pow": lambda: Power(sub(shape), Const(rng.choice([2, 3, -1, 0.5, 1.5]))),
        "softmax": lambda: Softmax(sub(shape)),
        "sum": lambda: Sum(sub((dim(), dim()))),
        "trace": lambda: Trace(square()),
        "norm2": lambda: Norm2(sub((dim(), 1))),
        "logdet": lambda: LogDet(square()),
        "det": lambda: Det(square()),
        "lse": lambda: LogSumExp(sub((dim(), 1))),
        "inv": lambda: Inv(sub(shape)),
        "diagmat": lambda: DiagMat(sub((r, 1))),
        "diagvec": lambda: DiagVec(sub((r, r))),
    }[op]()


@pytest.mark.parametrize("shape", [(1, 1), ("n", "m")])
def test_exact_gradients_of_random_depth_5_expressions_pass(shape):
    rng = random.Random(2024)
    checked = 0
    for seed in range(60):
        f = _random_expression(rng, shape, 5)
        U = Var("U", shape) if shape != (1, 1) else None
        grads = _gradients(f, U if U is not None else Const(1))
        report = check_gradients(f, grads, U, seed=seed)
        for name, r in report.results.items():       # right, or no valid point at all
            assert r.ok or math.isnan(r.max_rel_error), f"{f}\n{report.summary()}"
            checked += r.ok
        doubled = check_gradients(f, {k: 2 * g for k, g in grads.items()}, U, seed=seed)
        for name, r in doubled.results.items():
            if r.ok:                                 # only a zero gradient may pass doubled
                assert _size_at_the_checked_point(f, U, grads, name, seed) < 1e-9, \
                    f"{f}\n{doubled.summary()}"
    assert checked > 100


def _size_at_the_checked_point(f, U, grads, name, seed):
    roots = check._roots(f, U, grads.values())
    vs = {v.name: v for r in roots for v in variables(r)}
    _, memo = find_point(roots, vs, assign_dims(roots), np.random.default_rng(seed))
    return float(np.abs(memo[grads[name]]).max())


def test_a_gram_matrix_inverse_is_checked_whatever_the_dimension_names():
    # X is N x d; sizes in sorted order give N < d and a singular X'*X: the checker then
    # tries the sizes in the other order instead of reporting "not checked"
    for shapes in ({"X": "N,d"}, {"X": "a,b"}, {"X": "b,a"}):
        d = matcalc.derive("P = inv(X'*X); H = X*P*X'; L = tr(H*A)", shapes=shapes)
        report = d.check()
        assert report.ok, report.summary()


def test_values_near_the_double_range_are_never_reported_as_a_mismatch():
    # 1e308 * ... overflows in some finite differences; those are no evidence either way
    report = matcalc.derive("1e308*inv(X)*b").check()
    assert all(r.ok or math.isnan(r.max_rel_error) for r in report.results.values()), \
        report.summary()


def test_sign_labels_are_drawn_with_both_signs():
    # with every label +1, y and y.^2 agree and a wrong claim could pass
    rng = np.random.default_rng(0)
    for _ in range(200):
        y = check.label_values(rng, (3, 1), "signs")
        assert set(np.unique(y)) == {-1.0, 1.0}
    d = matcalc.derive("f = sum(y.^3 .* x)", signs=["y"])
    for seed in range(20):
        assert not d.verify_claim("x = y.^2 .* x ./ x", seed=seed).ok


def test_a_claim_may_use_a_constant_sized_by_the_derivative_claimed():
    d = matcalc.derive("f = sum(y.^2 .* x)", signs="y")          # a single name is one name
    assert d.verify_claim("x = vector(1)").ok
    assert not d.verify_claim("x = 2*vector(1)").ok
    d = matcalc.derive("f = -y1'*log(softmax(A*x))", onehot="y1", wrt=["x"])
    assert d["x"].text == "A'*(softmax(A*x) - y1)"


def test_values_too_small_for_double_precision_are_no_verdict():
    # 2e-320*(Wx - y) is subnormal: differences say nothing, and the CLI says so
    report = matcalc.derive("1e-320*norm2(Wx - y)^2").check()
    assert all(math.isnan(r.max_rel_error) for r in report.results.values())
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "matcalc", "derive", "1e-320*norm2(Wx - y)^2"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "not every formula could be checked" in out.stderr
    assert "please report" not in out.stderr
