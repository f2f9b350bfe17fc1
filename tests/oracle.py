"""Two independent oracles for matcalc's derivatives: SymPy and finite differences.

Neither shares code with the engine (`matcalc.rules`, `matcalc.evaluate`, `matcalc.check`):
the IR is read only through its node classes and their fields, and each oracle has its
own interpreter of it, written from the definitions in `matcalc/expr.py`:

- `to_sympy(node, env)`: the IR as SymPy matrices, entry by entry, on small concrete
  shapes. `sympy_gradient` differentiates the output exactly (`sympy.diff` entry by
  entry) in the adjoint convention: `[d f / d X_ij]` for a scalar f, and for a
  non-scalar Y the gradient of `L = sum_ij U_ij Y_ij` for an upstream matrix U.
  `exact_gradient_at` evaluates it at a point. On large programs SymPy's expressions
  swell, so `exact_gradients_chained` gives the same numbers faster: each entry of each
  node is a symbol defined over its operands' symbols by the same `to_sympy` formulas,
  and the local `sympy.diff`s are chained backwards (no per-kind rule anywhere).
- `np_eval(node, values, dims)`: a small NumPy interpreter; `fd_gradient` takes
  fourth-order central differences of it entry by entry.

`draw_point` picks a point in the domain of the usual expressions: positive entries
(safe under log, sqrt, ./), square matrix variables diagonally dominant (safe under inv,
det, logdet), every entry at least 0.3 away from zero (away from the kinks of relu, abs,
sign, step); with `signed=True` the non-square variables take either sign.

`check_program` derives a program with matcalc in every layout and compares each
formula with both oracles (which must also agree with each other) and the layouts with
each other.
"""
from __future__ import annotations

from functools import reduce

import numpy as np
import sympy

import matcalc
from matcalc import expr as E

LAYOUTS = ("denominator", "numerator", "mixed")
SIZES = (2, 3, 4)             # sizes given to the dimension symbols, in order of appearance

SYMPY_RTOL = 1e-9
FD_RTOL = 1e-6


# ---- shapes --------------------------------------------------------------------------

def size(dim, dims) -> int:
    return dim if isinstance(dim, int) else int(dims[dim])


def concrete(shape, dims) -> tuple[int, int]:
    return (size(shape[0], dims), size(shape[1], dims))


def assign_dims(*nodes) -> dict:
    """Small sizes for the dimension symbols of the nodes: 2, 3, 4, then 2, 3, 4 again."""
    names: list[str] = []
    for root in nodes:
        if root is None:
            continue
        for n in E.walk(root):
            dims = list(n.shape)
            if isinstance(n, E.DimValue):
                dims.append(n.dim)
            for d in dims:
                if isinstance(d, str) and d not in names:
                    names.append(d)
    return {d: SIZES[i % len(SIZES)] for i, d in enumerate(names)}


def transposed(shape):
    return (shape[1], shape[0])


def is_square_var(v: E.Var) -> bool:
    r, c = v.shape
    return r == c and r != 1


# ---- the IR in SymPy ------------------------------------------------------------------

def _relu(x):
    return sympy.Piecewise((x, x > 0), (0, True))


def _step(x):
    return sympy.Piecewise((1, x > 0), (0, True))


# each elementwise function, from its definition: in SymPy (exact derivatives) and in
# NumPy (finite differences)
FUNCS = {
    "exp":     (sympy.exp, np.exp),
    "log":     (sympy.log, np.log),
    "sin":     (sympy.sin, np.sin),
    "cos":     (sympy.cos, np.cos),
    "tan":     (sympy.tan, np.tan),
    "tanh":    (sympy.tanh, np.tanh),
    "sigmoid": (lambda x: 1 / (1 + sympy.exp(-x)), lambda x: 1.0 / (1.0 + np.exp(-x))),
    "relu":    (_relu, lambda x: np.where(x > 0, x, 0.0)),
    "abs":     (sympy.Abs, np.abs),
    "sign":    (sympy.sign, np.sign),
    "sqrt":    (sympy.sqrt, np.sqrt),
    "arcsin":  (sympy.asin, np.arcsin),
    "arccos":  (sympy.acos, np.arccos),
    "arctan":  (sympy.atan, np.arctan),
    "step":    (_step, lambda x: np.where(x > 0, 1.0, 0.0)),
}
SYMPY_FUNCS = {name: f for name, (f, _) in FUNCS.items()}
NP_FUNCS = {name: f for name, (_, f) in FUNCS.items()}


def _sym_const(value):
    if isinstance(value, int):
        return sympy.Integer(value)
    return sympy.Rational(repr(value))         # the decimal the user wrote, exactly


def _sym_softmax(x: sympy.Matrix) -> sympy.Matrix:
    out = sympy.zeros(*x.shape)
    for j in range(x.shape[1]):
        es = [sympy.exp(x[i, j]) for i in range(x.shape[0])]
        total = sum(es)
        for i in range(x.shape[0]):
            out[i, j] = es[i] / total
    return out


def _sym_logsumexp(x: sympy.Matrix) -> sympy.Matrix:
    return sympy.Matrix(1, x.shape[1], lambda _, j: sympy.log(
        sum(sympy.exp(x[i, j]) for i in range(x.shape[0]))))


def _sym_broadcast(x: sympy.Matrix, shape) -> sympy.Matrix:
    r, c = x.shape
    return sympy.Matrix(*shape, lambda i, j: x[0 if r == 1 else i, 0 if c == 1 else j])


def _sym_inv(x: sympy.Matrix) -> sympy.Matrix:
    if all(e.is_number for e in x):
        return x.inv(method="LU")
    return x.adjugate() / x.det(method="berkowitz")


def _sym_node(n: E.Node, xs: list, env) -> sympy.Matrix:
    dims = env
    t = type(n)
    if t is E.Var:
        value = env[n.name]
        if value.shape != concrete(n.shape, dims):
            raise ValueError(f"{n.name}: value of shape {value.shape} for {n.shape}")
        return value
    if t is E.Const:
        return sympy.Matrix([[_sym_const(n.value)]])
    if t is E.DimValue:
        return sympy.Matrix([[sympy.Integer(size(n.dim, dims))]])
    if t is E.Zero:
        return sympy.zeros(*concrete(n.shape, dims))
    if t is E.Ones:
        return sympy.ones(*concrete(n.shape, dims))
    if t is E.Identity:
        return sympy.eye(size(n.n, dims))
    if t is E.Add:
        return reduce(lambda a, b: a + b, xs)
    if t is E.Scale:
        return xs[0][0, 0] * xs[1]
    if t is E.MatMul:
        return reduce(lambda a, b: a * b, xs)
    if t is E.Transpose:
        return xs[0].T
    if t is E.Broadcast:
        return _sym_broadcast(xs[0], concrete(n.shape, dims))
    if t is E.Hadamard:
        return reduce(lambda a, b: a.multiply_elementwise(b), xs)
    if t is E.Divide:
        a, b = xs
        return sympy.Matrix(*a.shape, lambda i, j: a[i, j] / b[i, j])
    if t is E.Power:
        p = xs[1][0, 0]
        return xs[0].applyfunc(lambda e: e ** p)
    if t is E.Func:
        return xs[0].applyfunc(SYMPY_FUNCS[n.name])
    if t is E.Sum:
        return sympy.Matrix([[sum(xs[0])]])
    if t is E.Trace:
        return sympy.Matrix([[xs[0].trace()]])
    if t is E.Norm1:
        return sympy.Matrix([[sum(sympy.Abs(e) for e in xs[0])]])
    if t is E.Norm2:
        return sympy.Matrix([[sympy.sqrt(sum(e ** 2 for e in xs[0]))]])
    if t is E.Det:
        return sympy.Matrix([[xs[0].det(method="berkowitz")]])
    if t is E.LogDet:
        return sympy.Matrix([[sympy.log(xs[0].det(method="berkowitz"))]])
    if t is E.Inv:
        return _sym_inv(xs[0])
    if t is E.DiagMat:
        v = xs[0]
        return sympy.diag(*[v[i, 0] for i in range(v.shape[0])])
    if t is E.DiagVec:
        x = xs[0]
        return sympy.Matrix(x.shape[0], 1, lambda i, _: x[i, i])
    if t in (E.Tril, E.Triu):
        x, lower = xs[0], t is E.Tril
        return sympy.Matrix(x.shape[0], x.shape[1],
                            lambda i, j: x[i, j] if (i >= j if lower else i <= j) else 0)
    if t is E.Softmax:
        return _sym_softmax(xs[0])
    if t is E.LogSumExp:
        return _sym_logsumexp(xs[0])
    raise NotImplementedError(f"to_sympy: no meaning for {t.__name__}")


def to_sympy(node: E.Node, env) -> sympy.Matrix:
    """The value of `node` as a SymPy matrix of its concrete shape. `env` maps variable
    names to SymPy matrices and dimension symbols to ints."""
    memo: dict = {}
    for n in E.walk(node):
        memo[n] = _sym_node(n, [memo[c] for c in n.children], env)
    return memo[node]


# ---- the IR in NumPy -------------------------------------------------------------------

def _np_softmax(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _np_logsumexp(x):
    m = x.max(axis=0, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=0, keepdims=True))


def _np_node(n: E.Node, xs: list, values, dims) -> np.ndarray:
    t = type(n)
    if t is E.Var:
        v = np.asarray(values[n.name], dtype=float)
        if v.shape != concrete(n.shape, dims):
            raise ValueError(f"{n.name}: value of shape {v.shape} for {n.shape}")
        return v
    if t is E.Const:
        return np.array([[float(n.value)]])
    if t is E.DimValue:
        return np.array([[float(size(n.dim, dims))]])
    if t is E.Zero:
        return np.zeros(concrete(n.shape, dims))
    if t is E.Ones:
        return np.ones(concrete(n.shape, dims))
    if t is E.Identity:
        return np.eye(size(n.n, dims))
    if t is E.Add:
        return sum(xs[1:], xs[0])
    if t is E.Scale:
        return xs[0][0, 0] * xs[1]
    if t is E.MatMul:
        return reduce(np.matmul, xs)
    if t is E.Transpose:
        return xs[0].T
    if t is E.Broadcast:
        return np.broadcast_to(xs[0], concrete(n.shape, dims)).copy()
    if t is E.Hadamard:
        return reduce(np.multiply, xs)
    if t is E.Divide:
        return xs[0] / xs[1]
    if t is E.Power:
        return xs[0] ** xs[1][0, 0]
    if t is E.Func:
        return NP_FUNCS[n.name](xs[0])
    if t is E.Sum:
        return np.array([[xs[0].sum()]])
    if t is E.Trace:
        return np.array([[np.trace(xs[0])]])
    if t is E.Norm1:
        return np.array([[np.abs(xs[0]).sum()]])
    if t is E.Norm2:
        return np.array([[np.sqrt((xs[0] ** 2).sum())]])
    if t is E.Det:
        return np.array([[np.linalg.det(xs[0])]])
    if t is E.LogDet:
        return np.array([[np.log(np.linalg.det(xs[0]))]])
    if t is E.Inv:
        return np.linalg.inv(xs[0])
    if t is E.DiagMat:
        return np.diag(xs[0][:, 0])
    if t is E.DiagVec:
        return np.diag(xs[0]).reshape(-1, 1).copy()
    if t is E.Tril:
        return np.tril(xs[0])
    if t is E.Triu:
        return np.triu(xs[0])
    if t is E.Softmax:
        return _np_softmax(xs[0])
    if t is E.LogSumExp:
        return _np_logsumexp(xs[0])
    raise NotImplementedError(f"np_eval: no meaning for {t.__name__}")


def np_eval(node: E.Node, values, dims) -> np.ndarray:
    """The value of `node` as a 2-D float array of its concrete shape."""
    memo: dict = {}
    for n in E.walk(node):
        memo[n] = _np_node(n, [memo[c] for c in n.children], values, dims)
    return memo[node]


# ---- points in the domain --------------------------------------------------------------

def evaluated_pairs(before: E.Node, after: E.Node, dims, seeds, adjust=None):
    """(value of before, value of after) at the random points of `seeds` (positive at seed
    0, of either sign after), both sides' variables drawn; `adjust(values, seed)` may
    change the values (labels). A point where a matrix is singular or a value is not
    finite is no verdict and is skipped."""
    for seed in seeds:
        values = {**draw_point(after, dims, seed, signed=seed > 0),
                  **draw_point(before, dims, seed, signed=seed > 0)}
        if adjust is not None:
            values = adjust(values, seed)
        try:
            with np.errstate(all="ignore"):
                a, b = np_eval(before, values, dims), np_eval(after, values, dims)
        except np.linalg.LinAlgError:
            continue                      # a singular matrix at this point: no verdict
        if np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
            yield a, b                    # else outside the domain at this point


def draw_point(output: E.Node, dims, seed: int = 0, upstream: E.Var | None = None,
               signed: bool = False) -> dict[str, np.ndarray]:
    """Values for every variable of `output` (and for the upstream Var), as 2-D arrays."""
    rng = np.random.default_rng(seed)
    values: dict[str, np.ndarray] = {}
    for v in E.variables(output):
        shape = concrete(v.shape, dims)
        if is_square_var(v):
            # diagonally dominant: det > 0, well conditioned, inv and logdet are safe
            values[v.name] = shape[0] * np.eye(shape[0]) + rng.uniform(0.1, 0.5, shape)
        elif signed and v.shape != E.SCALAR:
            values[v.name] = rng.uniform(0.3, 1.2, shape) * rng.choice([-1.0, 1.0], shape)
        else:
            values[v.name] = rng.uniform(0.3, 1.2, shape)
    if upstream is not None:
        shape = concrete(upstream.shape, dims)
        values[upstream.name] = rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return values


def _sym_values(values: dict[str, np.ndarray]) -> dict[str, sympy.Matrix]:
    return {k: sympy.Matrix(v.shape[0], v.shape[1], [sympy.Float(float(e)) for e in v.flat])
            for k, v in values.items()}


# ---- oracle 1: SymPy -------------------------------------------------------------------

def _loss(y: sympy.Matrix, u: sympy.Matrix | None):
    if u is None:
        assert y.shape == (1, 1), "a non-scalar output needs an upstream"
        return y[0, 0]
    return sum(u[i, j] * y[i, j] for i in range(y.shape[0]) for j in range(y.shape[1]))


def sympy_gradient(output: E.Node, var: E.Var, env, upstream=None) -> sympy.Matrix:
    """The exact derivative in the adjoint convention (the shape of `var`): `[df/dX_ij]`
    for a scalar output f, else the gradient of `L = sum_ij U_ij Y_ij` with
    `U = env[upstream.name]`. `env` maps `var.name` to a matrix of symbols."""
    loss = sympy_loss(output, env, upstream)
    x = env[var.name]
    return sympy.Matrix(x.shape[0], x.shape[1], lambda i, j: sympy.diff(loss, x[i, j]))


def sympy_loss(output: E.Node, env, upstream=None):
    """The scalar differentiated: the output itself, or `sum(U .* Y)`."""
    y = to_sympy(output, env)
    return _loss(y, None if upstream is None else env[upstream.name])


_LOSS_CACHE: dict = {}
_EXACT_CACHE: dict = {}


def symbolic_inputs(output: E.Node, dims, upstream: E.Var | None = None) -> dict:
    """An env in which every variable (and the upstream) is a matrix of real symbols."""
    env = dict(dims)
    for v in E.variables(output) + ([upstream] if upstream is not None else []):
        r, c = concrete(v.shape, dims)
        env[v.name] = sympy.Matrix(r, c, lambda i, j, n=v.name: sympy.Symbol(f"{n}[{i},{j}]",
                                                                               real=True))
    return env


def exact_gradient_at(output: E.Node, var: E.Var, values, dims, upstream=None) -> np.ndarray:
    """`sympy_gradient` evaluated at the point `values` (a float array of var's shape).
    The loss is built once per output, over symbols for every input, and differentiated
    entry by entry; the derivatives are then evaluated at the point."""
    dkey = tuple(sorted(dims.items()))
    key = (output, var, upstream, dkey,
           tuple((k, v.tobytes()) for k, v in sorted(values.items())))
    if key in _EXACT_CACHE:
        return _EXACT_CACHE[key]
    lkey = (output, upstream, dkey)
    if lkey not in _LOSS_CACHE:
        env = symbolic_inputs(output, dims, upstream)
        _LOSS_CACHE[lkey] = (env, sympy_loss(output, env, upstream))
    env, loss = _LOSS_CACHE[lkey]
    point = {}
    for name, m in env.items():
        if isinstance(m, sympy.MatrixBase):
            for (i, j), sym in np.ndenumerate(np.array(m.tolist(), dtype=object)):
                point[sym] = sympy.Float(float(values[name][i, j]))
    x = env[var.name]
    out = np.array([[_to_float(sympy.diff(loss, x[i, j]).xreplace(point))
                     for j in range(x.shape[1])] for i in range(x.shape[0])])
    _EXACT_CACHE[key] = out
    return out


def exact_gradients_chained(output: E.Node, wrt: list, values, dims,
                            upstream: E.Var | None = None) -> dict:
    """The same exact gradients, faster on large programs: every entry of every node of
    the DAG becomes a symbol defined by `to_sympy`'s formula over its operands' symbols;
    the local partial derivatives are taken by `sympy.diff`, evaluated at the point and
    chained backwards (the total derivative as a sum over paths). Returns var -> array."""
    key = ("chained", output, tuple(wrt), upstream, tuple(sorted(dims.items())),
           tuple((k, v.tobytes()) for k, v in sorted(values.items())))
    if key in _EXACT_CACHE:
        return _EXACT_CACHE[key]
    value: dict = {}                      # symbol -> its value at the point (a Float)
    defs: list = []                       # (symbol, formula over earlier symbols)
    mats: dict = {}                       # node -> matrix of symbols (or numbers)

    def name(expr):
        """A symbol standing for `expr` (numbers stand for themselves)."""
        if expr.is_Number:
            return expr
        sym = sympy.Dummy(real=True)
        point = {c: value[c] for c in expr.free_symbols}
        value[sym] = sympy.Float(_to_float(expr.xreplace(point)))
        defs.append((sym, expr))
        return sym

    for n in E.walk(output):
        if isinstance(n, E.Var):
            r, c = concrete(n.shape, dims)
            m = sympy.Matrix(r, c, lambda i, j, v=n.name: sympy.Dummy(f"{v}{i}{j}", real=True))
            for (i, j), sym in np.ndenumerate(np.array(m.tolist(), dtype=object)):
                value[sym] = sympy.Float(float(values[n.name][i, j]))
            mats[n] = m
            continue
        kids = [mats[c] for c in n.children]
        if isinstance(n, E.MatMul):       # a chain, one product at a time
            acc = kids[0]
            for k in kids[1:]:
                acc = (acc * k).applyfunc(name)
            mats[n] = acc
            continue
        mats[n] = _sym_node(n, kids, dims).applyfunc(name)
    u = None if upstream is None else _sym_values({upstream.name: values[upstream.name]})[
        upstream.name]
    loss = name(_loss(mats[output], u))
    adjoint: dict = {loss: 1.0}
    for sym, expr in reversed(defs):
        a = adjoint.get(sym, 0.0)
        if a == 0.0:
            continue
        point = {c: value[c] for c in expr.free_symbols}
        for c in expr.free_symbols:
            adjoint[c] = adjoint.get(c, 0.0) + a * _to_float(sympy.diff(expr, c).xreplace(point))
    out = {}
    for v in wrt:
        m = mats.get(v)
        r, c = concrete(v.shape, dims)
        out[v] = np.zeros((r, c)) if m is None else np.array(
            [[float(adjoint.get(m[i, j], 0.0)) for j in range(c)] for i in range(r)])
    _EXACT_CACHE[key] = out
    return out


def _to_float(e) -> float:
    if not e.is_Number:
        e = sympy.N(e.doit() if e.has(sympy.Derivative) else e, 17)
    return float(e)


def sympy_value(node: E.Node, values, dims) -> np.ndarray:
    """`to_sympy(node)` at a numeric point, as a float array."""
    env = dict(dims)
    env.update(_sym_values(values))
    m = to_sympy(node, env)
    return np.array([[_to_float(m[i, j]) for j in range(m.shape[1])]
                     for i in range(m.shape[0])])


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float, what: str) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    err = float(np.abs(got - want).max(initial=0.0))
    assert np.all(np.isfinite(got)), f"{what}: non-finite value\n{got}"
    assert err <= rtol * scale, \
        f"{what}: max error {err:.3g} (scale {scale:.3g})\n got\n{got}\n expected\n{want}"


def assert_matches_sympy(output: E.Node, grad_node: E.Node, var: E.Var, shapes_dims,
                         upstream: E.Var | None = None, seed: int = 0, values=None,
                         signed: bool = False) -> None:
    """The adjoint-form `grad_node` equals the exact gradient of `output` by `var` at a
    random point of the domain (relative tolerance 1e-9)."""
    dims = shapes_dims
    if values is None:
        values = draw_point(output, dims, seed, upstream, signed)
    want = exact_gradient_at(output, var, values, dims, upstream)
    got = sympy_value(grad_node, values, dims)
    assert_close(got, want, SYMPY_RTOL, f"d/d{var.name} vs SymPy")


# ---- oracle 2: finite differences -------------------------------------------------------

def _loss_value(output, values, dims, upstream_value):
    y = np_eval(output, values, dims)
    if upstream_value is None:
        return float(y[0, 0])
    return float((np.asarray(upstream_value) * y).sum())


def fd_gradient(output: E.Node, var: E.Var, values, dims, upstream_value=None) -> np.ndarray:
    """d L / d var by fourth-order central differences, entry by entry (adjoint form);
    `L = output` for a scalar output, else `sum(upstream_value .* output)`."""
    x0 = np.asarray(values[var.name], dtype=float)
    grad = np.zeros_like(x0)
    vals = dict(values)
    for idx in np.ndindex(*x0.shape):
        h = 1e-4 * max(1.0, abs(x0[idx]))
        fs = []
        for k in (2, 1, -1, -2):
            x = x0.copy()
            x[idx] += k * h
            vals[var.name] = x
            fs.append(_loss_value(output, vals, dims, upstream_value))
        grad[idx] = (-fs[0] + 8 * fs[1] - 8 * fs[2] + fs[3]) / (12 * h)
    return grad


def assert_matches_fd(output: E.Node, grad_node: E.Node, var: E.Var, dims,
                      upstream: E.Var | None = None, seed: int = 0, values=None,
                      signed: bool = False) -> None:
    if values is None:
        values = draw_point(output, dims, seed, upstream, signed)
    u = None if upstream is None else values[upstream.name]
    want = fd_gradient(output, var, values, dims, u)
    got = np_eval(grad_node, values, dims)
    assert_close(got, want, FD_RTOL, f"d/d{var.name} vs finite differences")


# ---- the whole check of one program ------------------------------------------------------

def check_program(program: str, shapes=None, wrt=None, seed: int = 0, signed: bool = False,
                  kinds: str = "ml", sizes=None) -> int:
    """Derive `program` in every layout and check every derivative against SymPy and
    finite differences, and the layouts against each other. Returns the number of checks."""
    ds = {layout: matcalc.derive(program, wrt=wrt, layout=layout, shapes=shapes, kinds=kinds)
          for layout in LAYOUTS}
    den = ds["denominator"]
    output, upstream = den.output, den.adjoint_upstream
    for d in ds.values():
        assert d.output is output and d.adjoint_upstream is upstream
    dims = assign_dims(output, upstream, *(d.derivatives[n].node for d in ds.values()
                                           for n in d.derivatives))
    dims.update(sizes or {})
    values = draw_point(output, dims, seed, upstream, signed)
    checks = 0
    wrt_vars = [den.inputs[name] for name in den.derivatives]
    exact_all = exact_gradients_chained(output, wrt_vars, values, dims, upstream)
    for name in den.derivatives:
        var = den.inputs[name]
        u = None if upstream is None else values[upstream.name]
        fd = fd_gradient(output, var, values, dims, u)
        exact = exact_all[var]
        # the two oracles agree with each other (a sanity check of the oracles)
        assert_close(fd, exact, FD_RTOL, f"{program!r}: oracles disagree on d/d{name}")
        den_value = np_eval(den.derivatives[name].node, values, dims)
        for layout, d in ds.items():
            where = f"{program!r} [{layout}]"
            adj = d.adjoint_form(name)
            assert adj.shape == var.shape, f"{where}: adjoint form of d/d{name} has shape " \
                f"{adj.shape}, the variable {var.shape}"
            assert_close(sympy_value(adj, values, dims), exact, SYMPY_RTOL,
                         f"{where}: d/d{name} vs SymPy")
            assert_close(np_eval(adj, values, dims), fd, FD_RTOL,
                         f"{where}: d/d{name} vs finite differences")
            checks += 2
            node = d.derivatives[name].node
            want_shape = transposed(var.shape) if layout == "numerator" else var.shape
            assert node.shape == want_shape, f"{where}: d/d{name} has shape {node.shape}, " \
                f"expected {want_shape} in this layout"
            if layout == "numerator":
                # numerator = transpose of denominator, the upstream transposed alike
                vals = dict(values)
                if upstream is not None:
                    vals[upstream.name] = values[upstream.name].T
                assert_close(np_eval(node, vals, dims), den_value.T, SYMPY_RTOL,
                             f"{where}: d/d{name} is not the transpose of the denominator form")
                checks += 1
            elif layout == "mixed":
                assert_close(np_eval(node, values, dims), den_value, SYMPY_RTOL,
                             f"{where}: d/d{name} differs from the denominator form")
                checks += 1
    return checks


def node_kinds(node: E.Node) -> set[type]:
    return {type(n) for n in E.walk(node)}


__all__ = ["LAYOUTS", "assert_matches_fd", "assert_matches_sympy", "assign_dims",
           "check_program", "draw_point", "exact_gradient_at", "exact_gradients_chained",
           "fd_gradient", "node_kinds", "np_eval", "sympy_gradient", "sympy_value", "to_sympy"]
