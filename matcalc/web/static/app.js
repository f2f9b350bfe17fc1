/* matcalc's page: the form's state <-> the URL fragment <-> POST /api/derive -> the DOM.
 *
 * Everything that comes from the program, the server or a share link is untrusted: it
 * is put into the page as text (textContent, text nodes) or typeset by KaTeX with
 * trust: false and its size limits; no HTML string ever reaches the DOM (the server's
 * Content-Security-Policy enforces it with Trusted Types).
 */
"use strict";

(function () {
  const DEBOUNCE_MS = 200;
  const KATEX_OPTIONS = {
    displayMode: true, throwOnError: false, trust: false, strict: "ignore",
    maxSize: 20, maxExpand: 1000, output: "htmlAndMathml",
  };
  // The page's state, as it goes into the URL fragment: name -> default.
  const DEFAULTS = {
    program: "", mode: "gradient", layout: "denominator", wrt: "", shapes: "",
    onehot: "", signs: "", kinds: "ml", check: "on", claims: "",
  };
  const CHOICES = {
    mode: ["gradient", "steps", "jacobian", "hessian", "hvp"],
    layout: ["denominator", "numerator", "mixed"],
    kinds: ["ml", "mc"],
    check: ["on", "off"],
  };
  const RADIOS = ["mode", "layout"];
  const CHECKBOXES = ["check"];
  const VERDICT_TEXT = {
    verified: "verified", mismatch: "check failed", "not checked": "not checked",
    right: "right", wrong: "wrong", "wrong shape": "wrong shape", error: "cannot read",
  };

  const $ = (id) => document.getElementById(id);
  const examples = JSON.parse($("examples-data").textContent);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ---- state ------------------------------------------------------------------------
  function readState() {
    const state = {};
    for (const key of Object.keys(DEFAULTS)) {
      if (RADIOS.includes(key)) {
        const checked = document.querySelector(`input[name="${key}"]:checked`);
        state[key] = checked ? checked.value : DEFAULTS[key];
      } else if (CHECKBOXES.includes(key)) {
        state[key] = $(key).checked ? "on" : "off";
      } else {
        state[key] = $(key).value;
      }
    }
    return state;
  }

  function writeState(state) {
    for (const [key, fallback] of Object.entries(DEFAULTS)) {
      let value = typeof state[key] === "string" ? state[key] : fallback;
      if (CHOICES[key] && !CHOICES[key].includes(value)) value = fallback;
      if (RADIOS.includes(key)) {
        for (const input of document.querySelectorAll(`input[name="${key}"]`)) {
          input.checked = input.value === value;
        }
      } else if (CHECKBOXES.includes(key)) {
        $(key).checked = value === "on";
      } else {
        $(key).value = value;
      }
    }
  }

  function stateToFragment(state) {
    const params = new URLSearchParams();
    for (const [key, fallback] of Object.entries(DEFAULTS)) {
      if (state[key] !== fallback) params.set(key, state[key]);
    }
    return "#" + params.toString();
  }

  function fragmentToState(fragment) {
    const params = new URLSearchParams(fragment.replace(/^#/, ""));
    const state = {};
    for (const key of Object.keys(DEFAULTS)) {
      if (params.has(key)) state[key] = params.get(key);
    }
    return state;
  }

  function list(text) {
    return text.split(",").map((s) => s.trim()).filter((s) => s);
  }

  /* "X=N,n; b=m" -> {"X": "N,n", "b": "m"}; the server checks the dimensions. */
  function parseShapes(text) {
    const shapes = {};
    for (const entry of text.split(/[;\n]/)) {
      if (!entry.trim()) continue;
      const eq = entry.indexOf("=");
      if (eq < 0) throw new Error(`shapes: "${entry.trim()}" is not NAME=DIMS (X=N,n; b=m)`);
      shapes[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim();
    }
    return shapes;
  }

  /* The API request of a state (SPEC section 8: the CLI's options by name). */
  function request(state) {
    const body = {
      program: state.program, layout: state.layout, kinds: state.kinds,
      mode: state.mode === "steps" ? "gradient" : state.mode,
      steps: state.mode === "steps",
      check: state.check === "on",
      claims: state.claims.split("\n").filter((c) => c.trim()),
    };
    if (state.wrt.trim()) body.wrt = list(state.wrt);
    if (state.shapes.trim()) body.shapes = parseShapes(state.shapes);
    if (state.onehot.trim()) body.onehot = list(state.onehot);
    if (state.signs.trim()) body.signs = list(state.signs);
    return body;
  }

  // ---- talking to the server -----------------------------------------------------------
  let controller = null;
  let sequence = 0;
  let timer = null;

  /* aria-busy on the result says a derivation is pending: from the first keystroke
   * until its answer is shown (the browser tests wait for it, too). */
  function busy(on) {
    $("output").setAttribute("aria-busy", on ? "true" : "false");
  }

  function later() {
    clearTimeout(timer);
    clearHighlight();
    busy(true);
    timer = setTimeout(derive, DEBOUNCE_MS);
  }

  async function derive() {
    clearTimeout(timer);
    const state = readState();
    history.replaceState(null, "", stateToFragment(state));
    if (controller) controller.abort();
    const mine = ++sequence;
    if (!state.program.trim()) {
      clearOutput();
      setStatus("idle", "Type an expression such as x'*A*x, or choose an example.");
      busy(false);
      return;
    }
    let body;
    try {
      body = request(state);
    } catch (e) {
      showError({ error: e.message, where: "options" }, state);
      busy(false);
      return;
    }
    busy(true);
    controller = new AbortController();
    setStatus("busy", "deriving…");
    let response;
    let payload;
    try {
      response = await fetch("/api/derive", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body), signal: controller.signal,
      });
      payload = await response.json();
    } catch (e) {
      if (e.name === "AbortError" || mine !== sequence) return;
      showError({ error: `the server did not answer (${e.message})` }, state);
      busy(false);
      return;
    }
    if (mine !== sequence) return;
    if (response.ok) showResult(payload);
    else showError(payload, state);
    busy(false);
  }

  // ---- showing a result --------------------------------------------------------------
  function setStatus(kind, text) {
    const status = $("status");
    status.className = `status ${kind}`;
    status.textContent = text;
  }

  function clearOutput() {
    $("error").hidden = true;
    $("program").removeAttribute("aria-invalid");
    clearHighlight();
    for (const id of ["notes", "results", "step-list", "claim-list"]) $(id).replaceChildren();
    $("steps").hidden = true;
    $("claim-results").hidden = true;
  }

  function typeset(latex, className) {
    const box = el("div", className || "math");
    try {
      katex.render(latex, box, KATEX_OPTIONS);
    } catch (e) {
      box.textContent = latex;          // a KaTeX failure shows the source, as text
    }
    return box;
  }

  function badge(verdict, title) {
    const b = el("span", `badge ${verdict.replace(/ /g, "-")}`, VERDICT_TEXT[verdict] || verdict);
    if (title) b.title = title;
    return b;
  }

  function copyButton(label, value) {
    const button = el("button", "copy", label);
    button.type = "button";
    button.title = `copy the ${label} form`;
    button.dataset.copy = value;
    button.addEventListener("click", () => copy(value, () => flash(button, "copied")));
    return button;
  }

  /* Put `value` on the clipboard, then call done(). (http://127.0.0.1 is a secure
   * context, so the Clipboard API is there; execCommand is the fallback.) */
  function copy(value, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, () => legacyCopy(value) && done());
    } else if (legacyCopy(value)) {
      done();
    }
  }

  function legacyCopy(value) {
    const area = el("textarea", "offscreen");
    area.value = value;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  function flash(button, text) {
    const old = button.textContent;
    button.textContent = text;
    setTimeout(() => { button.textContent = old; }, 1200);
  }

  function shapeText(shape) {
    return shape.length ? shape.join(" × ") : "scalar";
  }

  function formulaCard(key, entry, equation) {
    const card = el("div", "formula");
    card.dataset.name = key;
    card.append(typeset(equation));
    const meta = el("div", "meta");
    if (entry.check) meta.append(badge(entry.check.verdict, entry.check.message));
    meta.append(el("span", "shape", shapeText(entry.shape)));
    if (entry.check && entry.check.message) meta.append(el("span", "detail", entry.check.message));
    const copies = el("span", "copies");
    copies.append(copyButton("text", entry.text), copyButton("LaTeX", entry.latex),
      copyButton("NumPy", entry.numpy));
    meta.append(copies);
    card.append(meta);
    return card;
  }

  function showResult(payload) {
    clearOutput();
    const check = payload.check;
    const count = Object.keys(payload.derivatives).length;
    if (!check) {
      setStatus("idle", `${count} formula${count === 1 ? "" : "s"} (not checked)`);
    } else if (check.verdict === "verified") {
      const n = Object.keys(check.results).length;
      setStatus("ok", `✓ ${n} formula${n === 1 ? "" : "s"} verified by finite differences`);
    } else if (check.verdict === "failed") {
      setStatus("bad", "✗ a formula failed its finite-difference check: please report it");
    } else {
      setStatus("warn", "not everything could be checked at this program's values");
    }
    const notes = $("notes");
    notes.append(el("li", null, `layout: ${payload.layout}`));
    if (payload.upstream) {
      notes.append(el("li", null, `${payload.upstream.name} = dL/d${payload.output.name} ` +
        `(${shapeText(payload.upstream.shape)}) is the upstream gradient of a scalar loss L`));
    }
    for (const [name, what] of Object.entries(payload.assumptions || {})) {
      notes.append(el("li", null, `assuming ${name}: ${what === "signs" ? "labels -1 or +1"
        : `one-hot (${what} sum to one)`}`));
    }
    for (const [name, direction] of Object.entries(payload.directions || {})) {
      notes.append(el("li", null, `direction for ${name}: ${direction}`));
    }
    if (!count) notes.append(el("li", null, "no variables: nothing to differentiate"));
    const results = $("results");
    for (const [key, entry] of Object.entries(payload.derivatives)) {
      results.append(formulaCard(key, entry, payload.equations[key]));
    }
    const steps = payload.steps || [];
    if (steps.length) {
      for (const step of steps) {
        $("step-list").append(formulaCard(step.name, step, step.equation || step.latex));
      }
      $("steps").hidden = false;
    }
    const claims = payload.claims || [];
    if (claims.length) {
      for (const claim of claims) $("claim-list").append(claimCard(claim));
      $("claim-results").hidden = false;
    }
  }

  function claimCard(claim) {
    const card = el("div", "claim");
    const head = el("div", "meta");
    head.append(badge(claim.verdict), el("code", "claim-text", claim.claim));
    card.append(head);
    const message = claim.verdict === "error" ? (claim.rendered || claim.error) : claim.message;
    const diagnosis = claim.diagnosis || [];
    // the message ends with the diagnosis in words; the page lists it on its own
    const cut = diagnosis.length ? message.indexOf("\n  diagnosis: ") : -1;
    card.append(el("pre", "message", cut >= 0 ? message.slice(0, cut) : message));
    if (diagnosis.length) {
      const list = el("ul", "diagnosis");
      for (const found of diagnosis) {
        const item = el("li", null, found.message);     // an option is named in it
        if (found.fixed) item.append(" → ", el("code", "fix", found.fixed));
        list.append(item);
      }
      card.append(list);
    }
    return card;
  }

  // ---- errors, with the span highlighted in the program box ------------------------------
  function showError(payload, state) {
    clearOutput();
    setStatus("bad", "error");
    const where = payload.line ? `line ${payload.line}, column ${payload.column}: ` : "";
    $("error-message").textContent = where + (payload.error || "unknown error");
    $("error-hint").textContent = payload.hint || "";
    $("error").hidden = false;
    if (payload.where === "program" && payload.line && state) {
      highlight(state.program, payload.line, payload.column, payload.end_column);
      $("program").setAttribute("aria-invalid", "true");
    }
  }

  function clearHighlight() {
    $("highlight").replaceChildren();
  }

  /* Columns count characters (code points), as Python does; JavaScript strings count
   * UTF-16 units, so a line is measured with Array.from. */
  function highlight(text, line, column, endColumn) {
    const lines = text.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    const chars = Array.from(lines[line - 1] || "");
    const start = offset + chars.slice(0, column - 1).join("").length;
    const end = offset + chars.slice(0, Math.max(column, endColumn) - 1).join("").length;
    const mark = el("mark", null, text.slice(start, end) || " ");
    $("highlight").replaceChildren(document.createTextNode(text.slice(0, start)), mark,
      document.createTextNode(text.slice(end) + "\n"));
    syncScroll();
  }

  function syncScroll() {
    $("highlight").scrollTop = $("program").scrollTop;
  }

  // ---- actions ---------------------------------------------------------------------------
  function say(text) {
    const status = $("action-status");
    status.textContent = text;
    setTimeout(() => { if (status.textContent === text) status.textContent = ""; }, 2500);
  }

  async function download() {
    const state = readState();
    let body;
    try {
      body = request(state);
    } catch (e) {
      showError({ error: e.message, where: "options" }, state);
      return;
    }
    const response = await fetch("/api/codegen", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      showError(await response.json(), state);
      return;
    }
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="([A-Za-z0-9_.-]+)"/.exec(disposition);
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = match ? match[1] : "matcalc_module.py";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    say(`downloaded ${link.download}`);
  }

  function share() {
    history.replaceState(null, "", stateToFragment(readState()));
    copy(location.href, () => say("link copied"));
  }

  function chooseExample() {
    const example = examples[Number($("examples").value)];
    if (!example) return;
    const state = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS)) {
      if (typeof example[key] === "string") state[key] = example[key];
    }
    state.claims = (example.claims || []).join("\n");
    writeState(state);
    derive();
  }

  // ---- wiring ----------------------------------------------------------------------------
  for (const id of ["program", "wrt", "shapes", "onehot", "signs", "claims"]) {
    $(id).addEventListener("input", later);
  }
  $("kinds").addEventListener("change", derive);
  $("check").addEventListener("change", derive);
  for (const input of document.querySelectorAll('input[type="radio"]')) {
    input.addEventListener("change", derive);
  }
  $("program").addEventListener("scroll", syncScroll);
  $("examples").addEventListener("change", chooseExample);
  $("download").addEventListener("click", download);
  $("share").addEventListener("click", share);
  window.addEventListener("hashchange", () => {
    writeState(fragmentToState(location.hash));
    derive();
  });

  writeState(fragmentToState(location.hash));
  derive();
})();
