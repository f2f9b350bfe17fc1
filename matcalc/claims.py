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
from dataclasses import dataclass, field

from . import expr as E
from .errors import MatcalcError, NameError_, OptionError, ShapeError, Span
from .expr import substitute
from .layout import from_layout
from .shapes import Declaration, infer_shapes
from .simplify import simplify
from .steps import expanded_adjoints

_LHS = re.compile(r"^\s*(?:d\s*[A-Za-z][A-Za-z0-9_]*\s*/\s*d\s*)?([A-Za-z][A-Za-z0-9_]*)"
                  r"\s*(\[[^\]=]*\])?\s*=")


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on one claim: `ok`, a message in words, the correct formula, and for
    a wrong claim what went wrong (`diagnosis`: matcalc.diagnosis.Diagnosis, each one
    verified, most telling first; empty when no known mistake explains it)."""

    name: str
    claim: str
    ok: bool
    verdict: str            # "right", "wrong", "wrong shape" or "not checked"
    rel_error: float
    correct: str
    message: str
    diagnosis: tuple = field(default=())

    def to_json(self) -> dict:
        """The verdict as the web API and `check --format json` write it."""
        err = self.rel_error
        return {"name": self.name, "verdict": self.verdict, "ok": self.ok,
                "rel_error": err if math.isfinite(err) else None, "correct": self.correct,
                "message": self.message, "diagnosis": [g.to_json() for g in self.diagnosis]}

    def __str__(self) -> str:
        return self.message


def verify_claim(d, text: str, seed: int = 0, deadline: float | None = None,
                 diagnose: bool = True) -> ClaimResult:
    """Check `NAME = FORMULA` (also `dJ/dNAME = ...`, or `dNAME = ...`) against `d`
    (until the matcalc.check.clock() reads `deadline`; by default TIME_LIMIT from now).
    A wrong claim is diagnosed (matcalc.diagnosis) unless `diagnose` is False. Errors
    in the formula (syntax, a name the program lacks) are user errors placed in `text`."""
    from .check import check_claim  # the checker (NumPy): loaded when a claim is checked
    from .parse import parse  # the parser: loaded when a program is first parsed

    m = _LHS.match(text)
    if not m:
        raise OptionError(f"bad claim {text!r}: expected NAME = FORMULA, e.g. \"W1 = dz*x'\"")
    name = m.group(1)
    steps = {st.of: st for st in d.steps}
    known = set(d.derivatives) | set(steps)
    if name not in known and name.startswith("d") and name[1:] in known:
        name = name[1:]
    if name not in known:
        raise NameError_(f"bad claim {text!r}: {name} is not a variable being differentiated; "
                         f"they are {', '.join(d.derivatives)}"
                         + (f" and the intermediates {', '.join(d.typed.intermediates)}"
                            if d.typed.intermediates else ""))
    formula = text[m.end():]
    offset = m.end()
    if not formula.strip():
        raise OptionError(f"bad claim {text!r}: the formula after '=' is empty")
    decls: dict[str, Declaration] = {}
    namespace: list[E.Var] = list(d.inputs.values()) + list(d.typed.intermediates.values())
    if d.upstream is not None:
        namespace.append(d.upstream)
    namespace += [E.Var(st.name, st.node.shape) for st in d.steps]
    for v in namespace:
        shape = v.shape
        decls[v.name] = Declaration(shape[0], shape[1], dims=tuple(shape) if len(shape) > 2
                                    else ())
    true = d.derivatives[name] if name in d.derivatives else steps[name].derivative
    layout = d.layout

    # in a program, the correct formula is shown as the notes write it: with the names
    correct = steps[name].text if name in steps else true.text
    from .printing.index import free_indices
    lhs = name + free_indices(steps[name].node if name in steps else true.node)
    if name not in steps and true.where:
        correct += " where " + ", ".join(f"{n} = {t}" for n, t in true.where_text.items())

    def result(ok, verdict, err, msg, diagnosis=()):
        if diagnosis:
            msg += "\n" + _diagnosis_text(diagnosis)
        return ClaimResult(name, formula.strip(), ok, verdict, err, correct, msg,
                           tuple(diagnosis))
    # the claim may use intermediates and the steps' adjoint names: expand them all
    names = _claim_names(d)
    truth = d.adjoint_form(name) if name in d.derivatives else _expansions(d)[name]
    dims = set(d.typed.dim_names) | {x for dc in decls.values() for x in (dc.rows, dc.cols)
                                     if isinstance(x, str)}
    indices = m.group(2)                # an index-notation claim: A[j,k,l] = ...
    try:
        ast = parse(formula)
        _known_names(ast, decls, dims)
        typed = _type_claim(formula, decls, true.node.shape, parse, infer_shapes, Declaration,
                            indices)
    except ShapeError as e:          # an ill-shaped hand derivation is a wrong answer
        if e.message.startswith(_NOT_SHAPES) or " takes " in e.message:
            raise _in_claim(e, formula, text, offset) from None
        e.with_source(formula)
        found = ()
        if diagnose:
            from .diagnosis import Claim
            from .diagnosis import diagnose as run
            found = run(Claim(d, name, formula, None, names, truth, true.node.shape, [],
                              retype=_retyper(d, decls, true.node.shape), ast=ast),
                        seed, deadline)
        return result(False, "wrong shape", math.inf,
                      f"{name}: WRONG SHAPE: your formula does not fit together:\n"
                      + _indent(e.render()) + f"\n  correct: {lhs} = {correct}", found)
    except MatcalcError as e:
        raise _in_claim(e, formula, text, offset) from None
    claimed = substitute(typed.output, names)

    def diagnosis():
        if not diagnose:
            return ()
        from .diagnosis import Claim
        from .diagnosis import diagnose as run
        terms = _terms(ast, formula, decls, true.node.shape, parse, infer_shapes, Declaration)
        return run(Claim(d, name, formula, typed.output, names, truth, true.node.shape, terms,
                         retype=_retyper(d, decls, true.node.shape), ast=ast), seed, deadline)

    want, got = true.node.shape, claimed.shape
    if got != want:
        hint = ""
        if len(got) == 2 and (got[1], got[0]) == want:
            hint = "\nyours has the shape of the transpose: the transposes are in the wrong order"
        return result(False, "wrong shape", math.inf,
                      f"{name}: WRONG SHAPE: your formula is {_shape(got)}, but {d._lhs(name)} in "
                      f"{layout} layout is {_shape(want)}{hint}\n  correct: {lhs} = {correct}",
                      diagnosis())
    verdict = check_claim(d.output, d.adjoint_upstream, truth,
                          from_layout(claimed, layout, d.adjoint_upstream), name, seed=seed,
                          labels=d.onehot, deadline=deadline)
    err = verdict.error
    if verdict.ok:
        return result(True, "right", err,
                      f"{name}: RIGHT (max rel. error {err:.1e} against {correct if lhs == name else lhs + ' = ' + correct})"
                      + _under_structure(d, claimed))
    if not math.isnan(err) and name in d.unconstrained:   # another convention's answer?
        from .structure import alternatives, claim_note, structures
        kind = structures(d.onehot)[name]
        for which, node in alternatives(d.unconstrained[name], kind, d.convention,
                                        d.onehot, d.inputs[name]).items():
            other = check_claim(d.output, d.adjoint_upstream, node,
                                from_layout(claimed, layout, d.adjoint_upstream), name,
                                seed=seed, labels=d.onehot, deadline=deadline)
            if other.ok:
                return result(False, which, err,
                              claim_note(which, name, kind, d.convention, correct))
    if math.isnan(err):                   # nothing to compare: no evidence either way
        return result(False, "not checked", err,
                      f"{name}: NOT CHECKED ({verdict.reason})\n  yours:   "
                      f"{name} = {formula.strip()}\n  correct: {lhs} = {correct}")
    return result(False, "wrong", err,
                  f"{name}: WRONG (relative error {err:.2g})\n  yours:   {name} = "
                  f"{formula.strip()}\n  correct: {lhs} = {correct}", diagnosis())


def _expansions(d) -> dict:
    return expanded_adjoints(d) if d.steps else {}


def _claim_names(d) -> dict:
    """The claim's namespace expanded: intermediates and the steps' adjoints (dz) as
    formulas over the inputs."""
    expansions = _expansions(d)
    names: dict = dict(d.typed.inline)
    for st in d.steps:
        names[E.Var(st.name, st.node.shape)] = from_layout_expanded(st, expansions, d)
    return names


_NOT_SHAPES = ("division by zero", "the size of")   # ShapeErrors that are no wrong answer


def _in_claim(e: MatcalcError, formula: str, text: str, offset: int) -> MatcalcError:
    """An error in the formula, placed in the claim as written."""
    if e.source is None or e.source == formula:
        e.source = text
        if e.span is not None:
            e.span = Span(e.span.start + offset, e.span.end + offset)
    return e


def _known_names(ast, decls: dict, dims: set) -> None:
    """A claim may use only the program's names: a name it lacks is a user error (it
    would otherwise be a fresh variable at a random value)."""
    from . import syntax as S
    from .ops import LANGUAGE
    for n in S.walk(ast):
        if not isinstance(n, S.Name) or n.name in decls or n.name in dims or n.name in LANGUAGE:
            continue
        known = ", ".join(decls)
        raise NameError_(f"the program has no {n.name}", n.span, hint=f"a claim may use the "
                         f"program's names: {known}")


def _retyper(d, decls: dict, want):
    """A function typing another formula in the claim's namespace (None if it does not
    type), for the diagnoses that rewrite the claim's text."""
    from .parse import parse
    from .shapes import Declaration, infer_shapes

    def retype(formula: str):
        try:
            return _type_claim(formula, decls, want, parse, infer_shapes, Declaration).output
        except MatcalcError:
            return None
    return retype


def _terms(ast, formula: str, decls: dict, want, parse, infer_shapes, Declaration) -> list:
    """The top-level terms of the claim, [(sign, text, typed node)], each of the claim's
    shape; [] if the claim is one term or a term does not type on its own."""
    from . import syntax as S
    expr = ast.statements[0].expr
    flat: list = []

    def split(n, sign):
        if isinstance(n, S.Binary) and n.op in ("+", "-") and not _parenthesized(formula, n):
            split(n.left, sign)
            split(n.right, sign if n.op == "+" else -sign)
        else:
            flat.append((sign, n))
    split(expr, 1)
    if len(flat) < 2:
        return []
    out = []
    for sign, n in flat:
        start, end = n.span.start, n.span.end
        if _parenthesized(formula, n):
            start, end = formula.rindex("(", 0, start), formula.index(")", end) + 1
        text = formula[start:end]
        try:
            node = _type_claim(text, decls, want, parse, infer_shapes, Declaration).output
        except MatcalcError:
            return []
        if node.shape != want:
            return []
        out.append((sign, text.strip(), node))
    return out


def _parenthesized(formula: str, n) -> bool:
    """Whether the syntax node `n` is written in parentheses (the AST keeps none)."""
    before, after = formula[:n.span.start].rstrip(), formula[n.span.end:].lstrip()
    return before.endswith("(") and after.startswith(")")


def _diagnosis_text(diagnosis) -> str:
    lines = []
    for i, g in enumerate(diagnosis):
        head = "  diagnosis: " if i == 0 else "  also:      "
        lines.append(head + g.message)
        if g.fixed:
            lines.append("             " + ("that is right: " if i == 0 else "") + g.fixed)
    return "\n".join(lines)


def _under_structure(d, claimed: E.Node) -> str:
    """A note when the claim is right because a declared matrix is symmetric: `(A + A')*x`
    is 2*A*x for a symmetric A."""
    from .structure import said, structures, use_structure
    plain = simplify(claimed)
    used = use_structure(plain, d.onehot)
    if used is plain:
        return ""
    words = ", ".join(f"{n} {said(k)}" for n, k in structures(d.onehot).items())
    return f"; with {words}, yours equals {d._printers['text'].doprint(used).text}"


def _type_claim(formula: str, decls: dict, want, parse, infer_shapes, Declaration,
                indices: str | None = None):
    """The typed claim. A constant whose size nothing in the formula fixes (`x =
    vector(1)`) takes it from the derivative claimed; errors are those of the formula
    alone. With `indices` ("[j,k,l]") the claim is an index statement with those free
    indices, the derivative's axes in order."""
    if indices:
        name = "claim_"
        while name in decls:
            name += "_"
        try:
            return infer_shapes(parse(f"{name}{indices} = {formula}"), decls)
        except MatcalcError as e:
            e.span = None
            raise
    try:
        return infer_shapes(parse(formula), decls)
    except ShapeError as e:
        if "is not fixed" not in e.message:
            raise
        name = "claim_"
        while name in decls:
            name += "_"
        try:
            return infer_shapes(parse(f"{name} = {formula}"),
                                {**decls, name: Declaration(*want)})
        except MatcalcError:
            raise e from None


def from_layout_expanded(step, expansions, d) -> E.Node:
    """A step's adjoint Var, as the user writes it in the layout, in terms of the inputs."""
    adj = expansions[step.of]
    if d.layout == "numerator":
        from .layout import flip
        return flip(adj)
    return adj


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _shape(s) -> str:
    if len(s) != 2:
        return " x ".join(map(str, s))
    r, c = s
    return "scalar" if (r, c) == (1, 1) else f"{r} x {c}"
