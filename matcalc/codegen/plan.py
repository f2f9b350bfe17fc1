"""The statement planner: the statements of one function computing some roots.

A node becomes a statement when it is used more than once (or is a result, or is written
as several statements, as softmax is); the rest is printed inline. A statement may
update in place a buffer the function owns at its last use, never an argument, and a
long statement names its longest subexpression first. Planning is separate from
printing so that uses and last uses are known before the first line is written; the
record kept while emitting (what each group of lines reads, which name each node got)
is what the module writer asks instead of reading the code back.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import NamedTuple

from .. import ops
from ..expr import (
    SCALAR,
    Add,
    Broadcast,
    Const,
    DiagMat,
    Divide,
    Func,
    Hadamard,
    LogSumExp,
    MatMul,
    Node,
    Norm2,
    Power,
    Scale,
    Softmax,
    Sum,
    Transpose,
    Var,
)
from ..printing.numpy import (
    Value,
    broadcast_shapes,
    numpy_shape,
)
from ..printing.precedence import (
    ATOM,
    CMP,
    Product,
    reciprocal,
)
from .passes import LEAVES, _new_nodes, _order, _strip
from .printers import DEVICE, DTYPE, NumpyCode, _reads
from .text import INDENT, WIDTH, inert

COMMENT_NODES = 400          # a statement's formula longer than this gets no comment
SINGLE_SPLITS = 4            # rounds of `expr` that name one subexpression, then as many as fit
TEMP_NAME = 4                # the length of a temporary's name, about (t12)


@dataclass
class Root:
    """A result of a function: its Python name, node, and whether it stays 2-D."""
    name: str
    node: Node
    result_2d: bool = False


def _cheap_scalar(n: Node, memo: dict) -> bool:
    """A scalar computed from scalars alone (1/N, 0.5*reg): not worth a name."""
    if n in memo:
        return memo[n]
    ok = n.shape == SCALAR and all(_cheap_scalar(c, memo) for c in n.children)
    memo[n] = ok
    return ok


def _nameable(n: Node, memo: dict) -> bool:
    if isinstance(n, LEAVES + (Transpose, Broadcast, DiagMat)):
        return False
    if n.shape == SCALAR and (isinstance(n, Scale) or reciprocal(n) is not None):
        return False                       # the printer reads these as parts of products
    return not _cheap_scalar(n, memo)


def _forced(order: list[Node]) -> set[Node]:
    """Nodes that get a name whatever their uses: softmax and logsumexp (written as a few
    statements) and the arguments that stable forms read more than once."""
    out: set[Node] = set()
    for n in order:
        args: tuple[Node, ...] = ()
        if isinstance(n, (Softmax, LogSumExp)) and n.x.shape[0] != 1:
            out.add(n)
            args = (n.x,)
        elif isinstance(n, Power) and isinstance(n.x, Norm2) and n.p == Const(2):
            args = (n.x.x,)
        elif _reads(n) != n.children:
            args = _reads(n)
        for a in args:
            base = _strip(a)
            if not isinstance(base, LEAVES + (Broadcast,)):
                out.add(base)
    return out



class Split(NamedTuple):
    """A body cut after its forward statements (see Body.split)."""
    forward: list[str]                  # the forward statements' lines
    backward: list[str]                 # the other lines
    kept: list[tuple[str, Node]]        # forward names the backward lines and results read
    forward_needs: frozenset            # of DTYPE and DEVICE
    backward_needs: frozenset


ELEMENTWISE = (Add, Hadamard, Scale, Divide, Func, Power)
INPLACE_FUNCS = {op.name for op in ops.ELEMENTWISE.values() if op.inplace}   # take out=


class Body:
    """The statements of one function computing `roots`. Plans first (which nodes get
    names, where each name is last read), then emits in traversal order, updating in
    place where the printer's target allows it. It records, per group of lines, what
    they read (named nodes, DTYPE, DEVICE) and which name each named node got, so that
    `split` tells the forward statements from the rest and what the rest keeps."""

    def __init__(self, roots: list[Root], printer: NumpyCode, taken: set[str],
                 forward: Node | None = None, keep: tuple[Node, ...] = (),
                 hints: dict[Node, str] | None = None, shown=None):
        """`forward`: the forward output, if the roots begin with it; `keep`: nodes that
        code after the body reads (each read counts as a use: one read twice gets a
        statement, and no statement overwrites it); `hints`: names for some nodes;
        `shown`: how a formula is shown to the reader (the program's own names folded
        in, as Derivation.named does), for the comments."""
        self.roots = roots
        self.shown = shown
        self.keep = keep
        self.hints = hints or {}
        self.interior = set(_order([forward])) - {forward} if forward is not None else set()
        self.p = printer
        self.inplace = printer.inplace
        self.taken = set(taken) | {r.name for r in roots}
        self.lines: list[str] = []
        self.records: list[tuple[int, frozenset]] = []    # (first line, what the lines read)
        self.names: list[tuple[str, Node, int]] = []     # (name, node, lines before it)
        self.result_reads: dict[str, frozenset] = {}     # what each result's code reads
        self.helpers: set[str] = set()           # module helpers the statements call
        self._sizes: dict = {}
        self._local_sizes: dict = {}
        self._text = None                        # one TextPrinter for every comment
        self.counter = 0
        self.plan()

    # -- planning -------------------------------------------------------------------------
    def plan(self) -> None:
        nodes = [r.node for r in self.roots]
        order = _order(nodes + list(self.keep))
        parents: dict[Node, list[Node]] = {n: [] for n in order}
        for n in order:
            for c in _reads(n):
                parents[c].append(n)
        root_nodes = set(nodes)
        forced = _forced(order)
        memo: dict = {}
        named: dict[Node, bool] = {}
        uses: dict[Node, int] = {}
        as_root: dict[Node, int] = {}
        for r in nodes + list(self.keep):
            as_root[r] = as_root.get(r, 0) + 1
        for n in reversed(order):                     # parents first
            k = as_root.get(n, 0)
            for q in parents[n]:
                k += 1 if named[q] else uses[q]
            uses[n] = k
            named[n] = (n in root_nodes and not isinstance(n, LEAVES)) or n in forced or \
                (_nameable(n, memo) and k > 1)
        if self.inplace:                    # chains worth building in place get a name
            for n in order:
                if not named[n] and uses.get(n) == 1 and self._chain(n, parents[n], named):
                    named[n] = True
        self.named = named
        self.statements = [n for n in order if named[n]]
        self.index = {n: i for i, n in enumerate(self.statements)}
        self.refs: dict[Node, dict[Node, int]] = {}
        self.last_use: dict[Node, int] = {}
        for i, s in enumerate(self.statements):
            refs = self.refs[s] = {}
            stack = list(_reads(s))
            while stack:
                c = stack.pop()
                if named[c]:
                    refs[c] = refs.get(c, 0) + 1
                    self.last_use[c] = i
                else:
                    stack.extend(_reads(c))
        self.owned: set[Node] = set()
        self.protected: set[Node] = root_nodes | self._read_after(named)
        self.current = -1
        self.starts: list[tuple[Node, int]] = []      # (statement, its first line)

    def _read_after(self, named: dict) -> set[Node]:
        """The named nodes that the code after the body reads (`keep`, or what the
        unnamed ones among them read): no statement may overwrite them."""
        out, stack = set(), list(self.keep)
        while stack:
            n = stack.pop()
            if named[n]:
                out.add(n)
            elif n not in out:
                out.add(n)
                stack.extend(_reads(n))
        return out

    @staticmethod
    def _chain(n: Node, parents: list[Node], named: dict) -> bool:
        """An elementwise node over a product or another elementwise node, read by a
        non-elementwise parent (a product, a reduction): as a statement of its own it is
        built in one buffer (`t = X @ W; t += b; np.maximum(t, 0, out=t)`), inline it
        would allocate at every step."""
        if n.shape == SCALAR or not isinstance(n, ELEMENTWISE) or \
                (isinstance(n, Func) and n.name not in INPLACE_FUNCS | {"relu", "sigmoid"}):
            return False
        if any(isinstance(p, ELEMENTWISE) for p in parents):
            return False
        if isinstance(n, Hadamard) and len(n.factors) == 2 and \
                any(isinstance(p, Sum) for p in parents):
            return False                    # sum(a .* b) is np.vdot(a, b): no array at all
        return any(isinstance(c, (MatMul,) + ELEMENTWISE) and not named[c] and
                   c.shape == n.shape for c in n.children)

    def temp(self) -> str:
        while True:
            self.counter += 1
            name = f"t{self.counter}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def hinted(self, n: Node) -> str | None:
        """The name hinted for n, made clear of the names taken."""
        name = self.hints.get(n)
        if name is None:
            return None
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def consumable(self, n: Node, shape: tuple) -> bool:
        """Whether the buffer of the named node n may be overwritten by the statement
        being emitted: the function made it, nothing reads it later, nothing aliases it."""
        return (self.inplace and n in self.owned and n not in self.protected and
                self.last_use.get(n) == self.current and
                self.refs[self.statements[self.current]].get(n) == 1 and
                self.p.bound[n].shape == shape and len(shape) > 0)

    # -- emitting -------------------------------------------------------------------------
    def emit(self) -> dict[str, Value]:
        """The statements; returns each root's final value (by root name)."""
        results: dict[str, Value] = {}
        roots_of: dict[Node, list[Root]] = {}
        for r in self.roots:
            roots_of.setdefault(r.node, []).append(r)
        for i, n in enumerate(self.statements):
            self.current = i
            self.starts.append((n, len(self.lines)))
            mine = roots_of.get(n, [])
            # a derivative that is also a forward intermediate keeps a temporary's name
            name = mine[0].name if mine and n not in self.interior else None
            if isinstance(n, Softmax) and n.x.shape[0] != 1:
                self.softmax(n, name)
            elif isinstance(n, LogSumExp) and n.x.shape[0] != 1:
                self.logsumexp(n, name)
            elif name is not None:
                self.root_statement(n, mine[0])
            else:
                self.statement(n, None)
            for r in mine:
                results[r.name] = self.finish(r, alias=name is not None)
        for r in self.roots:
            if r.name not in results:                      # an argument or a constant
                f = self.p.finish(self.p.print(r.node), r.node.shape, r.result_2d)
                results[r.name] = self.constant(f, r.node)
                self.result_reads[r.name] = self.p.harvest()
        return results

    def bind(self, n: Node, name: str, shape: tuple) -> Value:
        """n's value is now in the variable `name` (after the lines that assign it)."""
        self.names.append((name, n, len(self.lines)))
        return self.p.bind(n, name, shape)

    def needs(self, reads=None) -> frozenset:
        """What of DTYPE and DEVICE the lines (and results) read; `reads`: only these."""
        if reads is None:
            reads = [r for _, r in self.records] + list(self.result_reads.values())
        return frozenset().union(*reads) & {DTYPE, DEVICE}

    def split(self, forward_nodes: set, forward: list[str], backward: list[str]) -> Split:
        """The lines in a forward and a backward part, the first the statements of the
        forward output's DAG (statements come in traversal order, that DAG first);
        `forward` and `backward` name each part's results."""
        cut = next((start for n, start in self.starts if n not in forward_nodes),
                   len(self.lines))
        before = [r for start, r in self.records if start < cut] + \
            [self.result_reads[name] for name in forward]
        after = [r for start, r in self.records if start >= cut] + \
            [self.result_reads[name] for name in backward]
        read = frozenset().union(*after)
        kept = dict.fromkeys((name, n) for name, n, at in self.names
                             if at <= cut and n in read)
        return Split(self.lines[:cut], self.lines[cut:], list(kept),
                     self.needs(before), self.needs(after))

    def _has_var(self, node: Node) -> bool:
        memo = self.__dict__.setdefault("_vars", {})
        for m in _new_nodes(node, memo):
            memo[m] = isinstance(m, Var) or any(memo[c] for c in m.children)
        return memo[node]

    def constant(self, f: Value, node: Node) -> Value:
        """A scalar result computed from no argument (1, N) as a scalar of the dtype."""
        if node.shape != SCALAR or self._has_var(node):
            return f
        return self.p.typed(f)

    def add_lines(self, code: list[str], node: Node | None) -> None:
        """Append a statement's lines, the last commented with the node's text form."""
        self.records.append((len(self.lines), self.p.harvest()))
        if node is None or not code:
            self.lines += code
            return
        comment = self.describe(node, WIDTH - len(INDENT) - len(code[-1]) - 4)
        if comment is not None:
            comment = inert(comment)
            self.lines += code[:-1] + [f"{code[-1]}  # {comment}"]
            return
        text = self.describe(node, None)
        if text == "...":
            self.lines += code
            return
        self.lines += textwrap.wrap(inert(text), WIDTH - len(INDENT) - 2, initial_indent="# ",
                                    subsequent_indent="#   ", break_on_hyphens=False)
        self.lines += code

    def describe(self, node: Node, room: int | None) -> str | None:
        """The node's text form, in full if it fits `room` (None: any length), else with
        named temporaries standing for their formulas; None for a formula too large to
        be worth a comment."""
        if self._text is None:
            from ..printing.text import TextPrinter
            self._text = TextPrinter()

        def to_text(n: Node) -> str:         # what the comments share is printed once
            return self._text.doprint(n).text
        if self._size(node, self._sizes, False) > COMMENT_NODES:
            if self._size(node, self._local_sizes, True) > COMMENT_NODES:
                return None if room is not None else "..."
            short = to_text(self._with_names(node))
            return short if room is None or len(short) <= room else None
        full = to_text(node)
        if self.shown is not None and node.children:
            # the program's own names, `# (o - y)*a'`, where that reads no worse than the
            # temporaries (`# t6*W2'`); never `# a` for the value a itself
            named = to_text(node.rebuild([self.shown(c) for c in node.children]))
            if named != full:
                short = to_text(self._with_names(node))
                if len(named) <= 2 * len(short) and (room is None or len(named) <= room):
                    return named
        if room is None or len(full) <= room:
            if room is None:
                short = to_text(self._with_names(node))
                return short if len(short) < len(full) else full
            return full
        short = to_text(self._with_names(node))
        return short if len(short) <= room else None

    def _with_names(self, node: Node) -> Node:
        """node with the other named temporaries as Vars of their names. The walk stops at
        them: a statement's comment costs its own formula, not the whole DAG below it."""
        bound = self.p.bound
        memo: dict[Node, Node] = {}
        stack: list[tuple[Node, bool]] = [(node, False)]
        while stack:
            m, expanded = stack.pop()
            if expanded:
                memo[m] = m.rebuild([memo[c] for c in m.children])
            elif m not in memo:
                if m is not node and m in bound:
                    memo[m] = Var(bound[m].text, m.shape)
                elif not m.children:
                    memo[m] = m
                else:
                    stack.append((m, True))
                    stack.extend((c, False) for c in reversed(m.children) if c not in memo)
        return memo[node]

    def _size(self, node: Node, memo: dict, local: bool) -> int:
        """Nodes in node's formula (counted with repeats, capped), or in its own statement
        (named nodes counting one) when `local`."""
        for m in _new_nodes(node, memo):
            if local and m in self.p.bound and m is not node:
                memo[m] = 1
            else:
                memo[m] = min(COMMENT_NODES + 1, 1 + sum(memo[c] for c in m.children))
        return memo[node]

    def expr(self, n: Node, room: int) -> Value:
        """n's value as one expression; while it is longer than `room`, its longest unnamed
        subexpression becomes a temporary of its own. After SINGLE_SPLITS rounds, each round
        names as many of the longest (none inside another) as it takes to fit, by their
        lengths: a sum of 2,000 terms is reprinted a few times, not once per name."""
        v = self.p.print(n)
        rounds = 0
        while len(v.text) > room:
            inner, unnamed = self._splittable(n)
            if not inner:
                break
            rounds += 1
            most = 1 if rounds <= SINGLE_SPLITS else len(inner)
            for m in self._disjoint_longest(inner, len(v.text) - room, most):
                self.statement(m, None, split=True)
            self.p.forget(unnamed + [n])
            v = self.p.print(n)
        return v

    def _disjoint_longest(self, inner: list[Node], excess: int, most: int) -> list[Node]:
        """The longest of `inner` (the first of equal ones), none inside another, that
        shorten the code by `excess` characters when named (each saves its length less a
        temporary's name), `most` of them at most; at least the longest."""
        length = {m: len(self.p.print(m).text) for m in inner}
        chosen: list[Node] = []
        picked: set[Node] = set()           # the same, as a set
        covered: set[Node] = set()          # the unnamed nodes inside a chosen one
        for m in sorted(inner, key=lambda m: -length[m]):
            if excess <= 0 or len(chosen) == most:
                break
            if m in covered:
                continue
            below, stack = {m}, list(_reads(m))
            while stack:
                c = stack.pop()
                if c not in below and c not in self.p.bound:
                    below.add(c)
                    stack.extend(_reads(c))
            if not picked.isdisjoint(below):
                continue
            chosen.append(m)
            picked.add(m)
            covered |= below
            excess -= length[m] - TEMP_NAME
        return chosen

    def _splittable(self, n: Node) -> tuple[list[Node], list[Node]]:
        """The unnamed nodes under n that could be named, and all unnamed nodes under n."""
        out, stack, seen = [], list(_reads(n)), {}
        memo: dict = {}
        while stack:
            c = stack.pop()
            if c in self.p.bound or c in seen:
                continue
            seen[c] = None
            if _nameable(c, memo) and not isinstance(c, (Softmax, LogSumExp)):
                out.append(c)
            stack.extend(_reads(c))
        return out, list(seen)

    def root_statement(self, n: Node, r: Root) -> None:
        """A result: computed straight into its final form (a full array, 1-D vectors)."""
        v = self.p.print(n)
        if self.p.finish(v, n.shape, r.result_2d).text == v.text:
            self.statement(n, r.name)
            return
        v = self.expr(n, WIDTH - len(INDENT) - len(r.name) - 30)
        f = self.p.finish(v, n.shape, r.result_2d)
        self.add_lines([f"{r.name} = {f.text}"], n)
        if self.p.fresh(f):
            self.owned.add(n)
        else:
            self.protected.update(self.refs.get(n, {}))
        self.bind(n, r.name, f.shape)

    def statement(self, n: Node, name: str | None, split: bool = False) -> Value:
        """Emit n's value into a named variable (in place where it can be)."""
        v = self.p.print(n)
        if v.fill is not None and name is None:
            return v                           # a constant: NumPy broadcasts the number
        recipe = self.recipe(n, v.shape, top=True) if self.inplace else None
        if recipe is not None and recipe[0] != "fresh":
            code: list[str] = []
            buf = self.run(recipe, name, code)
            self.add_lines(code, n)
            self.owned.add(n)
            return self.bind(n, buf, v.shape)
        name = name or self.hinted(n) or self.temp()
        v = self.expr(n, WIDTH - len(INDENT) - len(name) - 3)
        self.add_lines([f"{name} = {v.text}"], n)
        if self.p.fresh(v) and v.prec != CMP:
            self.owned.add(n)
        else:                                 # a view or an argument: what it reads stays
            self.protected.update(self.refs.get(n, {}))
        if split:
            self.last_use[n] = self.current
            self.refs[self.statements[self.current]][n] = 1
        return self.bind(n, name, v.shape)

    # -- in-place recipes: ("take", n) | ("fresh", n) | (op, n, base recipe, ...) --------
    def recipe(self, n: Node, shape: tuple, top: bool = False):
        """How to leave n's value in a buffer of NumPy `shape` that this function owns, with
        one allocation at most; None if there is no such way."""
        if n in self.p.bound:
            return ("take", n) if not top and self.consumable(n, shape) else None
        if len(shape) == 0:
            return None
        v = self.p.print(n)
        if v.shape != shape:
            return None
        if isinstance(n, (Add, Hadamard)) and not self._has_masks(n):
            operands = self._operands(n)
            if operands is not None:
                best = None
                for i, (t, negative, tv) in enumerate(operands):
                    if negative or tv.shape != shape:
                        continue
                    r = self.recipe(t, shape)
                    if r is not None and (best is None or self._rank(r) < self._rank(best[1])):
                        best = (i, r)
                if best is not None:
                    return ("acc", n, best[1], best[0])
        if isinstance(n, Hadamard) and self._has_masks(n):
            floats = [f for f in n.factors if not (isinstance(f, Func) and f.name == "step")]
            if len(floats) == 1:
                r = self.recipe(floats[0], shape)
                if r is not None:
                    return ("mask", n, r)
        if isinstance(n, Scale) and n.shape != SCALAR:
            p = self.p.product_of(n)
            r = self.recipe(p.core, shape)
            if r is not None and not (p.nums or p.dens or p.negative):
                return r                                    # 1*x: x itself
            if r is not None:
                return ("scale", n, r, p)
        if isinstance(n, Divide) and len(shape) > 0:
            r = self.recipe(n.a, shape)
            if r is not None and self._fits(self.p.print(n.b), shape):
                return ("div", n, r)
        if isinstance(n, Func) and (n.name in INPLACE_FUNCS or
                                    n.name in ("relu", "step", "sigmoid")) and \
                not (n.name == "log" and self._stable_log(n)):
            r = self.recipe(n.x, shape)
            if r is not None:
                return ("func", n, r)
        if isinstance(n, Power) and isinstance(n.p, Const):
            r = self.recipe(n.x, shape)
            if r is not None:
                return ("pow", n, r)
        if self.p.fresh(v) and not top:
            return ("fresh", n)
        return ("fresh", n) if top and self.p.fresh(v) else None

    @staticmethod
    def _rank(r) -> int:
        """Prefer taking over a dead buffer, then a product's result (allocated anyway)."""
        while r[0] not in ("take", "fresh"):
            r = r[2]
        if r[0] == "take":
            return 0
        return 1 if isinstance(r[1], MatMul) else 2

    def _has_masks(self, n: Node) -> bool:
        return isinstance(n, Hadamard) and any(
            isinstance(f, Func) and f.name == "step" and f not in self.p.bound
            for f in n.factors)

    def _stable_log(self, n: Func) -> bool:
        return _reads(n) != n.children

    def _fits(self, v: Value, shape: tuple) -> bool:
        return len(v.shape) <= len(shape) and broadcast_shapes([shape, v.shape]) == shape

    def _operands(self, n: Node):
        """(node, negated?, value) per operand of a sum or elementwise product, if NumPy
        broadcasts them as they are (no vector needs flattening)."""
        out = []
        for i, t in enumerate(n.children):
            neg = self.p.negated(t) if isinstance(n, Add) and i else None
            out.append((t, neg is not None, neg if neg is not None else self.p.print(t)))
        values = [v for _, _, v in out]
        converted, shape = self.p.elementwise(n.shape, values)
        if any(a is not b for a, b in zip(converted, values, strict=True)):
            return None
        if not all(self._fits(v, shape) for v in values):
            return None
        return out

    def run(self, r, name: str | None, code: list[str]) -> str:
        """Emit the recipe's lines into `code`; the buffer's name."""
        kind, n = r[0], r[1]
        if kind == "take":
            buf = self.p.bound[n].text
            self.p.need(n)                      # the buffer is read, then overwritten
            if name is not None and name != buf:
                code.append(f"{name} = {buf}")
                return name
            return buf
        if kind == "fresh":
            buf = name or self.temp()
            v = self.expr(n, WIDTH - len(INDENT) - len(buf) - 3)
            code.append(f"{buf} = {v.text}")
            return buf
        buf = self.run(r[2], name, code)
        room = WIDTH - len(INDENT) - len(buf) - 4
        if kind == "acc":
            op = "+" if isinstance(n, Add) else "*"
            for j, (t, negative, tv) in enumerate(self._operands(n)):
                if j == r[3]:
                    continue
                scaled = self._scaled_array(t, tv.shape) if op == "+" else None
                if scaled is not None:          # buf += s*W, a block at a time
                    self.helpers.add("_add_scaled")
                    code.append(f"_add_scaled({buf}, {scaled[0]}, {scaled[1]})")
                    continue
                v = self._operand_value(n, t, negative, room)
                code.append(f"{buf} {'-' if negative else op}= {v.text}")
        elif kind == "mask":
            for f in n.factors:
                if isinstance(f, Func) and f.name == "step":
                    code.append(f"{buf} *= {self.p.mask(f.x).text}")
        elif kind == "scale":
            p: Product = r[3]
            if not p.nums and p.dens and not p.negative and len(p.dens) == 1:
                d, k = p.dens[0]
                den = self.p.print(d)
                if k != 1:
                    den = self.p.binary(den, "**", self.p.number(k), ())
                code.append(f"{buf} /= {den.text}")
            else:
                s = self.p.product(Product(p.negative, list(p.nums), None, list(p.dens)))
                code.append(f"{buf} *= {s.text}")
        elif kind == "div":
            code.append(f"{buf} /= {self.expr(n.b, room).text}")
        elif kind == "func":
            code += self.p.in_place(n.name, buf)
        elif kind == "pow":
            code.append(f"{buf} **= {self.p.print(n.p).text}")
        return buf

    def _scaled_array(self, t: Node, shape: tuple) -> tuple[str, str] | None:
        """(s, W) when the term t is a scalar times a named array of the buffer's shape:
        `buf += s * W` would make a temporary as large as buf (and a fresh large array
        costs page faults on every call), `_add_scaled` makes none."""
        if not isinstance(t, Scale) or t.shape == SCALAR or t in self.p.bound:
            return None
        p = self.p.product_of(t)
        if not p.nums and not p.dens:
            return None                         # buf -= W makes no temporary
        core = self.p.print(p.core)
        if core.prec != ATOM or core.shape != shape or len(shape) == 0 or core.fill is not None:
            return None
        s = self.p.product(Product(p.negative, list(p.nums), None, list(p.dens)))
        return s.text, core.text

    def _operand_value(self, n, t, negative, room) -> Value:
        if negative:
            return self.p.negated(t)
        return self.expr(t, room)

    # -- softmax and logsumexp, stable, as statements -------------------------------------
    def _columns(self, x: Node) -> tuple[Value, int | None, bool]:
        """The value whose columns are x's columns: (value, axis, transposed)."""
        v = self.p.full(self.p.print(x), x.shape)
        if len(v.shape) < 2:
            return v, None, False
        if v.transpose_of is not None:
            return v.transpose_of, 1, True
        return v, 0, False

    def softmax(self, n: Softmax, name: str | None) -> None:
        z, axis, transposed = self._columns(n.x)
        buf = name if name is not None and not transposed else self.temp()
        self.add_lines(self.p.softmax_lines(buf, z, axis), n)
        value = self.bind(n, buf, z.shape)
        self.owned.add(n)
        if transposed:                         # the softmax of x' is buf' for buf of x
            t = self.p.transpose(value, (n.shape[1], n.shape[0]))
            self.p.bound[n] = self.p._memo[n] = t
            self.protected.add(n)

    def logsumexp(self, n: LogSumExp, name: str | None) -> None:
        z, axis, _ = self._columns(n.x)
        m = self.temp()
        buf = name or self.temp()
        code, uses_m = self.p.logsumexp_lines(buf, m, z, axis)
        if not uses_m:
            self.taken.discard(m)
        self.add_lines(code, n)
        shape = numpy_shape(n.shape) if n.x.shape[1] != 1 else ()
        self.bind(n, buf, shape)
        self.owned.add(n)

    # -- results ----------------------------------------------------------------------------
    def finish(self, r: Root, alias: bool = True) -> Value:
        """The result r as returned; bound to its own name unless `alias` is off."""
        v = self.p.bound.get(r.node)
        reads = frozenset((r.node,)) if v is not None else frozenset()
        v = v or self.p.print(r.node)
        f = self.constant(self.p.finish(v, r.node.shape, r.result_2d), r.node)
        self.result_reads[r.name] = reads | self.p.harvest()
        self.protected.add(r.node)
        if not alias:
            return f
        if f.text != r.name:
            if f.text != v.text:
                self.protected.add(r.node)
            self.records.append((len(self.lines), self.result_reads[r.name]))
            self.result_reads[r.name] = frozenset()
            self.lines.append(f"{r.name} = {f.text}")
            f = Value(r.name, ATOM, None, f.shape)
        return f

