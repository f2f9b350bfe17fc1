"""Structured matrices (issue 17): declarations, both conventions, simplification with
S' = S, checks along structured directions, claims and generated code.

The conventions (Srinivasan & Panda 2019, arXiv:1911.06491; Matrix Cookbook 2.8): for a
symmetric S with unconstrained gradient G, the projected gradient is (G + G')/2 and the
derivative with respect to the independent entries is G + G' - diag(diag(G)).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.main import cli
from matcalc.errors import MatcalcError


def grad(program, name, assume, convention="projected", **kw):
    return matcalc.derive(program, assume=assume, convention=convention, **kw)[name].text


# ---- the examples ------------------------------------------------------------------

def test_quadratic_form_with_symmetric_matrix():
    # d x'Sx/dx = (S + S')x = 2Sx; d x'Sx/dS = x x' (symmetric already)
    d = matcalc.derive("x'*S*x", assume={"S": "symmetric"})
    assert d["x"].text == "2*S*x"
    assert d["S"].text == "x*x'"


def test_logdet_of_spd_matrix_in_both_conventions():
    # Cookbook (57): d log det S/dS = inv(S)'; symmetric: inv(S); entries: 2 inv(S) - diag
    assert grad("logdet(S)", "S", {"S": "spd"}) == "inv(S)"
    assert grad("logdet(S)", "S", {"S": "spd"}, "entries") == "2*inv(S) - diag(diag(inv(S)))"


def test_trace_form_is_the_symmetric_part():
    # Cookbook (100): d tr(AS)/dS = A'; within the symmetric matrices (A + A')/2
    assert grad("tr(A*S)", "S", {"S": "symmetric"}) == "0.5*(A + A')"


def test_gaussian_negative_log_likelihood():
    nll = "0.5*logdet(S) + 0.5*(x - m)'*inv(S)*(x - m)"
    d = matcalc.derive(nll, assume={"S": "spd"})
    assert d["S"].text == "0.5*(inv(S) - inv(S)*(x - m)*(x - m)'*inv(S))"
    assert d["m"].text == "-inv(S)*(x - m)"
    assert d.check().ok


def test_no_transpose_of_a_symmetric_factor_remains():
    for layout in ("denominator", "numerator"):
        d = matcalc.derive("x'*inv(S)*A*inv(S)'*x + tr(S'*B)", assume={"S": "spd"},
                           layout=layout)
        for name in d:
            assert "S'" not in d[name].text and "inv(S)'" not in d[name].text, d[name].text


def test_the_header_states_the_convention_in_every_format():
    d = matcalc.derive("logdet(S)", assume={"S": "spd"}, convention="entries")
    assert "# convention: entries" in d.text()
    assert "% convention: entries" in d.latex() or "convention: entries" in d.latex()
    assert "# convention: entries" in d.numpy_code()
    js = d.to_json()
    assert js["assumptions"] == {"S": "spd"} and js["convention"] == "entries"
    assert "convention: projected" in matcalc.derive("logdet(S)", assume={"S": "spd"}).text()


# ---- declarations: the API, the CLI and the errors --------------------------------------------

def test_cli_assume_and_convention_in_json():
    r = CliRunner().invoke(cli, ["derive", "x'*S*x", "--assume", "S=symmetric",
                                 "--convention", "entries", "--format", "json"])
    assert r.exit_code == 0, r.output
    js = json.loads(r.stdout)
    assert js["assumptions"] == {"S": "symmetric"} and js["convention"] == "entries"
    assert js["derivatives"]["S"]["text"] == "2*x*x' - diag(x.^2)"


def test_a_structured_variable_left_unpinned_is_made_square():
    # tr(A*S) types S as m x n; declaring S symmetric makes it square
    d = matcalc.derive("tr(A*S)", assume={"S": "symmetric"})
    assert d.inputs["S"].shape[0] == d.inputs["S"].shape[1]


def test_non_square_declaration_is_a_user_error_with_span():
    r = CliRunner().invoke(cli, ["derive", "x'*S*y", "--assume", "S=symmetric",
                                 "--shape", "x=n", "--shape", "y=m"])
    assert r.exit_code == 2
    assert "S is n x m, not a square matrix" in r.output
    assert "     ^" in r.output                              # the caret under S
    with pytest.raises(MatcalcError, match="not a square matrix"):
        matcalc.derive("x'*S*x", assume={"x": "symmetric"})


def test_a_tensor_declared_symmetric_is_a_user_error_not_a_crash():
    r = CliRunner().invoke(cli, ["derive", "Z[i,j] = X[i,k]*A[j,k,l]*Y[i,l]",
                                 "--assume", "A=symmetric"])
    assert r.exit_code == 2, r.output
    assert "A is a tensor (" in r.output and "not a square matrix" in r.output


@pytest.mark.parametrize("assume, message", [
    ({"S": "sym"}, "the structure is one of"),
    ({"Q": "spd"}, "no variable Q"),
])
def test_bad_declarations(assume, message):
    with pytest.raises(MatcalcError, match=message):
        matcalc.derive("x'*S*x", assume=assume)


def test_unknown_convention_is_a_user_error():
    with pytest.raises(MatcalcError, match="unknown convention"):
        matcalc.derive("x'*S*x", assume={"S": "spd"}, convention="cookbook")


def test_web_api_takes_assume_and_convention():
    from matcalc.web.api import handle
    body = json.dumps({"program": "logdet(S)", "assume": {"S": "spd"},
                       "convention": "entries"}).encode()
    reply = handle("derive", body)
    assert reply.status == 200, reply.body
    js = json.loads(reply.body)
    assert js["derivatives"]["S"]["text"] == "2*inv(S) - diag(diag(inv(S)))"
    assert js["assumptions"] == {"S": "spd"}


# ---- claims that know the conventions -----------------------------------------------------

def test_cookbook_answer_is_named_as_the_entries_convention():
    d = matcalc.derive("logdet(S)", assume={"S": "spd"})
    r = d.verify_claim("S = 2*inv(S) - diag(diag(inv(S)))")
    assert not r.ok and r.verdict == "entries"
    assert "RIGHT IN THE ENTRIES CONVENTION" in r.message and "Matrix Cookbook 2.8" in r.message
    assert "(G + G')/2: S = inv(S)" in r.message


def test_projected_answer_under_the_entries_convention_is_named():
    d = matcalc.derive("logdet(S)", assume={"S": "spd"}, convention="entries")
    r = d.verify_claim("S = inv(S)")
    assert not r.ok and r.verdict == "projected"
    assert d.verify_claim("S = 2*inv(S) - diag(diag(inv(S)))").ok


def test_unconstrained_gradient_is_right_only_without_the_declaration():
    # Cookbook (100): d tr(AS)/dS = A', which is not symmetric
    d = matcalc.derive("tr(A*S)", assume={"S": "symmetric"})
    r = d.verify_claim("S = A'")
    assert not r.ok and r.verdict == "unconstrained"
    assert "RIGHT ONLY WITHOUT THE DECLARATION" in r.message
    assert d.verify_claim("S = (A + A')/2").ok


def test_a_claim_right_because_of_symmetry_says_what_it_equals():
    d = matcalc.derive("x'*A*x", assume={"A": "symmetric"})
    r = d.verify_claim("x = (A + A')*x")
    assert r.ok and r.message.endswith("with A symmetric, yours equals 2*A*x")
    assert not d.verify_claim("x = A*x").ok


def test_cli_claim_in_the_other_convention_exits_1():
    r = CliRunner().invoke(cli, ["check", "logdet(S)", "--assume", "S=spd", "--no-check",
                                 "--claim", "S = 2*inv(S) - diag(diag(inv(S)))"])
    assert r.exit_code == 1 and "ENTRIES CONVENTION" in r.output
    r = CliRunner().invoke(cli, ["check", "logdet(S)", "--assume", "S=spd", "--no-check",
                                 "--convention", "entries",
                                 "--claim", "S = 2*inv(S) - diag(diag(inv(S)))"])
    assert r.exit_code == 0, r.output


# ---- Hessians and H v with respect to structured matrices -----------------------------------

HESSIAN_CASES = [
    ("x'*S*x", {"S": "symmetric"}, None),
    ("logdet(S)", {"S": "spd"}, None),
    ("tr(S*A*S)", {"S": "symmetric"}, ["S"]),
    ("0.5*logdet(S) + 0.5*(x - m)'*inv(S)*(x - m)", {"S": "spd"}, ["S", "m"]),
    ("x'*L*L'*x", {"L": "lower"}, ["L"]),
    ("x'*D*D*x", {"D": "diagonal"}, ["D", "x"]),
]


@pytest.mark.parametrize("mode", ["hessian", "hvp"])
@pytest.mark.parametrize("convention", ["projected", "entries"])
@pytest.mark.parametrize("program, assume, wrt", HESSIAN_CASES)
def test_second_derivatives_are_checked_along_structured_moves(program, assume, wrt,
                                                               convention, mode):
    d = matcalc.derive(program, assume=assume, convention=convention, mode=mode, wrt=wrt)
    report = d.check()
    assert report.ok, report.summary()


def test_logdet_hessian_is_the_projected_map():
    # d inv(S) = -inv(S) dS inv(S); within the symmetric matrices dS = (dS + dS')/2
    d = matcalc.derive("logdet(S)", assume={"S": "spd"}, mode="hessian")
    assert d["S"].text == "dS ↦ -0.5*inv(S)*(dS + dS')*inv(S)"


# ---- generated code ----------------------------------------------------------------------

def test_generated_module_documents_the_convention_and_computes_it():
    d = matcalc.derive("0.5*logdet(S) + 0.5*(x - m)'*inv(S)*(x - m)", assume={"S": "spd"},
                       convention="entries")
    source = d.codegen()
    doc = source.split('"""')[1]
    assert "S: symmetric positive definite" in doc
    assert "Gradient convention: entries" in doc
    mod = d.compile()
    rng = np.random.default_rng(0)
    b = rng.standard_normal((3, 3))
    S = b @ b.T / 3 + np.eye(3)
    x, m = rng.standard_normal(3), rng.standard_normal(3)
    got = mod.gradient(S, x, m)["S"]
    inv = np.linalg.inv(S)
    r = np.outer(x - m, x - m)
    g = 0.5 * inv - 0.5 * inv @ r @ inv                  # symmetric: G = sym(G)
    np.testing.assert_allclose(got, 2 * g - np.diag(np.diag(g)), rtol=1e-10)


def test_steps_of_a_structured_input_use_its_convention():
    for convention in ("projected", "entries"):
        d = matcalc.derive("T = A*S; f = tr(T)", assume={"S": "symmetric"},
                           convention=convention)
        step = {s.of: s for s in d.steps}["S"]
        assert "'" in step.text and step.text != "A'*dT", step.text   # not the bare G
        report = d.check()
        assert report.ok, report.summary()


def test_a_greek_name_declared_spd_is_a_matrix():
    # Sigma is a scalar by the ML naming convention, unless declared structured
    d = matcalc.derive("logdet(Sigma)", assume={"Sigma": "spd"})
    assert d["Sigma"].text == "inv(Sigma)"
    assert d.inputs["Sigma"].shape[0] == d.inputs["Sigma"].shape[1] != 1


# ---- orthogonal matrices: the Riemannian gradient (issue 17, item 7) -----------------------

def _expm(a):
    """exp(A) by scaling and squaring a Taylor series (A small and skew here)."""
    s = max(0, int(np.ceil(np.log2(max(np.abs(a).sum(), 1e-300)))) + 1)
    b = a / 2 ** s
    out, term = np.eye(len(a)), np.eye(len(a))
    for k in range(1, 20):
        term = term @ b / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


ORTHOGONAL = [
    ("tr(A*Q)", lambda v: np.trace(v["A"] @ v["Q"])),
    ("norm2(Q*x - y)^2", lambda v: np.sum((v["Q"] @ v["x"] - v["y"]) ** 2)),
    ("tr(Q'*A*Q*B)", lambda v: np.trace(v["Q"].T @ v["A"] @ v["Q"] @ v["B"])),
    ("norm2(Q - A)^2", lambda v: np.sum((v["Q"] - v["A"]) ** 2)),
    ("x'*Q'*A*Q*x", lambda v: v["x"] @ v["Q"].T @ v["A"] @ v["Q"] @ v["x"]),
]


@pytest.mark.parametrize("program, f", ORTHOGONAL, ids=[p for p, _ in ORTHOGONAL])
def test_orthogonal_gradient_along_curves_on_the_group(program, f):
    # the Riemannian gradient G - Q sym(Q'G) is tangent (Q' grad is skew) and gives the
    # derivative of f along every curve Q expm(tK), K skew
    d = matcalc.derive(program, assume={"Q": "orthogonal"}, shapes={"Q": "n,n"})
    rng = np.random.default_rng(3)
    n = 3
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    values = {"Q": q}
    for name, var in d.inputs.items():
        if name != "Q":
            values[name] = rng.standard_normal(n if var.shape[1] == 1 else (n, n))
    g = np.asarray(eval(d["Q"].numpy, {"np": np}, dict(values)))
    np.testing.assert_allclose(q.T @ g, -(q.T @ g).T, atol=1e-10)     # tangent
    for i in range(n):
        for j in range(i + 1, n):
            k = np.zeros((n, n))
            k[i, j], k[j, i] = 1.0, -1.0
            h = 1e-3
            along = [f({**values, "Q": q @ _expm(s * k)}) for s in (2 * h, h, -h, -2 * h)]
            want = (-along[0] + 8 * along[1] - 8 * along[2] + along[3]) / (12 * h)
            assert abs(np.sum(g * (q @ k)) - want) <= 1e-7 * max(1.0, abs(want))
    assert d.check().ok


def test_orthogonal_refuses_the_entries_convention_and_hessians():
    with pytest.raises(MatcalcError, match="not independent"):
        matcalc.derive("tr(A*Q)", assume={"Q": "orthogonal"}, convention="entries")
    with pytest.raises(MatcalcError, match="not implemented"):
        matcalc.derive("tr(A*Q)", assume={"Q": "orthogonal"}, mode="hessian")


def test_unconstrained_claim_for_an_orthogonal_matrix_is_named():
    d = matcalc.derive("tr(A*Q)", assume={"Q": "orthogonal"})
    r = d.verify_claim("Q = A'")
    assert r.verdict == "unconstrained" and "tangent" in r.message
    assert d.verify_claim("Q = A' - Q*(Q'*A' + A*Q)/2").ok


@pytest.mark.parametrize("convention", ["projected", "entries"])
def test_jacobian_with_respect_to_a_structured_matrix_is_checked(convention):
    d = matcalc.derive("y = S*x", assume={"S": "symmetric"}, mode="jacobian",
                       convention=convention)
    assert d.check().ok
    if convention == "projected":
        assert d["S"].text == "dS ↦ 0.5*(dS + dS')*x"
