"""After WRONG: what went wrong, named only when a check proves it.

A student's wrong derivative is rarely random. It is the right one transposed (the other
layout), off by a constant (the 2 of a square, the 1/N of a mean, a sign), short of a term
or with one too many, right only under an assumption the program does not state (one-hot
labels, a symmetric matrix), a bias gradient not summed over the batch, or the upstream
gradient left out or multiplied on the wrong side.

Each family is one entry of `ENTRIES`: a small function that proposes transformations of
the claim (`Candidate`s: the transformed claim as an IR node in the claim's own namespace,
or the same claim under an extra assumption). A proposal is first compared with the
correct formula at one random point (cheap: one evaluation), and only a proposal that
agrees there is verified by `matcalc.check.check_claim`, the same finite-difference
machinery as the claim itself. Only verified transformations are named, so a diagnosis
is never a guess: its `fixed` formula (or its `option`) makes the claim RIGHT.

The sizes of a diagnosis check are shifted away from 2 (a dimension of size 2 would make
"off by a factor 2" and "off by a factor N" indistinguishable).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from . import expr as E
from .layout import from_layout, substitute, to_layout

PRESCREEN = 1e-6          # relative disagreement at the first point that rules a proposal out
MAX_DIAGNOSES = 3         # the first ones, in the order of ENTRIES
SIZE_SHIFT = 3            # sizes 5, 6, 7, ... instead of 2, 3, 4, ...
TIME_LIMIT = 1.0          # seconds of processor time a diagnosis may take


@dataclass(frozen=True)
class Diagnosis:
    """One verified mistake: its family (`kind`), what it is (`detail`: "2", "--onehot y",
    a term), a teacher's sentence, and the correct formula it leads to (`fixed`, the
    claim with the mistake undone) or the option under which the claim is right."""

    kind: str
    detail: str
    message: str
    fixed: str = ""
    option: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "detail": self.detail, "message": self.message,
                "fixed": self.fixed or None, "option": self.option or None}

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Candidate:
    """A proposed transformation of the claim: the transformed claim (user layout, claim
    namespace), or the claim itself under extra `labels` or with `symmetric` a symmetric
    matrix."""

    kind: str
    detail: str
    message: str
    node: E.Node
    labels: tuple = ()          # ((name, kind), ...) added to the derivation's labels
    symmetric: str = ""         # a square input taken symmetric
    option: str = ""
    fixed: bool = True          # whether the transformed claim is shown as a formula
    text: str = ""              # the transformed claim as written, if it was rewritten


@dataclass
class Claim:
    """What the entries look at: the derivation, the claim and the correct formula."""

    d: object                       # the Derivation
    name: str                       # the variable differentiated by
    formula: str                    # as written
    node: E.Node | None             # the typed claim, user layout, claim namespace (None:
                                    # it does not type)
    names: dict                     # claim namespace -> inputs (intermediates, steps)
    truth: E.Node                   # the correct derivative, adjoint form, over the inputs
    want: tuple                     # its shape in the user's layout
    terms: list                     # [(sign, text, node)] of the claim's top-level sum
    retype: Callable[[str], E.Node | None] | None = None   # types another formula
    ast: object = None              # the claim's syntax tree (matcalc.syntax)

    def adjoint(self, node: E.Node) -> E.Node:
        """A claim-namespace, user-layout node in adjoint form over the inputs."""
        return from_layout(substitute(node, self.names), self.d.layout,
                           self.d.adjoint_upstream)

    def show(self, node: E.Node) -> str:
        """A node in matcalc's language, simplified (it parses back to the same formula)."""
        from .simplify import simplify
        return self.d.derivative(self.name, simplify(node)).text   # spelled as d spells

    @property
    def upstream(self) -> E.Var | None:
        """The upstream gradient as the user writes it (dY, or dY' in numerator layout)."""
        return self.d.upstream


# ---- the families ------------------------------------------------------------------------

def layout_swap(c: Claim) -> Iterator[Candidate]:
    """The transpose of the right answer: the other layout's derivative."""
    if c.node is None:
        return
    r, k = c.node.shape
    if (k, r) != c.want:
        return
    other = "numerator" if c.d.layout != "numerator" else "denominator"
    yield Candidate("layout", other,
                    f"transposed: yours is d{_top(c)}/d{c.name} in the {other} layout; in the "
                    f"{c.d.layout} layout it is the transpose", E.Transpose(c.node))


def transposed_term(c: Claim) -> Iterator[Candidate]:
    """One term of the claim transposed (the order of its transposes reversed)."""
    if c.node is None or len(c.terms) < 2:
        return
    for i, (sign, text, node) in enumerate(c.terms):
        if node.shape[0] != node.shape[1]:
            continue
        rest = [(s, n) for j, (s, _, n) in enumerate(c.terms) if j != i]
        yield Candidate("transpose", text,
                        f"the term `{text}` is transposed: its transposes are in the wrong "
                        f"order", _sum([(sign, E.Transpose(node))] + rest))


def transposed_name(c: Claim) -> Iterator[Candidate]:
    """One square matrix of the claim written transposed (A for A'), the upstream
    gradient included (dY' for dY)."""
    if c.node is None:
        return
    up = c.upstream
    for v in _vars(c.node):
        if v.shape[0] != v.shape[1] or v.shape == (1, 1):
            continue
        if v == up:
            kind, detail, said = "upstream", "transposed", \
                f"the upstream gradient {v.name} enters transposed"
        else:
            kind, detail, said = "transpose", v.name, f"{v.name} should be transposed"
        yield Candidate(kind, detail, f"{said}: {v.name}' where yours has {v.name} (and the "
                        f"other way round)", substitute(c.node, {v: E.Transpose(v)}))


def constant_factor(c: Claim) -> Iterator[Candidate]:
    """The whole claim, or one of its terms, off by 2, 1/2, -1, N or 1/N."""
    if c.node is None:
        return
    if c.node.shape != c.want:
        return
    several = len(c.terms) > 1
    for factor, ratio, said, phrase in _factors(c):
        yield Candidate("factor", ratio, said, E.Scale(factor, c.node))
        if not several:
            continue
        for i, (sign, text, node) in enumerate(c.terms):
            rest = [t for j, t in enumerate(c.terms) if j != i]
            fixed = _sum([(sign, E.Scale(factor, node))] + [(s, n) for s, _, n in rest])
            right = " and ".join(f"`{t}`" for _, t, _ in rest)
            yield Candidate("factor", f"{ratio} in {text}",
                            f"the term `{text}` is {phrase}; {right} "
                            f"{'is' if len(rest) == 1 else 'are'} right", fixed)


def missing_term(c: Claim) -> Iterator[Candidate]:
    """A term of the derivative left out: the derivative through one additive term of
    one statement (named with its line)."""
    if c.node is None:
        return
    if c.node.shape != c.want:
        return
    parts = contributions(c)
    if len(parts) < 2:
        return
    for part in parts:
        user = part.named
        if user.shape != c.node.shape:
            continue
        yield Candidate("term", f"missing {c.show(user)}",
                        f"a term is missing: `{c.show(user)}`, the derivative through "
                        f"{part.where}{part.place}; "
                        f"{'the terms you have are' if c.terms else 'what you have is'} right",
                        E.Add((c.node, user)))


def extra_term(c: Claim) -> Iterator[Candidate]:
    """A term too many: the claim without one of its terms is right."""
    if c.node is None:
        return
    if len(c.terms) < 2:
        return
    for i, (_, text, _) in enumerate(c.terms):
        rest = [(s, n) for j, (s, _, n) in enumerate(c.terms) if j != i]
        node = _sum(rest)
        if node.shape != c.want:
            continue
        others = " and ".join(f"`{t}`" for j, (_, t, _) in enumerate(c.terms) if j != i)
        yield Candidate("term", f"extra {text}",
                        f"the term `{text}` is one too many: {others} "
                        f"{'is' if len(rest) == 1 else 'are'} the whole derivative",
                        node)


def label_assumption(c: Claim) -> Iterator[Candidate]:
    """Right for one-hot (or +-1) labels that the program does not declare."""
    if c.node is None:
        return
    from .assumptions import SIGNS
    if c.node.shape != c.want:
        return
    for v in c.d.inputs.values():
        if v.name in c.d.onehot or v.name == c.name:
            continue
        kinds = [] if v.shape[0] == 1 else ["columns"] if v.shape[1] == 1 else \
            ["columns", "rows"]
        for kind in kinds + [SIGNS]:
            if kind == SIGNS:
                option, what = f"--signs {v.name}", f"every entry of {v.name} is -1 or +1"
            elif v.shape[1] == 1:
                option, what = f"--onehot {v.name}", f"{v.name} sums to 1 (one-hot)"
            else:
                option = f"--onehot {v.name}" + ("=rows" if kind == "rows" else "")
                what = f"each {kind[:-1]} of {v.name} sums to 1 (one-hot)"
            yield Candidate("label", option, f"right when {what}: add {option}",
                            c.node, labels=((v.name, kind),), option=option, fixed=False)


def bias_sum(c: Claim) -> Iterator[Candidate]:
    """A bias gradient left per sample: summed over the batch it is right."""
    if c.node is None:
        return
    (r, k), (wr, wk) = c.node.shape, c.want
    if (r, k) == (wr, wk):
        return
    sums = []
    if r == wr and wk == 1:
        sums.append(E.MatMul((c.node, E.Ones((k, 1)))))
    if k == wr and wk == 1:
        sums.append(E.MatMul((E.Transpose(c.node), E.Ones((r, 1)))))
    if k == wk and wr == 1:
        sums.append(E.MatMul((E.Ones((1, r)), c.node)))
    if r == wk and wr == 1:
        sums.append(E.MatMul((E.Ones((1, k)), E.Transpose(c.node))))
    for node in sums:
        yield Candidate("bias", "sum over the batch",
                        f"{c.name} is added to every sample: its gradient sums yours over "
                        f"the batch", node)


def upstream_placement(c: Claim) -> Iterator[Candidate]:
    """The upstream gradient left out (multiplied in on either side, or elementwise), or
    a product of the claim in the wrong order (dY*A for A*dY)."""
    if c.node is None:
        return
    ups = _upstreams(c)
    present = set(E.walk(c.node))
    for u in ups:
        if u in present:
            continue
        for side, node in _products(c.node, u):
            yield Candidate("upstream", f"{u.name} left out",
                            f"the upstream gradient {u.name} is left out: it multiplies "
                            f"yours {side}", node)
    for n in E.walk(c.node):
        if isinstance(n, E.MatMul) and any(u in set(E.walk(f)) for f in n.factors
                                           for u in ups):
            swapped = _reorder(n)
            if swapped is not None:
                yield Candidate("upstream", "wrong side",
                                "the product is in the wrong order: the upstream gradient "
                                "goes on the other side",
                                substitute(c.node, {n: swapped}))


def symmetric_matrix(c: Claim) -> Iterator[Candidate]:
    """Right only for a symmetric matrix (x'*A*x sees only A's symmetric part). Kept in
    one entry: once `--assume` exists (issue 17), this becomes a check under it."""
    if c.node is None:
        return
    if c.node.shape != c.want:
        return
    for v in c.d.inputs.values():
        r, k = v.shape
        if r == k and r != 1 and v.name != c.name:
            option = f"--assume {v.name}=symmetric"
            yield Candidate("structure", f"{v.name}=symmetric",
                            f"right only for a symmetric {v.name}: declare it with {option}",
                            c.node, symmetric=v.name, option=option, fixed=False)


def rewritten_text(c: Claim) -> Iterator[Candidate]:
    """A formula that does not fit together, made to by one edit of its text: a product
    the other way round (`A*dY` -> `dY*A`), or one name's transpose added or removed."""
    from . import syntax as S
    if c.node is not None or c.ast is None or c.retype is None:
        return
    ups = {u.name for u in _upstreams(c)}
    text = c.formula
    for n in S.walk(c.ast):
        edits = []
        if isinstance(n, S.Binary) and n.op in ("*", "@"):
            left, right = (text[x.span.start:x.span.end] for x in (n.left, n.right))
            up = ups & {m.name for m in _ast_names(n)}
            kind, detail = ("upstream", "wrong side") if up else ("order", "product")
            said = (f"the upstream gradient {min(up)} goes on the other side"
                    if up else f"the product `{left}*{right}` is in the wrong order")
            edits.append((kind, detail, said, f"{_paren(right)}*{_paren(left)}"))
        elif isinstance(n, S.Transpose) and isinstance(n.operand, S.Name):
            name = n.operand.name
            kind = "upstream" if name in ups else "transpose"
            edits.append((kind, "transposed" if name in ups else name,
                          f"{name} should not be transposed", name))
        elif isinstance(n, S.Name) and n.name in {v.name for v in c.names} | set(c.d.inputs) | ups:
            kind = "upstream" if n.name in ups else "transpose"
            edits.append((kind, "transposed" if n.name in ups else n.name,
                          f"{n.name} should be transposed: {n.name}'", n.name + "'"))
        if isinstance(n, S.Binary) and n.op in ("+", "-"):
            for side in (n.left, n.right):
                if isinstance(side, S.Binary) and side.op in ("+", "-"):
                    continue
                part = text[side.span.start:side.span.end]
                said = (f"the term `{part.strip()}` is transposed: its transposes are in "
                        f"the wrong order")
                edits.append(("transpose", part.strip(), said, f"({part.strip()})'", side))
        for kind, detail, said, new, *where in edits:
            at = where[0] if where else n
            formula = text[:at.span.start] + new + text[at.span.end:]
            node = c.retype(formula)
            if node is not None and node.shape == c.want:     # a term: shown simplified
                yield Candidate(kind, detail, said, node, text="" if where else formula.strip())


def _ast_names(ast):
    from . import syntax as S
    return [n for n in S.walk(ast) if isinstance(n, S.Name)]


def _paren(text: str) -> str:
    t = text.strip()
    simple = t.replace("_", "").replace("'", "").isalnum() or \
        (t.startswith("(") and t.endswith(")"))
    return t if simple else f"({t})"


Entry = Callable[[Claim], Iterator[Candidate]]
ENTRIES: tuple[Entry, ...] = (layout_swap, constant_factor, missing_term, extra_term,
                              bias_sum, upstream_placement, transposed_name,
                              transposed_term, label_assumption, symmetric_matrix,
                              rewritten_text)


# ---- verification ------------------------------------------------------------------------

def diagnose(c: Claim, seed: int = 0, deadline: float | None = None) -> list[Diagnosis]:
    """The verified diagnoses of a wrong claim, most telling first (within TIME_LIMIT
    of processor time, and by `deadline`: what is not verified by then is not named)."""
    from .check import check_claim, clock
    from .simplify import simplify
    own = clock() + TIME_LIMIT
    deadline = own if deadline is None else min(deadline, own)
    candidates = []
    for entry in ENTRIES:
        try:
            candidates += list(entry(c))
        except E.IllShaped:         # a proposal that does not fit: none from this entry
            continue
    out: list[Diagnosis] = []
    seen: set = set()
    screens: dict = {}
    d = c.d
    for cand in candidates:
        if len(out) == MAX_DIAGNOSES:
            break
        try:
            adjoint = c.adjoint(cand.node)
        except E.IllShaped:
            continue
        if adjoint.shape != c.truth.shape:
            continue
        env = (cand.labels, cand.symmetric)
        if env not in screens:
            screens[env] = _Screen(c, cand, seed)
        screen = screens[env]
        if not screen.agrees(screen.sub(adjoint)):
            continue
        key = (simplify(adjoint), env)      # one mistake found by two entries is named once
        if key in seen:
            continue
        seen.add(key)
        verdict = check_claim(screen.output, d.adjoint_upstream, screen.truth,
                              screen.sub(adjoint), c.name, seed=seed,
                              fixed_dims=screen.dims, labels=screen.labels,
                              deadline=deadline)
        if not verdict.ok:
            continue
        fixed = f"{c.name} = {cand.text or c.show(cand.node)}" if cand.fixed else ""
        out.append(Diagnosis(cand.kind, cand.detail, cand.message, fixed, cand.option))
    if not out and len(c.terms) > 1:
        found = _term_by_term(c, screens.get(((), "")) or _Screen(c, None, seed), seed,
                              deadline)
        out += [found] if found else []
    return out


def _term_by_term(c: Claim, screen: _Screen, seed: int, deadline) -> Diagnosis | None:
    """Which terms of the claim are right: each matched, and verified, against the
    derivative through one additive term of the program. Named when some are and some
    are not; with the right ones kept and the missing derivatives added, the corrected
    formula is verified too before it is shown."""
    from .check import check_claim
    parts = contributions(c)
    if len(parts) < 1:
        return None
    parts += _whole_terms(parts)
    free = list(range(len(parts)))
    right, wrong = [], []
    for sign, text, node in c.terms:
        signed = node if sign > 0 else E.Scale(E.Const(-1), node)
        adj = c.adjoint(signed)
        hit = None
        for j in free:
            g = parts[j].adjoint
            if screen.agrees(adj, g) and check_claim(
                    c.d.output, c.d.adjoint_upstream, g, adj, c.name, seed=seed,
                    fixed_dims=screen.dims, labels=screen.labels, deadline=deadline).ok:
                hit = j
                break
        if hit is None:
            wrong.append((signed, text))
        else:               # that part, and what overlaps it, is taken
            free = [j for j in free if not parts[j].overlaps(parts[hit])]
            right.append((signed, text, parts[hit]))
    if not right or not wrong:
        return None
    said = "; ".join(f"`{text}` is right, the derivative through {p.where}{p.place}"
                     for _, text, p in right)
    bad = " and ".join(f"`{text}`" for _, text in wrong)
    message = f"term by term: {said}; {bad} {'is' if len(wrong) == 1 else 'are'} not"
    missing = [parts[j] for j in free]
    if missing:
        message += ": " + "; ".join(f"the derivative through {p.where}{p.place} is "
                                    f"`{c.show(p.named)}`" for p in missing)
    nodes = [n for n, _, _ in right] + [p.named for p in missing]
    fixed = ""
    candidate = nodes[0] if len(nodes) == 1 else E.Add(tuple(nodes))
    if candidate.shape == c.want and check_claim(
            c.d.output, c.d.adjoint_upstream, c.truth, c.adjoint(candidate), c.name,
            seed=seed, fixed_dims=screen.dims, labels=screen.labels, deadline=deadline).ok:
        fixed = f"{c.name} = {c.show(candidate)}"
    return Diagnosis("terms", ", ".join(t for _, t, _ in right), message, fixed)


class _Screen:
    """One random point (at sizes away from 2) of one setting (labels, a symmetric
    matrix), where a proposal is compared with the truth before it is verified."""

    def __init__(self, c: Claim, cand: Candidate | None, seed: int):
        from .sampling import assign_dims, first_point, variables_of
        d = c.d
        self.labels = {**d.onehot, **dict(cand.labels if cand else ())} or None
        self.mapping: dict = {}
        if cand is not None and cand.symmetric:
            a = d.inputs[cand.symmetric]
            self.mapping = {a: E.Scale(E.Const(0.5), E.Add((a, E.Transpose(a))))}
        self.output, self.truth = self.sub(d.output), self.sub(c.truth)
        roots = [self.output, *([d.adjoint_upstream] if d.adjoint_upstream else []),
                 self.truth]
        self.dims = {k: v + SIZE_SHIFT for k, v in assign_dims(roots).items()
                     if isinstance(k, str)}
        self.sizes, _, point = first_point(roots, variables_of(roots), self.dims, seed,
                                           self.labels)
        self.memo = None if isinstance(point, str) else point[1]

    def sub(self, node: E.Node) -> E.Node:
        return substitute(node, self.mapping) if self.mapping else node

    def agrees(self, node: E.Node, target: E.Node | None = None) -> bool:
        """Whether `node` equals the truth (or `target`) at the point, within PRESCREEN."""
        import numpy as np

        from .evaluate import evaluate_over
        if self.memo is None:
            return True                 # no point to look at: leave it to the check
        try:
            with np.errstate(all="ignore"):
                got = evaluate_over(node, self.memo, self.sizes)
                want = self.memo[self.truth] if target is None else \
                    evaluate_over(target, self.memo, self.sizes)
        except (KeyError, ValueError, np.linalg.LinAlgError):
            return True
        if got.shape != want.shape:
            return False
        size = max(float(np.linalg.norm(want)), float(np.linalg.norm(got)))
        err = float(np.linalg.norm(want - got))
        return not math.isfinite(err) or err <= PRESCREEN * size or size == 0


# ---- the program's additive terms --------------------------------------------------------

class Part(NamedTuple):
    """The derivative through one additive term of one statement (or, by the product
    rule, through one occurrence of the variable in it)."""
    adjoint: E.Node         # adjoint form over the inputs
    named: E.Node           # as the steps write it: user layout, claim namespace (do*h')
    place: str              # " (in J, line 4)"; "" for a one-statement program
    where: str              # "`lambda/2*norm2(W)^2`", "the second x of `x'*A*x`"
    term: tuple = ()        # (statement, term) it belongs to
    occurrence: int = -1    # which occurrence of the variable, -1 for all of them

    def overlaps(self, other: Part) -> bool:
        """Whether the two share a piece of the derivative (one term, or an occurrence)."""
        return self.term == other.term and (self.occurrence == other.occurrence or
                                            -1 in (self.occurrence, other.occurrence))


def _whole_terms(parts: list[Part]) -> list[Part]:
    """The product rule's parts of one term summed: a claim's term may be all of them."""
    groups: dict = {}
    for p in parts:
        if p.occurrence >= 0:
            groups.setdefault(p.term, []).append(p)
    out = []
    for (i, j), group in groups.items():
        if len(group) > 1:
            where = group[0].where.split(" of ", 1)[1]
            out.append(Part(E.Add(tuple(p.adjoint for p in group)),
                            E.Add(tuple(p.named for p in group)), group[0].place, where,
                            (i, j), -1))
    return out


def contributions(c: Claim) -> list[Part]:
    """The derivative split by where it comes from: one Part for each additive term of
    each statement that uses the variable directly (each occurrence in it, by the product
    rule). Their sum is the derivative."""
    from .differentiate import gradient
    from .simplify import simplify
    from .steps import expanded_adjoints
    d = c.d
    typed = d.typed
    var = typed.inputs.get(c.name) or typed.intermediates.get(c.name)
    if var is None:
        return []
    adjoints = expanded_adjoints(d) if d.steps else {}
    step_vars = {st.of: E.Var(st.name, st.adjoint.shape) for st in d.steps}
    full = dict(typed.inline)
    full.update({step_vars[of]: adj for of, adj in adjoints.items()})
    last = len(typed.statements) - 1
    places = _places(d.program, [name for name, _ in typed.statements])
    out = []
    for i, (name, node) in enumerate(typed.statements):
        terms = node.terms if isinstance(node, E.Add) else (node,)
        seed = d.adjoint_upstream if i == last else step_vars.get(name)
        if i != last and seed is None:
            continue
        for t, term in enumerate(terms):
            if var not in set(E.walk(term)):
                continue
            marked = _marked(term, var)
            for k, (one, mark) in enumerate(marked):
                if term.shape == (1, 1):     # a scalar: its adjoint scales its gradient
                    g = gradient(one, [mark])[mark]
                    g = g if seed is None else E.Scale(seed, g)
                else:
                    g = gradient(one, [mark], seed)[mark]
                named = simplify(substitute(g, {mark: var}))
                if isinstance(named, E.Zero):
                    continue
                where = f"`{c.show(term)}`"
                if len(marked) > 1:
                    where = f"the {_ORDINALS[k]} {c.name} of {where}"
                user = to_layout(named, d.layout, [*d.adjoint_vars, *step_vars.values()])
                out.append(Part(simplify(substitute(named, full)), user,
                                places[i], where, (i, t),
                                k if len(marked) > 1 else -1))
    return out


_ORDINALS = ("first", "second", "third", "fourth")


def _marked(term: E.Node, var: E.Var) -> list[tuple[E.Node, E.Var]]:
    """The product rule's terms: `term` with each occurrence of `var` in turn made a
    fresh Var (x'*A*x: x_'*A*x and x'*A*x_), or `term` itself for one occurrence (or
    more than four, which no student splits by hand)."""
    count: dict = {}
    for n in E.walk(term, last_child_first=True):
        count[n] = 1 if n is var else sum(count[ch] for ch in n.children)
    total = count[term]
    if total < 2 or total > len(_ORDINALS):
        return [(term, var)]

    def replace(node, k, mark):
        if node is var:
            return mark
        kids = list(node.children)
        for j, ch in enumerate(kids):
            if k < count[ch]:
                kids[j] = replace(ch, k, mark)
                return node.rebuild(kids)
            k -= count[ch]
        raise AssertionError(k)
    out = []
    for k in range(total):
        mark = E.Var(f"{var.name}_occurrence_{k}", var.shape)
        out.append((replace(term, k, mark), mark))
    return out


def _places(program: str, names: list[str]) -> list[str]:
    """Where each statement is, as a message says it: " (in J, line 4)", " (in J)" on a
    one-line program, "" for a single statement."""
    if len(names) < 2:
        return [""] * len(names)
    from .parse import parse
    statements = parse(program).statements
    if "\n" not in program.strip() or len(statements) != len(names):
        return [f" (in {name})" for name in names]
    return [f" (in {name}, line {program.count(chr(10), 0, st.span.start) + 1})"
            for name, st in zip(names, statements)]


# ---- small helpers -----------------------------------------------------------------------

def _factors(c: Claim) -> Iterator[tuple[E.Node, str, str, str]]:
    """(the factor that makes the claim right, how far off yours is, the sentence for
    the whole claim, the phrase for one term)."""
    half = E.Power(E.Const(2), E.Const(-1))
    yield E.Const(-1), "-1", "the sign is flipped", "of the wrong sign"
    yield half, "2", "off by a factor of 2: yours is twice the derivative", \
        "twice what it should be"
    yield E.Const(2), "1/2", "off by a factor of 2: yours is half the derivative", \
        "half what it should be"
    yield E.Scale(E.Const(-1), half), "-2", \
        "the sign is flipped, and yours is twice the derivative", \
        "twice what it should be, with the wrong sign"
    yield E.Const(-2), "-1/2", "the sign is flipped, and yours is half the derivative", \
        "half what it should be, with the wrong sign"
    for dim in _dims(c):
        n = E.DimValue(dim)
        yield E.Power(n, E.Const(-1)), dim, (
            f"off by a factor of {dim}: yours is {dim} times the derivative (a 1/{dim} "
            f"is missing)"), f"{dim} times what it should be (a 1/{dim} is missing)"
        yield n, f"1/{dim}", (
            f"off by a factor of {dim}: yours is 1/{dim} times the derivative (divided by "
            f"{dim} once too often)"), \
            f"1/{dim} times what it should be (divided by {dim} once too often)"


def _dims(c: Claim) -> list[str]:
    """The named sizes of the program (N, m, ...), which a mean divides by."""
    named = set(c.d.typed.dim_names)
    seen = []
    for v in c.d.inputs.values():
        for dim in v.shape:
            if isinstance(dim, str) and dim in named and dim not in seen:
                seen.append(dim)
    return seen


def _upstreams(c: Claim) -> list[E.Var]:
    """The upstream gradient, and the steps' adjoints (dz, dh) a claim may use."""
    out = [c.upstream] if c.upstream is not None else []
    d = c.d
    for st in d.steps:
        if st.of not in d.inputs:
            out.append(E.Var(st.name, st.node.shape))
    return out


def _products(node: E.Node, u: E.Var) -> Iterator[tuple[str, E.Node]]:
    """`node` multiplied by `u` (or u') on the left, on the right, or elementwise."""
    for f, said in ((u, ""), (E.Transpose(u), " (transposed)")):
        if f.shape[1] == node.shape[0]:
            yield f"on the left{said}", E.MatMul((f, node))
        if node.shape[1] == f.shape[0]:
            yield f"on the right{said}", E.MatMul((node, f))
    if u.shape == node.shape:
        yield "elementwise", E.Hadamard((u, node))


def _reorder(n: E.MatMul) -> E.Node | None:
    """A two-factor product the other way round (a*b -> b*a), where that is a product."""
    if len(n.factors) != 2:
        return None
    a, b = n.factors
    if b.shape[1] != a.shape[0]:
        return None
    return E.MatMul((b, a))


def _sum(terms: list[tuple[int, E.Node]]) -> E.Node:
    nodes = [n if s > 0 else E.Scale(E.Const(-1), n) for s, n in terms]
    return nodes[0] if len(nodes) == 1 else E.Add(tuple(nodes))


def _vars(node: E.Node) -> list[E.Var]:
    return list(dict.fromkeys(n for n in E.walk(node) if isinstance(n, E.Var)))


def _top(c: Claim) -> str:
    return "L" if not c.d.is_scalar else c.d.output_name


