"""Random programs, derived in every layout and checked against SymPy and finite differences.

A typed grammar writes the source text: every subexpression is drawn for a known shape
over the dimensions n and m (scalar, column and row vectors, n x m, m x n, n x n), so
the programs are well shaped by construction, and functions are applied inside their
domains (log and sqrt of `u .* u + 1`, division by `u .* u + 1`, det, logdet and inv of
`U*U' + eye`, exp and tan of bounded arguments). Every program nests at least four
operations deep along one path and may use every operation of the language.
"""
import re
import zlib

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracle import check_program

N, M = "n", "m"
SHAPES = [(1, 1), (N, 1), (M, 1), (1, N), (1, M), (N, M), (M, N), (N, N)]
VARS = {(N, M): ["A", "B"], (M, N): ["C"], (N, N): ["S", "T"], (M, 1): ["x", "z"],
        (N, 1): ["y", "w"], (1, 1): ["alpha", "beta"]}
DECLARED = {"A": "n,m", "B": "n,m", "C": "m,n", "S": "n,n", "T": "n,n", "x": "m", "z": "m",
            "y": "n", "w": "n"}
SIZES = {N: 2, M: 3}
DEPTH = 4

# elementwise functions, each within its domain, as templates of the argument
FUNCS = ["sin({0})", "cos({0})", "tanh({0})", "sigmoid({0})", "relu({0})", "abs({0})",
         "sign({0})", "exp(sin({0}))", "log(({0}) .* ({0}) + 1)", "sqrt(({0}) .* ({0}) + 1)",
         "tan(0.5*tanh({0}))"]
POWERS = ["({0}) .^ 2", "(({0}) .* ({0}) + 1) .^ 0.5", "(({0}) .* ({0}) + 1) .^ -1"]


def transposed(shape):
    return (shape[1], shape[0])


def is_scalar(shape):
    return shape == (1, 1)


@st.composite
def leaf(draw, shape):
    options = list(VARS.get(shape, [])) + [v + "'" for v in VARS.get(transposed(shape), [])
                                           if not is_scalar(shape)]
    if is_scalar(shape):
        options += ["0.5", "2"]
    if shape == (N, N):
        options += ["eye"]
    return draw(st.sampled_from(options))


def sub(draw, shape, depth):
    """An operand other than the main one: any depth below `depth`."""
    return draw(expr(shape, draw(st.integers(0, depth - 1))))


def main(draw, shape, depth):
    """The main operand: exactly one level less deep, so the nesting reaches DEPTH."""
    return draw(expr(shape, depth - 1))


def pd(draw, depth):
    """A symmetric positive definite n x n matrix: U*U' + eye."""
    k = draw(st.sampled_from([N, M, 1]))
    u = main(draw, (N, k), depth)
    return f"({u})*({u})' + eye"


# ---- productions: (draw, shape, depth) -> source text ------------------------------

def p_add(draw, s, d):
    a, b = main(draw, s, d), sub(draw, s, d)
    return f"({a}) {draw(st.sampled_from(['+', '-']))} ({b})"


def p_scale(draw, s, d):
    return f"({sub(draw, (1, 1), d)}) * ({main(draw, s, d)})"


def p_matmul(draw, s, d):
    r, c = s
    ks = [k for k in (N, M, 1) if (r, k) in SHAPES and (k, c) in SHAPES]
    k = draw(st.sampled_from(ks))
    if draw(st.booleans()):
        return f"({main(draw, (r, k), d)}) * ({sub(draw, (k, c), d)})"
    return f"({sub(draw, (r, k), d)}) * ({main(draw, (k, c), d)})"


def p_transpose(draw, s, d):
    return f"({main(draw, transposed(s), d)})'"


def p_hadamard(draw, s, d):
    return f"({main(draw, s, d)}) .* ({sub(draw, s, d)})"


def p_divide(draw, s, d):
    b = sub(draw, s, d)
    return f"({main(draw, s, d)}) ./ (({b}) .* ({b}) + 1)"


def p_power(draw, s, d):
    a = main(draw, s, d)
    if is_scalar(s) and draw(st.booleans()):
        return f"({a})^2"
    return draw(st.sampled_from(POWERS)).format(a)


def p_func(draw, s, d):
    return draw(st.sampled_from(FUNCS)).format(main(draw, s, d))


def p_broadcast(draw, s, d):
    r, c = s
    a = main(draw, s, d)
    kinds = ["scalar"] + (["row", "col"] if r != 1 and c != 1 else [])
    kind = draw(st.sampled_from(kinds))
    op = draw(st.sampled_from(["+", "-", ".*"]))
    other = {"scalar": (1, 1), "row": (1, c), "col": (r, 1)}[kind]
    return f"({a}) {op} ({sub(draw, other, d)})"


def p_constant(draw, s, d):
    a = main(draw, s, d)
    r, c = s
    if s == (N, N) and draw(st.booleans()):
        return f"({a}) + eye"
    if c == 1:
        return f"({a}) .* vector(2)"
    if r == 1:
        return f"({a}) + vector(1)'"
    return f"({a}) - matrix(0.5)"


def p_reduce(draw, s, d):
    t = draw(st.sampled_from([x for x in SHAPES if not is_scalar(x)]))
    f = draw(st.sampled_from(["sum", "norm2", "norm1"]))
    return f"{f}({main(draw, t, d)})"


def p_trace(draw, s, d):
    return f"tr({main(draw, (N, N), d)})"


def p_det(draw, s, d):
    return f"{draw(st.sampled_from(['det', 'logdet']))}({pd(draw, d)})"


def p_logsumexp(draw, s, d):
    k = draw(st.sampled_from([k for k in (N, M) if (k, s[1]) in SHAPES]))
    return f"logsumexp({main(draw, (k, s[1]), d)})"


def p_softmax(draw, s, d):
    return f"softmax({main(draw, s, d)})"


def p_inv(draw, s, d):
    return f"inv({pd(draw, d)})"


def p_diag_matrix(draw, s, d):
    return f"diag({main(draw, (N, 1), d)})"


def p_diag_vector(draw, s, d):
    return f"diag({main(draw, (N, N), d)})"


def productions(shape):
    r, c = shape
    ps = [p_add, p_scale, p_matmul, p_hadamard, p_divide, p_power, p_func]
    if transposed(shape) in SHAPES and not is_scalar(shape):
        ps.append(p_transpose)
    if not is_scalar(shape):
        ps += [p_broadcast, p_constant]
    if is_scalar(shape):
        ps += [p_reduce, p_trace, p_det, p_logsumexp]
    if r == 1 and c != 1:
        ps.append(p_logsumexp)
    if r != 1:
        ps.append(p_softmax)
    if shape == (N, N):
        ps += [p_inv, p_diag_matrix]
    if shape == (N, 1):
        ps.append(p_diag_vector)
    return ps


@st.composite
def expr(draw, shape, depth):
    if depth <= 0:
        return draw(leaf(shape))
    production = draw(st.sampled_from(productions(shape)))
    return production(draw, shape, depth)


@st.composite
def programs(draw):
    shape = draw(st.sampled_from(SHAPES + [(1, 1)] * 3))     # scalar outputs more often
    text = draw(expr(shape, DEPTH))
    names = set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text))
    assume(names & (set(DECLARED) | {"alpha", "beta"}))        # something to differentiate
    return text, {k: v for k, v in DECLARED.items() if k in names}


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(programs())
def test_random_program_derivatives_match_sympy_fd_and_layouts(program):
    text, shapes = program
    assert check_program(text, shapes, seed=zlib.crc32(text.encode()), signed=True,
                         sizes=SIZES) > 0
