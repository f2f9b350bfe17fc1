"""Generated modules (matcalc/codegen/, SPEC section 5, issue 5).

Every program of the corpus below is emitted, compiled, imported and run on random inputs
of the right shapes (drawn for the domain: positive under log, SPD under logdet, ...):
`forward` agrees with matcalc's reference interpreter, `gradient` with the JSON `numpy`
fields and with central finite differences of the generated `forward`, and
`value_and_gradient` with both. The source passes py_compile and ruff, comes out the
same bytes whatever the hash seed, keeps float32 in float32 and never writes into its
arguments. The test corpus of test_corpus.py runs through the same comparison.
"""
import json
import os
import py_compile
import shutil
import subprocess
import sys
import textwrap
import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.check import assign_dims, find_point, first_point
from matcalc.cli.main import cli
from matcalc.codegen import GENERATED_MARKER
from matcalc.evaluate import evaluate
from matcalc.expr import variables


@dataclass(frozen=True, eq=False)
class Case:
    program: str
    shapes: dict = field(default_factory=dict)
    layout: str = "denominator"
    onehot: tuple = ()
    wrt: tuple = ()

    @property
    def id(self) -> str:
        extra = [f"{k}={v}" for k, v in self.shapes.items()] + list(self.onehot)
        extra += [self.layout] if self.layout != "denominator" else []
        extra += [f"wrt {','.join(self.wrt)}"] if self.wrt else []
        return self.program + (f" [{', '.join(extra)}]" if extra else "")

    def derive(self):
        return matcalc.derive(self.program, shapes=self.shapes or None, layout=self.layout,
                              onehot=list(self.onehot), wrt=list(self.wrt) or None)


MLP = ("H = relu(X*W1 + b1')\nS = H*W2 + b2'\n"
       "L = -sum(Y .* log(softmax(S')'))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)")
MLP_SHAPES = {"X": "N,D", "W1": "D,K", "W2": "K,C", "Y": "N,C", "reg": "scalar"}

CASES = [
    # linear and bilinear forms, traces, determinants
    Case("x'*A*x"), Case("z = x'*A*y"), Case("a'*x"), Case("tr(A*X*B)"), Case("log(det(X))"),
    Case("logdet(X)"), Case("det(X)"), Case("tr(inv(X)*A)"), Case("x'*inv(A)*x"),
    Case("y = inv(X)*b"), Case("A*B*C*x"), Case("x'*diag(a)*x"), Case("diag(x)*A"),
    Case("sum(exp(x))"), Case("norm1(A*x - b)"), Case("x'*A*x + b'*x + gamma"),
    # least squares, regularised, with a keyword for a name
    Case("0.5*norm2(W*x - y)^2"), Case("norm2(A*x - b)^2 + lambda*norm2(x)^2"),
    Case("e = y - X*w; L = e'*e/N + lambda*w'*w", {"X": "N,d"}),
    Case("L = 0.5*norm2(X - U*V')^2 + 0.5*lambda*(norm2(U)^2 + norm2(V)^2)"),
    Case("R = X - Y*Z; L = 0.5*tr(R'*R)"),
    # layers and batches
    Case("Y = X*A' + b'", {"X": "N,n"}), Case("X*W + b'", {"X": "N,d"}),
    Case("W*X + b*vector(1)'"), Case("sum(X*w)/N", {"X": "N,n"}),
    Case("sum((X*w - y).^2)/N", {"X": "N,d"}), Case("Y = relu(X*W + b')", {"X": "N,d"}),
    Case("Y = sigmoid(X*W + b'); L = sum(Y)", {"X": "N,d"}),
    # softmax, logsumexp, logistic regression
    Case("softmax(x)"), Case("Y = softmax(X)"), Case("logsumexp(X)"),
    Case("-y'*log(softmax(W*x + b))"), Case("logsumexp(W*x + b) - y'*(W*x + b)"),
    Case("p = sigmoid(X*w); L = -(y'*log(p) + (vector(1) - y)'*log(vector(1) - p))",
         {"X": "N,d"}),
    Case("sum(log(vector(1) + exp(-y .* (X*w))))", {"X": "N,d"}),
    Case("A = softmax(K'*Q); O = V*A"),
    # two-layer networks: relu, sigmoid, tanh, softmax cross-entropy
    Case("h = relu(W1*x + b1); o = W2*h + b2; J = 0.5*norm2(o - y)^2"),
    Case("h = tanh(W1*x + b1); o = softmax(W2*h + b2); L = -y'*log(o)"),
    Case("h = sigmoid(W1*x + b1); f = w'*h + beta"),
    Case("H = relu(W1*X + b1*vector(1)'); O = W2*H; L = sum(logsumexp(O)) - sum(Y .* O)"),
    Case("H = tanh(X*W1 + b1'); Y = H*W2 + b2'", {"X": "N,d"}),
    Case(MLP, MLP_SHAPES, onehot=("Y=rows",)),
    Case(MLP, MLP_SHAPES, onehot=("Y=rows",), wrt=("W1", "b1", "W2", "b2")),
    Case("H = sigmoid(W1*X + b1*vector(1)'); S = W2*H + b2*vector(1)'; "
         "L = -sum(Y .* log(softmax(S)))/N", {"X": "d,N"}, onehot=("Y",)),
    Case("H = log(vector(1) + exp(X*W1 + b1')); O = H*W2 + b2'; L = 0.5*norm2(O - Y)^2",
         {"X": "N,d"}),
    Case("mu = sum(x)/n; d = x - mu; v = d'*d/n; y = d/sqrt(v + 0.001)", {"x": "n"}),
    # declared with an explicit 1: those stay 2-D
    Case("A*b", {"b": "m,1"}), Case("y = A*b + c", {"b": "m,1", "c": "n,1"}),
    Case("r*A*x", {"r": "1,m"}),
    # the other layouts
    Case("Y = X*A' + b'", {"X": "N,n"}, "numerator"), Case("x'*A*x", layout="numerator"),
    Case("tr(A*X*B)", layout="numerator"), Case("A*b", {"b": "m,1"}, "numerator"),
    Case("H = tanh(X*W1 + b1'); Y = H*W2 + b2'", {"X": "N,d"}, "numerator"),
    Case(MLP, MLP_SHAPES, "numerator", ("Y=rows",)), Case("Y = softmax(X)", layout="mixed"),
]
IDS = [c.id for c in CASES]


# ---- inputs --------------------------------------------------------------------------------

def user_value(value: np.ndarray, var, keep_2d) -> np.ndarray:
    """A 2-D value as users pass it: 1-D vectors and 0-d scalars unless declared 2-D."""
    if var.name in keep_2d or len(var.shape) != 2:         # a tensor is itself
        return value
    r, c = var.shape
    if (r, c) == (1, 1):
        return value.reshape(())
    return value.ravel() if r == 1 or c == 1 else value


@dataclass
class Point:
    args: list            # positional arguments, in the module's order
    kwargs: dict          # the upstream gradient (in the derivation's layout), if any
    env: dict             # every name as the JSON numpy expressions read it
    values: dict          # 2-D values for matcalc.evaluate
    dims: dict
    upstream_adjoint: np.ndarray | None     # dL/dY in the output's shape (1-D/0-d alike)


def draw(d, seed: int = 0) -> Point:
    grads = [d.adjoint_form(n) for n in d.derivatives]
    roots = [d.output, *grads] + ([d.adjoint_upstream] if d.adjoint_upstream else [])
    dims = assign_dims(roots)
    vs = {v.name: v for r in roots for v in variables(r)}
    rng = np.random.default_rng(seed)
    point = find_point(roots, vs, dims, rng)
    assert not isinstance(point, str), point
    values, _ = point
    for name, axis in d.onehot.items():      # labels the derivation assumes one-hot
        v = values[name]
        if axis == "rows":
            values[name] = np.eye(v.shape[1])[rng.integers(0, v.shape[1], v.shape[0])]
        else:
            values[name] = np.eye(v.shape[0])[:, rng.integers(0, v.shape[0], v.shape[1])]
    py = d.python_names
    env = {py.get(n, n): user_value(values[n], v, d.keep_2d) for n, v in d.inputs.items()}
    args = [env[py.get(n, n)] for n in d.inputs]
    kwargs, up = {}, None
    if d.adjoint_upstream is not None:
        u = values[d.adjoint_upstream.name]
        up = user_value(u, d.adjoint_upstream, ())
        mine = u.T if d.layout == "numerator" else u
        kwargs[py.get(d.upstream_name, d.upstream_name)] = user_value(mine, d.upstream, ())
        env.update(kwargs)
    return Point(args, kwargs, env, values, dims, up)


def loss(forward, args, upstream) -> float:
    """<dL/dY, Y> for a non-scalar output, the output itself for a scalar one."""
    y = np.asarray(forward(*args), dtype=float)
    return float(y) if upstream is None else float(np.sum(upstream * y))


def as_adjoint(g, layout: str) -> np.ndarray:
    """A derivative in the variable's own shape (the numerator layout transposes)."""
    g = np.asarray(g)
    return g.T if layout == "numerator" and g.ndim == 2 else g


# ---- the corpus, emitted, imported, run --------------------------------------------------

@pytest.fixture(scope="module")
def modules():
    cache = {}

    def get(case: Case):
        if case.id not in cache:
            d = case.derive()
            cache[case.id] = (d, d.compile(), d.codegen())
        return cache[case.id]
    return get


def test_corpus_is_large():
    assert len(CASES) >= 40 and len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_generated_module_agrees_with_evaluate_json_and_finite_differences(case, modules):
    d, mod, _ = modules(case)
    p = draw(d, seed=zlib.crc32(case.id.encode()))
    # forward: the reference interpreter
    y = mod.forward(*p.args)
    want = evaluate(d.output, p.values, p.dims)
    np.testing.assert_allclose(np.reshape(y, -1), want.reshape(-1), rtol=1e-10, atol=1e-12)
    # gradient: the JSON numpy fields
    grads = mod.gradient(*p.args, **p.kwargs)
    assert list(grads) == list(d.derivatives)
    for name, g in grads.items():
        ref = eval(d[name].numpy, {"np": np}, dict(p.env))
        assert np.shape(g) == np.shape(ref), (name, d[name].numpy)
        np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12, err_msg=name)
    # value_and_gradient: both at once
    y2, grads2 = mod.value_and_gradient(*p.args, **p.kwargs)
    np.testing.assert_allclose(y2, y, rtol=1e-12, atol=1e-14)
    for name in grads:
        np.testing.assert_allclose(grads2[name], grads[name], rtol=1e-12, atol=1e-14)
    # finite differences of the generated forward, along a random direction per variable
    rng = np.random.default_rng(1)
    py = d.python_names
    order = [py.get(n, n) for n in d.inputs]
    for name, g in grads.items():
        i = order.index(py.get(name, name))
        x = np.asarray(p.args[i], dtype=float)
        v = rng.standard_normal(x.shape)
        h = 1e-6 * max(1.0, float(np.max(np.abs(x))))
        plus, minus = list(p.args), list(p.args)
        plus[i], minus[i] = x + h * v, x - h * v
        fd = (loss(mod.forward, plus, p.upstream_adjoint) -
              loss(mod.forward, minus, p.upstream_adjoint)) / (2 * h)
        exact = float(np.sum(as_adjoint(g, d.layout) * v))
        assert abs(fd - exact) <= 1e-5 * max(1.0, abs(exact)), (name, fd, exact)


F32_CASES = [c for c in CASES if c.layout == "denominator"][::3] + \
    [Case(MLP, MLP_SHAPES, onehot=("Y=rows",), wrt=("W1", "b1", "W2", "b2"))]


@pytest.mark.parametrize("case", F32_CASES, ids=[c.id for c in F32_CASES])
def test_float32_in_float32_out(case, modules):
    d, mod, _ = modules(case)
    p = draw(d, seed=3)
    f32 = [np.asarray(a, dtype=np.float32) for a in p.args]
    kw = {k: np.asarray(v, dtype=np.float32) for k, v in p.kwargs.items()}
    y, grads = mod.value_and_gradient(*f32, **kw)
    assert np.asarray(y).dtype == np.float32
    assert np.asarray(mod.forward(*f32)).dtype == np.float32
    for name, g in {**grads, **mod.gradient(*f32, **kw)}.items():
        assert np.asarray(g).dtype == np.float32, name
    y64 = mod.forward(*p.args)
    np.testing.assert_allclose(y, y64, rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("case", CASES[::4], ids=IDS[::4])
def test_arguments_are_never_written(case, modules):
    d, mod, _ = modules(case)
    p = draw(d, seed=5)
    before = [np.array(a, copy=True) for a in p.args] + \
        [np.array(v, copy=True) for v in p.kwargs.values()]
    mod.forward(*p.args)
    mod.gradient(*p.args, **p.kwargs)
    mod.value_and_gradient(*p.args, **p.kwargs)
    after = list(p.args) + list(p.kwargs.values())
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


# ---- the text: compiles, lints, deterministic --------------------------------------------

def _ruff() -> list[str] | None:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    try:
        import ruff  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_generated_source_compiles_and_lints_clean(case, modules, tmp_path):
    d, _, source = modules(case)
    assert source.startswith(GENERATED_MARKER + " ")
    for target in ("numpy", "torch", "jax"):
        text = source if target == "numpy" else d.codegen(target)
        path = tmp_path / f"gen_{target}.py"
        path.write_text(text, encoding="utf-8")
        py_compile.compile(str(path), doraise=True)
        ruff = _ruff()
        if ruff is None:
            continue
        out = subprocess.run(ruff + ["check", "--isolated", "--select", "E,F,W,B",
                                     "--stdin-filename", "gen.py", "-"],
                             input=text, capture_output=True, text=True, cwd=tmp_path,
                             check=False)
        assert out.returncode == 0, f"{target}:\n{out.stdout}{out.stderr}"


def test_ruff_is_available_for_the_lint_test():
    assert _ruff() is not None, "ruff (the test extra) is needed to lint generated code"


DETERMINISM = {"x'*A*x": {}, "Y = X*A' + b'": {}, "W3*W2*W1*x": {},
               "A = softmax(K'*Q); O = V*A": {},
               "L = 0.5*norm2(X - U*V')^2 + 0.5*lambda*(norm2(U)^2 + norm2(V)^2)": {},
               MLP: {"shapes": MLP_SHAPES, "onehot": ["Y=rows"]}}


def test_same_input_same_bytes_whatever_the_hash_seed():
    script = textwrap.dedent("""
        import json, sys, matcalc
        for p, options in json.loads(sys.argv[1]).items():
            d = matcalc.derive(p, **options)
            for target in ("numpy", "torch", "jax"):
                sys.stdout.write(d.codegen(target) + "\\0")
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outs = []
    for seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=root)
        run = subprocess.run([sys.executable, "-c", script, json.dumps(DETERMINISM)], env=env,
                             capture_output=True, text=True, check=True)
        outs.append(run.stdout)
    assert outs[0] == outs[1]
    here = []
    for p, options in DETERMINISM.items():
        d = matcalc.derive(p, **options)
        here += [d.codegen(target) for target in ("numpy", "torch", "jax")]
    assert outs[0] == "\0".join(here) + "\0"


# ---- what the code looks like -----------------------------------------------------------

def _function(source: str, name: str) -> str:
    start = source.index(f"def {name}(")
    return source[start:source.index("\n\n\n", start)]


def test_mlp_gradient_reuses_the_forward_pass_and_multiplies_five_times():
    # forward X*W1, H*W2; backward dS*W2', X'*dH, H'*dS: the five products of backprop,
    # each once (the gradient of b1 reads dH transposed rather than recomputing it)
    d = matcalc.derive(MLP, wrt=["W1", "b1", "W2", "b2"], shapes=MLP_SHAPES, onehot=["Y=rows"])
    body = _function(d.codegen(), "value_and_gradient")
    code = "\n".join(line.partition("#")[0] for line in body.splitlines())
    assert code.count(" @ ") == 5
    assert code.count("X @ W1") == 1
    assert "np.maximum(t1, 0, out=t1)" in code          # relu in place
    assert "*= t1 > 0" in code                          # the mask reads the activation
    assert code.count("/= X.shape[0]") == 1             # 1/N applied once, to dS
    assert "np.ones" not in code and "np.eye" not in code and "np.diag" not in code


def test_temporaries_are_named_in_order_and_commented_with_their_text():
    d = matcalc.derive("h = relu(W1*x + b1); o = W2*h + b2; J = 0.5*norm2(o - y)^2")
    body = _function(d.codegen(), "value_and_gradient")
    assert "np.maximum(t1, 0, out=t1)  # relu(W1*x + b1)" in body
    temps = [line.split()[0] for line in body.splitlines()
             if line.strip().startswith("t") and " = " in line]
    assert temps == sorted(temps, key=lambda t: int(t[1:]))


def test_idioms_column_sums_outer_products_diagonal_scaling():
    src = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"}).codegen()
    assert "db = dY.sum(axis=0)" in src and "dA = dY.T @ X" in src
    assert "np.outer(" in matcalc.derive("x'*A*x").codegen()
    src = matcalc.derive("Y = diag(x)*A").codegen()
    assert "[:, None] * " in src or "x[:, None]" in src
    assert "np.diag(x)" not in _function(src, "forward")


def test_long_chains_are_multiplied_in_the_cheapest_order_at_run_time():
    # no chain of matrices alone: the cheapest order for the run-time shapes
    src = matcalc.derive("A*B*C*D").codegen()
    assert "np.linalg.multi_dot([A, B, C, D])" in src


def test_chains_ending_in_vectors_share_their_partial_products_as_backprop_does():
    # W1*x, W2*(W1*x) forward, W3'*dy, (W3'*dy)'*W2 backward: each product once, and
    # every one a matrix times a vector
    body = _function(matcalc.derive("W3*W2*W1*x").codegen(), "value_and_gradient")
    code = "\n".join(line.partition("#")[0] for line in body.splitlines())
    assert code.count(" @ ") == 6 and "multi_dot" not in code
    for product in ("t1 = W1 @ x", "t2 = W2 @ t1", "y = W3 @ t2", "t3 = W3.T @ dy",
                    "t4 = t3 @ W2", "dx = W1.T @ t4"):
        assert product in code
    body = _function(matcalc.derive("x'*A*x").codegen(), "value_and_gradient")
    assert "A + A.T" not in body and body.count(" @ ") == 3


def test_stable_forms_of_softmax_log_softmax_and_log_sigmoid():
    mod = matcalc.derive("-y'*log(softmax(W*x + b))").compile()
    W, x, b = np.eye(3), np.array([1000.0, 0.0, -1000.0]), np.zeros(3)
    y = np.array([0.0, 0.0, 1.0])
    value, grads = mod.value_and_gradient(W=W, x=x, b=b, y=y)
    assert np.isfinite(value) and value == pytest.approx(2000.0)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    mod = matcalc.derive("sum(log(sigmoid(x)))").compile()
    assert mod.forward(np.array([-800.0, 800.0])) == pytest.approx(-800.0)
    mod = matcalc.derive("sum(log(vector(1) + exp(x)))").compile()
    value, grads = mod.value_and_gradient(np.array([800.0, -800.0]))
    assert value == pytest.approx(800.0)
    np.testing.assert_allclose(grads["x"], [1.0, 0.0])


def test_keyword_names_are_spelled_with_an_underscore_and_keyed_by_name():
    d = matcalc.derive("norm2(A*x - b)^2 + lambda*norm2(x)^2")
    mod = d.compile()
    assert "def forward(A, x, b, lambda_):" in d.codegen()
    g = mod.gradient(np.eye(2), np.ones(2), np.zeros(2), lambda_=0.5)
    assert set(g) == {"A", "x", "b", "lambda"}
    assert g["lambda"] == pytest.approx(2.0)


def test_names_never_collide_with_the_codes_own_or_each_other():
    # a variable named like a local of the generated code, and two names that SPEC's
    # spelling would both make lambda_
    mod = matcalc.derive("f = sum(dtype .* x)").compile()
    x = np.array([1.0, 2.0], dtype=np.float32)
    value, grads = mod.value_and_gradient(np.array([3.0, 4.0], np.float32), x)
    assert value == 11 and grads["x"].tolist() == [3.0, 4.0]
    assert grads["x"].dtype == np.float32
    d = matcalc.derive("f = sum(lambda .* lambda_)")        # a scalar and a vector
    assert "def forward(lambda__, lambda_):" in d.codegen()
    g = d.compile().gradient(2.0, np.arange(2.0))
    assert g["lambda"] == 1.0 and g["lambda_"].tolist() == [2.0, 2.0]


def test_a_size_no_variable_gives_is_refused_before_any_code():
    # vector(10) alone has no size: matcalc refuses it with a span rather than guessing
    with pytest.raises(matcalc.MatcalcError, match="the size of vector\\(10\\) is not fixed"):
        matcalc.derive("vector(10)")


def test_the_upstream_gradient_is_a_keyword_argument():
    mod = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"}).compile()
    X, A, b, dY = np.ones((4, 3)), np.ones((2, 3)), np.ones(2), np.ones((4, 2))
    with pytest.raises(TypeError):
        mod.gradient(X, A, b, dY)
    assert mod.gradient(X, A, b, dY=dY)["b"].tolist() == [4.0, 4.0]


def test_wrong_shapes_are_reported_in_the_variables_terms():
    mod = matcalc.derive("Y = X*A' + b'", shapes={"X": "N,n"}).compile()
    with pytest.raises(ValueError, match=r"^A must be m x n; got \(2, 5\) "
                                         r"with m = 2 from b, n = 4 from X$"):
        mod.forward(np.ones((3, 4)), np.ones((2, 5)), np.ones(2))
    with pytest.raises(ValueError, match=r"^b must be a vector of length m; got \(2, 1\) "
                                         r"with m = 2 from A$"):
        mod.forward(np.ones((3, 4)), np.ones((2, 4)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"^dY must be N x m; got \(3, 3\) "
                                         r"with N = 3 from X, m = 2 from A$"):
        mod.gradient(np.ones((3, 4)), np.ones((2, 4)), np.ones(2), dY=np.ones((3, 3)))
    mod = matcalc.derive("x'*A*x").compile()
    with pytest.raises(ValueError, match=r"^A must be n x n; got \(2, 3\) with n = 2 from x$"):
        mod.forward(np.ones(2), np.ones((2, 3)))


def test_a_transposed_argument_is_blamed_not_the_arguments_that_agree():
    # W1 passed transposed: x and b1 agree on the sizes, so W1 is the one named, even
    # though it comes first and so used to set the sizes that x was measured against
    mod = matcalc.derive("h = relu(W1*x + b1); f = w2'*h").compile()
    W1, x, b1, w2 = np.ones((5, 4)), np.ones(4), np.ones(5), np.ones(5)
    with pytest.raises(ValueError, match=r"^W1 must be n x m; got \(4, 5\) with n = 5 from "
                                         r"b1, m = 4 from x \(transposed\?\)$"):
        mod.forward(W1.T, x, b1, w2)
    with pytest.raises(ValueError, match=r"^x must be a vector of length m; got \(5,\) "
                                         r"with m = 4 from W1$"):
        mod.forward(W1, np.ones(5), b1, w2)
    # two arguments that contradict each other alone: the transposed matrix is named
    mod = matcalc.derive("y = W*x").compile()
    with pytest.raises(ValueError, match=r"^W must be n x m; got \(3, 2\) with m = 3 from x "
                                         r"\(transposed\?\)$"):
        mod.forward(np.ones((3, 2)), np.ones(3))


def test_integers_and_lists_are_accepted_as_float64():
    mod = matcalc.derive("x'*A*x").compile()
    value, grads = mod.value_and_gradient([1, 2], [[1, 0], [0, 1]])
    assert value == 5.0 and grads["x"].dtype == np.float64
    assert grads["x"].tolist() == [2.0, 4.0]


def test_constant_derivatives_come_in_the_arguments_dtype():
    mod = matcalc.derive("x'*A*x + b'*x + gamma").compile()
    x, A, b = (np.ones(2, np.float32), np.eye(2, dtype=np.float32), np.ones(2, np.float32))
    g = mod.gradient(x, A, b, np.float32(1))
    assert g["gamma"] == 1 and np.asarray(g["gamma"]).dtype == np.float32


def test_compile_returns_a_module_whose_tracebacks_show_the_source():
    import traceback
    mod = matcalc.derive("log(det(X))").compile()
    assert callable(mod.forward) and callable(mod.gradient)
    try:
        mod.forward(np.ones((2, 3)))
    except ValueError:
        text = traceback.format_exc()
    assert "raise _shape_error(X=X)" in text


# ---- the command line ---------------------------------------------------------------------

def test_cli_codegen_writes_a_module_and_guards_other_files(tmp_path):
    runner = CliRunner()
    out = tmp_path / "linear.py"
    r = runner.invoke(cli, ["codegen", "Y = X*A' + b'", "--shape", "X=N,n", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith(GENERATED_MARKER)
    r = runner.invoke(cli, ["codegen", "x'*A*x", "-o", str(out)])      # ours: replaced
    assert r.exit_code == 0 and "x'*A*x" in out.read_text()
    mine = tmp_path / "mine.py"
    mine.write_text("print('hand-written')\n")
    r = runner.invoke(cli, ["codegen", "x'*A*x", "-o", str(mine)])
    assert r.exit_code == 2 and mine.read_text() == "print('hand-written')\n"
    r = runner.invoke(cli, ["codegen", "x'*A*x", "--target", "jax", "--no-check"])
    assert r.exit_code == 0 and "jax.custom_vjp" in r.output


# ---- torch and JAX (optional extras) ---------------------------------------------------------
# Both modules take the upstream gradient in the output's shape (the adjoint form), whatever
# the derivation's layout, so every case of the corpus runs through them: the backward is
# compared with finite differences (torch's gradcheck: every upstream direction; JAX's
# check_grads: a random one) and with the NumPy module's gradient at the same upstream
# gradient.

def _torch():
    return pytest.importorskip("torch", reason="torch is not installed (an optional extra)")


def _jax():
    return pytest.importorskip("jax", reason="jax is not installed (an optional extra)")


def _compiled(case, modules, target: str, seed: int):
    """(derivation, NumPy module, the target's module, a point, input names, positions of
    the differentiated inputs)."""
    d, mod, _ = modules(case)
    names = list(d.inputs)
    idx = [i for i, n in enumerate(names) if n in d.derivatives]
    return d, mod, d.compile(target), draw(d, seed=seed), names, idx


def _numpy_adjoints(d, mod, p) -> dict:
    """The NumPy module's derivatives at p, each in its variable's own shape."""
    return {n: as_adjoint(g, d.layout) for n, g in mod.gradient(*p.args, **p.kwargs).items()}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_backward_agrees_with_finite_differences_and_the_numpy_gradient(case, modules):
    torch = _torch()
    d, mod, tmod, p, _, _ = _compiled(case, modules, "torch", seed=7)
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=n in d.derivatives)
          for a, n in zip(p.args, d.inputs, strict=True)]
    assert torch.autograd.gradcheck(tmod.forward, ts, eps=1e-6, atol=1e-6, rtol=1e-4)
    y = tmod.forward(*ts)
    np.testing.assert_allclose(y.detach().numpy(), mod.forward(*p.args), rtol=1e-10,
                               atol=1e-12)
    up = p.upstream_adjoint
    y.backward(None if up is None else torch.tensor(up))
    want = _numpy_adjoints(d, mod, p)
    for t, name in zip(ts, d.inputs, strict=True):
        if name in d.derivatives:
            assert t.grad.shape == want[name].shape, name
            np.testing.assert_allclose(t.grad.numpy(), want[name], rtol=1e-9, atol=1e-12,
                                       err_msg=name)


@pytest.mark.parametrize("case", F32_CASES, ids=[c.id for c in F32_CASES])
def test_torch_keeps_float32(case, modules):
    torch = _torch()
    d, mod, tmod, p, _, _ = _compiled(case, modules, "torch", seed=3)
    ts = [torch.tensor(np.asarray(a, dtype=np.float32), requires_grad=n in d.derivatives)
          for a, n in zip(p.args, d.inputs, strict=True)]
    y = tmod.forward(*ts)
    assert y.dtype == torch.float32
    up = p.upstream_adjoint
    y.backward(None if up is None else torch.tensor(up, dtype=torch.float32))
    want = _numpy_adjoints(d, mod, p)
    for t, name in zip(ts, d.inputs, strict=True):
        if name in d.derivatives:
            assert t.grad.dtype == torch.float32, name
            np.testing.assert_allclose(t.grad.numpy(), want[name], rtol=2e-3, atol=1e-4,
                                       err_msg=name)


def test_torch_refuses_a_derivative_it_was_not_given():
    # returning None would let autograd read a zero: a wrong gradient, silently
    torch = _torch()
    d = matcalc.derive(MLP, wrt=["W1", "b1", "W2", "b2"], shapes=MLP_SHAPES, onehot=["Y=rows"])
    tmod = d.compile("torch")
    p = draw(d, seed=2)
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=n in ("W1", "X"))
          for a, n in zip(p.args, d.inputs, strict=True)]
    with pytest.raises(RuntimeError, match="matcalc derived no derivative of X, Y, reg"):
        tmod.forward(*ts).backward()
    ts[0].requires_grad_(False)
    tmod.forward(*ts).backward()
    assert ts[1].grad.shape == ts[1].shape


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_vjp_agrees_with_finite_differences_and_the_numpy_gradient(case, modules):
    jax = _jax()
    from jax.test_util import check_grads
    d, mod, jmod, p, names, idx = _compiled(case, modules, "jax", seed=11)

    def of_wrt(*wrt):
        args = list(p.args)
        for i, a in zip(idx, wrt, strict=True):
            args[i] = a
        return jmod.forward(*args)
    with jax.enable_x64(True):
        wrt = [np.asarray(p.args[i], dtype=np.float64) for i in idx]
        check_grads(of_wrt, wrt, order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-5)
        y, vjp = jax.vjp(of_wrt, *wrt)
        np.testing.assert_allclose(np.asarray(y), mod.forward(*p.args), rtol=1e-10,
                                   atol=1e-12)
        up = np.float64(1.0) if p.upstream_adjoint is None else p.upstream_adjoint
        got = vjp(up)
        jitted = jax.jit(lambda *a: jax.vjp(of_wrt, *a)[1](up))(*wrt)
    want = _numpy_adjoints(d, mod, p)
    for i, g, gj in zip(idx, got, jitted, strict=True):
        assert g.dtype == np.float64 and g.shape == want[names[i]].shape, names[i]
        np.testing.assert_allclose(np.asarray(g), want[names[i]], rtol=1e-9, atol=1e-12,
                                   err_msg=names[i])
        np.testing.assert_allclose(np.asarray(gj), np.asarray(g), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", F32_CASES, ids=[c.id for c in F32_CASES])
def test_jax_keeps_float32(case, modules):
    # JAX's default: 64-bit types off, float32 throughout
    jax = _jax()
    d, mod, jmod, p, names, idx = _compiled(case, modules, "jax", seed=3)
    args = [np.asarray(a, dtype=np.float32) for a in p.args]
    with jax.enable_x64(False):
        y, vjp = jax.vjp(jmod.forward, *args)
        up = np.float32(1.0) if p.upstream_adjoint is None else \
            np.asarray(p.upstream_adjoint, dtype=np.float32)
        got = vjp(up)
    assert y.dtype == np.float32
    want = _numpy_adjoints(d, mod, p)
    for i in idx:
        assert got[i].dtype == np.float32, names[i]
        np.testing.assert_allclose(np.asarray(got[i]), want[names[i]], rtol=2e-3, atol=1e-4,
                                   err_msg=names[i])


def test_jax_differentiates_the_forward_where_matcalc_derived_nothing():
    # custom_vjp cannot tell which cotangents are wanted: for inputs outside --wrt the
    # backward differentiates the forward statements rather than answer zero
    jax = _jax()
    d = matcalc.derive(MLP, wrt=["W1", "b1", "W2", "b2"], shapes=MLP_SHAPES, onehot=["Y=rows"])
    full = matcalc.derive(MLP, shapes=MLP_SHAPES, onehot=["Y=rows"])
    p = draw(full, seed=4)
    with jax.enable_x64(True):
        got = jax.grad(d.compile("jax").forward, argnums=tuple(range(7)))(*p.args)
    want = full.compile().gradient(*p.args)
    assert list(full.inputs) == list(d.inputs)
    for name, g in zip(d.inputs, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), want[name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)


# ---- Hessian modules (the code emission of matcalc/jacobian.py) ---------------------------

LOGISTIC = "sum(log(vector(1) + exp(-y .* (X*w))))"


@pytest.mark.parametrize("signs", [[], ["y"]], ids=["real labels", "labels -1/+1"])
def test_logistic_hessian_is_a_symmetric_product_of_scaled_rows(signs):
    # X'*diag(v)*X with v = y.^2 .* s .* (1 - s) >= 0 is B'*B, B = X scaled by sqrt(v):
    # NumPy computes B.T @ B with BLAS's syrk, half the multiplications
    d = matcalc.derive(LOGISTIC, wrt=["w"], mode="hessian", shapes={"X": "N,n"}, signs=signs)
    src = d.codegen()
    assert "B.T @ B" in src and "np.sqrt(" in src
    rng = np.random.default_rng(8)
    X, w = rng.standard_normal((9, 4)), rng.standard_normal(4)
    y = np.where(rng.random(9) > 0.5, 1.0, -1.0) if signs else rng.standard_normal(9)
    H = d.compile().hessian(y=y, X=X, w=w)["w"]
    s = 1 / (1 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(H, X.T @ ((y**2 * s * (1 - s))[:, None] * X), rtol=1e-12)
    assert np.array_equal(H, H.T)


def test_a_weighted_gram_matrix_of_unknown_sign_keeps_the_plain_product():
    # sin(u) may be negative: no square root of it
    d = matcalc.derive("sum(cos(X*w))", wrt=["w"], mode="hessian", shapes={"X": "N,n"})
    src = d.codegen()
    assert "np.sqrt(" not in src
    rng = np.random.default_rng(9)
    X, w = rng.standard_normal((7, 3)), rng.standard_normal(3)
    H = d.compile().hessian(X=X, w=w)["w"]
    np.testing.assert_allclose(H, -X.T @ (np.cos(X @ w)[:, None] * X), rtol=1e-12)


# ---- the test corpus of test_corpus.py, through the generated code ---------------------------

def _corpus():
    try:
        from test_corpus import CORPUS
    except ImportError:          # pragma: no cover - the corpus is another module's
        return []
    return list(CORPUS)


CORPUS = _corpus()


@pytest.mark.parametrize("entry", CORPUS, ids=[e[0] + (f" {e[1]}" if e[1] else "")
                                               for e in CORPUS])
def test_every_corpus_program_runs_as_generated_code(entry):
    program, shapes, sizes, *rest = entry
    d = matcalc.derive(program, shapes=shapes or None, kinds=rest[0] if rest else "ml")
    mod = d.compile()
    grads = [d.adjoint_form(n) for n in d.derivatives]
    roots = [d.output, *grads] + ([d.adjoint_upstream] if d.adjoint_upstream else [])
    vs = {v.name: v for r in roots for v in variables(r)}
    dims, _, point = first_point(roots, vs, sizes, zlib.crc32(program.encode()))
    if isinstance(point, str):
        pytest.skip(f"no valid point at the sizes {dims}: {point}")
    values, _ = point
    py = d.python_names
    env = {py.get(n, n): user_value(values[n], v, d.keep_2d) for n, v in d.inputs.items()}
    args = [env[py.get(n, n)] for n in d.inputs]
    kwargs = {}
    if d.adjoint_upstream is not None:
        kwargs[py.get(d.upstream_name, d.upstream_name)] = \
            user_value(values[d.adjoint_upstream.name], d.upstream, ())
        env.update(kwargs)
    y, grads = mod.value_and_gradient(*args, **kwargs)
    want = evaluate(d.output, values, dims)
    np.testing.assert_allclose(np.reshape(y, -1), want.reshape(-1), rtol=1e-10, atol=1e-12)
    for name, g in grads.items():
        ref = eval(d[name].numpy, {"np": np}, dict(env))
        assert np.shape(g) == np.shape(ref), name
        np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12, err_msg=name)


def test_generated_modules_state_the_label_assumptions_they_rely_on():
    # softmax(s) - y is right only for one-hot y: the module must say so, as the text does
    grad = matcalc.derive("f = -y'*log(softmax(A*x))", onehot=["y"]).codegen()
    assert "y: one-hot labels (each column sums to 1)" in grad
    hess = matcalc.derive("f = sum(log(vector(1) + exp(-y .* (X*w))))", mode="hessian",
                          wrt=["w"], signs=["y"]).codegen()
    assert "y: labels -1 or +1" in hess
    assert "Assuming" not in matcalc.derive("f = x'*A*x").codegen()


# ---- numbers the generated code must not lose ------------------------------------------------

def test_log_det_goes_through_slogdet_in_code_and_json():
    # log det(10 I) = 400 log 10 at n = 400, where det itself is 1e400: np.log(np.linalg.det)
    # overflowed to inf and the module returned -inf
    n = 400
    X, S = 10 * np.eye(n), np.eye(n)
    want = np.trace(S @ X) - n * np.log(10.0)                       # 3078.97
    assert abs(want - 3078.966) < 1e-3
    mod = matcalc.derive("tr(S*X) - log(det(X))", wrt=["X"]).compile()
    np.testing.assert_allclose(mod.forward(S, X), want, rtol=1e-13)
    np.testing.assert_allclose(mod.gradient(S, X)["X"], S.T - np.linalg.inv(X).T, rtol=1e-13)
    # the JSON numpy field: d log(det X)^2 / dX = 2 log(det X) X^-T (Cookbook (51))
    d = matcalc.derive("log(det(X))^2")
    assert "slogdet" in d["X"].numpy and "np.linalg.det(" not in d["X"].numpy
    np.testing.assert_allclose(eval(d["X"].numpy, {"np": np}, {"X": X}),
                               2 * n * np.log(10.0) * np.linalg.inv(X).T, rtol=1e-13)
    # where det X <= 0, log det X is what np.log(np.linalg.det(X)) says: nan, -inf
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(mod.forward(np.eye(2), np.diag([-1.0, 2.0])))
        assert mod.forward(np.eye(2), np.zeros((2, 2))) == np.inf      # 0 - log 0
        small = np.array([[2.0, 1.0], [1.0, 3.0]])
        assert mod.forward(np.eye(2), small) == np.trace(small) - np.log(np.linalg.det(small))


ATTENTION = "S = Q*K'/sqrt(d); P = softmax(S')'; O = P*V"


@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
def test_scaled_dot_product_attention_runs_in_every_target_and_keeps_float32(target):
    # sqrt(d) of a size: torch.sqrt(Q.shape[1]) refused the int, and NumPy's np.sqrt of it
    # made a float64 that turned float32 attention into float64
    d = matcalc.derive(ATTENTION, shapes={"Q": "T,d", "K": "T,d"})
    rng = np.random.default_rng(5)
    Q, K, V, dO = (rng.standard_normal(s) for s in ((4, 3), (4, 3), (4, 2), (4, 2)))
    S = Q @ K.T / np.sqrt(3)
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    want = P @ V
    ref = d.compile().gradient(Q, K, V, dO=dO)
    if target == "numpy":
        mod = d.compile()
        np.testing.assert_allclose(mod.forward(Q, K, V), want, rtol=1e-12)
        f32 = [a.astype(np.float32) for a in (Q, K, V)]
        assert mod.forward(*f32).dtype == np.float32
        return
    lib = pytest.importorskip(target, reason=f"{target} is not installed (an optional extra)")
    mod = d.compile(target)
    if target == "torch":
        ts = [lib.tensor(a, requires_grad=True) for a in (Q, K, V)]
        out = mod.forward(*ts)
        out.backward(lib.tensor(dO))
        got = [t.grad.numpy() for t in ts]
        assert mod.forward(*[t.detach().float() for t in ts]).dtype == lib.float32
    else:
        with lib.enable_x64(True):
            out, vjp = lib.vjp(mod.forward, Q, K, V)
            got = [np.asarray(g) for g in vjp(dO)]
    np.testing.assert_allclose(np.asarray(out.detach() if target == "torch" else out), want,
                               rtol=1e-12)
    for name, g in zip("QKV", got, strict=True):
        np.testing.assert_allclose(g, ref[name], rtol=1e-10, err_msg=name)


def test_a_module_of_a_very_long_output_name_is_imported():
    # found by the fuzz (notes family, deep): the temporary file was named after the
    # module, 4,000 characters, over the file system's 255 bytes (OSError)
    name = "f" + "9" * 4000
    m = matcalc.derive(name + " = alpha*w'*w").compile()
    grads = m.gradient(2.0, np.array([1.0, -2.0]))
    assert np.allclose(grads["w"], [4.0, -8.0])
