"""SymPy in and out (matcalc.interop.sympy): from_sympy, .to_sympy(), sympy_diff.

Every SymPy expression in CASES goes SymPy -> matcalc -> SymPy and is checked three ways
at a random point, with the dimension symbols given small distinct sizes:
- matcalc's formula is verified by finite differences (`check=True`);
- the SymPy result of `.to_sympy()`, made explicit with `.as_explicit()` at numeric
  matrices, equals matcalc's own NumPy formula (`Derivative.numpy`);
- both equal SymPy's exact derivative of the *original* expression, entry by entry
  (`diff` of its explicit form by each X[i, j]): an oracle that shares nothing with
  matcalc, so a wrong translation of the input cannot pass.
The SymPy issues that motivate `sympy_diff` are tests that show SymPy's failure next to
matcalc's answer; a SymPy version that fixes one is reported (a warning), and matcalc is
still checked.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

sympy = pytest.importorskip("sympy", reason="SymPy is the optional extra [sympy]")

from sympy import (
    Abs,
    Determinant,
    DiagMatrix,
    DiagonalOf,
    Dummy,
    E,
    HadamardPower,
    HadamardProduct,
    Identity,
    ImmutableMatrix,
    Inverse,
    KroneckerProduct,
    Lambda,
    MatAdd,
    MatrixExpr,
    MatrixSymbol,
    Max,
    OneMatrix,
    Rational,
    S,
    Symbol,
    Trace,
    ZeroMatrix,
    cos,
    det,
    exp,
    log,
    sin,
    sqrt,
    symbols,
    tanh,
)

import matcalc
from matcalc import expr as IR
from matcalc.errors import MatcalcError
from matcalc.evaluate import evaluate

n, m, k = symbols("n m k")
DIMS = {n: 2, m: 3, k: 4}                  # distinct sizes: a transposed formula cannot pass
X = MatrixSymbol("X", n, n)
A = MatrixSymbol("A", n, n)
B = MatrixSymbol("B", m, n)
W = MatrixSymbol("W", m, n)
U = MatrixSymbol("U", n, k)
V = MatrixSymbol("V", k, m)
C = MatrixSymbol("C", n, m)
x = MatrixSymbol("x", n, 1)
y = MatrixSymbol("y", n, 1)
b = MatrixSymbol("b", m, 1)
alpha = Symbol("alpha")
t = Dummy("t")
sigmoid = Lambda(t, 1 / (1 + exp(-t)))
relu = Lambda(t, Max(t, 0))


def ones_row(d):
    return OneMatrix(1, d)


# (id, expression, variables, signed values): scalars, in the SymPy user's own spelling
CASES = [
    ("trace", Trace(X), [X], False),
    ("trace of product", Trace(A * X), [X, A], False),
    ("trace chain", Trace(A * X * B.T * B), [X, B], False),
    ("quadratic form", x.T * A * x, [x, A], False),
    ("inner product", x.T * y, [x, y], False),
    ("squared residual", (W * x - b).T * (W * x - b), [W, x, b], False),
    ("half squared residual", Rational(1, 2) * Trace((W * x - b).T * (W * x - b)), [W, b],
     False),
    ("determinant", Determinant(X), [X], False),
    ("log det", log(det(X)), [X], False),
    ("log det of gram", log(Determinant(X.T * X)), [X], False),
    ("trace of inverse product", Trace(Inverse(X) * A), [X, A], False),
    ("matrix power", Trace(X ** 3), [X], False),
    ("negative matrix power", Trace(A * X ** -2), [X], False),
    ("trace of hadamard", Trace(HadamardProduct(X, A)), [X, A], False),
    ("sum of hadamard power", ones_row(n) * HadamardPower(X, 3) * OneMatrix(n, 1), [X], False),
    ("trace of exp", Trace(X.applyfunc(exp)), [X], False),
    ("sum of tanh", ones_row(m) * (W * x).applyfunc(tanh), [W, x], False),
    ("sum of log", ones_row(n) * x.applyfunc(log), [x], False),
    ("sin then product", Trace(X.applyfunc(sin) * A), [X, A], False),
    ("sigmoid lambda", ones_row(m) * (W * x + b).applyfunc(sigmoid), [W, x, b], False),
    ("relu lambda", ones_row(m) * (W * x + b).applyfunc(relu), [W, b], True),
    ("abs", ones_row(n) * x.applyfunc(Abs), [x], True),
    ("frobenius norm", sqrt(Trace(X.T * X)), [X], False),
    ("euclidean norm", sqrt(Trace(x.T * x)), [x], False),
    ("scalar symbol", alpha * Trace(X) + alpha ** 2, [alpha, X], False),
    ("function of a scalar factor", exp(alpha) * x.T * y, [alpha, x], False),
    ("identity", Trace((X + Identity(n)) * A), [X], False),
    ("zero matrix", Trace(MatAdd(X, ZeroMatrix(n, n), evaluate=False) * A), [X], False),
    ("diag matrix", x.T * DiagMatrix(y) * x, [x, y], False),
    ("diagonal of", DiagonalOf(X).T * x, [X, x], False),
    ("hadamard of vectors", ones_row(n) * HadamardProduct(x, y, x), [x, y], False),
    ("transposes", Trace(X.T * A * X), [X], False),
    ("third dimension", Trace(U.T * X * U), [U, X], False),
    ("product of scalars", Determinant(X) * Trace(X), [X], False),
    ("exp of trace", exp(Trace(X)), [X], False),
    ("hadamard reciprocal", ones_row(n) * HadamardPower(x, -1), [x], False),
    ("dimension as a value", Trace(X) / n, [X], False),
    ("euler constant", E * Trace(A * X), [X], False),
    ("scalar coefficient", 2 * alpha * x.T * A * x, [alpha, x], False),
    ("cos of a trace", cos(Trace(x.T * y)), [x], False),
    ("constant added (26561)", Trace(X) ** 2 + 1, [X], False),
    ("two norms (26585)", Rational(1, 2) * Trace((C - U * V).T * (C - U * V))
     + Rational(1, 2) * Trace(U.T * U), [U, V], False),
]


# ---- numeric evaluation of SymPy expressions ------------------------------------------------

def draw(expr, seed: int, signed: bool) -> dict:
    """Values for the free symbols of `expr` (dimension symbols excluded), keyed by name:
    square matrices diagonally dominant (det > 0), other entries in [0.3, 1.2] (of either
    sign if `signed`), so log, sqrt, inverses and kinks are safe."""
    rng = np.random.default_rng(seed)
    values = {}
    for s in sorted(expr.free_symbols - set(DIMS), key=str):
        if isinstance(s, MatrixSymbol):
            r, c = (int(d.subs(DIMS)) for d in s.shape)
            if r == c and r != 1:
                values[s.name] = r * np.eye(r) + rng.uniform(0.1, 0.5, (r, c))
            else:
                v = rng.uniform(0.3, 1.2, (r, c))
                values[s.name] = v * rng.choice([-1.0, 1.0], (r, c)) if signed else v
        else:
            values[s.name] = float(rng.uniform(0.3, 1.2))
    return values


def explicit(expr, entries: dict):
    """`expr` made explicit as a SymPy user does it: the dimensions given their sizes,
    `.as_explicit()` (a scalar as a 1 x 1 matrix), then each symbol replaced by `entries`
    (by name: a matrix, or a number) and what remains inside the entries (a trace, a
    determinant) evaluated by `.doit()`."""
    e = expr.subs(DIMS)
    whole = (e if e.is_Matrix else e * Identity(1)).as_explicit()
    subs = {s: entries[s.name] for s in e.free_symbols if s.name in entries}
    # what is left inside the entries, innermost first: SymPy's doit leaves I + M or
    # HadamardPower(M, -1) of explicit matrices M alone
    whole = whole.xreplace(subs).doit().replace(
        lambda a: isinstance(a, MatrixExpr) and not isinstance(a, sympy.MatrixBase),
        lambda a: a.as_explicit())
    return whole.doit(), e.is_Matrix


def numeric(expr, values: dict) -> np.ndarray:
    """The value of a SymPy expression at `values` (name -> array or float): `.doit()`
    and `.as_explicit()` at those numbers, or (where SymPy cannot take numbers first,
    as in DiagonalOf of an explicit matrix) `explicit` over the symbols' entries."""
    numbers = {name: ImmutableMatrix(v) if np.ndim(v) else sympy.Float(v)
               for name, v in values.items()}
    e = expr.subs(DIMS)
    try:
        out = e.xreplace({s: numbers[s.name] for s in e.free_symbols}).doit()
        out = np.array((out.as_explicit() if out.is_Matrix else out).evalf(), dtype=float)
    except (AttributeError, TypeError):
        out = np.array(explicit(expr, numbers)[0].evalf(), dtype=float)
    return out.reshape(np.shape(out) if e.is_Matrix else ())


def exact_gradient(expr, var, values: dict) -> np.ndarray:
    """SymPy's own exact derivative of the scalar `expr` by each entry of `var` (the shape
    of `var`), from the explicit form of `expr`: no matrix calculus involved."""
    entries, numbers = {}, {}
    for name, v in values.items():          # every entry a real symbol of its own
        if np.ndim(v):
            entries[name] = ImmutableMatrix(*v.shape, lambda i, j, name=name: Symbol(
                f"{name}_{i}_{j}", real=True))
            numbers.update({entries[name][i, j]: v[i, j] for i, j in np.ndindex(v.shape)})
        else:
            entries[name] = Symbol(name, real=True)
            numbers[entries[name]] = v
    scalar = explicit(expr, entries)[0][0, 0]
    wrt = entries[var.name]
    if np.ndim(values[var.name]):
        grad = wrt.applyfunc(lambda w: sympy.diff(scalar, w))
        return np.array(grad.xreplace(numbers).evalf(), dtype=float)
    return np.array(float(sympy.diff(scalar, wrt).xreplace(numbers)))


def numpy_value(derivative, values: dict) -> np.ndarray:
    """matcalc's NumPy formula, evaluated (names spelled for Python, as JSON says)."""
    d = derivative.derivation
    env = {d.python_names.get(name, name): v for name, v in values.items()}
    return np.asarray(eval(derivative.numpy, {"np": np}, env), dtype=float)


# ---- round trips --------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_round_trip_matches_sympy_exact_derivative_and_numpy(case):
    _, expr, wrt, signed = case
    d = matcalc.from_sympy(expr, wrt=wrt, check=True)      # finite differences agree
    values = draw(expr, seed=len(case[0]), signed=signed)
    for var in wrt:
        exact = exact_gradient(expr, var, values)
        back = d[var.name].to_sympy()
        from_sympy_side = numeric(back, values)
        from_numpy_side = numpy_value(d[var.name], values)
        np.testing.assert_allclose(from_sympy_side.reshape(exact.shape), exact, rtol=1e-9,
                                   atol=1e-11, err_msg=f"to_sympy: {back}")
        np.testing.assert_allclose(from_numpy_side.reshape(exact.shape), exact, rtol=1e-9,
                                   atol=1e-11, err_msg=f"numpy: {d[var.name].numpy}")
        # the result has the variable's shape, over the very same symbols
        if isinstance(var, MatrixSymbol):
            assert back.shape == var.shape
        assert back.free_symbols <= expr.free_symbols | {n, m, k}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reading_keeps_the_value(case):
    # the IR that from_sympy builds has the value of the SymPy expression
    _, expr, wrt, signed = case
    d = matcalc.from_sympy(expr, wrt=wrt)
    values = draw(expr, seed=1, signed=signed)
    sizes = {str(s): v for s, v in DIMS.items()}
    got = evaluate(d.output, {k: np.reshape(v, np.shape(v) or (1, 1))
                              for k, v in values.items()}, sizes)
    np.testing.assert_allclose(got.reshape(()), numeric(expr, values).reshape(()),
                               rtol=1e-12)


def test_sympy_diff_is_the_gradient_in_sympys_convention():
    # SymPy's own answer where it is right: (x'Ax)' = A x + A' x, of x's shape
    got = matcalc.sympy_diff(x.T * A * x, x)
    assert got.shape == (n, 1)
    assert got.expand() == (x.T * A * x).diff(x).expand() == A * x + A.T * x
    assert matcalc.sympy_diff(Trace(A * X), X) == A.T
    # a scalar variable gives a scalar; a variable not in the expression, its zero
    assert matcalc.sympy_diff(alpha * Trace(X), alpha) == Trace(X)
    assert matcalc.sympy_diff(Trace(X), A) == ZeroMatrix(n, n)
    assert matcalc.sympy_diff(Trace(X), alpha) == 0


def test_symbolic_dimensions_stay_symbolic_with_their_assumptions():
    p = Symbol("p", integer=True, positive=True)
    Y = MatrixSymbol("Y", p, 3)
    G = MatrixSymbol("G", 3, p)
    d = matcalc.from_sympy(Trace(G * Y), wrt=[Y])
    assert d["Y"].node.shape == ("p", 3)                # Symbol -> name, Integer -> int
    back = d["Y"].to_sympy()
    assert back == G.T and back.shape == (p, 3)         # the user's own p, assumptions kept
    assert back.subs(p, 2).as_explicit().shape == (2, 3)


def test_to_sympy_of_a_program_uses_fresh_symbols_or_given_ones():
    d = matcalc.derive("x'*A*x")
    got = d["x"].to_sympy()
    nn = Symbol("n")
    assert got == (MatrixSymbol("A", nn, nn) + MatrixSymbol("A", nn, nn).T) * \
        MatrixSymbol("x", nn, 1)
    mine = MatrixSymbol("A", 5, 5)
    assert d["A"].to_sympy(symbols={"n": S(5)}) == MatrixSymbol("x", 5, 1) * \
        MatrixSymbol("x", 5, 1).T
    assert d["x"].to_sympy(symbols={"A": mine, "n": S(5)}).shape == (5, 1)


def test_backprop_formula_prints_with_its_upstream_symbol():
    Xb = MatrixSymbol("X", n, m)
    Wt = MatrixSymbol("W", k, m)
    d = matcalc.from_sympy(Xb * Wt.T, wrt=[Xb, Wt])
    dY = MatrixSymbol(d.upstream_name, n, k)
    assert d["X"].to_sympy() == dY * Wt
    assert d["W"].to_sympy() == dY.T * Xb


def test_generated_module_of_a_sympy_expression():
    f = log(det(X)) + Trace(x.T * A * x)
    d = matcalc.from_sympy(f, wrt=[X, x])
    mod = d.compile()
    values = draw(f, seed=3, signed=False)
    grads = mod.gradient(**values)
    for var in (X, x):
        exact = exact_gradient(f, var, values)
        np.testing.assert_allclose(np.reshape(grads[var.name], exact.shape), exact, rtol=1e-9)


# ---- every IR kind prints, and means what matcalc means -------------------------------------

# programs whose derivatives use every node kind (checked against matcalc's NumPy)
PROGRAMS = [
    ("softmax(x)'*y", {}, True),
    ("logsumexp(X)*y", {"X": ("n", "m"), "y": ("m",)}, True),
    ("sum(X*A) + norm1(X) + norm2(x)", {"X": ("n", "m"), "A": ("m", "n")}, True),
    ("sum(relu(W*x + b)) + sum(sigmoid(W*x)) + sum(abs(x))", {}, True),
    ("y'*diag(X) + sum(diag(x)*X) + det(X) + logdet(X)", {"X": ("N", "N")}, False),
    ("sum(X ./ (1 + exp(X))) + sum(tan(X).^2) + tr(inv(X))*N",
     {"X": ("N", "N")}, True),
    ("sum(sqrt(x)) + sum(log(x) .* y) + x'*vector(2) + sum(x + 1) + lambda*sum(x)", {},
     False),
    ("sum(sign(x) .* x) + sum(abs(x) .* y)", {}, True),
    ("Y = X*A' + b'", {"X": ("N", "n")}, True),
]


@pytest.mark.parametrize("program,shapes,signed", PROGRAMS, ids=[p for p, _, _ in PROGRAMS])
def test_to_sympy_of_every_kind_equals_matcalc_numpy(program, shapes, signed):
    d = matcalc.derive(program, shapes=shapes)
    sizes = {"n": 4, "m": 3, "p": 5, "N": 2}
    rng = np.random.default_rng(7)
    printed = {name: der.to_sympy() for name, der in d.derivatives.items()}
    names = set()
    for e in printed.values():
        names |= {s.name for s in e.free_symbols if s.name not in sizes}
    values = {}
    for name in names:
        var = d.inputs.get(name) or (d.upstream if name == d.upstream_name else None)
        r, c = (sizes.get(dd, dd) for dd in var.shape)
        sign = rng.choice([-1.0, 1.0], (r, c)) if signed else 1.0
        values[name] = 3 * np.eye(r) + rng.uniform(0.1, 0.5, (r, c)) if r == c and r > 1 \
            else rng.uniform(0.3, 1.2, (r, c)) * sign
        if (r, c) == (1, 1):
            values[name] = float(values[name][0, 0])
    dims = {Symbol(s): v for s, v in sizes.items()}
    for name, e in printed.items():
        got = numeric(e.subs(dims), values)
        # NumPy's convention (SPEC 4): vectors 1-D unless declared 2-D, scalars floats
        env = {}
        for v, a in values.items():
            if np.ndim(a) and 1 in a.shape and v not in d.keep_2d:
                a = a.reshape(-1)
            env[d.python_names.get(v, v)] = a
        want = np.asarray(eval(d[name].numpy, {"np": np}, env), dtype=float)
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name}: {d[name].text} printed {e}")


def test_every_ir_kind_has_a_sympy_spelling():
    # a node kind added to the IR must be given a printer method (or an error naming it)
    from matcalc.interop.sympy import SYMPY_FUNCTIONS, SympyPrinter
    missing = [kind.__name__ for kind in IR.NODE_KINDS
               if not hasattr(SympyPrinter, f"_print_{kind.__name__}")]
    assert missing == []
    from matcalc.ops import ELEMENTWISE
    assert [f for f in ELEMENTWISE if f not in SYMPY_FUNCTIONS] == []


def test_printer_literal_spellings():
    from matcalc.interop.sympy import SympyPrinter
    p = SympyPrinter()
    xv, yv = IR.Var("x", ("n", 1)), IR.Var("y", ("n", 1))
    Xm = IR.Var("X", ("n", "m"))
    xs, Xs = MatrixSymbol("x", n, 1), MatrixSymbol("X", n, m)
    assert p.doprint(IR.Broadcast(IR.Var("s", IR.SCALAR), ("n", "m"))) == \
        Symbol("s") * OneMatrix(n, m)
    assert p.doprint(IR.Broadcast(IR.Transpose(yv), ("m", "n"))) == OneMatrix(m, 1) * xs.T.subs(
        xs, MatrixSymbol("y", n, 1))
    assert p.doprint(IR.Sum(Xm)) == OneMatrix(1, n) * Xs * OneMatrix(m, 1)
    assert p.doprint(IR.Trace(IR.MatMul((IR.Transpose(xv), yv)))) == \
        Trace(xs.T * MatrixSymbol("y", n, 1))
    assert p.doprint(IR.Const(0.5)) == Rational(1, 2)
    assert p.doprint(IR.Const(2 / 3)) == Rational(2, 3)
    assert p.doprint(IR.DimValue("n")) == n
    assert str(p.doprint(IR.Func("step", xv)).function.expr) == "Heaviside(_t, 0)"
    # a 1 x 1 matrix in a sum of scalars is its trace
    s = p.doprint(IR.Add((IR.MatMul((IR.Transpose(xv), yv)), IR.Var("a", IR.SCALAR))))
    assert s == Trace(xs.T * MatrixSymbol("y", n, 1)) + Symbol("a")


# ---- Jacobians and Hessians ---------------------------------------------------------------

def test_jacobian_of_vector_function_is_a_matrix():
    # d(W x)/dx = W in the numerator layout (SymPy's own is the same matrix)
    d = matcalc.from_sympy((W * x).applyfunc(tanh), wrt=[x], mode="jacobian",
                           layout="numerator")
    got = d["x"].to_sympy()
    assert got.shape == (m, n)
    values = draw(W * x, seed=4, signed=False)
    want = (1 - np.tanh(values["W"] @ values["x"]) ** 2) * values["W"]
    np.testing.assert_allclose(numeric(got, values), want, rtol=1e-12)


def test_hessian_kron_and_map_forms():
    X2 = MatrixSymbol("X", 2, 2)
    d = matcalc.from_sympy(log(det(X2)), mode="hessian")
    values = draw(X2, seed=5, signed=False)
    inv = np.linalg.inv(values["X"])
    # d2/dX2 log det X: dX -> -inv(X)' dX' inv(X)'; on column-major vec, -(inv(X) ⊗ inv(X)') K
    kron = d["X"].to_sympy()
    Vm = np.random.default_rng(0).normal(size=(2, 2))
    want = -inv.T @ Vm.T @ inv.T
    got = numeric(kron, values) @ Vm.reshape(-1, order="F")
    np.testing.assert_allclose(got, want.reshape(-1, order="F"), rtol=1e-10)
    lam = d["X"].to_sympy(form="map")
    assert isinstance(lam, Lambda)
    got = numeric(lam(ImmutableMatrix(Vm)), values)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # with symbolic sizes the commutation matrix cannot be written: a clear error
    with pytest.raises(MatcalcError, match="commutation matrix"):
        matcalc.from_sympy(log(det(X)), mode="hessian")["X"].to_sympy()
    assert matcalc.from_sympy(log(det(X)), mode="hessian")["X"].to_sympy(form="map")


# ---- the SymPy issues -----------------------------------------------------------------------

def sympy_is_wrong(compute, want: np.ndarray, values: dict) -> bool:
    """True when SymPy raises, or returns something whose value is not `want`."""
    try:
        got = compute()
        value = numeric(got, values)
        return value.shape != want.shape or not np.allclose(value, want, rtol=1e-8)
    except Exception:  # noqa: BLE001  (any failure of SymPy's is the point)
        return True


def report_if_fixed(wrong: bool, issue: int) -> None:
    if not wrong:
        warnings.warn(f"SymPy {sympy.__version__} now gets sympy/sympy#{issue} right; "
                      f"matcalc is still checked", stacklevel=2)


def test_issue_28618_log_det():
    # d log det X / dX = inv(X)'   (Cookbook (57)); SymPy 1.14 gives 0, later raises
    values = draw(X, seed=6, signed=False)
    want = np.linalg.inv(values["X"]).T
    report_if_fixed(sympy_is_wrong(lambda: log(det(X)).diff(X), want, values), 28618)
    got = matcalc.sympy_diff(log(det(X)), X)
    assert got == X.T.I or sympy.simplify(got - Inverse(X).T) == ZeroMatrix(n, n)
    np.testing.assert_allclose(numeric(got, values), want, rtol=1e-12)


def test_issue_26561_a_constant_added():
    # d (tr(E)^2 + 1) / dE = 2 tr(E) I; SymPy returns 0 once the 1 is added
    Em = MatrixSymbol("E", 3, 3)
    values = draw(Em, seed=8, signed=False)
    want = 2 * np.trace(values["E"]) * np.eye(3)
    report_if_fixed(sympy_is_wrong(lambda: (Trace(Em) ** 2 + 1).diff(Em), want, values),
                    26561)
    report_if_fixed(sympy_is_wrong(lambda: (Trace(Em) + 1).diff(Em), np.eye(3), values),
                    26561)
    np.testing.assert_allclose(numeric(matcalc.sympy_diff(Trace(Em) ** 2 + 1, Em), values),
                               want, rtol=1e-12)
    assert matcalc.sympy_diff(Trace(Em) + 1, Em) == Identity(3)


def test_issue_26585_a_sum_of_two_norms():
    # nrm2(e) = tr(e'e); d/dU of 0.5 nrm2(A - U V) + 0.5 nrm2(A) = -(A - U V) V';
    # with 0.5 nrm2(U) added: -(A - U V) V' + U. SymPy returns 0 for both sums.
    Am = MatrixSymbol("A", n, m)

    def nrm2(e):
        return Trace(e.T * e)

    values = draw(Am + U * V, seed=9, signed=True)
    res = values["A"] - values["U"] @ values["V"]
    for expr, want in [(0.5 * nrm2(Am - U * V) + 0.5 * nrm2(Am), -res @ values["V"].T),
                       (0.5 * nrm2(Am - U * V) + 0.5 * nrm2(U),
                        -res @ values["V"].T + values["U"])]:
        report_if_fixed(sympy_is_wrong(lambda e=expr: e.diff(U), want, values), 26585)
        got = matcalc.sympy_diff(expr, U)
        np.testing.assert_allclose(numeric(got, values), want, rtol=1e-10)


def test_issue_9840_hessian_of_a_matrix_symbol_function():
    # f = x'Hx/2 + c'x; its Hessian is (H + H')/2, 3 x 3. SymPy's hessian(f, [x]) is a
    # 1 x 1 Matrix holding a matrix, and Matrix(f).diff(x) raises.
    H = MatrixSymbol("H", 3, 3)
    xv = MatrixSymbol("x", 3, 1)
    c = MatrixSymbol("c", 3, 1)
    f = Rational(1, 2) * xv.T * H * xv + c.T * xv
    values = draw(f, seed=10, signed=True)
    want = (values["H"] + values["H"].T) / 2
    report_if_fixed(sympy_is_wrong(lambda: sympy.hessian(f, [xv]), want, values), 9840)
    report_if_fixed(sympy_is_wrong(lambda: sympy.Matrix(f).diff(xv), want, values), 9840)
    hess = matcalc.from_sympy(f, wrt=[xv], mode="hessian")["x"].to_sympy()
    assert hess.shape == (3, 3)
    np.testing.assert_allclose(numeric(hess, values), want, rtol=1e-12)
    # a Hessian with respect to a matrix: d2/dX2 tr(X'AX) = dX -> (A + A') dX
    Xm = MatrixSymbol("X", 3, 2)
    Am = MatrixSymbol("A", 3, 3)
    h = matcalc.from_sympy(Trace(Xm.T * Am * Xm), wrt=[Xm], mode="hessian")["X"]
    values = draw(Trace(Xm.T * Am * Xm), seed=11, signed=True)
    kron = numeric(h.to_sympy(form="kron"), values)           # I_2 ⊗ (A + A')
    np.testing.assert_allclose(kron, np.kron(np.eye(2), values["A"] + values["A"].T),
                               rtol=1e-12)


def test_issue_23423_a_4d_jacobian_becomes_a_matrix():
    # Y = X B' (X n x n, B m x n): SymPy's dY/dX is a PermuteDims array expression that
    # Matrix() cannot take. matcalc gives the Kronecker form, a matrix:
    # d vec(Y)/d vec(X) = B ⊗ I_n (numerator layout, column-major vec), and the full
    # 4-index tensor in NumPy ([i, j, k, l] = dY_ij/dX_kl).
    sym = (X * B.T).diff(X)
    wrong = type(sym).__name__ == "PermuteDims"
    try:
        sympy.Matrix(sym)
    except (TypeError, ValueError):
        wrong = True
    report_if_fixed(wrong, 23423)
    d = matcalc.from_sympy(X * B.T, wrt=[X], mode="jacobian", layout="numerator")
    kron = d["X"].to_sympy()
    assert kron == KroneckerProduct(B, Identity(n))
    values = draw(X * B.T, seed=12, signed=True)
    nn, mm = DIMS[n], DIMS[m]
    # the exact tensor, entry by entry, from the explicit product
    Y = (X * B.T).subs(DIMS).as_explicit()
    X2 = X.subs(DIMS)
    tensor = np.zeros((nn, mm, nn, nn))
    Bv = values["B"]
    for i in range(nn):
        for j in range(mm):
            for kk in range(nn):
                for ll in range(nn):
                    dv = sympy.diff(Y[i, j], X2[kk, ll]).xreplace(
                        {MatrixSymbol("B", mm, nn)[p, q]: Bv[p, q]
                         for p in range(mm) for q in range(nn)})
                    tensor[i, j, kk, ll] = float(dv)
    jac = tensor.transpose(1, 0, 3, 2).reshape(mm * nn, nn * nn)   # rows vec(Y), cols vec(X)
    np.testing.assert_allclose(numeric(kron, values), jac, rtol=1e-12)
    env = {"X": values["X"], "B": Bv}
    np.testing.assert_allclose(eval(d["X"].numpy, {"np": np}, env), tensor, rtol=1e-12)
    # SymPy's own array holds the same numbers once made explicit, just not as a matrix
    arr = np.array(sym.subs(DIMS).as_explicit().xreplace(
        {MatrixSymbol("B", mm, nn)[p, q]: Bv[p, q] for p in range(mm) for q in range(nn)})
        .tolist(), dtype=float)
    assert sorted(arr.ravel()) == pytest.approx(sorted(tensor.ravel()))


# ---- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("expr,named", [
    (Trace(KroneckerProduct(X, A)), "KroneckerProduct"),
    (X[0, 1] * Trace(X), "MatrixElement"),
    (Trace(ImmutableMatrix([[1, 2], [3, 4]]) * MatrixSymbol("Z", 2, 2)), "ImmutableDenseMatrix"),
    (ones_row(n) * x.applyfunc(Lambda(t, Max(t, 1))), "Max"),
    (Trace(X ** n), "MatPow"),
    (Trace(MatrixSymbol("Z", 2 * n, 2 * n)), "dimension 2*n"),
    (Trace(MatrixSymbol("X_{1}", n, n)), "'X_{1}'"),
    (Trace(MatrixSymbol("exp", n, n)), "'exp'"),
    (Trace(X) + Trace(MatrixSymbol("X", m, m)), "two different symbols are named X"),
    (sympy.Integral(alpha, alpha) * Trace(X), "Integral"),
])
def test_unsupported_input_is_a_clear_error_naming_it(expr, named):
    with pytest.raises(MatcalcError, match=None) as info:
        matcalc.from_sympy(expr)
    assert named in str(info.value)
    assert "Traceback" not in info.value.render()


def test_wrong_wrt_and_non_scalar_sympy_diff_are_errors():
    with pytest.raises(MatcalcError, match="not in the expression"):
        matcalc.from_sympy(Trace(X), wrt=[A])
    with pytest.raises(MatcalcError, match="a dimension"):
        matcalc.from_sympy(Trace(X) * n, wrt=["n"])
    with pytest.raises(MatcalcError, match="Jacobian"):
        matcalc.sympy_diff(X * A, X)
    with pytest.raises(MatcalcError, match="expected a SymPy expression"):
        matcalc.from_sympy("tr(X)")                   # text is never evaluated


def test_count_of_round_tripped_expressions():
    # the issue asks for at least 30 SymPy expressions round-tripped and checked
    assert len(CASES) >= 30


def test_hessian_vector_product_prints_with_its_direction():
    # H v of x'Ax is (A + A') v, without forming H
    d = matcalc.from_sympy(x.T * A * x, wrt=[x], mode="hvp")
    v = MatrixSymbol(d.directions["x"].name, n, 1)
    assert d["x"].to_sympy() == (A + A.T) * v
    with pytest.raises(MatcalcError, match="no kron form"):
        d["x"].to_sympy(form="kron")
