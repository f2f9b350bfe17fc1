"""`--steps`: the adjoint equations of a program, each verified on its own.

Each intermediate's step is checked against the tail of the program that starts from it
(the intermediate free), each input's step against the whole program. A step may name
any value of the program, the output included (`1 - f^2` for f = tanh(...)): the check
must then recompute that value from the freed intermediate, not draw it at random.
"""
import pytest

import matcalc
from matcalc import expr as E

MLP = "z = W1*x + b1; a = relu(z); o = W2*a + b2; J = 0.5*norm2(y - o)^2"


def steps(d) -> list[str]:
    return [f"{s.name} = {s.text}" for s in d.steps]


def test_mlp_steps_are_the_backprop_equations():
    d = matcalc.derive(MLP, wrt=["W1", "b1", "W2", "b2"])
    assert steps(d) == ["do = o - y", "dW2 = do*a'", "db2 = do", "da = W2'*do",
                        "dz = da .* (z > 0)", "dW1 = dz*x'", "db1 = dz"]
    report = d.check()
    assert report.ok and len(report.results) == 11, report.summary()


@pytest.mark.parametrize("program", [
    MLP,
    "t1 = alpha; f = tanh((t1 + t1)*beta)",                  # a step names the output f
    "t1 = 0.5; H1 = M*t1; f = tanh((t1 + t1)*beta)",         # a constant and a dead value
    "s = W*x + b; p = sigmoid(s); f = -y'*log(p) - (vector(1) - y)'*log(vector(1) - p)",
    "h = tanh(W*x); f = sum(h .* h)",
    "s = W*x; f = logsumexp(s) - y'*s",
    "Z = X*W + b'; H = relu(Z); f = sum(H .* H)/N",
    "u = A*x; v = B*u; w = exp(v); f = sum(w)",
    "z = W*x + b; f = sum(log(z))",                         # z's domain reaches W, x, b
    "h = W*x; f = sum(W*x .* h)",                           # a value computed twice
])
@pytest.mark.parametrize("layout", ["denominator", "numerator"])
def test_every_step_passes_its_own_check(program, layout):
    d = matcalc.derive(program, layout=layout, shapes={"X": "N,d"} if "X" in program else {})
    assert d.steps
    report = d.check()
    assert report.ok, report.summary()
    checked = {k for k in report.results if k.startswith("step ")}
    assert len(checked) == len(d.steps)


def test_a_wrong_step_fails_its_check():
    d = matcalc.derive("t1 = alpha; f = tanh((t1 + t1)*beta)")
    step = next(s for s in d.steps if s.name == "dt1")
    step.adjoint = E.Scale(E.Const(3), step.adjoint)        # dt1 three times too large
    report = d.check()
    assert not report.ok
    assert not report.results["step dt1"].ok
    assert report.results["alpha"].ok


def test_an_error_found_while_writing_the_steps_points_at_the_program():
    # the dead statement t is only simplified when the steps are written (by the check)
    d = matcalc.derive("t = 99999999999999999999999^0.5*1e308; f = sum(W1)")
    with pytest.raises(matcalc.MatcalcError) as info:
        d.check()
    assert info.value.span is not None
    assert "out of the range of double precision" in info.value.render()
    assert "^^^^" in info.value.render()


def test_a_step_that_names_a_value_computed_twice_is_verified():
    # W*x is both h and written again: the step dh is written with the name h (= W*x),
    # which holds at the program's values; the check starts from them
    d = matcalc.derive("h = W*x; f = sum(W*x .* h)")
    report = d.check()
    assert report.ok, report.summary()
    assert report.results["step dh"].ok
