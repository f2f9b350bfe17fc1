"""The claim gallery: students' wrong derivatives, each with the diagnosis a teacher would
give, built from the seed notes (000-004), the examples and the Matrix Cookbook.

An entry is (program, options, claim, kind, detail, teacher): `kind` and `detail` are
what matcalc.diagnosis must name first for the entry to count as diagnosed exactly
(kind: layout, factor, term, terms, label, bias, upstream, transpose, structure), and
`teacher` says it in words. RIGHT lists claims that are right, zero claims included.
"""
from __future__ import annotations

# ---- the programs ------------------------------------------------------------------------

LINEAR = ("Y = X*A' + b'", {"shapes": {"X": "N,n", "A": "m,n", "b": "m"}})      # seed 001
BATCH = ("Z = W*X + b*vector(1)'", {"shapes": {"X": "n,N"}})                   # seed 002
BILINEAR = ("z = x'*A*y", {})                                                  # seed 001
BILINEAR_NUM = ("z = x'*A*y", {"layout": "numerator"})
D2L = ("""z = W1*x
h = relu(z)
o = W2*h
J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)""", {})           # seed 000
D2L_BIAS = ("""z = W1*x + b1
h = relu(z)
o = W2*h + b2
J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)""", {})           # seed 000, ex. 2
RELU_NET = ("""z = W1*x + b1
a = relu(z)
o = W2*a + b2
J = 0.5*norm2(y - o)^2""", {})                                                 # seed 002
CS231N_PROGRAM = """H = relu(X*W1 + b1')
S = H*W2 + b2'
P = softmax(S')'
L = -sum(Y .* log(P))/N + 0.5*reg*(norm2(W1)^2 + norm2(W2)^2)"""
CS231N_SHAPES = {"X": "N,D", "W1": "D,K", "W2": "K,C", "Y": "N,C", "reg": "scalar"}
CS231N = (CS231N_PROGRAM, {"shapes": CS231N_SHAPES, "onehot": ["Y=rows"]})     # seed 004
CS231N_NOLABEL = (CS231N_PROGRAM, {"shapes": CS231N_SHAPES})
NOTES_PROGRAM = """z1 = W1*x + b1
h = sigmoid(z1)
z2 = W2*h + b2
E = -y'*log(softmax(z2))"""
NOTES = (NOTES_PROGRAM, {"onehot": ["y"]})                                     # seed 003
NOTES_NOLABEL = (NOTES_PROGRAM, {})
NOTES_BATCH_PROGRAM = """Z1 = W1*X + b1*vector(1)'
A1 = sigmoid(Z1)
Z2 = W2*A1 + b2*vector(1)'
J = -sum(Y .* log(softmax(Z2)))/m + lambda/(2*m)*(norm2(W1)^2 + norm2(W2)^2)"""
NOTES_BATCH = (NOTES_BATCH_PROGRAM, {"shapes": {"X": "n,m", "Y": "c,m"}, "onehot": ["Y"],
                                     "wrt": ["W1", "W2", "b2"]})               # seed 003
NOTES_BATCH_NOLABEL = (NOTES_BATCH_PROGRAM, {"shapes": {"X": "n,m", "Y": "c,m"},
                                             "wrt": ["W1", "W2", "b2"]})
SOFTMAX_CE = ("-y'*log(softmax(s))", {})
SOFTMAX_CE_BATCH = ("-sum(Y .* log(softmax(S)))", {})
LOGISTIC = ("sum(log(vector(1) + exp(-y .* (X*w))))", {"wrt": ["w"]})
LEAST_SQUARES = ("0.5*norm2(W*x - y)^2", {})
# the Matrix Cookbook
QUADRATIC = ("x'*A*x", {})
QUADRATIC_HALF = ("0.5*x'*A*x", {})
MAHALANOBIS = ("(x - mu)'*S*(x - mu)", {"wrt": ["x"]})
LOGDET = ("log(det(X))", {})
DET = ("det(X)", {})
AXB = ("a'*X*b", {"wrt": ["X"]})
TRACE_AXB = ("tr(A*X*B)", {"wrt": ["X"]})
TRACE_XAX = ("tr(X'*A*X)", {"wrt": ["X"]})
TRACE_XAXT = ("tr(X*A*X')", {"wrt": ["X"]})
INV_FORM = ("a'*inv(X)*b", {"wrt": ["X"]})
TRACE_INV = ("tr(inv(X)*A)", {"wrt": ["X"]})
NORM_SQ = ("norm2(A*x - b)^2", {"wrt": ["x"]})
RIDGE = ("norm2(A*x - b)^2 + lambda*norm2(x)^2", {"wrt": ["x"]})
TRACE_RIDGE = ("tr(X'*A*X) + lambda*norm2(X)^2", {"wrt": ["X"]})
LINEAR_MAP = ("Y = A*X", {"wrt": ["X"]})
ROW_LAYER = ("Y = X*W", {"shapes": {"X": "N,D", "W": "D,H"}})                 # seed 004

# ---- wrong claims ------------------------------------------------------------------------

WRONG = [
    # layout: the other layout's answer, or the transposes in the wrong order overall
    (*LOGDET, "X = inv(X)", "layout", "numerator",
     "right in the numerator layout; in the denominator layout it is inv(X)'"),
    (*AXB, "X = b*a'", "layout", "numerator", "that is the numerator layout: a*b'"),
    (*TRACE_AXB, "X = B*A", "layout", "numerator", "the transpose: A'*B'"),
    (*QUADRATIC, "x = x'*(A + A')", "layout", "numerator",
     "a row vector: the numerator layout; the gradient is the column (A + A')*x"),
    (*BILINEAR, "A = y*x'", "layout", "numerator", "transposed: dz/dA = x*y'"),
    (*LINEAR, "A = X'*dY", "layout", "numerator",
     "the transpose-order mistake of the forum thread: dA = dY'*X"),
    (*DET, "X = det(X)*inv(X)", "layout", "numerator",
     "Cookbook (49) in the denominator layout is det(X)*inv(X)'"),
    (*INV_FORM, "X = -inv(X)*b*a'*inv(X)", "layout", "numerator",
     "Cookbook (61) transposed: -inv(X)'*a*b'*inv(X)'"),
    (*TRACE_INV, "X = -inv(X)*A*inv(X)", "layout", "numerator",
     "Cookbook (63) transposed: -(inv(X)*A*inv(X))'"),
    (*BILINEAR_NUM, "x = A*y", "layout", "denominator",
     "in the numerator layout dz/dx is the row y'*A'"),
    # factor: 2, 1/2, -1, N, 1/N, on the whole claim or on one term
    (*LEAST_SQUARES, "W = 2*(W*x - y)*x'", "factor", "2",
     "off by a factor of 2: the 0.5 cancels the 2"),
    (*LEAST_SQUARES, "W = (y - W*x)*x'", "factor", "-1",
     "the sign is flipped: the residual is W*x - y"),
    (*NORM_SQ, "x = A'*(A*x - b)", "factor", "1/2", "the square's 2 is missing"),
    (*CS231N, "b2 = (P - Y)'*vector(1)", "factor", "N", "the mean's 1/N is missing"),
    (*LOGDET, "X = -inv(X)'", "factor", "-1", "the sign is flipped"),
    (*TRACE_XAX, "X = 2*(A + A')*X", "factor", "2", "twice the derivative"),
    (*NOTES_BATCH, "b2 = (softmax(Z2) - Y)*vector(1)", "factor", "m",
     "the 1/m of the average loss is missing"),
    (*RELU_NET, "W2 = (y - o)*a'", "factor", "-1",
     "the sign is flipped: dJ/do = o - y for J = (y - o)^2/2"),
    (*("norm2(x)^2", {}), "x = x", "factor", "1/2", "d|x|^2/dx = 2x"),
    (*NOTES_BATCH, "W2 = (softmax(Z2) - Y)*A1'/m + lambda/(2*m)*W2", "factor",
     "1/2 in lambda/(2*m)*W2",
     "seed 003: the regularisation term is off by a factor of 2; the data term is right"),
    (*D2L, "W2 = (o - y)*h' + 2*lambda*W2", "factor", "2 in 2*lambda*W2",
     "the lambda/2 penalty's gradient is lambda*W2, not 2*lambda*W2; the data term is right"),
    (*D2L, "W2 = (o - y)*h' - lambda*W2", "factor", "-1 in lambda*W2",
     "weight decay adds lambda*W2: the sign of that term is flipped"),
    (*NOTES_BATCH, "W2 = (softmax(Z2) - Y)*A1' + lambda/m*W2", "factor",
     "m in (softmax(Z2) - Y)*A1'", "the data term lacks the 1/m of the average"),
    (*CS231N, "W2 = H'*(P - Y) + reg*W2", "factor", "N in H'*(P - Y)",
     "the data term lacks the 1/N; the regularisation term is right"),
    # term: a term of the sum missing (additive, or the product rule's), or one too many
    (*D2L, "W2 = (o - y)*h'", "term", "missing lambda*W2",
     "eq. 4.7.11 without the weight decay: + lambda*W2"),
    (*D2L, "W1 = (W2'*(o - y) .* (z > 0))*x'", "term", "missing lambda*W1",
     "eq. 4.7.14 without the weight decay: + lambda*W1"),
    (*NOTES_BATCH, "W2 = (softmax(Z2) - Y)*A1'/m", "term", "missing lambda*W2/m",
     "the regularisation term lambda/m*W2 is missing"),
    (*CS231N, "W2 = H'*(P - Y)/N", "term", "missing reg*W2",
     "the L2 term reg*W2 is missing"),
    (*QUADRATIC, "x = A*x", "term", "missing A'*x",
     "the product rule: x appears twice, the other x gives A'*x"),
    (*TRACE_XAX, "X = A*X", "term", "missing A'*X",
     "the product rule: the other X gives A'*X"),
    (*RIDGE, "x = 2*A'*(A*x - b)", "term", "missing 2*lambda*x",
     "the ridge penalty's 2*lambda*x is missing"),
    (*D2L_BIAS, "b2 = (o - y) + lambda*b2", "term", "extra lambda*b2",
     "seed 000: the bias is not in the regularisation term: drop lambda*b2"),
    (*CS231N, "b2 = (P - Y)'*vector(1)/N + reg*b2", "term", "extra reg*b2",
     "the biases are not regularised: drop reg*b2"),
    (*LEAST_SQUARES, "W = (W*x - y)*x' + W", "term", "extra W",
     "there is no penalty in this loss: drop W"),
    (*ROW_LAYER, "X = W*dY'", "layout", "numerator",
     "seed 004: dX = dY*W' (the transpose of yours)"),
    # two mistakes at once: the teacher names the first; no single edit explains them
    (*LEAST_SQUARES, "W = 2*x*(W*x - y)'", "layout", "numerator",
     "transposed, and twice the derivative: (W*x - y)*x'"),
    (*D2L, "W2 = 2*(o - y)*h'", "term", "missing lambda*W2",
     "twice the data term, and the weight decay lambda*W2 is missing"),
    # terms: term by term, which part is right
    (*D2L, "W2 = (o - y)*z' + lambda*W2", "terms", "lambda*W2",
     "the decay term is right; the data term uses z where it needs h = relu(z)"),
    (*D2L, "W2 = (o - y)*h' + lambda*norm2(W2)*W2", "terms", "(o - y)*h'",
     "the data term is right; the penalty's gradient is lambda*W2"),
    (*NOTES_BATCH, "W2 = (softmax(Z2) - Y)*A1'/m + lambda*sign(W2)/m", "terms",
     "(softmax(Z2) - Y)*A1'/m", "the data term is right; that is an L1 penalty's gradient"),
    (*TRACE_RIDGE, "X = (A + A')*X + lambda*norm2(X)*X", "terms", "(A + A')*X",
     "the trace term is right; the penalty's gradient is 2*lambda*X"),
    (*CS231N, "W2 = H'*(P - Y)/N + reg*abs(W2)", "terms", "H'*(P - Y)/N",
     "the data term is right; the penalty's gradient is reg*W2"),
    (*CS231N, "W1 = X'*((P - Y)*W2')/N + reg*W1", "terms", "reg*W1",
     "the regularisation term is right; the data term lacks the relu mask (H > 0)"),
    (*D2L, "W1 = (W2'*(o - y) .* h)*x' + lambda*W1", "terms", "lambda*W1",
     "the decay term is right; relu'(z) is (z > 0), not h"),
    # label: right only for one-hot or +-1 labels the program does not declare
    (*SOFTMAX_CE, "s = softmax(s) - y", "label", "--onehot y",
     "right when y sums to 1: add --onehot y"),
    (*NOTES_NOLABEL, "W2 = (softmax(z2) - y)*h'", "label", "--onehot y",
     "the textbook form assumes a one-hot y"),
    (*NOTES_NOLABEL, "b2 = softmax(z2) - y", "label", "--onehot y",
     "the textbook form assumes a one-hot y"),
    (*CS231N_NOLABEL, "b2 = (P - Y)'*vector(1)/N", "label", "--onehot Y=rows",
     "the rows of Y are one-hot (samples are rows)"),
    (*NOTES_BATCH_NOLABEL, "W2 = (softmax(Z2) - Y)*A1'/m + lambda/m*W2", "label",
     "--onehot Y", "the columns of Y are one-hot"),
    (*SOFTMAX_CE_BATCH, "S = softmax(S) - Y", "label", "--onehot Y",
     "each column of Y sums to 1"),
    (*LOGISTIC, "w = X'*(sigmoid(X*w) - (y + vector(1))/2)", "label", "--signs y",
     "right for labels in {-1, +1}: add --signs y"),
    # bias: a bias gradient not summed over the batch
    (*BATCH, "b = dZ", "bias", "sum over the batch", "sum over the batch: dZ*vector(1)"),
    (*LINEAR, "b = dY'", "bias", "sum over the batch", "seed 001: db = dY'*1_N"),
    (*LINEAR, "b = dY", "bias", "sum over the batch", "the column sums of dY: dY'*vector(1)"),
    (*CS231N, "b2 = (P - Y)'/N", "bias", "sum over the batch",
     "sum the rows: (P - Y)'*vector(1)/N"),
    (*NOTES_BATCH, "b2 = (softmax(Z2) - Y)/m", "bias", "sum over the batch",
     "sum over the m samples"),
    (*("S = W2*A + b2*vector(1)'", {}), "b2 = dS", "bias", "sum over the batch",
     "seed 002: db2 = dS*1_m"),
    # upstream: the upstream gradient left out, transposed, or on the wrong side
    (*LINEAR, "X = A*dY", "upstream", "wrong side", "dX = dY*A: dY goes first"),
    (*BATCH, "W = X'*dZ", "upstream", "wrong side", "dW = dZ*X'"),
    (*LINEAR, "A = X*dY'", "upstream", "wrong side", "dA = dY'*X"),
    (*ROW_LAYER, "W = dY*X'", "upstream", "wrong side", "seed 004: dW = X'*dY"),
    (*LINEAR, "X = A", "upstream", "dY left out", "the chain rule needs dY: dY*A"),
    (*BATCH, "W = X'", "upstream", "dZ left out", "dW = dZ*X'"),
    (*LINEAR_MAP, "X = A'", "upstream", "dY left out", "dX = A'*dY"),
    # transpose: one matrix transposed (or not) where it should not be (or should)
    (*BATCH, "W = dZ*X", "transpose", "X", "dW = dZ*X'"),
    (*D2L, "h = W2*(o - y)", "transpose", "W2", "eq. 4.7.12: W2'*(o - y)"),
    (*LINEAR, "X = dY*A'", "transpose", "A", "dX = dY*A"),
    (*NOTES, "h = W2*dz2", "transpose", "W2", "dh = W2'*dz2"),
    (*BILINEAR, "y = A*x", "transpose", "A", "dz/dy = A'*x"),
    (*D2L, "W2 = h*(o - y)' + lambda*W2", "transpose", "h*(o - y)'",
     "seed 000: the transpose belongs on h: (o - y)*h'"),
    # structure: right only for a symmetric matrix
    (*QUADRATIC, "x = 2*A*x", "structure", "A=symmetric",
     "right only for a symmetric A (declare it with --assume A=symmetric)"),
    (*QUADRATIC, "x = 2*A'*x", "structure", "A=symmetric", "right only for a symmetric A"),
    (*TRACE_XAX, "X = 2*A*X", "structure", "A=symmetric", "Cookbook (109) needs A symmetric"),
    (*QUADRATIC_HALF, "x = A*x", "structure", "A=symmetric", "right only for a symmetric A"),
    (*MAHALANOBIS, "x = 2*S*(x - mu)", "structure", "S=symmetric",
     "Cookbook (86) needs S symmetric (a covariance)"),
    (*TRACE_XAXT, "X = 2*X*A", "structure", "A=symmetric", "right only for a symmetric A"),
]

# ---- right claims ------------------------------------------------------------------------

RIGHT = [
    (*LINEAR, "X = dY*A"), (*LINEAR, "A = dY'*X"), (*LINEAR, "b = dY'*vector(1)"),
    (*BATCH, "b = dZ*vector(1)"), (*BATCH, "W = dZ*X'"),
    (*D2L, "W2 = (o - y)*h' + lambda*W2"), (*D2L, "h = W2'*(o - y)"),
    (*D2L, "W1 = (W2'*(o - y) .* (z > 0))*x' + lambda*W1"),
    (*CS231N, "b2 = (P - Y)'*vector(1)/N"), (*CS231N, "W2 = H'*(P - Y)/N + reg*W2"),
    (*NOTES, "W2 = (softmax(z2) - y)*h'"), (*NOTES, "b2 = softmax(z2) - y"),
    (*NOTES_BATCH, "W2 = (softmax(Z2) - Y)*A1'/m + lambda/m*W2"),
    (*QUADRATIC, "x = (A + A')*x"), (*LOGDET, "X = inv(X)'"), (*AXB, "X = a*b'"),
    (*LEAST_SQUARES, "W = (W*x - y)*x'"), (*SOFTMAX_CE, "s = sum(y)*softmax(s) - y"),
    (*BILINEAR_NUM, "x = y'*A'"),
    # zero derivatives
    (*("sum(softmax(u))", {}), "u = vector(0)"),
    (*("x'*x - norm2(x)^2 + a'*a", {}), "x = vector(0)"),
    (*("tr(X) - tr(X') + y'*y", {"wrt": ["X"]}), "X = 0*X"),
    (*("logsumexp(x + c) - logsumexp(c + x) + sum(c)", {"wrt": ["x"]}), "x = 0*x"),
]
