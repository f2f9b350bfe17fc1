"""Patterns and rewrites: the machinery of the rewrite table (`matcalc.rewrites`).

A rewrite is an equation read left to right, `Rewrite(law, lhs, rhs, when, keep)`, in the
manner of tinygrad's pattern matcher and egglog's `rewrite(lhs).to(rhs, cond)`:

- `lhs` is a pattern: `P.Transpose(P.MatMul(fs))` matches a transposed product and binds
  its factors to the name `fs`. `P.<Kind>(...)` takes one sub-pattern per field of the
  node (fewer: the rest are not looked at); a `Name` binds whatever it meets, and a name
  met twice must meet the same node (nodes are interned: `P.MatMul(P.Inv(X), X)`); a
  `Many` binds the whole operand tuple of a sum or product; a string, number or node is
  matched by equality; `Alt(p, q)` matches either.
- `rhs` builds the right-hand side from the bound names (its parameters are the names),
  with the IR's own constructors and sugar (`b.T @ a.T`): raw nodes, which the rule set's
  caller brings to its own form (the simplifier normalises what the right-hand side
  built, and only that).
- `when` is the side condition under which the equation holds (`S = S'`), a function of
  the bound names; `keep(before, after)` a preference (take the rewrite only where it
  removes transposes), kept apart from the equation.

Functions of a rule may also take `t`, the transpose the caller wants for operands (the
raw `Transpose`, or a lookup of transposes already pushed), `ctx`, whatever the rule
set's caller passes (the simplifier passes its `simplify`), and `old`, the node as it was
before its operands were rewritten (in `rewrite_dag`).

A `RuleSet` is an ordered list of rewrites with an index by node kind (and the kind of a
node's first operand), so that a node meets only the rules that can match it. The
measures the preferences use (tree size, transposes, distinct subexpressions) are here
too, memoised per node.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import expr
from .expr import Node, Transpose, node_memo, walk

Env = dict


# ---- patterns ---------------------------------------------------------------------------

class Pattern:
    """Something a node (or a field of one) is matched against."""

    def match(self, value, env: Env) -> bool:
        raise NotImplementedError

    def build(self, env: Env):
        """The value this pattern stands for, from the names bound in `env`."""
        raise NotImplementedError

    def kinds(self) -> tuple[type, ...] | None:
        """The node kinds this pattern can match, or None for any."""
        return None

    def first_operand(self) -> Pattern | None:
        """The sub-pattern of a matched node's first child, if the pattern names one."""
        return None


class Name(Pattern):
    """Binds a value to a name; the same name twice must be the same value. With a
    sub-pattern, binds what that matches: `Name("D", P.DiagMat(d))`."""

    def __init__(self, name: str, pattern: Pattern | None = None):
        self.name = name
        self.pattern = pattern

    def match(self, value, env: Env) -> bool:
        if self.pattern is not None and not self.pattern.match(value, env):
            return False
        got = env.get(self.name, _UNBOUND)
        if got is _UNBOUND:
            env[self.name] = value
            return True
        return got is value or (not isinstance(value, Node) and got == value)

    def build(self, env: Env):
        return env[self.name]

    def kinds(self):
        return None if self.pattern is None else self.pattern.kinds()

    def first_operand(self):
        return None if self.pattern is None else self.pattern.first_operand()

    def __repr__(self) -> str:
        return self.name


_UNBOUND = object()


class Many(Name):
    """Binds the operand tuple of a sum or product chain."""


class Lit(Pattern):
    """A literal: a string (a function's name), a number or a node."""

    def __init__(self, value):
        self.value = value

    def match(self, value, env: Env) -> bool:
        return value is self.value or (not isinstance(value, Node) and value == self.value)

    def build(self, env: Env):
        return self.value

    def kinds(self):
        return (type(self.value),) if isinstance(self.value, Node) else None


class Alt(Pattern):
    """Either of some patterns (the first that matches binds)."""

    def __init__(self, *options):
        self.options = tuple(as_pattern(o) for o in options)

    def match(self, value, env: Env) -> bool:
        for o in self.options:
            trial = dict(env)
            if o.match(value, trial):
                env.update(trial)
                return True
        return False

    def kinds(self):
        out: list[type] = []
        for o in self.options:
            k = o.kinds()
            if k is None:
                return None
            out += k
        return tuple(out)


class Test(Pattern):
    """Any value for which `test(value)` holds (bound to `name` if given)."""

    def __init__(self, test: Callable[[Any], bool], name: str | None = None,
                 kinds: tuple[type, ...] | None = None):
        self.test, self.name, self._kinds = test, name, kinds

    def match(self, value, env: Env) -> bool:
        if not self.test(value):
            return False
        return self.name is None or Name(self.name).match(value, env)

    def build(self, env: Env):
        return env[self.name]

    def kinds(self):
        return self._kinds


class Node_(Pattern):
    """A node of kind `kind` (or of one of several kinds with the same fields) whose
    fields match `fields` (in order; missing ones are free). For a sum or product chain,
    one `Many` binds the operands, or one pattern per operand matches that many operands
    in order."""

    def __init__(self, kind: type[Node] | tuple[type[Node], ...], fields: tuple):
        self.kind_set = kind if isinstance(kind, tuple) else (kind,)
        kind = self.kind_set[0]
        self.kind = kind
        self.fields = tuple(as_pattern(f) for f in fields)
        if kind.nary and not (len(self.fields) == 1 and isinstance(self.fields[0], Many)):
            self.operands: tuple[Pattern, ...] | None = self.fields
        else:
            self.operands = None
            if len(self.fields) > len(kind.fields):
                raise TypeError(f"{kind.__name__} has the fields {kind.fields}")

    def match(self, value, env: Env) -> bool:
        if type(value) not in self.kind_set:
            return False
        if self.operands is not None:
            return self.match_operands(value.args[0], env)
        for f, a in zip(self.fields, value.args):
            if not f.match(a, env):
                return False
        return True

    def match_operands(self, operands, env: Env) -> bool:
        """Match a tuple of operands (of this product or sum) without building the node."""
        if self.operands is None:
            return self.fields[0].match(tuple(operands), env)
        if len(operands) != len(self.operands):
            return False
        return all(p.match(x, env) for p, x in zip(self.operands, operands))

    def build(self, env: Env):
        if self.operands is not None:
            return self.kind(tuple(p.build(env) for p in self.operands))
        return self.kind(*(f.build(env) for f in self.fields))

    def kinds(self):
        return self.kind_set

    def first_operand(self) -> Pattern | None:
        """The sub-pattern of the node's first child, if the pattern names one."""
        if self.operands is not None:
            return self.operands[0] if self.operands else None
        kids = self.kind.children_fields
        if not kids or self.kind.nary:
            return None
        i = self.kind.fields.index(kids[0])
        return self.fields[i] if i < len(self.fields) else None


def as_pattern(x) -> Pattern:
    return x if isinstance(x, Pattern) else Lit(x)


class _Kinds:
    """`P.Transpose(X)`: a pattern for each node kind of the IR; `P.of(Norm1, Norm2)(X)`
    for any of several kinds."""

    def __getattr__(self, kind: str):
        cls = getattr(expr, kind)

        def pattern(*fields) -> Node_:
            return Node_(cls, fields)
        pattern.__name__ = kind
        return pattern

    @staticmethod
    def of(*kinds: type[Node]):
        def pattern(*fields) -> Node_:
            return Node_(kinds, fields)
        return pattern


P = _Kinds()


def names(spelled: str) -> tuple[Name, ...]:
    """Name patterns, one per word: `X, Y = names("X Y")`."""
    return tuple(Name(n) for n in spelled.split())


# ---- rewrites ---------------------------------------------------------------------------

def _parameters(fn: Callable | None) -> tuple[str, ...]:
    return () if fn is None else tuple(inspect.signature(fn).parameters)


@dataclass(frozen=True, eq=False)
class Rewrite:
    """One equation `law`: nodes matching `lhs` equal `rhs(names)` where the side
    condition `when(names)` holds. A rule set may add preferences, apart from the
    equation: `only(names)`, the forms it rewrites, and `keep(before, after)`, whether it
    takes a rewrite once made."""

    law: str
    lhs: Pattern
    rhs: Callable[..., Any]
    when: Callable[..., bool] | None = None
    only: Callable[..., bool] | None = None
    keep: Callable[[Any, Any], bool] | None = None
    _args: tuple[tuple[str, ...], ...] = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "_args", tuple(map(_parameters,
                                                    (self.rhs, self.when, self.only))))

    def match(self, value, ctx=None, t=None, old=None) -> Env | None:
        """The names bound by matching `value`, if the conditions hold; else None."""
        env: Env = {}
        if not self.lhs.match(value, env):
            return None
        if self.when is None and self.only is None:
            return env
        return env if self.holds(env, ctx, t, old) else None

    def match_operands(self, operands, ctx=None) -> Env | None:
        """`match` for the operands of a product chain or sum, without building it."""
        env: Env = {}
        if not self.lhs.match_operands(operands, env):
            return None
        return env if self.holds(env, ctx, None, None) else None

    def holds(self, env: Env, ctx, t, old) -> bool:
        """Whether the rewrite's `when` and its rule set's `only` hold for the bound names
        (for callers that match the operands themselves: the transpose pusher, products)."""
        _, when, only = self._args
        if self.when is not None and not _call(self.when, when, env, ctx, t, old):
            return False
        return self.only is None or bool(_call(self.only, only, env, ctx, t, old))

    def build(self, env: Env, ctx=None, t=None, old=None):
        """The right-hand side for the bound names (raw nodes)."""
        return _call(self.rhs, self._args[0], env, ctx, t, old)

    def prefer(self, only: Callable[..., bool] | None = None,
               keep: Callable[[Any, Any], bool] | None = None) -> Rewrite:
        """The same equation with a rule set's own preferences."""
        return Rewrite(self.law, self.lhs, self.rhs, self.when, only or self.only,
                       keep or self.keep)

    def __repr__(self) -> str:
        return f"<rewrite {self.law}>"


def _call(fn: Callable, params: tuple[str, ...], env: Env, ctx, t, old):
    try:
        return fn(*[env[p] for p in params])          # the common case: names only
    except KeyError:
        pass
    extra = {"ctx": ctx, "t": t, "old": old}
    args = []
    for p in params:
        if p in env:
            args.append(env[p])
        elif p in extra:
            args.append(extra[p])
        else:
            raise KeyError(f"{fn} takes {p!r}, which its pattern does not bind")
    return fn(*args)


class RuleSet:
    """A named, ordered list of rewrites, indexed by the kinds of node they can match."""

    def __init__(self, name: str, rules: Iterable[Rewrite], doc: str = ""):
        self.name = name
        self.rules = tuple(rules)
        self.doc = doc
        self._index: dict[tuple, tuple[Rewrite, ...]] = {}
        heads: list[tuple[tuple[type, ...] | None, tuple[type, ...] | None]] = []
        for r in self.rules:
            first = r.lhs.first_operand()
            heads.append((r.lhs.kinds(), None if first is None else first.kinds()))
        self._heads = heads

    def __iter__(self):
        return iter(self.rules)

    def __contains__(self, rule) -> bool:
        return any(r is rule for r in self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(f"{self.name} + {other.name}", self.rules + other.rules)

    def candidates(self, n: Node) -> tuple[Rewrite, ...]:
        """The rules that may match n, in order (by its kind and its first operand's)."""
        kids = n.children
        key = (type(n), type(kids[0]) if kids else None)
        hit = self._index.get(key)
        if hit is None:
            hit = tuple(r for r, (head, first) in zip(self.rules, self._heads)
                        if (head is None or key[0] in head)
                        and (first is None or key[1] in first))
            self._index[key] = hit
        return hit

    def pair_candidates(self, a: Node, b: Node) -> tuple[Rewrite, ...]:
        """The rules on two operands (`P.MatMul(p, q)`) that may match a and b (by their
        kinds and their first operands' kinds: a chain of transposes meets the rules of
        X' X^-T only where an inverse is transposed)."""
        ka, kb = a.children, b.children
        key = ("pair", type(a), type(b), type(ka[0]) if ka else None,
               type(kb[0]) if kb else None)
        hit = self._index.get(key)
        if hit is None:
            def fits(p, kind, first_kind):
                k = p.kinds()
                if k is not None and kind not in k:
                    return False
                f = p.first_operand()
                fk = None if f is None else f.kinds()
                return fk is None or first_kind in fk
            hit = tuple(r for r in self.rules
                        if len(r.lhs.operands) == 2
                        and fits(r.lhs.operands[0], key[1], key[3])
                        and fits(r.lhs.operands[1], key[2], key[4]))
            self._index[key] = hit
        return hit

    def first(self, n: Node, ctx=None, t=None) -> tuple[Rewrite, Env] | None:
        """The first rule that matches n, with its names; None if none does."""
        for r in self.candidates(n):
            env = r.match(n, ctx, t)
            if env is not None:
                return r, env
        return None

    def rewrite(self, n: Node, ctx=None, t=None):
        """The right-hand side of the first rule that matches n (raw), or None."""
        hit = self.first(n, ctx, t)
        return None if hit is None else hit[0].build(hit[1], ctx, t)

    def __repr__(self) -> str:
        return f"<rule set {self.name}: {len(self.rules)} rewrites>"


def dag_order(roots) -> list[Node]:
    """Every node under the roots once, children before parents, the roots in order.
    Each root's walk skips what the earlier roots' walks met (the derivatives of an MLP
    share its whole forward pass: walking each in full would be quadratic)."""
    seen: dict[Node, None] = {}
    for root in roots:
        for n in walk(root, known=seen):
            seen[n] = None
    return list(seen)


def rewrite_dag(roots: list[Node], rules: RuleSet, ctx=None,
                finish: Callable[[Node], Node] | None = None) -> list[Node]:
    """The roots rebuilt bottom-up, each node replaced by the first rewrite of `rules`
    that matches it once its operands are rewritten (and taken: `keep(before, after)`
    compares the node with its rewrite, both through `finish` if given). One pass over
    the DAG shared by the roots: a rewritten node is not rewritten again."""
    memo: dict[Node, Node] = {}
    for root in roots:
        for n in walk(root, known=memo):
            new = n.rebuild([memo[c] for c in n.children]) if n.children else n
            for r in rules.candidates(new):
                env = r.match(new, ctx, old=n)
                if env is None:
                    continue
                out = r.build(env, ctx, old=n)
                if finish is not None:
                    out = finish(out)
                if r.keep is not None and \
                        not r.keep(finish(new) if finish is not None else new, out):
                    continue
                new = out
                break
            memo[n] = new
    return [memo[r] for r in roots]


# ---- measures of a formula ----------------------------------------------------------------

_TCOUNT: dict[Node, int] = node_memo()
_SIZE: dict[Node, int] = node_memo()


def transposes(n: Node) -> int:
    """Number of transpose nodes in the tree of n (shared subtrees counted each time)."""
    hit = _TCOUNT.get(n)
    if hit is not None:
        return hit
    for m in walk(n, known=_TCOUNT):
        _TCOUNT[m] = isinstance(m, Transpose) + sum(_TCOUNT[c] for c in m.children)
    return _TCOUNT[n]


def size(n: Node) -> int:
    """Tree size of n (shared subtrees counted each time): the readability measure."""
    hit = _SIZE.get(n)
    if hit is not None:
        return hit
    for m in walk(n, known=_SIZE):
        _SIZE[m] = 1 + sum(_SIZE[c] for c in m.children)
    return _SIZE[n]


def dag_size(node: Node) -> int:
    """The number of distinct subexpressions: the size of a formula whose repeated parts
    are named."""
    return sum(1 for _ in walk(node))


def fewer_transposes(before: Node, after: Node) -> bool:
    """A preference: take a rewrite where it removes transposes."""
    return transposes(after) < transposes(before)
