"""The pipeline's entry point: `derive()` runs the straight line text -> AST -> IR
(shapes) -> adjoint IR -> canonical IR -> layout and returns a result (`Derivation` for
a gradient, `HigherDerivation` for a Jacobian, Hessian or Hessian-vector product).

This module sits above the result types (import-linter's layers contract in
pyproject.toml): the results never import it, so `derivation`, `jacobian`, `steps` and
`claims` import one another in one direction only.
"""
from __future__ import annotations

from typing import Any

from . import expr as E
from .assumptions import AXES, SIGNS
from .derivation import Derivation
from .errors import MatcalcError, NameError_, OptionError, Span
from .jacobian import HigherDerivation, derive_higher
from .layout import LAYOUTS
from .shapes import Declaration, Typed, declaration, infer_shapes
from .structure import CONVENTIONS, validate

__all__ = ["MODES", "derive", "derive_typed"]


def _label_options(onehot, signs, typed) -> dict[str, str]:
    """{"Y": "rows", "y": "signs"} from onehot ["Y=rows"], ["y"] or {"Y": "rows"} and
    signs ["y"]; validated."""
    if isinstance(onehot, str):
        onehot = [onehot]
    items = onehot.items() if isinstance(onehot, dict) else \
        [(o.partition("=")[0].strip(), o.partition("=")[2].strip() or "columns") for o in onehot]
    out = {}
    for name, axis in items:
        if axis not in AXES:
            raise OptionError(f"--onehot {name}={axis}: the axis is columns or rows")
        if name not in typed.inputs:
            raise OptionError(f"--onehot {name}: the program has no variable {name}")
        if typed.inputs[name].shape[0] == 1 or len(typed.inputs[name].shape) != 2:
            raise OptionError(f"--onehot {name}: {name} must be a column vector or a matrix")
        out[name] = axis
    if isinstance(signs, str):
        signs = [signs]
    for name in signs:
        if name not in typed.inputs:
            raise OptionError(f"--signs {name}: the program has no variable {name}")
        if name in out:
            raise OptionError(f"--signs {name}: {name} is already one-hot (--onehot)")
        if len(typed.inputs[name].shape) != 2:
            raise OptionError(f"--signs {name}: {name} is a tensor; labels of -1 or +1 are a "
                              f"scalar, a vector or a matrix")
        out[name] = SIGNS
    return out


MODES = ("gradient", "jacobian", "hessian", "hvp")


def _assume_items(assume) -> list[tuple[str, str]]:
    """[("S", "spd")] from "S=spd", ["S=spd"] or {"S": "spd"}."""
    if isinstance(assume, str):
        assume = [assume]
    if isinstance(assume, dict):
        return list(assume.items())
    return [(a.partition("=")[0].strip(), a.partition("=")[2].strip()) for a in assume]


def _square_structured(ast, typed, decls, kinds, assume):
    """The typed program with every structured variable that no --shape declares made
    square: tr(A*S) leaves S m x n until S=symmetric says m = n, and `Sigma`, a Greek
    name and so a scalar by default, is a matrix once declared spd. As it was when that
    contradicts the program, for the declaration's check to report."""
    used = {d for v in typed.inputs.values() for d in v.shape} | set(typed.dim_names)
    fresh = (d for d in ("n", "m", "p", "q", "k", "d", "r", "s") if d not in used)
    square = {}
    for name, _ in _assume_items(assume):
        v = typed.inputs.get(name)
        if v is None or name in decls or (v.shape[0] == v.shape[1] and v.shape != E.SCALAR):
            continue
        if v.shape[1] != 1:                               # m x n: make it m x m
            square[name] = Declaration(v.shape[0], v.shape[0])
        elif v.shape == E.SCALAR:                         # a scalar by its name's kind
            dim = next(fresh, None)
            if dim is not None:
                square[name] = Declaration(dim, dim)
    if not square:
        return typed
    try:
        return infer_shapes(ast, {**decls, **square}, kinds)
    except MatcalcError:
        return typed


def _structure_options(assume, convention, typed, labels: dict[str, str]) -> dict[str, str]:
    """The labels with the structures of `assume` (["S=spd"] or {"S": "spd"}) added,
    validated against the program's variables and shapes."""
    if convention not in CONVENTIONS:
        raise OptionError(f"unknown convention {convention!r}: expected projected or entries")
    out = dict(labels)
    for name, kind in _assume_items(assume):
        if not name or not kind:
            raise OptionError(f"--assume {name}={kind}: expected NAME=STRUCTURE, e.g. S=spd")
        if name not in typed.inputs:
            raise OptionError(f"--assume {name}: the program has no variable {name}")
        if name in out:
            raise OptionError(f"--assume {name}: {name} is already assumed {out[name]}")
        validate(name, kind, typed.inputs[name], typed)
        if kind == "orthogonal" and convention == "entries":
            raise OptionError(f"--assume {name}=orthogonal: the entries of an orthogonal "
                              "matrix are not independent, so there is no entries "
                              "convention; its gradient is the Riemannian one (--convention "
                              "projected)")
        out[name] = kind
    return out


def derive(program: str, wrt: Any = None, layout: str = "denominator", shapes: Any = None,
           kinds: str = "ml", check: bool = False, onehot: Any = (), mode: str = "gradient",
           signs: Any = (), assume: Any = (), convention: str = "projected",
           notation: str = "auto", inline: bool = False) -> Derivation | HigherDerivation:
    """Parse, type and differentiate `program` (in `notation`: matcalc, latex or auto);
    see SPEC section 6. Gradients are shown with the program's own names for the values
    it named, or in terms of the inputs only if `inline`."""
    from .parse import parse  # lark: imported when a program is first parsed
    if layout not in LAYOUTS:
        raise OptionError(f"unknown layout {layout!r}: expected numerator, denominator or mixed")
    decls: dict[str, Declaration] = dict(declaration(name, dims)
                                         for name, dims in (shapes or {}).items())
    if not isinstance(program, str):
        raise OptionError("the program must be a string")
    E.reset_work()
    E.forget_unused()
    try:
        ast = parse(program, notation)
        typed = infer_shapes(ast, decls, kinds)
        if assume:
            typed = _square_structured(ast, typed, decls, kinds, assume)
    except MatcalcError as e:
        raise e.with_source(program)
    for name in decls:
        if name not in typed.inputs and name not in typed.intermediates and \
                name not in typed.dim_names:
            raise OptionError(f"--shape declares {name}, which the program does not use")
    if wrt is None or len(wrt) == 0:
        wrt = list(typed.inputs)
    else:
        wrt = list(dict.fromkeys(wrt))
        for w in wrt:
            if w not in typed.inputs:
                if w in typed.intermediates:
                    raise NameError_(f"--wrt {w}: {w} is an intermediate, not an input variable")
                raise NameError_(f"--wrt {w}: the program has no variable {w}; its variables "
                                 f"are {', '.join(typed.inputs) or 'none'}")
    labels = _label_options(onehot, signs, typed)
    try:
        labels = _structure_options(assume, convention, typed, labels)
    except MatcalcError as e:
        raise e.with_source(program)
    return derive_typed(program, typed, wrt, layout, mode, labels, check,
                        convention=convention, inline=inline)


def derive_typed(program: str, typed: Typed, wrt: list[str], layout: str, mode: str,
                 labels: dict[str, str], check: bool = False, parsed: bool = True,
                 convention: str = "projected",
                 inline: bool = False) -> Derivation | HigherDerivation:
    """The result for a typed program (parsed here, or built by `matcalc.interop.sympy`):
    a `Derivation` for the gradient, a `HigherDerivation` for the other modes; checked by
    finite differences first if `check`. An error a gradient finds in the IR is shown on
    the program's text when that text was `parsed` (the user wrote it)."""
    if mode not in MODES:
        raise OptionError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    d: Derivation | HigherDerivation
    if mode != "gradient":
        orthogonal = [n for n in wrt if labels.get(n) == "orthogonal"]
        if orthogonal:
            raise OptionError(f"--{mode} with respect to the orthogonal {orthogonal[0]}: "
                              "second derivatives on the orthogonal group are not "
                              "implemented (the Riemannian Hessian has a curvature term); "
                              f"leave {orthogonal[0]} out of --wrt")
        d = derive_higher(program, typed, wrt, layout, mode, labels, convention)
    else:
        try:
            d = Derivation(program, typed, wrt, layout, labels, convention, inline)
        except MatcalcError as e:       # found in the IR, which keeps no spans: the program
            if not parsed:
                raise
            if e.span is None:
                e.span = Span(0, len(program.rstrip()) or 1)
            raise e.with_source(program)
    if check:
        d.check().raise_if_failed()
    return d
