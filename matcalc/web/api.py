"""The JSON API of `matcalc serve` (SPEC section 8), as pure functions over bytes.

`handle(route, body)` takes the raw request body and returns a `Reply`: HTTP 200 with
SPEC section 4's JSON (plus the check verdict of each formula and the verdict on each
claim), or 422 with `{"error", "line", "column", "end_column", ...}` for a user error.
It runs inside a worker process (see `workers`), so even reading the JSON happens there,
never in the server's event loop. Only the public API is used: `matcalc.derive`, a
derivation's `to_json`, `check`, `verify_claim`, `codegen`, `latex` and the Jupyter
display `_repr_latex_` of its derivatives.

The request's options are one table, `DERIVE_OPTIONS`: each entry names an argument of
`matcalc.derive` and says how to read it from JSON, so adding an option is one line.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import matcalc
from matcalc.errors import LimitError, MatcalcError, OptionError

JSON_TYPE = "application/json"
PYTHON_TYPE = "text/x-python; charset=utf-8"
MAX_CLAIMS = 100


class Reply(NamedTuple):
    """What a worker sends back: the HTTP status, media type, body and extra headers."""

    status: int
    media_type: str
    body: bytes
    headers: dict[str, str]


# ---- reading a request -----------------------------------------------------------------

def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise OptionError(f"{field} must be a string, not {_json_type(value)}")
    return value


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"{field} must be true or false, not {_json_type(value)}")
    return value


def _strings(field: str, value: Any) -> list[str]:
    """A list of strings; a string is one comma-separated list ("W1, b1")."""
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise OptionError(f"{field} must be a list of strings")
    return value


def _shapes(field: str, value: Any) -> dict[str, str]:
    """{"X": ["N", "n"], "b": ["m"], "c": []} or {"X": "N,n", "c": "scalar"}: NAME=DIMS,
    as `--shape` takes it (matcalc checks the dimensions)."""
    if not isinstance(value, dict):
        raise OptionError(f'{field} must be an object such as {{"X": ["N", "n"]}}')
    out = {}
    for name, dims in value.items():
        if isinstance(dims, list) and all(isinstance(d, (str, int)) and not isinstance(d, bool)
                                          for d in dims):
            dims = ",".join(str(d) for d in dims) or "scalar"
        elif not isinstance(dims, str):
            raise OptionError(f'{field}: the shape of {name} must be a list of dimensions '
                              f'(["N", "n"]) or a string ("N,n")')
        out[name] = dims
    return out


def _assumptions(field: str, value: Any) -> list[str]:
    """{"S": "spd"} (JSON's "assumptions" as the derivation writes it) or ["S=spd"]."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value.values()):
            raise OptionError(f'{field} must be an object such as {{"S": "spd"}}')
        return [f"{name}={kind}" for name, kind in value.items()]
    return _strings(field, value)


def _claims(field: str, value: Any) -> list[str]:
    claims = [value] if isinstance(value, str) else _strings(field, value)
    if len(claims) > MAX_CLAIMS:
        raise LimitError(f"too many claims: {len(claims)} (the limit is {MAX_CLAIMS})")
    return [c for c in claims if c.strip()]


@dataclass(frozen=True)
class Field:
    """How to read one request field: `read(name, json_value)` and its default."""

    read: Callable[[str, Any], Any]
    default: Any


# The CLI's options, by the names `matcalc.derive` takes them. A value left out, or
# null, is the default and is not passed on.
DERIVE_OPTIONS: dict[str, Field] = {
    "wrt": Field(_strings, None),
    "layout": Field(_text, "denominator"),
    "shapes": Field(_shapes, None),
    "kinds": Field(_text, "ml"),
    "onehot": Field(_strings, None),
    "signs": Field(_strings, None),
    "assume": Field(_assumptions, None),
    "convention": Field(_text, "projected"),
    "mode": Field(_text, "gradient"),
}

# What the page asks beyond the derivation itself.
REQUEST_OPTIONS: dict[str, Field] = {
    "steps": Field(_flag, False),
    "check": Field(_flag, True),
    "claims": Field(_claims, []),
    "target": Field(_text, "numpy"),        # /api/codegen only
}


@dataclass(frozen=True)
class Request:
    program: str
    derive: dict[str, Any]        # keyword arguments of matcalc.derive
    options: dict[str, Any]       # REQUEST_OPTIONS, every one present


def read_request(body: bytes) -> Request:
    """The request in `body` (JSON), validated; an `OptionError` says what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise OptionError("the request body is not valid JSON (UTF-8)") from None
    if not isinstance(data, dict):
        raise OptionError('the request body must be a JSON object: {"program": "..."}')
    unknown = [k for k in data if k != "program" and k not in DERIVE_OPTIONS
               and k not in REQUEST_OPTIONS]
    if unknown:
        known = ", ".join(["program", *DERIVE_OPTIONS, *REQUEST_OPTIONS])
        raise OptionError(f"unknown field {unknown[0]!r}; the fields are {known}")
    if "program" not in data:
        raise OptionError('the request has no "program"')
    program = _text("program", data["program"])
    derive = {name: field.read(name, data[name]) for name, field in DERIVE_OPTIONS.items()
              if data.get(name) is not None}
    options = {name: field.default if data.get(name) is None else field.read(name, data[name])
               for name, field in REQUEST_OPTIONS.items()}
    return Request(program, derive, options)


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


# ---- answering ----------------------------------------------------------------------------

def handle(route: str, body: bytes) -> Reply:
    """The reply to POST /api/<route> ("derive" or "codegen") with this body."""
    program = None
    try:
        request = read_request(body)
        program = request.program
        if route == "codegen":
            return _codegen(request)
        return json_reply(200, derive_answer(request))
    except MatcalcError as e:
        return json_reply(422, error_answer(e, program))
    except MemoryError:
        return json_reply(422, error_answer(LimitError(
            "this derivation needs more memory than the server allows a request (declared "
            "sizes too large to check?); use symbolic sizes, or the command line"), program))
    except RecursionError:
        return json_reply(422, error_answer(LimitError(
            "this program is nested too deeply; split it into named steps"), program))
    except Exception as e:  # noqa: BLE001  (a bug in matcalc: answered, never a traceback)
        return json_reply(500, {"error": f"internal error: {type(e).__name__}: {e}",
                                 "kind": "internal"})


def derive_answer(request: Request) -> dict:
    """SPEC section 4's JSON, with `equations` (the LaTeX shown for each formula), a
    `check` entry on each formula and step and overall, and the verdict on each claim."""
    d = matcalc.derive(request.program, check=False, **request.derive)
    steps = request.options["steps"]
    out = d.to_json(steps=steps)
    out["equations"] = {name: _display_latex(d[name]) for name in d}
    step_lhs = _step_lhs(d) if steps else []
    for step, lhs in zip(out.get("steps", []), step_lhs):
        step["equation"] = f"{lhs} = {step['latex']}"
    if request.options["check"]:
        report = d.check()
        results = getattr(report, "results", {})
        out["check"] = {"verdict": _overall(report.ok, results),
                        "results": {key: _verdict(r) for key, r in results.items()}}
        for name, entry in out["derivatives"].items():
            if name in results:
                entry["check"] = _verdict(results[name])
        for step in out.get("steps", []):
            key = f"step {step['name']}"
            found = [r for k, r in results.items() if k == key or k.startswith(key + " (")]
            if found:
                step["check"] = _verdict(found[0])
    else:
        out["check"] = None
    out["claims"] = [_claim(d, claim) for claim in request.options["claims"]]
    return out


def _display_latex(derivative) -> str:
    """`lhs = formula` as the Jupyter display writes it, without its `$\\displaystyle`."""
    tex = derivative._repr_latex_().strip()
    tex = tex.removeprefix("$").removesuffix("$").strip()
    return tex.removeprefix("\\displaystyle").strip()


_ROW = re.compile(r"^(.*?) &= ")


def _step_lhs(d) -> list[str]:
    """The left-hand side of each step's equation, as `d.latex(steps=True)` writes it
    (its first rows are the steps, in order)."""
    rows = [m.group(1) for line in d.latex(steps=True).splitlines() if (m := _ROW.match(line))]
    return rows[:len(d.steps)]


def _finite(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _verdict(result) -> dict:
    """One check result: "verified", "mismatch" or "not checked" (no valid point)."""
    err = result.max_rel_error
    verdict = "verified" if result.ok else \
        "not checked" if isinstance(err, float) and math.isnan(err) else "mismatch"
    return {"verdict": verdict, "max_rel_error": _finite(err), "message": result.message}


def _overall(ok: bool, results: dict) -> str:
    """"verified"; "failed" if a formula disagrees with its finite differences; else
    "not verified" (some formula could not be checked: the CLI's exit status 4)."""
    if ok:
        return "verified"
    if any(_verdict(r)["verdict"] == "mismatch" for r in results.values()):
        return "failed"
    return "not verified"


def _claim(d, claim: str) -> dict:
    """The verdict on one claim; a claim that cannot be read gets the verdict "error"
    with its message and span (the derivation itself is fine, so the answer is 200)."""
    try:
        r = d.verify_claim(claim)
    except MatcalcError as e:
        return {"claim": claim, "verdict": "error", "ok": False,
                **error_answer(e, claim, where="claim")}
    return {"claim": claim, **r.to_json()}


def error_answer(e: MatcalcError, source: str | None, where: str = "program") -> dict:
    """The 422 body: the message, where it is (1-based line and columns, `end_column`
    one past the span's last character on that line, columns counted in characters),
    the hint, and the error rendered with carets as the terminal shows it. The place is
    given only when the error points into `source`, or into its end (the formula of a
    claim `NAME = FORMULA`); an error in an option has none (`where` is "options")."""
    inside = e.source is not None and source is not None and \
        (e.source == source or where == "claim" and source.endswith(e.source))
    out = {"error": e.message, "line": None, "column": None, "end_column": None,
           "kind": e.kind, "hint": e.hint, "where": where if inside else "options",
           "rendered": e.render()}
    if e.span is not None and inside:
        offset = len(source) - len(e.source)
        start = offset + max(0, min(e.span.start, len(e.source)))
        end = offset + e.span.end
        line_start = source.rfind("\n", 0, start) + 1
        line_end = source.find("\n", start)
        line_end = len(source) if line_end < 0 else line_end
        column = start - line_start + 1
        out.update(line=source.count("\n", 0, start) + 1, column=column,
                   end_column=column + max(1, min(end, line_end) - start))
    return out


def _codegen(request: Request) -> Reply:
    """The generated module as a download, made in memory."""
    d = matcalc.derive(request.program, check=False, **request.derive)
    source = d.codegen(target=request.options["target"])
    mode = request.derive.get("mode", "gradient")
    name = re.sub(r"[^A-Za-z0-9_]", "_", getattr(d, "output_name", "matcalc"))
    filename = f"{name}_{mode}.py"
    return Reply(200, PYTHON_TYPE, source.encode("utf-8"),
                 {"Content-Disposition": f'attachment; filename="{filename}"'})


def json_reply(status: int, payload: dict) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Reply(status, JSON_TYPE, body, {})
