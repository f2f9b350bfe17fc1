"""Every rewrite of the simplifier keeps the value, checked by random evaluation.

The simplifier is a table (`matcalc.simplify._NORMALISERS`): for each node type, the
function that brings a node whose children are canonical to its canonical form. Here
every entry of the table is wrapped so that each rewrite it performs while the whole test
corpus is derived (outputs and gradients, every layout's raw adjoints) is recorded as a
pair (before, after); each pair is then evaluated at random points by the oracle's own
NumPy interpreter (`oracle.np_eval`, which shares no code with matcalc's) and the two
values must agree. A table entry that is never exercised, or a rewrite that changes a
value, fails the test: a new rewrite is covered automatically.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
from oracle import assign_dims, evaluated_pairs
from test_corpus import CORPUS

import matcalc
import matcalc.simplify as simplify_module
from matcalc import expr as E
from matcalc.printing import to_text

# Entries the corpus reaches only inside a gradient: a trace, log-determinant or 1-norm
# that scales another variable's gradient.
SUPPLEMENT = ["tr(2*X)*sum(z)", "tr(X')*sum(z)", "tr(x*y')*sum(z)", "tr(diag(x))*sum(z)",
              "tr(alpha)*sum(z)", "logdet(X')*sum(z)", "norm1(X')*sum(z)",
              "norm1(-2*x)*sum(z)", "alpha*sum(tril(X))", "sum(triu(X))*beta"]
PER_TYPE = 250          # rewrites evaluated per node type (a deterministic sample)
POINTS = 2              # random points per rewrite: positive entries, then either sign
RTOL = 1e-9


def _recording(table: dict, pairs: dict, sizes: dict):
    """The table with every normaliser wrapped to record its non-trivial rewrites, each
    with the dimension sizes its program needs (`sizes`, updated by the caller)."""
    def wrap(kind, f):
        def recorded(n):
            out = f(n)
            if out is not n:
                pairs.setdefault(kind, {}).setdefault(n, (out, dict(sizes)))
            return out
        return recorded
    return {kind: wrap(kind, f) for kind, f in table.items()}


@pytest.fixture(scope="module")
def rewrites():
    """{node type: {before: (after, sizes)}} over the corpus, recorded on a cold memo."""
    pairs: dict[type, dict[E.Node, tuple]] = {}
    current_sizes: dict = {}
    table = simplify_module._NORMALISERS
    memo = simplify_module._MEMO
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(simplify_module, "_MEMO", {})     # every rewrite runs, none is a lookup
        mp.setattr(simplify_module, "_NORMALISERS", _recording(table, pairs, current_sizes))
        for program, shapes, sizes, kinds in CORPUS:
            current_sizes.clear()
            current_sizes.update(sizes)       # e.g. N > d, so that X'*X is invertible
            for layout in ("denominator", "numerator"):
                matcalc.derive(program, shapes=shapes, kinds=kinds, layout=layout)
        current_sizes.clear()
        for program in SUPPLEMENT:
            matcalc.derive(program)
        # 1 x 1 leaves that the builders never make but the table normalises all the same
        x = E.Var("x", ("n", 1))
        for leaf in (E.Zero((1, 1)), E.Ones((1, 1)), E.Identity(1), E.DimValue(3)):
            simplify_module.simplify(E.Scale(leaf, x))
    assert simplify_module._MEMO is memo
    return table, pairs


def test_every_entry_of_the_rewrite_table_is_exercised(rewrites):
    table, pairs = rewrites
    idle = sorted(kind.__name__ for kind in table if not pairs.get(kind))
    assert not idle, f"table entries never rewriting anything on the corpus: {idle}"


def _sample(pairs: dict, kind: type) -> list[tuple[E.Node, tuple]]:
    """A deterministic sample: the PER_TYPE smallest rewrites by a hash of their text."""
    items = list(pairs.get(kind, {}).items())
    items.sort(key=lambda p: zlib.crc32(repr(p[0]).encode()))
    return items[:PER_TYPE]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    scale = max(1.0, float(np.abs(a).max(initial=0)), float(np.abs(b).max(initial=0)))
    return a.shape == b.shape and float(np.abs(a - b).max(initial=0)) <= RTOL * scale


@pytest.mark.parametrize("kind", sorted(simplify_module._NORMALISERS, key=lambda k: k.__name__),
                         ids=lambda k: k.__name__)
def test_each_rewrite_keeps_the_value(rewrites, kind):
    _, pairs = rewrites
    sample = _sample(pairs, kind)
    verified, wrong = 0, []
    for before, (after, sizes) in sample:
        dims = {**assign_dims(before, after), **sizes}
        for a, b in evaluated_pairs(before, after, dims, range(POINTS)):
            verified += 1
            if not _close(a, b):
                wrong.append(f"{before}  ->  {after}: {a.ravel()[:3]} vs {b.ravel()[:3]}")
                break
    assert not wrong, f"{len(wrong)} {kind.__name__} rewrites change the value:\n" + \
        "\n".join(wrong[:10])
    if sample:
        assert verified >= len(sample) // 2, \
            f"only {verified} of {len(sample)} {kind.__name__} rewrites could be evaluated"


def test_a_row_of_ones_times_a_column_of_ones_is_the_length_without_a_factor_one():
    # 1_N' 1_N = N: a number, not N times the 1 x 1 matrix of ones (printed N*1)
    ones_row, ones_col = E.Ones((1, "N")), E.Ones(("N", 1))
    v = E.Var("v", (1, "m"))
    assert to_text(simplify_module.simplify(E.MatMul((ones_row, ones_col, v)))) == "N*v"
    # (H v)_b of ||X + 1 b'||^2: 2 (1' 1) v_b = 2 N v_b (the common 2 taken out)
    hvp = matcalc.derive("norm2(X + b')^2", mode="hvp", shapes={"X": "N,m"})
    assert hvp["b"].text == "2*(sum(V_X, 1)' + N*v_b)"


def test_a_sign_in_front_is_no_reason_to_multiply_out():
    # d/dx sum(1 ./ (1 + exp(-x))) = sigma(x) (1 - sigma(x)) (Bishop (4.88)), as for
    # sum(sigmoid(x)): the -1 that the chain rule leaves in front does not make
    # sigma^2 - sigma look smaller than -sigma (1 - sigma)
    d = matcalc.derive("sum(1 ./ (1 + exp(-x)))", check=True)
    assert d["x"].text == "sigmoid(x) .* (1 - sigmoid(x))"


def test_the_logistic_derivative_of_a_zero_matrix_is_kept_not_rewritten_without_end():
    # sigmoid(u) .* sigmoid(-u) = sigmoid(u) .* (1 - sigmoid(u)) with u = 0 met itself again
    # (-0 is 0): its `when` now holds inside products too
    z = E.Zero(("p", "q"))
    out = simplify_module.simplify(E.Hadamard((E.Func("sigmoid", z),
                               E.Add((E.Ones(("p", "q")), E.Scale(E.Const(-1), E.Func("sigmoid", z)))))))
    assert to_text(out) == "sigmoid(matrix(0)) .* (1 - sigmoid(matrix(0)))"
