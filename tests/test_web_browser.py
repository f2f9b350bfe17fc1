"""The page of `matcalc serve` in a real browser: Debian's chromium, headless, driven by
Selenium through chromium-driver (`.ci/run` installs both).

The server is the real one, `python -m matcalc serve --port 0`, in its own process. The
browser runs with no proxy and with a host-resolver rule that fails every name but
127.0.0.1 and localhost, so the network is off; its performance log (the DevTools Network
events) records every request the page makes, and after each test every one of them must have
gone to the server, for one of its own paths. The browser's console must show no error
either: no script error, and no Content-Security-Policy or Trusted Types violation.

Each test saves a screenshot in `examples/web/` (two of them are shown in the README).
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

selenium = pytest.importorskip("selenium", reason="Selenium is not installed (the test extra)")
pytest.importorskip("uvicorn", reason="the web extra is not installed")

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

import matcalc
from matcalc.web.examples import EXAMPLES, as_request

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "examples" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them: "
           "apt-get install chromium chromium-driver)")

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--no-proxy-server",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
         "--window-size=1400,1000"]
WAIT = 60          # seconds: the machine is shared, a derivation is milliseconds


# ---- the server and the browser ------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    """The URL of a running `matcalc serve --port 0`."""
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
    if not match:
        proc.kill()
        pytest.fail(f"matcalc serve did not start: {line!r} {proc.stderr.read()!r}")
    yield match.group(1)
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("matcalc serve did not stop on SIGTERM")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    d.set_page_load_timeout(WAIT)
    yield d
    d.quit()


LOCAL_PATHS = re.compile(r"^/(|static/[A-Za-z0-9_./-]+|api/(derive|codegen))$")


class Page:
    """The page in the browser, with the helpers the tests share."""

    def __init__(self, driver, url):
        self.driver = driver
        self.url = url

    def open(self, fragment: str = "") -> None:
        self.driver.get("about:blank")
        self.driver.get(self.url + fragment)
        self.wait_idle()

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_idle(self) -> None:
        """Until the derivation asked for is shown (the page clears aria-busy then)."""
        WebDriverWait(self.driver, WAIT).until(
            lambda d: d.find_element(By.ID, "output").get_attribute("aria-busy") == "false")

    def fill(self, element_id: str, text: str) -> None:
        """Type `text` into a field, replacing what it held, as a user does."""
        box = self.find(f"#{element_id}")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        if text:
            box.send_keys(text)
        self.wait_idle()

    def choose(self, name: str, value: str) -> None:
        self.find(f'input[name="{name}"][value="{value}"]').click()
        self.wait_idle()

    def equations(self, where: str = "#results") -> list[str]:
        """The LaTeX typeset in each formula card (KaTeX keeps it in the MathML)."""
        return [e.get_attribute("textContent") for e in
                self.finds(f'{where} .formula annotation[encoding="application/x-tex"]')]

    def badges(self, where: str = "#results") -> list[str]:
        return [e.text for e in self.finds(f"{where} .badge")]

    def copies(self, label: str) -> list[str]:
        return [b.get_attribute("data-copy") for b in self.finds("#results button.copy")
                if b.text == label]

    def status(self) -> tuple[str, str]:
        s = self.find("#status")
        return s.get_attribute("class"), s.text

    def screenshot(self, name: str, height: int | None = None) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if height:
            self.driver.set_window_size(1400, height)
        self.driver.save_screenshot(str(SCREENSHOTS / name))
        if height:
            self.driver.set_window_size(1400, 1000)

    def requests(self) -> list[str]:
        """Every URL the page requested since the last call (DevTools Network events)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls

    def console_errors(self) -> list[str]:
        """Script errors and policy violations; not the API's 422 answers to bad input,
        which Chromium logs as failed loads."""
        return [e["message"] for e in self.driver.get_log("browser")
                if (e["level"] == "SEVERE" or "Content Security Policy" in e["message"]
                    or "Trusted" in e["message"])
                and not (e.get("source") == "network" and "/api/" in e["message"]
                         and "status of 422" in e["message"])]

    def assert_inert(self) -> None:
        """Nothing injected ran or became markup: no alert, no marker set by a payload,
        no element that runs or loads anything beyond the page's own two scripts."""
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            pytest.fail(f"an alert ran: {text!r}")
        except NoAlertPresentException:
            pass
        assert self.driver.execute_script("return window.__xss") is None
        strangers = self.driver.execute_script("""
            const ours = ["/static/katex/katex.min.js", "/static/app.js"];
            return Array.from(document.querySelectorAll(
                "script, img, iframe, frame, object, embed, a, form, base, link, meta, " +
                "style, svg image, svg use, svg foreignObject, video, audio, source, " +
                "[href], [src], [srcdoc], [formaction], [xlink\\\\:href]"))
              .filter((e) => !(e.tagName === "SCRIPT" && ours.includes(e.getAttribute("src"))))
              .filter((e) => !(e.tagName === "SCRIPT" && e.type === "application/json"
                               && e.id === "examples-data"))
              .filter((e) => !(e.tagName === "LINK" && e.parentNode === document.head))
              .filter((e) => !(e.tagName === "META" && e.parentNode === document.head))
              .map((e) => e.outerHTML.slice(0, 200))
              .concat(Array.from(document.querySelectorAll("*")).flatMap((e) =>
                  Array.from(e.attributes).filter((a) => a.name.startsWith("on"))
                    .map((a) => `${e.tagName} ${a.name}`)));
        """)
        assert strangers == []


@pytest.fixture
def page(driver, server):
    p = Page(driver, server)
    p.open()
    p.requests()
    driver.get_log("browser")
    yield p
    foreign = [u for u in p.requests() if not (
        u.startswith(server) and LOCAL_PATHS.match("/" + u[len(server):].split("?")[0])
        or u.startswith("blob:" + server.rstrip("/")) or u == "about:blank")]
    assert foreign == [], f"requests beyond the server's own paths: {foreign}"
    assert p.console_errors() == []


def fragment(**state) -> str:
    return "#" + urllib.parse.urlencode(state, quote_via=urllib.parse.quote)


# ---- typing, layouts, errors ----------------------------------------------------------------

def test_typing_a_quadratic_form_shows_its_gradient_typeset_and_verified(page):
    page.fill("program", "x'*A*x")
    # d x'Ax / dx = (A + A') x   (Matrix Cookbook (81))
    assert page.equations() == ["\\frac{\\partial f}{\\partial x} = (A + A^\\top) x",
                                "\\frac{\\partial f}{\\partial A} = x x^\\top"]
    assert page.badges() == ["verified", "verified"]
    assert page.status() == ("status ok", "✓ 2 formulas verified by finite differences")
    visible = page.find("#results .formula .katex-html").text
    assert "∂f" in visible.replace("\n", "") and "⊤" in visible
    assert page.copies("text") == ["(A + A')*x", "x*x'"]
    assert page.copies("NumPy") == ["(A + A.T) @ x", "np.outer(x, x)"]
    assert page.driver.execute_script("return document.fonts.check('1em KaTeX_Main')")
    page.fill("claims", "x = 2*A*x\nx = (A + A')*x")
    assert page.badges("#claim-list") == ["wrong", "right"]
    assert "correct: x = (A + A')*x" in page.find("#claim-list .message").text
    # the wrong claim's diagnosis is listed under its message, with the option it names
    assert "diagnosis:" not in page.find("#claim-list .message").text
    assert page.find("#claim-list .diagnosis").text == \
        "right only for a symmetric A: declare it with --assume A=symmetric"
    page.screenshot("quadratic_form.png")


def test_a_copy_button_puts_the_formula_on_the_clipboard(page, server):
    page.driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": server.rstrip("/"),
        "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    page.fill("program", "tr(A*X*B)")
    button = next(b for b in page.finds("#results .formula[data-name='X'] button.copy")
                  if b.text == "LaTeX")
    button.click()
    WebDriverWait(page.driver, WAIT).until(lambda d: button.text == "copied")
    clipboard = page.driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('ERR ' + e))")
    # d tr(AXB) / dX = A' B'   (Matrix Cookbook, derivatives of traces)
    assert clipboard == matcalc.derive("tr(A*X*B)")["X"].latex == "A^\\top B^\\top"
    page.screenshot("copy_latex.png")


def test_switching_the_layout_shows_the_transposed_gradient(page):
    page.fill("program", "x'*A*x")
    page.choose("layout", "numerator")
    # numerator layout: the gradient of a scalar by a column vector is a row vector
    assert page.copies("text") == ["x'*(A + A')", "x*x'"]
    assert page.equations()[0] == "\\frac{\\partial f}{\\partial x} = x^\\top (A + A^\\top)"
    assert page.badges() == ["verified", "verified"]
    assert "layout=numerator" in page.driver.current_url
    page.choose("layout", "denominator")
    assert page.copies("text") == ["(A + A')*x", "x*x'"]
    page.choose("layout", "numerator")
    page.screenshot("numerator_layout.png")


def test_the_check_can_be_turned_off_and_the_link_says_so(page):
    page.fill("program", "x'*A*x")
    page.find("#check").click()
    page.wait_idle()
    assert page.status() == ("status idle", "2 formulas (not checked)")
    assert page.badges() == [] and page.copies("text") == ["(A + A')*x", "x*x'"]
    assert "check=off" in page.driver.current_url
    page.driver.get("about:blank")
    page.driver.get(page.url + fragment(program="x'*A*x", check="off"))
    page.wait_idle()
    assert not page.find("#check").is_selected() and page.badges() == []


def test_a_shape_error_highlights_its_span_in_the_program_box(page):
    page.fill("shapes", "X=N,n; A=m,n")
    page.fill("program", "Y = X*A + b'")
    assert page.find("#highlight mark").text == "X*A"
    assert page.find("#error-message").text == \
        "line 1, column 5: cannot multiply X (N x n) by A (m x n)"
    assert page.find("#error-hint").text == \
        "the inner dimensions n and m differ; did you mean X*A' ?"
    assert page.find("#program").get_attribute("aria-invalid") == "true"
    assert page.status() == ("status bad", "error")
    # the mark lies over the span's characters in the box (the mirror is aligned)
    mark, box = page.find("#highlight mark").rect, page.find("#program").rect
    assert box["x"] < mark["x"] < box["x"] + box["width"] / 2
    assert box["y"] < mark["y"] < box["y"] + 40
    page.screenshot("error_highlight.png")
    page.fill("program", "Y = X*A' + b'")                  # fixed: the mark goes
    assert page.finds("#highlight mark") == []
    assert page.badges() == ["verified"] * 3


def test_a_syntax_error_on_the_second_line_is_marked_there(page):
    program = "h = relu(W*x)\nf = sum(h) +* 2"
    page.fill("program", program)
    assert page.find("#highlight mark").text == "*"
    before = page.driver.execute_script(
        "return document.getElementById('highlight').firstChild.textContent")
    assert before == "h = relu(W*x)\nf = sum(h) +"
    assert page.find("#error-message").text.startswith("line 2, column 13:")
    page.screenshot("syntax_error_line_2.png")


# ---- sharing ----------------------------------------------------------------------------------

def test_a_share_link_holds_the_whole_state_and_reproduces_the_page(page, server):
    program = "z = W1*x + b1\na = relu(z)\nJ = 0.5*norm2(y - a)^2"
    page.fill("program", program)
    page.choose("mode", "steps")
    page.choose("layout", "mixed")
    page.fill("wrt", "W1, b1")
    page.fill("claims", "b1 = (z > 0) .* (a - y)\nW1 = x*dz'")

    def snapshot():
        fields = {f: page.find(f"#{f}").get_attribute("value")
                  for f in ("program", "wrt", "shapes", "onehot", "signs", "kinds", "claims")}
        radios = {n: page.find(f'input[name="{n}"]:checked').get_attribute("value")
                  for n in ("mode", "layout")}
        return (fields, radios, page.equations(), page.equations("#step-list"),
                page.badges("#results"), page.badges("#claim-list"), page.badges("#step-list"))

    before = snapshot()
    assert before[1] == {"mode": "steps", "layout": "mixed"}
    steps = matcalc.derive(program, wrt=["W1", "b1"], layout="mixed").steps
    assert len(before[3]) == len(steps) == 4 and before[5] == ["right", "wrong shape"]
    page.find("#share").click()
    WebDriverWait(page.driver, WAIT).until(
        lambda d: d.find_element(By.ID, "action-status").text == "link copied")
    link = page.driver.current_url
    assert link.startswith(server + "#") and "mode=steps" in link
    page.open()                                             # a fresh page: empty
    assert page.find("#program").get_attribute("value") == "" and page.equations() == []
    page.driver.get("about:blank")
    page.driver.get(link)
    page.wait_idle()
    assert snapshot() == before
    page.screenshot("share_link.png", height=1700)


# ---- the generated module ----------------------------------------------------------------------

def test_the_downloaded_module_imports_and_agrees_with_finite_differences(page, tmp_path):
    page.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                {"behavior": "allow", "downloadPath": str(tmp_path)})
    program = "J = 0.5*norm2(W*x - y)^2 + lambda*norm2(W)^2"
    page.open(fragment(program=program, shapes="W=m,n"))
    page.find("#download").click()
    target = tmp_path / "J_gradient.py"
    WebDriverWait(page.driver, WAIT).until(lambda d: target.exists() and not list(
        tmp_path.glob("*.crdownload")))
    source = target.read_text()
    assert source == matcalc.derive(program, shapes={"W": "m,n"}).codegen()
    spec = importlib.util.spec_from_file_location("downloaded_module", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    values = {"W": rng.normal(size=(3, 4)), "x": rng.normal(size=4), "y": rng.normal(size=3),
              "lambda_": 0.7}
    grads = module.gradient(**values)
    h = 1e-6
    for name in ("W", "x", "y"):
        fd = np.zeros_like(values[name])
        for i in np.ndindex(fd.shape):
            up, down = dict(values), dict(values)
            up[name], down[name] = values[name].copy(), values[name].copy()
            up[name][i] += h
            down[name][i] -= h
            fd[i] = (module.forward(**up) - module.forward(**down)) / (2 * h)
        assert np.allclose(grads[name], fd, rtol=1e-6, atol=1e-6), name
    assert page.find("#action-status").text == "downloaded J_gradient.py"
    page.screenshot("download.png")


# ---- the examples menu ------------------------------------------------------------------------

def derive_options(request: dict) -> dict:
    return {k: v for k, v in request.items() if k not in ("program", "claims", "steps")}


def test_every_example_of_the_menu_derives_verified_with_its_claims_judged(page):
    menu = Select(page.find("#examples"))
    titles = [o.text for o in menu.options[1:]]
    assert titles == [ex["title"] for ex in EXAMPLES]
    for i, example in enumerate(EXAMPLES):
        menu.select_by_value(str(i))
        page.wait_idle()
        request = as_request(example)
        d = matcalc.derive(request["program"], **derive_options(request))
        assert page.status()[0] == "status ok", (example["title"], page.status())
        assert page.find("#program").get_attribute("value") == example["program"]
        assert [c.get_attribute("data-name") for c in page.finds("#results .formula")] == \
            list(d), example["title"]
        assert page.copies("text") == [d[n].text for n in d], example["title"]
        assert set(page.badges()) == {"verified"}, example["title"]
        expected = {"right": "right", "wrong": "wrong", "wrong shape": "wrong shape"}
        assert page.badges("#claim-list") == \
            [expected[d.verify_claim(c).verdict] for c in example.get("claims", [])]
        if request["steps"]:
            assert len(page.equations("#step-list")) == len(d.steps) > 0
        if example["title"].startswith("CS231n"):
            page.screenshot("example_cs231n.png", height=2200)
    page.screenshot("example_last.png")


# ---- untrusted text never runs ------------------------------------------------------------------

PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '"><img src=x onerror="window.__xss = 2">',
    "\\href{javascript:window.__xss=3}{x}",
    "\\htmlData{foo=bar}{x}",
    "<svg onload=\"window.__xss = 5\"></svg>",
    "</textarea><script>window.__xss = 6</script>",
    "javascript:window.__xss = 7",
]


def test_payloads_typed_into_every_field_stay_text(page):
    for payload in PAYLOADS:
        page.fill("program", payload)
        page.assert_inert()
        assert page.find("#program").get_attribute("value") == payload
        assert page.status()[0] == "status bad"
    page.fill("program", "x'*A*x")
    for field in ("claims", "wrt", "shapes", "onehot", "signs"):
        for payload in PAYLOADS[:3]:
            page.fill(field, payload)
            page.assert_inert()
        page.fill(field, "")
    page.fill("claims", PAYLOADS[1])
    shown = page.find("#claim-list").text
    assert PAYLOADS[1] in shown                                  # shown, as text
    page.screenshot("xss_program_box.png")


def test_a_hostile_share_link_stays_text(page, server):
    link = server + fragment(program=PAYLOADS[0] + "\n" + PAYLOADS[1], claims=PAYLOADS[2],
                             layout=PAYLOADS[1], mode=PAYLOADS[0], wrt=PAYLOADS[4],
                             shapes=PAYLOADS[5], onehot=PAYLOADS[3], kinds=PAYLOADS[6])
    page.driver.get("about:blank")
    page.driver.get(link)
    page.wait_idle()
    page.assert_inert()
    assert page.find("#program").get_attribute("value") == PAYLOADS[0] + "\n" + PAYLOADS[1]
    assert page.find('input[name="layout"]:checked').get_attribute("value") == "denominator"
    assert page.find('input[name="mode"]:checked').get_attribute("value") == "gradient"
    assert page.find("#error-message").text != ""
    page.screenshot("xss_share_link.png")


HOSTILE_TEX = ["\\href{javascript:window.__xss=11}{\\text{click}}",
               "\\url{javascript:window.__xss=12}",
               "\\htmlData{onclick=window.__xss=13}{x}",
               "\\htmlId{x\\\" onmouseover=\\\"window.__xss=14}{x}",
               "\\includegraphics{x.png}",
               "\\htmlStyle{background:url(http://evil.example/x)}{x}",
               "\\rule{100000em}{100000em}",
               "<img src=x onerror=\"window.__xss=15\">"]


def test_a_hostile_answer_is_shown_as_inert_math_and_text(page):
    """Whatever the server said (here a fake answer, put in place of fetch), formulas go
    through KaTeX with trust off and messages are text."""
    entries = {f"v{i}": {"shape": ["n"], "text": tex, "latex": tex, "numpy": tex,
                         "check": {"verdict": "<b>verified</b>", "max_rel_error": 0,
                                   "message": tex}}
               for i, tex in enumerate(HOSTILE_TEX)}
    answer = {"program": "x", "layout": "<i>denominator</i>", "output": {"name": "f", "shape": []},
              "upstream": {"name": "<img src=x onerror=window.__xss=16>", "shape": ["<b>"]},
              "inputs": {}, "derivatives": entries,
              "equations": {k: v["latex"] for k, v in entries.items()},
              "check": {"verdict": "verified", "results": {}},
              "claims": [{"claim": HOSTILE_TEX[-1], "verdict": "wrong", "message": HOSTILE_TEX[0]}],
              "assumptions": {"<img src=x>": "<script>window.__xss=17</script>"}}
    page.driver.execute_script("""
        const answer = arguments[0];
        window.fetch = async () => new Response(JSON.stringify(answer),
            {status: 200, headers: {"Content-Type": "application/json"}});
    """, answer)
    page.fill("program", "x")
    # each typeset, or shown as its source in KaTeX's error colour (throwOnError: false)
    assert len(page.finds("#results .formula .math > .katex-display, "
                          "#results .formula .math > .katex-error")) == len(HOSTILE_TEX)
    page.assert_inert()
    assert page.finds("#results a") == []
    assert HOSTILE_TEX[-1] in page.find("#claim-list").text
    page.screenshot("xss_server_answer.png", height=1400)
    error = {"error": "<img src=x onerror=window.__xss=18>", "hint": "<script>x</script>",
             "line": 1, "column": 1, "end_column": 2, "where": "program"}
    page.driver.execute_script("""
        const error = arguments[0];
        window.fetch = async () => new Response(JSON.stringify(error),
            {status: 422, headers: {"Content-Type": "application/json"}});
    """, error)
    page.fill("program", "<b>x</b>")
    page.assert_inert()
    assert page.find("#error-message").text == "line 1, column 1: " + error["error"]
    assert page.find("#highlight mark").text == "<"


# ---- offline ------------------------------------------------------------------------------------

def test_the_page_renders_with_the_network_off_and_asks_only_its_server(page, server):
    # the browser really is offline: a name other than the local address resolves nowhere
    with pytest.raises(WebDriverException, match="ERR_NAME_NOT_RESOLVED"):
        page.driver.get("http://example.com/")
    page.driver.get("about:blank")
    page.requests()                  # (that navigation was the test's, not the page's)
    page.driver.get_log("browser")
    page.driver.get(server + fragment(program="log(det(X)) + sqrt(x'*x) + sum(softmax(y))"))
    page.wait_idle()
    assert page.badges() == ["verified"] * 3
    assert page.driver.execute_script(
        "return document.fonts.check('1em KaTeX_Main') && document.fonts.check('1em KaTeX_Math')")
    urls = page.requests()
    assert urls, "the performance log recorded no request"
    assert all(u.startswith(server) for u in urls), urls
    assert any("/static/katex/fonts/" in u and u.endswith(".woff2") for u in urls)
    assert {u[len(server) - 1:] for u in urls} >= {"/", "/static/app.js", "/api/derive",
                                                  "/static/katex/katex.min.js"}
    page.screenshot("offline.png")


# ---- embedded in a notebook ----------------------------------------------------------------------

def test_the_page_embeds_in_an_iframe_of_another_local_page(page, server, tmp_path):
    """As Jupyter's `IFrame(url)` does: a page of another local origin frames the page."""
    import functools
    import http.server
    import threading
    link = server + fragment(program="x'*A*x", layout="numerator")
    (tmp_path / "notebook.html").write_text(
        f'<!doctype html><title>notebook</title><iframe id="frame" src="{link}" '
        f'width="1200" height="700"></iframe>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    notebook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=notebook.serve_forever, daemon=True).start()
    try:
        page.driver.get(f"http://localhost:{notebook.server_address[1]}/notebook.html")
        page.driver.switch_to.frame(page.find("#frame"))
        page.wait_idle()
        assert page.copies("text") == ["x'*(A + A')", "x*x'"]
        assert page.badges() == ["verified", "verified"]
        page.driver.switch_to.default_content()
        page.screenshot("iframe.png")
    finally:
        page.driver.switch_to.default_content()
        notebook.shutdown()
        page.driver.get("about:blank")
        page.requests()              # the notebook page's requests were the test's own
        page.driver.get_log("browser")
