"""Issue 20: a wrong claim is diagnosed (matcalc.diagnosis) in every format, only with
transformations that were verified; a claim's own errors are user errors."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import matcalc
from matcalc import diagnosis
from matcalc.cli.main import cli
from matcalc.errors import MatcalcError


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_the_api_names_the_factor_and_the_formula_it_leads_to():
    d = matcalc.derive("0.5*norm2(W*x - y)^2")
    r = d.verify_claim("W = 2*(W*x - y)*x'")
    assert r.verdict == "wrong"
    first = r.diagnosis[0]
    assert (first.kind, first.detail) == ("factor", "2")
    assert "off by a factor of 2" in first.message
    assert d.verify_claim(first.fixed).ok
    assert r.to_json()["diagnosis"][0] == first.to_json()
    from matcalc.claims import verify_claim
    assert verify_claim(d, "W = 2*(W*x - y)*x'", diagnose=False).diagnosis == ()


def test_the_cli_prints_the_diagnosis_under_the_verdict():
    result = run("check", "log(det(X))", "--no-check", "--claim", "X = inv(X)")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("X: WRONG")
    assert lines[3].startswith("  diagnosis: transposed: yours is df/dX in the numerator "
                               "layout")
    assert lines[4].strip() == "that is right: X = inv(X)'"


def test_a_diagnosis_names_the_statement_a_missing_term_comes_from():
    d = matcalc.derive("z = W1*x\nh = relu(z)\no = W2*h\n"
                       "J = 0.5*norm2(o - y)^2 + lambda/2*(norm2(W1)^2 + norm2(W2)^2)")
    (g,) = d.verify_claim("W2 = (o - y)*h'").diagnosis
    assert g.kind == "term" and "(in J, line 4)" in g.message and "lambda*W2" in g.message
    assert d.verify_claim(g.fixed).ok


def test_only_verified_transformations_are_named(monkeypatch):
    # every proposal passes the one-point screen: the finite-difference check alone
    # must still refuse a factor of 3, which no family proposes
    monkeypatch.setattr(diagnosis._Screen, "agrees", lambda self, node, target=None: True)
    d = matcalc.derive("0.5*norm2(W*x - y)^2")
    r = d.verify_claim("W = 3*(W*x - y)*x'")
    assert r.verdict == "wrong" and r.diagnosis == ()
    assert [g.detail for g in d.verify_claim("W = -(W*x - y)*x'").diagnosis] == ["-1"]


def test_a_label_assumption_is_named_as_the_option_to_add():
    d = matcalc.derive("-y'*log(softmax(s))")
    (g,) = d.verify_claim("s = softmax(s) - y").diagnosis
    assert (g.kind, g.option, g.fixed) == ("label", "--onehot y", "")
    assert matcalc.derive("-y'*log(softmax(s))", onehot=["y"]) \
        .verify_claim("s = softmax(s) - y").ok


def test_the_numerator_layout_is_diagnosed_in_its_own_terms():
    d = matcalc.derive("z = x'*A*y", layout="numerator")
    r = d.verify_claim("A = x*y'")
    assert [(g.kind, g.detail) for g in r.diagnosis] == [("layout", "denominator")]
    assert d.verify_claim(r.diagnosis[0].fixed).ok


@pytest.mark.parametrize("claim, column, width", [
    ("W = q*X'", 5, 1),                 # a name the program lacks
    ("W = dZ*X' + lambda*W", 13, 6),
])
def test_a_claim_with_a_name_the_program_lacks_is_a_user_error(claim, column, width):
    d = matcalc.derive("Z = W*X + b*vector(1)'")
    with pytest.raises(MatcalcError) as e:
        d.verify_claim(claim)
    assert e.value.kind == "name" and e.value.source == claim
    rendered = e.value.render().splitlines()
    assert rendered[0].startswith(f"line 1, column {column}: the program has no")
    assert rendered[2] == "  " + " " * (column - 1) + "^" * width
    result = run("check", "Z = W*X + b*vector(1)'", "--no-check", "--claim", claim)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "the program has no" in result.output


def test_a_claim_that_misuses_a_function_gets_that_error_not_wrong_shape():
    d = matcalc.derive("Z = W*X + b*vector(1)'")
    with pytest.raises(MatcalcError) as e:
        d.verify_claim("b = sum(dZ, 1, 2)")
    assert "takes" in e.value.message and e.value.source == "b = sum(dZ, 1, 2)"
    with pytest.raises(MatcalcError) as e:
        d.verify_claim("b = dZ*(vector(1)")
    assert e.value.kind == "syntax"
    assert run("check", "Z = W*X + b*vector(1)'", "--no-check", "--claim",
               "b = sum(dZ, 1, 2)").exit_code == 2


def test_the_web_api_answers_the_diagnosis_and_places_an_unknown_name():
    import json

    from matcalc.web.api import derive_answer, read_request
    request = read_request(json.dumps({"program": "Z = W*X + b*vector(1)'",
                                       "claims": ["b = dZ", "W = dZ*X' + q"],
                                       "check": False}).encode())
    claims = derive_answer(request)["claims"]
    assert claims[0]["verdict"] == "wrong shape"
    assert claims[0]["diagnosis"] == [{
        "kind": "bias", "detail": "sum over the batch", "fixed": "b = sum(dZ, 2)",
        "option": None, "message": "b is added to every sample: its gradient sums yours "
                                   "over the batch"}]
    assert (claims[1]["verdict"], claims[1]["column"], claims[1]["where"]) == \
        ("error", 13, "claim")
