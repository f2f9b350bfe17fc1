"""A corpus of programs, each derived in every layout and checked against two oracles.

For every program and every variable: (a) the derivative, brought back to the adjoint
convention, equals SymPy's exact gradient; (b) it equals fourth-order central finite
differences of an independent NumPy interpreter; (c) the numerator form is the transpose
of the denominator form (the upstream gradient transposed alike) and the mixed form is
the denominator form. The corpus is the classics of the lecture notes, written by hand,
then systematic combinations of functions, reductions, matrix functions, layers and
broadcasts. Each program is its own test.
"""
import re
import zlib

import pytest
from oracle import check_program


def P(program: str, sizes=None, **shapes):
    """A corpus entry: the program, its --shape declarations, fixed dimension sizes, and
    the naming convention of undeclared names (ML notes: Greek scalars, lowercase
    vectors, uppercase matrices)."""
    return (program, shapes, sizes or {}, "ml")


def MC(program: str, **shapes):
    """An entry in matrixcalculus.org's letters: a..g scalars, h..z vectors, A..Z matrices."""
    return (program, shapes, {}, "mc")


# ---- the classics, by hand --------------------------------------------------------------

CLASSICS = [
    # linear and bilinear forms
    P("x'*A*x"), P("x'*A*y"), P("z = x'*A*y"), P("a'*x"), P("x'*x"), P("x'*y"),
    P("A*x"), P("A*x + b"), P("A'*x"), P("x'*A'*A*x"), P("x'*A'*B*x"),
    P("y'*X*x"), P("x*y'"), P("x*x'"), P("A*B"), P("A*B*C"), P("A'*B"), P("X'"),
    P("X*X"), P("X*X'"), P("X'*X"),
    P("Y = X*A' + b'", X="N,n"), P("Y = A*X + b*vector(1)'"), P("W*X + b*vector(1)'"),
    P("X*W + b'", X="N,d"), P("y = A*x + b"), P("Y = X*W"), P("Y = X'"),
    P("x'*A*x + b'*x + gamma"),
    # traces
    P("tr(A*X*B)"), P("tr(X)"), P("tr(X'*A)"), P("tr(A*X')"), P("tr(X*X')"), P("tr(X'*X)"),
    P("tr(A*X*B*X')"), P("tr(X*A*X')"), P("tr(A'*X)"), P("tr(W'*X*W)"),
    P("tr(W'*S*W)/tr(W'*W)"), P("tr(inv(X)*A)"), P("tr(inv(X))"),
    P("tr(inv(X)*A*inv(X)*B)"), P("tr(inv(A + X))"), P("tr(diag(x)*A)"), P("tr(X + eye)"),
    P("tr((X + eye)*A)"),
    # sums, means, norms
    P("sum(X .* Y)"), P("sum(A*X)"), P("sum(X*w)/N", X="N,n"), P("sum(X)/N", X="N,n"),
    P("sum(x)/n", x="n"), P("sum((X*w - y).^2)/N", X="N,d"), P("0.5*norm2(W*x - y)^2"),
    P("norm2(x)"), P("norm2(X)"), P("norm2(x)^2"),
    P("norm2(A*x - b)^2 + lambda*norm2(x)^2"), P("norm1(x)"), P("norm1(A*x - b)"),
    P("norm1(X)"), P("norm2(A*X - B)^2"), P("norm2(X*w - y)^2 + lambda*w'*w", X="N,d"),
    P("sum(X*A .* B)"), P("sum(sigmoid(X)*w)"),
    # determinants and inverses
    P("log(det(X))"), P("logdet(X)"), P("det(X)"), P("det(2*X)"), P("det(X)^2"),
    P("det(X'*X)"), P("det(inv(X))"), P("logdet(X*X')"), P("inv(X)"), P("inv(X)*b"),
    P("inv(X')"), P("a'*inv(X)*b"), P("x'*inv(A)*x"), P("logdet(S*S' + eye)"),
    P("logdet(eye + X'*X)"), P("y = inv(X)*b"), P("Y = inv(X)"),
    P("det(A'*A)", A="N,d", sizes={"N": 3, "d": 2}),
    P("P = inv(X'*X); H = X*P*X'; L = tr(H*A)", X="N,d", sizes={"N": 3, "d": 2}),
    # index notation of matrices and vectors (tensors: tests/test_indices.py)
    P("C[i,j] = A[i,k]*B[k,j]"), P("y[i] = X[i,j]*x[j]*z[i]"), P("f = A[i,i]"),
    P("H[i,j] = tanh(X[i,k]*W[j,k] + c[j])"), P("f = x[i]*A[i,j]*y[j]"), P("v[j] = X[i,j]"),
    P("d[i] = A[i,i]*x[i]"), P("S[i,j] = X[i,k]*X[j,k]; f = sum(S .* A)"),
    P("0.5*(x - c)'*inv(S)*(x - c) + 0.5*logdet(S)"), P("(x - c)'*S*(x - c)"),
    # diagonals
    P("diag(x)"), P("diag(X)"), P("x'*diag(a)*x"), P("sum(diag(X))"), P("diag(x)*A"),
    P("diag(A*B)"), P("diag(diag(X))"), P("Y = diag(x)*A"),
    # exp, log, softmax, logsumexp
    P("sum(exp(x))"), P("exp(x)"), P("log(x)"), P("sum(log(x))"), P("logsumexp(x)"),
    P("logsumexp(A*x)"), P("logsumexp(X)"), P("sum(logsumexp(X))"), P("y = logsumexp(X)"),
    P("softmax(x)"), P("softmax(X)"), P("softmax(A*x + b)"), P("Y = softmax(X)"),
    P("-y'*log(softmax(W*x + b))"), P("logsumexp(W*x + b) - y'*(W*x + b)"),
    P("sum(logsumexp(W*X + b*vector(1)'))/N", X="d,N"), P("-sum(Y .* log(softmax(W*X)))"),
    P("sum(log(vector(1) + exp(x)))"), P("log(sum(exp(x)))"), P("exp(-x'*x)"),
    P("exp(alpha*x)"), P("exp(-norm2(x - y)^2)"), P("Y = exp(X) ./ (exp(X) + 1)"),
    # attention-like
    P("s = softmax(K'*q); o = V*s"), P("A = softmax(K'*Q); O = V*A"),
    # two-layer networks and friends (lecture-notes style)
    P("h = relu(W1*x + b1); o = W2*h + b2; J = 0.5*norm2(o - y)^2"),
    P("z = W1*x + b1; a = relu(z); o = W2*a + b2; J = 0.5*(y - o)'*(y - o)"),
    P("h = sigmoid(W1*x + b1); f = w'*h + beta"),
    P("h = tanh(W1*x + b1); o = softmax(W2*h + b2); L = -y'*log(o)"),
    P("H = relu(W1*X + b1*vector(1)'); O = W2*H; L = sum(logsumexp(O)) - sum(Y .* O)"),
    P("H = tanh(X*W1 + b1'); Y = H*W2 + b2'", X="N,d"),
    P("o = W2*relu(W1*x); J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)"),
    P("Y = sigmoid(X*W + b'); L = sum(Y)", X="N,d"), P("Y = relu(X*W + b')", X="N,d"),
    P("relu(x)"), P("relu(W*x + b)"), P("abs(x)"), P("sum(abs(X - Y))"), P("sign(x)"),
    P("tanh(W*x)"), P("sigmoid(x)"),
    # logistic regression, hinge loss
    P("y'*log(sigmoid(x)) + (vector(1) - y)'*log(vector(1) - sigmoid(x))"),
    P("p = sigmoid(X*w); L = -(y'*log(p) + (vector(1) - y)'*log(vector(1) - p))", X="N,d"),
    P("sum(log(vector(1) + exp(-y .* (X*w))))", X="N,d"),
    P("sum(relu(vector(1) - y .* (X*w)))", X="N,d"),
    # elementwise quotients and powers, scalars
    P("x ./ y"), P("sum(x ./ y)"), P("1 ./ x"), P("alpha ./ x"), P("(x'*x)^3"), P("x .^ 3"),
    P("x .^ 2"), P("X .^ 2"), P("sum(X .^ 3)"), P("(x'*A*x)^2"), P("sqrt(x'*x)"),
    P("sqrt(x)"), P("x .^ alpha"), P("alpha^2"), P("alpha^beta"), P("alpha*beta"),
    P("sin(x) .* cos(y)"), P("sum(sin(X) .* cos(X))"), P("tan(x)"),
    P("alpha*x + beta*y"), P("alpha*A*x"), P("x*alpha"), P("x/alpha"), P("X/alpha"),
    P("sum(X)/alpha"), P("y = x*alpha"), P("Y = alpha*X + beta*Z"), P("Y = X .* Z"),
    # constants
    P("x'*vector(2)"), P("sum(X .* matrix(alpha))"), P("X + eye"), P("x'*(A + eye)*x"),
    P("matrix(c) .* X", c="scalar"), P("sum(X + matrix(3))"),
    # small programs
    P("mu = sum(x)/n; d = x - mu; v = d'*d/n; y = d/sqrt(v + 0.001)", x="n"),
    P("z = W*x; y = z/norm2(z)"), P("x'*y/(norm2(x)*norm2(y))"),
    P("R = X - Y*Z; L = 0.5*tr(R'*R)"),
    P("L = 0.5*norm2(X - U*V')^2 + 0.5*lambda*(norm2(U)^2 + norm2(V)^2)"),
    P("u = A*x; v = B*u; w = C*v; f = sum(w)"),
    P("e = y - X*w; L = e'*e/N + lambda*w'*w", X="N,d"),
    # matrixcalculus.org's letter convention
    MC("a*x'*x"), MC("x'*A*x + b*c"), MC("exp(a)*x'*y"), MC("c*norm2(A*x - y)^2"),
    MC("sum(a*X + b*Y)"), MC("tr(a*A*X)"), MC("(x'*A*y)^2/d"), MC("log(a + x'*x)"),
]

# ---- systematic combinations --------------------------------------------------------------

# elementwise functions, as templates of their argument (tan kept away from its poles)
FUNCS = ["exp({})", "log({})", "sin({})", "cos({})", "tan(0.1*({}))", "tanh({})",
         "sigmoid({})", "relu({})", "abs({})", "sqrt({})", "exp(-({}))"]
FUNC_SITES = ["sum({})", "{}", "y'*{}", "tr({}*A)", "norm2({})^2", "{}*w", "sum({} .* Y)",
              "sum({}')"]
FUNC_ARGS = {"sum({})": "x", "{}": "A*x + b", "y'*{}": "A*x", "tr({}*A)": "X",
             "norm2({})^2": "A*X*B", "{}*w": "X", "sum({} .* Y)": "X", "sum({}')": "X*B"}

MATRIX_FORMS = ["X", "X'", "A*X", "X*B", "A*X*B", "X .* Y", "X + Y", "2*X - 3*Y", "X*X'",
                "X'*X", "alpha*X", "X*w*v'", "X ./ Y"]
REDUCERS = ["sum({})", "norm2({})", "norm2({})^2", "norm1({})", "sum(exp({}))"]

SQUARE_FORMS = ["X", "X'", "A*X*B", "X*X'", "X + eye", "inv(X)", "X*A", "X + A", "X*X",
                "X'*X", "3*X"]
MATRIX_FUNCS = ["det({})", "logdet({})", "tr(inv({}))", "sum(inv({}))", "a'*inv({})*b",
                "tr({})"]

ACTIVATIONS = ["relu({})", "sigmoid({})", "tanh({})", "log(vector(1) + exp({}))"]
VECTOR_LOSSES = ["0.5*norm2(o - y)^2", "-y'*log(softmax(o))", "logsumexp(o) - y'*o",
                 "sum(o)"]
BATCH_LOSSES = ["0.5*norm2(O - Y)^2", "sum(logsumexp(O)) - sum(Y .* O)",
                "-sum(Y .* log(softmax(O)))"]
ROW_LOSSES = ["0.5*norm2(O - Y)^2", "sum(O)/N"]

BROADCASTS = ["X + b'", "X + b", "X*W + b'", "W*X + b", "X + alpha", "X .* b'", "X - b'",
              "(X + b')*w", "X ./ b", "alpha - X"]
BROADCAST_SITES = ["{}", "sum(exp({}))", "norm2({})^2"]

POWERS = ["(x'*x)^2", "(x'*A*x)^0.5", "x .^ 4", "X .^ 0.5", "sum(x .^ -1)", "(sum(X))^3",
          "norm2(x)^3", "(alpha*x'*y)^2", "sum((A*x) .^ 2)", "(x'*y)^-1", "sum(X .^ 1.5)",
          "x .^ 2 .* y"]


def _generated():
    out = []
    for f in FUNCS:
        for site in FUNC_SITES:
            out.append(P(site.format(f.format(FUNC_ARGS[site]))))
    for r in REDUCERS:
        for m in MATRIX_FORMS:
            out.append(P(r.format(m)))
    for f in MATRIX_FUNCS:
        for s in SQUARE_FORMS:
            # X, A, B square (drawn diagonally dominant): every form is invertible
            program = f.format(s)
            used = set(re.findall(r"\b[A-Z]\b", program))
            out.append(P(program, **{name: "n,n" for name in sorted(used)}))
    for act in ACTIVATIONS:
        col_batch, row_batch = act.format("W1*X + b1*vector(1)'"), act.format("X*W1 + b1'")
        for loss in VECTOR_LOSSES:
            out.append(P(f"h = {act.format('W1*x + b1')}; o = W2*h + b2; L = {loss}"))
        for loss in BATCH_LOSSES:
            out.append(P(f"H = {col_batch}; O = W2*H; L = {loss}"))
        for loss in ROW_LOSSES:
            out.append(P(f"H = {row_batch}; O = H*W2 + b2'; L = {loss}",
                         X="N,d"))
    for site in BROADCAST_SITES:
        for b in BROADCASTS:
            out.append(P(site.format(b)))
    out += [P(p) for p in POWERS]
    return out


def _corpus():
    seen, out = set(), []
    for entry in CLASSICS + _generated():
        key = (entry[0], tuple(sorted(entry[1].items())), entry[3])
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


CORPUS = _corpus()

# inputs may take either sign when a kinked function is used and nothing needs positivity
_KINKED = re.compile(r"relu|abs|sign|norm1")
_POSITIVE = re.compile(r"\blog\((?!softmax)|sqrt|\./|\.\^|\^\s*(?![0-9]+(?![0-9.]))")


def _signed(program: str) -> bool:
    return bool(_KINKED.search(program)) and not _POSITIVE.search(program)


def _id(entry) -> str:
    program, shapes, _, kinds = entry
    if shapes:
        program += " [" + ", ".join(f"{k}={v}" for k, v in shapes.items()) + "]"
    if kinds != "ml":
        program += f" [kinds {kinds}]"
    return program


def test_corpus_is_large_and_distinct():
    assert len(CORPUS) >= 300
    assert len({_id(e) for e in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("program,shapes,sizes,kinds", CORPUS, ids=[_id(e) for e in CORPUS])
def test_program_derivatives_match_sympy_fd_and_layouts(program, shapes, sizes, kinds):
    checks = check_program(program, shapes, seed=zlib.crc32(program.encode()),
                           signed=_signed(program), sizes=sizes, kinds=kinds)
    assert checks > 0
