"""A long-lived process (a web worker, a notebook, this test session) keeps only the nodes
something still holds: the hash-consing table and the caches keyed by nodes let the others
go (`matcalc.expr.forget_unused`), once Python's cycle collector has collected the
derivations let go, and what is kept works as before."""
import gc

import numpy as np
import pytest

import matcalc
from matcalc import expr as E
from matcalc import simplify


def mlp(layers: int, x: str = "x") -> str:
    lines = [f"h0 = {x}"] + [f"h{k} = tanh(W{k}*h{k - 1} + b{k})" for k in range(1, layers + 1)]
    return "; ".join(lines + [f"f = sum(h{layers})"])


@pytest.fixture
def low_floor(monkeypatch):
    """Look at every derivation, not only once the table holds FORGET_FLOOR nodes."""
    monkeypatch.setattr(E, "FORGET_FLOOR", 0)
    monkeypatch.setattr(E, "_FORGET_AT", [0])


def table_after(programs) -> list[int]:
    sizes = []
    for program in programs:
        d = matcalc.derive(program)
        d.text()
        d.codegen()
        del d
        gc.collect()              # a derivation is a reference cycle: Python collects it
        sizes.append(len(E._TABLE))
    return sizes


def test_the_table_stays_bounded_over_many_derivations(low_floor):
    gc.collect()
    sizes = table_after(mlp(20, f"mem{i}") for i in range(30))   # names no other test uses
    # every program has new names, so each derivation builds new nodes; without the
    # forgetting the table grows by one derivation's nodes each time
    grown = sizes[10] - sizes[0]
    assert sizes[-1] <= 2 * max(sizes[:10]), sizes
    E._FORGET_AT[0] = 0
    E.forget_unused()
    assert len(E._TABLE) < sizes[0] + grown, (len(E._TABLE), sizes)
    assert not any(isinstance(n, E.Var) and n.name.startswith("mem1") for n in E._TABLE.values())


def test_every_node_cache_forgets_with_the_table(low_floor):
    gc.collect()
    # names no other test uses, so that nothing else in the session holds these nodes
    d = matcalc.derive("f = u_mem'*S_mem*u_mem + sum(exp(W_mem*u_mem))",
                       assume=["S_mem=symmetric"])
    d.text()
    assert any(isinstance(k, tuple) for memo in E._MEMOS for k in memo)   # structure's
    del d
    gc.collect()                  # a derivation is a reference cycle: Python collects it
    E._FORGET_AT[0] = 0
    E.forget_unused()
    for memo in E._MEMOS:
        for key in memo:
            node = key[0] if isinstance(key, tuple) else key
            assert not (isinstance(node, E.Var) and node.name.endswith("_mem")), \
                (node, memo is simplify._MEMO)


def test_a_kept_derivation_works_the_same_after_others_were_forgotten(low_floor):
    keep = matcalc.derive("Y = X*A' + b'; L = sum(tanh(Y))", check=True)
    text, latex, code = keep.text(), keep.latex(), keep.codegen()
    table_after(mlp(10, f"u{i}") for i in range(5))
    E._FORGET_AT[0] = 0
    E.forget_unused()
    assert (keep.text(), keep.latex(), keep.codegen()) == (text, latex, code)
    assert keep.check().ok
    # a node still held is still the one node of its kind
    node = keep.derivatives["A"].node
    assert node.rebuild(node.children) is node
    again = matcalc.derive("Y = X*A' + b'; L = sum(tanh(Y))")
    assert again.derivatives["A"].node is node
    assert again.text() == text


def test_generated_code_of_a_derivation_made_before_a_forget_runs(low_floor):
    keep = matcalc.derive("f = sum(exp(A*x))")
    table_after(mlp(8, f"v{i}") for i in range(4))
    E._FORGET_AT[0] = 0
    E.forget_unused()
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    value, grads = keep.compile().value_and_gradient(A=A, x=x)
    assert np.isclose(value, np.exp(A @ x).sum())
    assert np.allclose(grads["A"], np.outer(np.exp(A @ x), x))
    assert np.allclose(grads["x"], A.T @ np.exp(A @ x))


def test_headroom_forgets_before_the_table_reaches_its_mark(monkeypatch):
    # a web worker forgets between requests, before the mark, not during the next one
    gc.collect()
    d = matcalc.derive("f = sum(exp(W_room*x_room))")
    d.text()
    del d
    gc.collect()
    def alive():
        return any(isinstance(n, E.Var) and n.name == "W_room" for n in E._TABLE.values())
    monkeypatch.setattr(E, "_FORGET_AT", [len(E._TABLE) + 1000])
    E.forget_unused()
    assert alive()                              # under the mark: nothing done
    E.forget_unused(headroom=1000)
    assert not alive()
