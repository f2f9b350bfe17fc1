"""Checking a hand derivation: is the user's formula for dJ/dW right?

The claim `W1 = dz*x'` is parsed in the same language and typed in the program's own
namespace (its inputs, named intermediates and the upstream gradient, with the shapes
matcalc inferred), so its IR uses the very Var nodes of the derivation. Then, in order:
its shape against the true derivative's shape in the chosen layout (the transpose-order
mistake is a shape error, reported with both shapes), then its value against matcalc's
verified formula at random points of the expression's domain.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from . import expr as E
from .errors import MatcalcError, NameError_, OptionError
from .layout import from_layout, substitute

_LHS = re.compile(r"^\s*(?:d\s*[A-Za-z][A-Za-z0-9_]*\s*/\s*d\s*)?([A-Za-z][A-Za-z0-9_]*)\s*=")


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim: `ok`, a message in words, and the correct formula."""

    name: str
    claim: str
    ok: bool
    verdict: str            # "right", "wrong" or "wrong shape"
    rel_error: float
    correct: str
    message: str

    def __str__(self) -> str:
        return self.message


def verify_claim(d, text: str, seed: int = 0) -> ClaimResult:
    """Check `NAME = FORMULA` (also `dJ/dNAME = ...`, or `dNAME = ...`) against `d`."""
    from .parse import parse
    from .shapes import Declaration, infer_shapes
    from .check import check_claim

    m = _LHS.match(text)
    if not m:
        raise OptionError(f"bad claim {text!r}: expected NAME = FORMULA, e.g. \"W1 = dz*x'\"")
    name = m.group(1)
    if name not in d.derivatives and name.startswith("d") and name[1:] in d.derivatives:
        name = name[1:]
    if name not in d.derivatives:
        raise NameError_(f"bad claim {text!r}: {name} is not a variable being differentiated; "
                         f"they are {', '.join(d.derivatives)}")
    formula = text[m.end():]
    if not formula.strip():
        raise OptionError(f"bad claim {text!r}: the formula after '=' is empty")
    decls: dict[str, Declaration] = {}
    namespace: list[E.Var] = list(d.inputs.values()) + list(d.typed.intermediates.values())
    if d.upstream is not None:
        namespace.append(d.upstream)
    for v in namespace:
        r, c = v.shape
        decls[v.name] = Declaration(r, c)
    try:
        typed = infer_shapes(parse(formula), decls)
    except MatcalcError as e:
        raise e.with_source(formula)
    claimed = substitute(typed.output, d.typed.inline)
    true = d.derivatives[name]
    layout = d.layout

    def result(ok, verdict, err, msg):
        return ClaimResult(name, formula.strip(), ok, verdict, err, true.text, msg)

    want, got = true.node.shape, claimed.shape
    if got != want:
        hint = ""
        if (got[1], got[0]) == want:
            hint = (f"\nyour formula has the shape of the transpose: in {layout} layout "
                    f"dL/d{name} is {_shape(want)}")
        return result(False, "wrong shape", math.inf,
                      f"{name}: WRONG SHAPE: your formula is {_shape(got)}, but d/d{name} in "
                      f"{layout} layout is {_shape(want)}{hint}\n  correct: {name} = {true.text}")
    ok, err = check_claim(d.output, d.adjoint_upstream, d.adjoint_form(name),
                          from_layout(claimed, layout, d.adjoint_upstream), name, seed=seed)
    if ok:
        return result(True, "right", err,
                      f"{name}: RIGHT (max rel. error {err:.1e} against {true.text})")
    return result(False, "wrong", err,
                  f"{name}: WRONG (relative error {err:.2g})\n  yours:   {name} = "
                  f"{formula.strip()}\n  correct: {name} = {true.text}")


def _shape(s) -> str:
    r, c = s
    return "scalar" if (r, c) == (1, 1) else f"{r} x {c}"
