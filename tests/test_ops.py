"""The registry of operations (matcalc.ops), walked: every entry is complete and agrees with
the rule table, with the independent oracle's definitions (tests/oracle.py) and with its
own facts (the simplifier's, the domain's), so a new entry is tested the day it lands."""
import re
import subprocess
import sys

import numpy as np
import pytest
from oracle import NP_FUNCS, np_eval

import matcalc
from matcalc import expr as E
from matcalc import ops
from matcalc.check import draw
from matcalc.evaluate import evaluate
from matcalc.printing.latex import to_latex
from matcalc.printing.numpy import to_numpy
from matcalc.printing.text import to_text
from matcalc.rules import VJP
from matcalc.rules.elementwise import DERIVATIVE

# the operators and leaves of the language: every other node kind is an operation
OPERATORS = (E.Add, E.Scale, E.MatMul, E.Transpose, E.Broadcast, E.Hadamard, E.Divide,
             E.Power)
# the operations each printer writes in a form of its own (a stable sigmoid, np.maximum
# for relu, a comparison for step, softmax column by column), instead of one call
NUMPY_FORMS = {"sigmoid", "relu", "step", "norm1", "softmax", "logsumexp"}
LATEX_FORMS = {"sigmoid", "sqrt", "step"}       # \sigma (or spelled out), a radical, 1[x > 0]
# the operator names LaTeX itself defines (\log and its kind); any other is \operatorname
LATEX_OPERATORS = set(r"""\arccos \arcsin \arctan \arg \cos \cosh \cot \coth \csc \deg
\det \dim \exp \gcd \hom \inf \ker \lg \lim \liminf \limsup \ln \log \max \min \Pr \sec
\sin \sinh \sup \tan \tanh""".split())

ENTRIES = [pytest.param(op, id=f"{op.name}-{op.node.__name__}") for op in ops.OPERATIONS]
FUNCTIONS = [pytest.param(op, id=op.name) for op in ops.ELEMENTWISE.values()]


def _resolve(spelling: str, modules: dict):
    head, *path = spelling.split(".")
    f = modules[head]
    for attribute in path:
        f = getattr(f, attribute)
    return f


def _sample(op: ops.Op, shape=(3, 4), seed: int = 0) -> np.ndarray:
    """A point in the op's domain, as the checker draws it (a square matrix for the
    matrix functions)."""
    rng = np.random.default_rng(seed)
    if op.node in (E.Trace, E.Det, E.LogDet, E.Inv, E.DiagVec, E.Tril, E.Triu):
        shape = (3, 3)
    if op.node is E.DiagMat:
        shape = (3, 1)
    return draw(rng, shape, set(op.domain.argument))


# ---- coverage ----------------------------------------------------------------------------

def test_importing_the_registry_loads_no_numpy():
    code = "import sys, matcalc.ops; assert 'numpy' not in sys.modules, 'numpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_function_has_its_derivative_rule_and_every_rule_its_function():
    assert set(ops.ELEMENTWISE) == set(DERIVATIVE)
    assert E.Func in VJP
    operations = {k for k in VJP if k is not E.Func and k not in OPERATORS}
    assert set(ops.BY_NODE) == operations


def test_every_function_node_kind_has_an_entry():
    kinds = {k for k in E.NODE_KINDS if k not in E.LEAVES and k not in OPERATORS}
    assert kinds == set(ops.BY_NODE) | {E.Func}


def test_the_language_lists_its_functions_in_order():
    names = list(ops.LANGUAGE)
    assert names[:4] == ["exp", "log", "sin", "cos"]
    assert names[-3:] == ["vector", "matrix", "eye"]
    assert "step" not in names                         # `a > b`, never called by name
    for f in ops.LANGUAGE.values():
        assert f.shape is not None and f.arity in (0, 1), f.name
    # the names a call may use instead, and other tools' functions, are not the language's
    for alias, f in ops.CALLED.items():
        assert alias == f.name or alias not in ops.LANGUAGE, alias
    assert not set(ops.REWRITES) & set(ops.CALLED)


@pytest.mark.parametrize("program, instead, fixed", [
    ("dot(x, y)", "x'*y", "x'*y"),
    ("dot(A*x, y)", "(A*x)'*y", "(A*x)'*y"),
    ("max(0, x)", "relu(x)", "relu(x)"),
    ("max(x, 0)", "relu(x)", "relu(x)"),
    ("min(0, x)", "-relu(-x)", "-relu(-x)"),
    ("outer(x, y)", "x*y'", "x*y'"),
    ("ones(n)'*x", "vector(1)", "vector(1)'*x"),
    ("ones(1, n)*x", "vector(1)'", "vector(1)'*x"),
    ("sum(ones(m, n) .* X)", "matrix(1)", "sum(matrix(1) .* X)"),
    ("norm(x)", "norm2(x)", "norm2(x)"),
    ("norm(x, 1)", "norm1(x)", "norm1(x)"),
    ("transpose(A*B)", "(A*B)'", "(A*B)'"),
    ("square(x)", "x.^2", "x.^2"),
    ("log2(x)", "log(x)/log(2)", "log(x)/log(2)"),
])
def test_other_tools_functions_are_answered_with_the_exact_rewrite(program, instead, fixed):
    # the rewrite is of the call as written, and is itself a valid input that derives
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.derive(program)
    assert info.value.fix.program == fixed
    assert f"did you mean {instead} ?" in info.value.render()
    matcalc.derive(info.value.fix.program)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# what other tools mean by each function, in NumPy: its rewrite must compute exactly that
NAMED = {
    "expit": _sigmoid, "expm1": np.expm1, "log1p": np.log1p, "exp2": np.exp2,
    "logit": lambda x: np.log(x / (1 - x)),
    "softmin": lambda x: np.exp(-x) / np.exp(-x).sum(),
    "silu": lambda x: x * _sigmoid(x), "swish": lambda x: x * _sigmoid(x),
    "softsign": lambda x: x / (1 + np.abs(x)), "hardtanh": lambda x: np.clip(x, -1, 1),
    "relu6": lambda x: np.clip(x, 0, 6), "sqr": np.square,
    "sumsq": lambda x: np.sum(x ** 2), "sum_squares": lambda x: np.sum(x ** 2),
    "l2norm": np.linalg.norm, "l1norm": lambda x: np.abs(x).sum(),
    "fronorm": np.linalg.norm, "norm_fro": np.linalg.norm, "absolute": np.abs,
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_a_rewrite_computes_the_function_it_replaces(name):
    # a near spelling would have said exp(x) for expit(x); the rewrite is the function
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.derive(f"{name}(x)")
    fixed = matcalc.derive(info.value.fix.program)
    x = np.linspace(0.05, 0.95, 7) if name in ("logit", "log1p") else np.linspace(-8, 8, 7)
    got = evaluate(fixed.output, {"x": x.reshape(-1, 1)}, {"n": 7})
    np.testing.assert_allclose(got.ravel(), np.ravel(NAMED[name](x)), rtol=1e-12)


@pytest.mark.parametrize("name", ["expm", "logm", "sqrtm", "pinv", "cumsum", "median"])
def test_a_function_the_language_lacks_is_not_misnamed_by_a_near_spelling(name):
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.derive(f"{name}(X)")
    assert "is not in matcalc's language" in info.value.message
    assert info.value.fix is None          # expm is not exp, pinv is not inv


def test_max_of_two_variables_is_written_with_relu():
    # max(a, b) = b + relu(a - b), min(a, b) = a - relu(a - b), entry by entry
    for program, instead in (("max(x, y)", "relu(x - y) + y"),
                             ("min(x, A*y)", "x - relu(x - (A*y))")):
        with pytest.raises(matcalc.MatcalcError) as info:
            matcalc.derive(program)
        assert info.value.fix.program == instead
        matcalc.derive(instead)


@pytest.mark.parametrize("op", ENTRIES)
def test_every_entry_has_an_evaluator_and_its_spellings(op):
    assert callable(op.evaluate) and callable(op.build)
    assert op.latex and (isinstance(op.latex, str) or len(op.latex) == 2)
    if op.name in NUMPY_FORMS:
        assert op.numpy is None
    else:
        assert callable(_resolve(op.numpy, {"np": np})), op.numpy
        assert op.torch and op.jax, "a NumPy call needs its torch and JAX spellings"
    if op.inplace:
        x = _sample(op)
        out = x.copy()
        _resolve(op.numpy, {"np": np})(out, out=out)
        np.testing.assert_allclose(out, op.evaluate(x))


# ---- each entry against the oracle and against its own facts ------------------------------

@pytest.mark.parametrize("op", ENTRIES)
def test_the_evaluator_agrees_with_the_oracle(op):
    x = _sample(op)
    node = op.build(E.Var("x", x.shape))
    assert ops.of(node) is op
    np.testing.assert_allclose(evaluate(node, {"x": x}, {}), np_eval(node, {"x": x}, {}),
                               rtol=1e-12)


@pytest.mark.parametrize("op", FUNCTIONS)
def test_each_function_prints_in_text_latex_and_numpy(op):
    x = E.Var("x", ("n", 1))
    node = E.Func(op.name, x)
    if op.arity is not None:                  # in the language: name(x), which parses back
        assert to_text(node) == f"{op.name}(x)"
        assert matcalc.derive(to_text(node)).output is node
    spelling = op.latex
    if op.name not in LATEX_FORMS:
        want = f"{spelling[0]}x{spelling[1]}" if isinstance(spelling, tuple) else \
            f"{spelling}(x)"
        assert to_latex(node) == want
        assert isinstance(spelling, tuple) or spelling in LATEX_OPERATORS or \
            re.fullmatch(r"\\operatorname\{[a-z]+\}", spelling), spelling
    value = _sample(op, (4, 1))
    code = to_numpy(node)
    got = eval(code, {"np": np, "x": value[:, 0]})
    np.testing.assert_allclose(got, NP_FUNCS[op.name](value)[:, 0], rtol=1e-12,
                               err_msg=code)


def test_the_oracle_defines_every_elementwise_function():
    assert set(NP_FUNCS) == set(ops.ELEMENTWISE)


@pytest.mark.parametrize("op", FUNCTIONS)
def test_the_simplifier_facts_hold(op):
    zero = np.zeros((2, 2))
    if op.at_zero is not None:
        assert np.all(op.evaluate(zero) == op.at_zero)
    if op.fold is not None:
        for v in (-2, -1, 0, 1, 3):
            assert op.fold(v) == op.evaluate(np.full((1, 1), float(v)))[0, 0]
    if op.undoes is not None:
        inner = ops.ELEMENTWISE[op.undoes]
        x = _sample(inner)
        np.testing.assert_allclose(op.evaluate(inner.evaluate(x)), x, rtol=1e-12)


@pytest.mark.parametrize("op", ENTRIES)
def test_the_value_is_in_the_image_the_entry_states(op):
    for seed in range(5):
        value = op.evaluate(_sample(op, seed=seed))
        assert np.all(np.isfinite(value))
        if op.domain.image == ops.POSITIVE:
            assert np.all(value > 0)
        if op.domain.image == ops.NONNEGATIVE:
            assert np.all(value >= 0)


@pytest.mark.parametrize("target", ["torch", "jax"])
@pytest.mark.parametrize("op", FUNCTIONS)
def test_the_torch_and_jax_spellings_compute_the_function(op, target):
    spelling = getattr(op, target)
    if spelling is None:
        pytest.skip(f"{op.name} has no {target} call: the printers write their own form")
    x = _sample(op)
    if target == "torch":
        torch = pytest.importorskip("torch")
        got = _resolve(spelling, {"torch": torch})(torch.from_numpy(x)).numpy()
    else:
        jax = pytest.importorskip("jax")
        f = _resolve(spelling, {"jnp": jax.numpy, "jax": jax})
        with jax.enable_x64(True):
            got = np.asarray(f(jax.numpy.asarray(x)))
    np.testing.assert_allclose(got, op.evaluate(x), rtol=1e-12)


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in ops.ELEMENTWISE.values()
                                if op.numpy is not None and op.arity is not None])
def test_generated_code_calls_each_function_by_its_spelling_in_the_target(op):
    d = matcalc.derive(f"sum({op.name}(x))")
    assert f"{op.numpy}(" in d.codegen("numpy")
    for target in ("torch", "jax"):
        source = d.codegen(target)
        assert f"{getattr(op, target)}(" in source, target
