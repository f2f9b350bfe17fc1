"""Every rewrite of the table (matcalc.rewrites) on a literal example, before and after.

The test is generated from the table: each rewrite of each rule set is applied to its
example the way that rule set's caller applies it (the simplifier, the transpose pusher,
the passes for generated code, the display of Jacobians), the result must print as the
example's right-hand side, and both sides are evaluated at random points by the oracle's
own NumPy interpreter (`oracle.np_eval`, which shares no code with matcalc) and must
agree. A rewrite without an example fails (add its line to EXAMPLES), and so does a
rewrite that changes a value: `test_a_wrong_rewrite_is_caught` makes one on purpose.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from oracle import assign_dims, evaluated_pairs

from matcalc import expr as E
from matcalc import rewrites as R
from matcalc.parse import parse
from matcalc.patterns import rewrite_dag
from matcalc.printing import to_text
from matcalc.shapes import declaration, infer_shapes
from matcalc.simplify import apply_rule, simplify

# ---- the examples: law -> (before, after), `before` a program (with --shape declarations
# after a `|`) or a node built here where the language cannot write it ---------------------

n, m = "n", "m"
x, y = E.Var("x", (n, 1)), E.Var("y", (n, 1))
A, B = E.Var("A", (n, n)), E.Var("B", (n, m))
r = E.Var("r", (1, m))
ONES_COL, ONES_ROW = E.Ones((n, 1)), E.Ones((1, n))
SIG, TANH = E.Func("sigmoid", x), E.Func("tanh", x)

EXAMPLES = {
    # transposes
    "s' = s": ("alpha'", "alpha"),
    "(X')' = X": ("(A')'", "A"),
    "(A B)' = B' A'": ("(A*B)' | A=n,n B=n,n", "B'*A'"),
    "(s X)' = s X'": ("(alpha*A)'", "alpha*A'"),
    "(A + B)' = A' + B'": ("(A' + B)'", "A + B'"),
    "(A .* B)' = A' .* B'": ("(A' .* B)'", "A .* B'"),
    "(A ./ B)' = A' ./ B'": ("(A' ./ B)'", "A ./ B'"),
    "f(X)' = f(X')": (E.Transpose(E.Func("exp", E.Transpose(A))), "exp(A)"),
    "(X .^ p)' = X' .^ p": (E.Transpose(E.Power(E.Transpose(A), E.Const(3))), "A.^3"),
    "1' = 1": (E.Transpose(E.Ones((n, m))), "matrix(1)"),
    "diag(x)' = diag(x)": ("diag(x)'", "diag(x)"),
    "broadcast(x)' = broadcast(x')": (E.Transpose(E.Broadcast(r, (n, m))),
                                      "r'*vector(1)'"),
    "inv(S)' = inv(S)": ("inv(A'*A)'", "inv(A'*A)"),
    "contraction' = its free indices swapped": (
        E.Transpose(E.contract((E.Var("T", (n, n, m)), E.Var("w", (m, 1))), "ijk,k->ij")),
        "T[j,i,p]*w[p]"),
    # sums (issue 15: a common number out, symmetric sums in one order)
    "c A + c B = c (A + B)": (E.Add((E.Scale(E.Const(0.5), A), E.Scale(E.Const(0.5), A.T))),
                              "0.5*(A + A')"),
    # scaling, products, powers
    "0 X = 0": ("0*A", "matrix(0)"),
    "s 0 = 0": (E.Scale(E.Var("alpha", E.SCALAR), E.Zero((n, m))), "matrix(0)"),
    "-(A + B) = -A - B": ("-(A + B)", "-A - B"),
    "0 .* X = 0": ("(0*A) .* B", "matrix(0)"),
    "0 ./ X = 0": ("(0*A) ./ B", "matrix(0)"),
    "(X').^p = (X.^p)'": ("(A') .^ 3", "(A.^3)'"),
    "X.^0 = 1": ("A .^ 0", "matrix(1)"),
    "X.^1 = X": ("A .^ 1", "A"),
    "a^b = its value": ("2^10", "1024"),
    "(X.^a).^k = X.^(a k)": ("(A .^ 0.5) .^ 4", "A.^2"),
    "1.^p = 1": (E.Power(E.Ones((n, m)), E.Const(3)), "matrix(1)"),
    "(s X).^k = s^k X.^k": ("(alpha*A) .^ 2", "alpha^2*A.^2"),
    # elementwise functions
    "f(X') = f(X)'": ("exp(A')", "exp(A)'"),
    "f(0) = 0": ("sin(0*x)", "vector(0)"),
    "f(0) = 1": ("exp(0*x)", "vector(1)"),
    "log(exp(X)) = X": ("log(exp(A))", "A"),
    "f(c) = its value": ("abs(-2)", "2"),
    "log(sum(exp(x))) = logsumexp(x)": ("log(sum(exp(x)))", "logsumexp(x)"),
    "exp(x)/sum(exp(x)) = softmax(x)": ("exp(x)/sum(exp(x))", "softmax(x)"),
    # sums of entries
    "sum(s) = s": ("sum(alpha)", "alpha"),
    "sum(0) = 0": ("sum(0*A)", "0"),
    "sum(1) = m n": (E.Sum(E.Ones((n, m))), "m*n"),
    "sum(I) = n": (E.Sum(E.Identity(n)), "n"),
    "sum(X') = sum(X)": ("sum(A')", "sum(A)"),
    "sum(s X) = s sum(X)": ("sum(alpha*A)", "alpha*sum(A)"),
    "sum(M .* (u v')) = u' M v": ("sum(A .* (x*y'))", "x'*A*y"),
    "sum((u v') .* M) = u' M v": ("sum((x*y') .* exp(A*B*A)) | B=n,n",
                                    "x'*exp(A*B*A)*y"),
    "sum(x .^ 2) = x'x": ("sum(x .^ 2)", "x'*x"),
    "sum(x .^ 2) = x x'": ("sum(r .^ 2) | r=1,m", "r*r'"),
    "sum(a .* b) = a'b": ("sum(x .* y)", "x'*y"),
    "sum(a .* b) = a b'": ("sum(r .* q) | r=1,m q=1,m", "q*r'"),
    "sum(diag(x)) = sum(x)": ("sum(diag(x))", "sum(x)"),
    "sum(a + b) = sum(a) + sum(b)": ("sum(x - sum(x)/n) | x=n", "0"),
    "sum(softmax(x)) = 1": ("sum(softmax(x))", "1"),
    "sum(I .* M) = tr(M)": ("sum(A .* eye)", "tr(A)"),
    # traces
    "tr(s) = s": ("tr(alpha)", "alpha"),
    "tr(0) = 0": ("tr(0*A)", "0"),
    "tr(I) = n": (E.Trace(E.Identity(n)), "n"),
    "tr(X') = tr(X)": ("tr(A')", "tr(A)"),
    "tr(diag(x)) = sum(x)": ("tr(diag(x))", "sum(x)"),
    "tr(s X) = s tr(X)": ("tr(alpha*A)", "alpha*tr(A)"),
    "tr(A x B) = B A x": ("tr(A*x*y')", "y'*A*x"),
    # determinants, norms, inverses
    "det(X') = det(X)": ("logdet(A')", "logdet(A)"),
    "norm(0) = 0": ("norm1(0*A)", "0"),
    "norm(X') = norm(X)": ("norm2(A')", "norm2(A)"),
    "norm(c X) = |c| norm(X)": ("norm1(-3*A)", "3*norm1(A)"),
    "inv(inv(X)) = X": ("inv(inv(A))", "A"),
    "inv(I) = I": (E.Inv(E.Identity(n)), "eye"),
    "inv(X') = inv(X)'": ("inv(A')", "inv(A)'"),
    "inv(s X) = s^-1 inv(X)": ("inv(alpha*A)", "inv(A)/alpha"),
    "inv(diag(x)) = diag(1 ./ x)": ("inv(diag(x))", "diag(1 ./ x)"),
    # diagonals
    "diag(diag(x)) = x": ("diag(diag(x))", "x"),
    "diag(X') = diag(X)": ("diag(A')", "diag(A)"),
    "diag(I) = 1": (E.DiagVec(E.Identity(n)), "vector(1)"),
    "diag(0) = 0 (of a matrix)": ("diag(0*A)", "vector(0)"),
    "diag(s X) = s diag(X)": ("diag(alpha*A)", "alpha*diag(A)"),
    "diag(1 1') = 1": (E.DiagVec(E.Ones((n, n))), "vector(1)"),
    "diag(A + B) = diag(A) + diag(B)": ("diag(A + B) | B=n,n", "diag(A) + diag(B)"),
    "diag(M 1 1') = M 1": (E.DiagVec(E.MatMul((A, E.Ones((n, n))))), "sum(A, 2)"),
    "diag(1 1' M) = M' 1": (E.DiagVec(E.MatMul((E.Ones((n, n)), A))), "sum(A, 1)'"),
    "diag(a b') = a .* b": ("diag(x*y')", "x .* y"),
    "diag(M a b') = (M a) .* b": ("diag(A*x*y')", "y .* (A*x)"),
    "diag(a b' M) = a .* (M' b)": ("diag(x*y'*A)", "x .* (A'*y)"),
    "diag(s) = s": (E.DiagMat(E.Var("alpha", E.SCALAR)), "alpha"),
    "diag(1) = I": (E.DiagMat(ONES_COL), "eye"),
    "diag(0) = 0 (of a vector)": ("diag(0*x)", "matrix(0)"),
    "diag(s x) = s diag(x)": ("diag(alpha*x)", "alpha*diag(x)"),
    # triangles
    "tril(tril(X)) = tril(X)": ("tril(tril(A))", "tril(A)"),
    "tril(diag(x)) = diag(x)": ("triu(diag(x))", "diag(x)"),
    "tril(0) = 0": ("tril(0*A)", "matrix(0)"),
    "tril(s X) = s tril(X)": ("triu(alpha*A)", "alpha*triu(A)"),
    # broadcasts and 1 x 1 leaves
    "broadcast(0) = 0": (E.Broadcast(E.Const(0), (n, m)), "matrix(0)"),
    "broadcast(1) = 1": (E.Broadcast(E.Const(1), (n, m)), "matrix(1)"),
    "broadcast(s) = s 1": (E.Broadcast(E.Var("alpha", E.SCALAR), (n, m)), "alpha*matrix(1)"),
    "broadcast(s X) = s broadcast(X)": (E.Broadcast(E.Scale(E.Var("alpha", E.SCALAR), r),
                                                    (n, m)), "alpha*vector(1)*r"),
    "0 (1 x 1) = 0": (E.Zero(E.SCALAR), "0"),
    "1 (1 x 1) = 1": (E.Identity(1), "1"),
    "dim n = n": (E.DimValue(3), "3"),
    # adjacent factors of a product chain, and whole chains
    "1 1' = 1": (E.MatMul((ONES_COL, E.Ones((1, m)))), "matrix(1)"),
    "1 1 = n 1": (E.MatMul((E.Ones((m, n)), ONES_COL)), "n*vector(1)"),
    "X^-1 X = I": ("inv(A)*A", "eye"),
    "X X^-1 = I": ("A*inv(A)", "eye"),
    "X^-T X' = I": ("inv(A)'*A'", "eye"),
    "X' X^-T = I": ("A'*inv(A)'", "eye"),
    "diag(a) diag(b) = diag(a .* b)": ("diag(x)*diag(y)", "diag(x .* y)"),
    "diag(a) v = a .* v": ("diag(x)*y", "x .* y"),
    "diag(a) 1 = a 1'": (E.MatMul((E.DiagMat(x), E.Ones((n, m)))), "x*vector(1)'"),
    "1 diag(b) = 1 b'": (E.MatMul((E.Ones((m, n)), E.DiagMat(x))), "vector(1)*x'"),
    "1' g = sum(g)": ("vector(1)'*x", "sum(x)"),
    "1' G 1 = sum(G)": ("vector(1)'*A*vector(1)", "sum(A)"),
    # the factors of a monomial
    "exp(u) ./ (1 + exp(u)) = sigmoid(u)": ("exp(x) ./ (1 + exp(x))", "sigmoid(x)"),
    "1 ./ (1 + exp(u)) = sigmoid(-u)": ("1 ./ (1 + exp(x))", "sigmoid(-x)"),
    "sigmoid(w) .* exp(-w) = sigmoid(-w)": ("sigmoid(x) .* exp(-x)", "sigmoid(-x)"),
    "sigmoid(u) .* sigmoid(-u) = sigmoid(u) .* (1 - sigmoid(u))":
        ("sigmoid(x) .* sigmoid(-x)", "sigmoid(x) .* (1 - sigmoid(x))"),
    "sign(u) .* u = abs(u)": ("sign(x) .* x", "abs(x)"),
    # stable forms for generated code
    "step(z) = step(relu(z))": (E.Hadamard((E.Func("relu", x), E.Func("step", x))),
                                "relu(x) .* (relu(x) > 0)"),
    "log(softmax(z)) = z - logsumexp(z)": ("log(softmax(x))", "x - logsumexp(x)"),
    "log(softmax(z)') = z' - logsumexp(z)'": ("log(softmax(A)')", "A' - logsumexp(A)'"),
    "a .* exp(u) ./ (1 + exp(u)) = a .* sigmoid(u)": ("y .* exp(x) ./ (1 + exp(x))",
                                                      "y .* sigmoid(x)"),
    "(A + B) x = A x + B x": ("(A + B)*x | B=n,n", "A*x + B*x"),
    "x'(A + B) = x'A + x'B": ("x'*(A + B) | B=n,n", "x'*A + x'*B"),
    "softmax(z) = exp(z - logsumexp(z))": ("softmax(x) + logsumexp(x)",
                                           "exp(x - logsumexp(x)) + logsumexp(x)"),
    # the display of Jacobians and Hessians
    "P (A + B) Q = P A Q + P B Q": ("A*(eye + B) | B=n,n eye=n,n", "A + A*B"),
    "s P (A + B) Q = s (P A Q + P B Q)": ("alpha*A*(eye + B) | B=n,n eye=n,n",
                                          "alpha*(A + A*B)"),
    "A' + A = A + A'": ("A' + A", "A + A'"),
    "s - 3 s^2 + 2 s^3 = s (1 - s) (1 - 2 s)": (
        E.Add((SIG, E.Scale(E.Const(2), E.Power(SIG, E.Const(3))),
               E.Scale(E.Const(-3), E.Power(SIG, E.Const(2))))),
        "sigmoid(x) .* (1 - sigmoid(x)) .* (1 - 2*sigmoid(x))"),
    "t - t^3 = t (1 - t^2)": (E.Add((TANH, E.Scale(E.Const(-1), E.Power(TANH, E.Const(3))))),
                              "tanh(x) .* (1 - tanh(x).^2)"),
    "diag(a) R + diag(b) R = diag(a + b) R": ("diag(x)*A + diag(y)*A", "diag(x + y)*A"),
    # what the user assumes (LABELS: y and Y one-hot by columns, R by rows, t signs)
    "sum(y) = 1 (one-hot)": ("sum(y)", "1"),
    "1'Y = 1', Y 1 = 1 (one-hot)": ("vector(1)'*Y*A + R*vector(1)*x' | Y=n,n R=n,n",
                                    "sum(A, 1) + vector(1)*x'"),
    "y.^(2k) = 1 (signs)": ("t .^ 2", "vector(1)"),
    "y.^(2k+1) = y (signs)": ("t .^ 3", "t"),
    "abs(y) = 1 (signs)": ("abs(t)", "vector(1)"),
    "sign(y) = y (signs)": ("sign(t)", "t"),
}
LABELS = ({"y": "columns", "Y": "columns", "R": "rows"}, {"t"})


def labeled(values: dict, seed: int) -> dict:
    """Values that satisfy LABELS: one-hot columns (rows for R), signs -1 or +1."""
    rng = np.random.default_rng(seed)
    out = dict(values)
    for name, v in values.items():
        if name in LABELS[0]:
            rows = v.T if LABELS[0][name] == "rows" else v
            hot = np.zeros_like(rows)
            hot[rng.integers(0, rows.shape[0], rows.shape[1]), np.arange(rows.shape[1])] = 1
            out[name] = hot.T if LABELS[0][name] == "rows" else hot
        elif name in LABELS[1]:
            out[name] = rng.choice([-1.0, 1.0], size=v.shape)
    return out


def before_node(example) -> E.Node:
    """The example's left-hand side as the IR the language builds (or the node given)."""
    if isinstance(example, E.Node):
        return example
    program, _, decls = example.partition("|")
    shapes = dict(d.split("=") for d in decls.split())
    return infer_shapes(parse(program),
                        dict(declaration(k, v) for k, v in shapes.items())).output


def canonical_operands(node: E.Node) -> E.Node:
    return node.rebuild([simplify(c) for c in node.children]) if node.children else node


def _canonical_transpose(node: E.Node) -> E.Node:
    return simplify(E.Transpose(node))


# How each rule set's caller applies one of its rewrites to a node.
APPLY = {
    "canonical": lambda rule, node: apply_rule(rule, canonical_operands(node)),
    "chain": lambda rule, node: apply_rule(rule, canonical_operands(node)),
    "whole chain": lambda rule, node: apply_rule(rule, canonical_operands(node)),
    "factors": lambda rule, node: apply_rule(rule, canonical_operands(node)),
    "transpose": lambda rule, node: R.push_transpose(node.x, _canonical_transpose)
    if rule.match(node, t=_canonical_transpose) else None,
    "stable forms": lambda rule, node: R.stable_forms([node])[0],
    "stable forms, products": lambda rule, node: R.stable_forms([node])[0],
    "stable forms, softmax": lambda rule, node: R.stable_forms([node])[0],
    "transposes meet": lambda rule, node: R.MEET.rewrite(node),
    "expanded": lambda rule, node:
        simplify(rewrite_dag([simplify(node)], R.EXPANDED, finish=simplify)[0]),
    "paired": lambda rule, node: rewrite_dag([node], R.PAIRED)[0],
    "diagonals": lambda rule, node: _diagonals(rule, node),
    "assumed": lambda rule, node: rewrite_dag([simplify(node)], R.ASSUMED, ctx=LABELS)[0],
}


def _diagonals(rule, node):
    env = rule.match_operands([simplify(t) for t in node.terms], simplify)
    return None if env is None else rule.build(env, simplify)


CASES = [(rs, rule) for rs in R.RULE_SETS for rule in rs]


def _id(case) -> str:
    rs, rule = case
    return f"{rs.name}: {rule.law}"


def problems(rule_set, rule) -> list[str]:
    """What is wrong with `rule` on its example: it does not apply, prints otherwise, or
    changes the value (evaluated at random points, positive and of either sign)."""
    before_spec, after_text = EXAMPLES[rule.law]
    before = before_node(before_spec)
    after = APPLY[rule_set.name](rule, before)
    if after is None:
        return [f"{rule.law} does not apply to its example {to_text(before)}"]
    out = []
    if to_text(after) != after_text:
        out.append(f"{rule.law}: {to_text(before)} -> {to_text(after)}, expected {after_text}")
    if after.shape != before.shape:
        return out + [f"{rule.law} changes the shape {before.shape} -> {after.shape}"]
    dims = assign_dims(before, after)
    verified = 0
    adjust = labeled if rule_set is R.ASSUMED else None
    for a, b in evaluated_pairs(before, after, dims, range(3), adjust):
        verified += 1
        scale = max(1.0, float(np.abs(a).max(initial=0)))
        if float(np.abs(a - b).max(initial=0)) > 1e-9 * scale:
            out.append(f"{rule.law} changes the value: {to_text(before)} = {a.ravel()[:3]}, "
                       f"{to_text(after)} = {b.ravel()[:3]}")
            break
    if not verified:
        out.append(f"{rule.law}: its example could not be evaluated")
    return out


def test_every_rewrite_has_an_example_and_every_example_a_rewrite():
    laws = {rule.law for _, rule in CASES}
    assert not laws - set(EXAMPLES), f"rewrites without an example: {sorted(laws - set(EXAMPLES))}"
    assert not set(EXAMPLES) - laws, f"examples of no rewrite: {sorted(set(EXAMPLES) - laws)}"


def test_every_rule_set_has_its_caller_here():
    assert {rs.name for rs in R.RULE_SETS} == set(APPLY)


@pytest.mark.parametrize("rule_set,rule", CASES, ids=[_id(c) for c in CASES])
def test_each_rewrite_on_its_example_keeps_the_value(rule_set, rule):
    assert not problems(rule_set, rule)


def test_a_wrong_rewrite_is_caught():
    # (A B)' = A' B' (the factors in the wrong order) is shape-correct for square A and B
    rule = next(r for r in R.CANONICAL if r.law == "(A B)' = B' A'")
    wrong = replace(rule, rhs=lambda fs, t: E.MatMul(tuple(t(f) for f in fs)))
    found = problems(R.CANONICAL, wrong)
    assert any("changes the value" in p for p in found), found
    # and the simplifier, given the wrong table, computes the wrong value: the suite's
    # per-node-kind check (test_simplify) sees that rewrite among the ones it records
    rules = tuple(wrong if r is rule else r for r in R.CANONICAL.rules)
    with pytest.MonkeyPatch.context() as mp:
        import matcalc.simplify as S
        mp.setattr(S, "CANONICAL", R.RuleSet("canonical", rules))
        mp.setattr(S, "_MEMO", {})
        assert problems(S.CANONICAL, wrong)
        got = S.simplify(before_node("(A*B)' | A=n,n B=n,n"))
    assert to_text(got) == "A'*B'"
