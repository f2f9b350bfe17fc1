"""The JSON API of `matcalc serve` (SPEC section 8), through Starlette's TestClient.

The oracle of a 200 answer is the Python API itself: the body is `Derivation.to_json()`
of the same program and options, plus the verdicts. Errors are checked against their
exact place in the program. The server's guards (Host header, origin, body size, time
and memory limits) are checked by what a client sees.
"""
import json
import time

import pytest

starlette = pytest.importorskip("starlette", reason="the web extra is not installed")

from starlette.testclient import TestClient

import matcalc
from matcalc.web.server import create_app

PORT = 8000
BASE = f"http://127.0.0.1:{PORT}"


def client_for(**options) -> TestClient:
    return TestClient(create_app("127.0.0.1", PORT, **options), base_url=BASE)


@pytest.fixture(scope="module")
def client():
    with client_for(workers=2) as c:
        yield c


def derive(client, **body):
    return client.post("/api/derive", json=body)


def without_verdicts(payload: dict) -> dict:
    """The answer minus what the API adds to SPEC section 4's JSON."""
    out = {k: v for k, v in payload.items() if k not in ("equations", "check", "claims")}
    out["derivatives"] = {n: {k: v for k, v in d.items() if k != "check"}
                          for n, d in payload["derivatives"].items()}
    if "steps" in out:
        out["steps"] = [{k: v for k, v in s.items() if k not in ("check", "equation")}
                        for s in payload["steps"]]
    return out


# ---- 200: SPEC section 4's JSON with verdicts ------------------------------------------

def test_a_gradient_is_answered_with_the_spec_json_and_a_verdict_per_formula(client):
    # d x'Ax / dx = (A + A') x   (Matrix Cookbook (81))
    r = derive(client, program="x'*A*x")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    payload = r.json()
    assert payload["derivatives"]["x"]["text"] == "(A + A')*x"
    assert payload["derivatives"]["x"]["check"]["verdict"] == "verified"
    assert payload["derivatives"]["A"]["check"]["verdict"] == "verified"
    assert payload["check"]["verdict"] == "verified"
    assert payload["equations"]["x"] == "\\frac{\\partial f}{\\partial x} = (A + A^\\top) x"
    assert without_verdicts(payload) == matcalc.derive("x'*A*x").to_json()


CASES = {
    "backprop, shapes as lists": ({"program": "Y = X*A' + b'", "shapes": {"X": ["N", "n"]}},
                                  {"shapes": {"X": ("N", "n")}}),
    "numerator layout, wrt": ({"program": "z = x'*A*y", "layout": "numerator", "wrt": ["A", "x"]},
                              {"layout": "numerator", "wrt": ["A", "x"]}),
    "shapes as strings, integers": ({"program": "tr(A*X*B) + c", "wrt": "X",
                                     "shapes": {"X": "n,3", "c": []}},
                                    {"shapes": {"X": "n,3", "c": "scalar"}, "wrt": ["X"]}),
    "one-hot labels": ({"program": "-y'*log(softmax(s))", "onehot": ["y"]}, {"onehot": ["y"]}),
    "matrixcalculus.org kinds": ({"program": "a*x'*x", "kinds": "mc"}, {"kinds": "mc"}),
    "hessian with signs": ({"program": "sum(log(vector(1) + exp(-y .* (X*w))))",
                            "mode": "hessian", "wrt": ["w"], "signs": ["y"]},
                           {"mode": "hessian", "wrt": ["w"], "signs": ["y"]}),
    "jacobian": ({"program": "softmax(x)", "mode": "jacobian"}, {"mode": "jacobian"}),
    "hvp": ({"program": "x'*A*x", "mode": "hvp"}, {"mode": "hvp"}),
}


@pytest.mark.parametrize("body, api", CASES.values(), ids=CASES.keys())
def test_the_clis_options_by_name_give_what_the_python_api_gives(client, body, api):
    r = derive(client, **body)
    assert r.status_code == 200, r.text
    payload = r.json()
    assert without_verdicts(payload) == matcalc.derive(body["program"], **api).to_json()
    assert payload["check"]["verdict"] == "verified"
    for entry in payload["derivatives"].values():
        assert entry["check"]["verdict"] == "verified"


def test_steps_come_with_their_equations_and_verdicts(client):
    program = "z = W1*x + b1; a = relu(z); J = 0.5*norm2(y - a)^2"
    payload = derive(client, program=program, steps=True).json()
    assert without_verdicts(payload) == matcalc.derive(program).to_json(steps=True)
    steps = {s["name"]: s for s in payload["steps"]}
    assert steps["dz"]["text"] == "da .* (z > 0)"
    assert steps["dz"]["equation"] == ("\\frac{\\partial J}{\\partial z} = \\frac{\\partial J}"
                                       "{\\partial a} \\odot \\mathbb{I}[z > 0]")
    assert all(s["check"]["verdict"] == "verified" for s in payload["steps"])


def test_the_check_can_be_left_out(client):
    payload = derive(client, program="x'*A*x", check=False).json()
    assert payload["check"] is None
    assert "check" not in payload["derivatives"]["x"]


def test_claims_get_a_verdict_each_and_an_unreadable_one_its_place(client):
    claims = ["x = (A + A')*x", "x = 2*A*x", "x = x'*A", "x = (A +"]
    payload = derive(client, program="x'*A*x", claims=claims).json()
    verdicts = [(c["claim"], c["verdict"], c["ok"]) for c in payload["claims"]]
    assert verdicts == [(claims[0], "right", True), (claims[1], "wrong", False),
                        (claims[2], "wrong shape", False), (claims[3], "error", False)]
    assert payload["claims"][1]["correct"] == "(A + A')*x"
    unreadable = payload["claims"][3]
    # the unclosed parenthesis, placed in the claim as written (the formula starts at 5)
    assert (unreadable["where"], unreadable["line"], unreadable["column"]) == ("claim", 1, 5)
    assert unreadable["error"] == "unbalanced parenthesis: '(' is never closed"


# ---- 422: a user error, with its place -------------------------------------------------------

def span_of(program: str, payload: dict) -> str:
    line = program.split("\n")[payload["line"] - 1]
    return line[payload["column"] - 1:payload["end_column"] - 1]


def test_a_shape_error_is_422_with_the_line_and_columns_of_its_span(client):
    program = "Y = X*A + b'"
    r = derive(client, program=program, shapes={"X": ["N", "n"], "A": ["m", "n"]})
    assert r.status_code == 422
    payload = r.json()
    assert payload["error"] == "cannot multiply X (N x n) by A (m x n)"
    assert (payload["line"], payload["column"], payload["end_column"]) == (1, 5, 8)
    assert span_of(program, payload) == "X*A"
    assert payload["kind"] == "shape" and payload["where"] == "program"
    assert payload["hint"] == "the inner dimensions n and m differ; did you mean X*A' ?"


def test_a_syntax_error_on_a_later_line_is_placed_on_that_line(client):
    program = "h = relu(W*x)\nf = sum(h) +* 2"
    payload = derive(client, program=program).json()
    assert payload["kind"] == "syntax"
    assert (payload["line"], payload["column"], payload["end_column"]) == (2, 13, 14)
    assert span_of(program, payload) == "*"


def test_columns_count_characters_not_bytes(client):
    program = "f = sum(x ⊙ y)ᵀ + * 2"   # three-byte characters before the error
    payload = derive(client, program=program).json()
    assert span_of(program, payload) == "*"


@pytest.mark.parametrize("body, message", [
    ({"program": "x'*A*x", "shapes": {"A": "n,?"}}, "'?' is not a dimension"),
    ({"program": "x'*A*x", "layout": "sideways"}, "unknown layout"),
    ({"program": "x'*A*x", "layout": 3}, "layout must be a string"),
    ({"program": "x'*A*x", "wrt": ["q"]}, "the program has no variable q"),
    ({"program": "x'*A*x", "steps": "yes"}, "steps must be true or false"),
    ({"program": "x'*A*x", "shape": {"A": "n,n"}}, "unknown field 'shape'"),
    ({"layout": "numerator"}, 'the request has no "program"'),
])
def test_a_bad_option_is_422_without_a_place_in_the_program(client, body, message):
    r = derive(client, **body)
    assert r.status_code == 422
    payload = r.json()
    assert message in payload["error"]
    assert payload["line"] is None and payload["where"] == "options"


def test_a_body_that_is_not_json_is_422(client):
    r = client.post("/api/derive", content=b"{program: x", headers={"content-type":
                                                                   "application/json"})
    assert r.status_code == 422
    assert r.json()["error"] == "the request body is not valid JSON (UTF-8)"


def test_an_input_over_the_clis_size_limit_is_refused_by_matcalcs_own_limit(client):
    from matcalc.parse import MAX_SOURCE_CHARS
    r = derive(client, program="x" + " " * MAX_SOURCE_CHARS)
    assert r.status_code == 422
    assert r.json()["error"].startswith("input too long")


# ---- the generated module ---------------------------------------------------------------------

def test_codegen_is_a_download_of_the_module_the_api_generates(client):
    body = {"program": "Y = X*A' + b'", "shapes": {"X": ["N", "n"]}}
    r = client.post("/api/codegen", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/x-python; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="Y_gradient.py"'
    assert r.text == matcalc.derive(body["program"], shapes={"X": ("N", "n")}).codegen()


def test_codegen_of_a_bad_program_is_422(client):
    r = client.post("/api/codegen", json={"program": "x +"})
    assert r.status_code == 422 and r.json()["kind"] == "syntax"


# ---- what is refused before any work ------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000",
                                  "LOCALHOST:8000"])
def test_the_local_names_of_the_served_port_are_answered(client, host):
    assert client.get("/", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8000", "evil.example", "127.0.0.1:8001",
                                  "localhost", "127.0.0.1.evil.example:8000", ""])
def test_other_host_headers_are_refused_against_dns_rebinding(client, host):
    r = client.post("/api/derive", json={"program": "x'*A*x"}, headers={"host": host})
    assert r.status_code == 421
    assert "answers only requests to" in r.json()["error"]


def test_a_post_from_another_origin_is_refused_and_one_from_the_page_answered(client):
    body = {"program": "x'*A*x"}
    assert client.post("/api/derive", json=body,
                       headers={"origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/derive", json=body,
                       headers={"origin": "null"}).status_code == 403
    assert client.post("/api/derive", json=body, headers={"origin": BASE}).status_code == 200


def test_a_body_that_is_not_declared_json_is_refused(client):
    r = client.post("/api/derive", content=json.dumps({"program": "x"}),
                    headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole():
    with client_for(workers=1, max_body=1000) as small:
        r = small.post("/api/derive", json={"program": "x" * 2000})
        assert r.status_code == 413

        def chunks():                       # no Content-Length: refused while streaming
            yield b'{"program": "'
            for _ in range(100):
                yield b"x" * 100
            yield b'"}'
        r = small.post("/api/derive", content=chunks(),
                       headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert small.post("/api/derive", json={"program": "x'*A*x"}).status_code == 200


def test_every_response_carries_the_security_headers(client):
    for r in (client.get("/"), client.get("/static/app.js"), derive(client, program="x +"),
              client.get("/", headers={"host": "evil.example:8000"})):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "require-trusted-types-for 'script'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"


# ---- the page and its files -----------------------------------------------------------------------

def test_the_page_and_the_vendored_katex_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<optgroup label="From the seed notes">' in page.text
    assert "{{" not in page.text
    for path, kind in [("/static/app.js", "javascript"), ("/static/app.css", "text/css"),
                       ("/static/katex/katex.min.js", "javascript"),
                       ("/static/katex/katex.min.css", "text/css"),
                       ("/static/katex/fonts/KaTeX_Main-Regular.woff2", "font/woff2"),
                       ("/static/katex/LICENSE", "")]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert kind in r.headers["content-type"], path
    assert "Khan Academy" in client.get("/static/katex/LICENSE").text


def test_the_examples_are_embedded_as_inert_json():
    from matcalc.web.server import render_page
    page = render_page()
    data = page.split('<script type="application/json" id="examples-data">')[1]
    data = data.split("</script>")[0]
    assert "<" not in data and json.loads(data)[0]["program"] == "Y = X*A' + b'"


# ---- limits of time and memory ----------------------------------------------------------------------

RUNAWAY = " + ".join(f"x{i}'*A*x{i}" for i in range(3000))   # derive and check: seconds


def test_a_runaway_derivation_is_stopped_at_the_time_limit_and_its_worker_replaced():
    with client_for(workers=1, time_limit=0.5) as c:
        pool = c.app.pool
        start = time.perf_counter()
        r = derive(c, program=RUNAWAY)
        assert time.perf_counter() - start < 5
        assert r.status_code == 422
        assert r.json()["kind"] == "limit"
        assert "took longer than 0.5 s" in r.json()["error"]
        assert pool.replaced == 1
        r = derive(c, program="x'*A*x")               # the replacement answers
        assert r.status_code == 200 and r.json()["check"]["verdict"] == "verified"
        assert pool.alive() == 1


def test_a_worker_that_dies_is_replaced_and_the_request_answered_500():
    with client_for(workers=1) as c:
        pool = c.app.pool
        pool._workers[0].process.kill()              # as the kernel's OOM killer would
        r = derive(c, program="x'*A*x")
        assert r.status_code == 500 and r.json()["kind"] == "internal"
        assert pool.replaced == 1
        assert derive(c, program="x'*A*x").status_code == 200


def test_a_huge_declared_size_is_checked_at_small_sizes_not_a_swapped_machine(client):
    # the checker runs at small sizes whatever the declared ones (issue 12, item 9)
    r = derive(client, program="x'*A*x", shapes={"A": [100000, 100000]})
    assert r.status_code == 200
    assert r.json()["check"]["verdict"] == "verified"
    assert derive(client, program="x'*A*x").status_code == 200
