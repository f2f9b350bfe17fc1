"""The program's own names: a derivative written with the intermediates the user named.

A derivative is derived and simplified in terms of the inputs (that is what is checked,
evaluated and compiled). A textbook writes it in terms of the values the program named:
`dJ/dW2 = (o - y)*a'`, not `(W2*relu(W1*x + b1) + b2 - y)*relu(W1*x + b1)'`. This module
folds the names back into a formula for display: each named value, simplified and written
itself in terms of the earlier names, is replaced by its name wherever it occurs, as a
whole node, as part of a sum (`W2*a + b2 - y` is `o - y`), negated (`y - o`) or transposed
(`o' - y'` in the numerator layout). Substituting the names' values back gives the formula
in terms of the inputs again, which is how the tests check that a named form is right.

A scalar output is not folded back (`-2*exp(-x'*x)*x` stays, rather than `-2*f*x`); a named
non-scalar output is (`y = sigmoid(z)` gives `dy .* y .* (1 - y)`).
"""
from __future__ import annotations

from collections import Counter

from . import expr as E


class Names:
    """The named values of one program, ready to be folded into its formulas."""

    def __init__(self, typed):
        from .simplify import simplify
        self.whole: dict[E.Node, E.Node] = {}        # a value (named form) -> its name
        self.sums: dict[E.Node, list[tuple[Counter, E.Node]]] = {}   # by each of its terms
        self.memo: dict[E.Node, E.Node] = {}
        self.scaled: dict[tuple[E.Node, E.Node], E.Node] = {}   # (scalar, matrix) -> name
        self.quotients: dict[tuple[E.Node, E.Node], E.Node] = {}  # (a, b) of a ./ b -> name
        for name, var in typed.intermediates.items():
            value = typed.inline.get(var)
            if value is None or (name == typed.output_name and var.is_scalar):
                continue
            forms = [(value, var), (E.Scale(E.Const(-1), value), E.Scale(E.Const(-1), var))]
            if len(var.shape) == 2:                 # a tensor has no transpose
                forms.insert(1, (E.Transpose(value), E.Transpose(var)))
            for v, shown in forms:
                canonical = simplify(v)
                named = self.fold(canonical)
                if named.children and named not in self.whole:
                    self.whole[named] = shown
                    if isinstance(named, E.Add):
                        for t in set(named.terms):
                            self.sums.setdefault(t, []).append((Counter(named.terms), shown))
                    if isinstance(named, E.Divide) and not isinstance(shown, E.Scale):
                        self.quotients.setdefault((named.a, named.b), shown)
                    if isinstance(named, E.Scale) and not named.x.is_scalar and \
                            isinstance(shown, E.Var):
                        self.scaled.setdefault((named.s, named.x), shown)
                    # later values fold this one to its name (their operands are folded
                    # once, in the shared memo: linear in the program)
                    self.memo[canonical] = shown

    def fold(self, node: E.Node) -> E.Node:
        """`node` with every named value replaced by its name (children first)."""
        memo = self.memo
        for n in E.walk(node, known=memo):
            if n.children:
                kids = tuple(memo[c] for c in n.children)
                m = n if kids == n.children else n.rebuild(kids)
            else:
                m = n
            memo[n] = self._name(m)
        return memo[node]

    def _name(self, n: E.Node) -> E.Node:
        hit = self.whole.get(n)
        if hit is not None:
            return hit
        if isinstance(n, E.Add):
            return self._name_part_of_sum(n)
        if isinstance(n, E.Scale) and self.scaled:
            return self._name_scaled_factor(n)
        if isinstance(n, E.Divide) and self.quotients:
            return self._name_quotient_factor(n)
        return n

    def _name_quotient_factor(self, n: E.Divide) -> E.Node:
        """`(dY .* Xc) ./ B` as `dY .* Xhat` when Xhat = Xc ./ B (elementwise products
        commute), also under a transpose: `(dY .* Xc)' ./ B'` is `(dY .* Xhat)'`."""
        num, flip = n.a, False
        if isinstance(num, E.Transpose) and isinstance(num.x, E.Hadamard):
            num, flip = num.x, True
        fs = num.factors if isinstance(num, E.Hadamard) else (num,)
        for i, f in enumerate(fs):
            key = (E.Transpose(f) if flip else f, n.b)
            name = self.quotients.get(key)
            if name is None or (flip and not isinstance(name, E.Transpose)):
                continue
            rest = fs[:i] + ((name.x if flip else name),) + fs[i + 1:]
            out = rest[0] if len(rest) == 1 else E.Hadamard(rest)
            return E.Transpose(out) if flip else out
        return n

    def _name_scaled_factor(self, n: E.Scale) -> E.Node:
        """`(dy'*xc)/sqrt(v + epsilon)` as `dy'*xhat` when xhat = xc/sqrt(v + epsilon):
        scalars commute with a product, so the scalar may join the factor it scales in a
        name (`n` is s1*(s2*(...*x)): its factors, the scalars and the last operand)."""
        factors: list[E.Node] = []
        x: E.Node = n
        while isinstance(x, E.Scale):
            factors.append(x.s)
            x = x.x
        factors.append(x)
        for (scalar, part), name in self.scaled.items():
            if scalar not in factors:
                continue
            rest = list(factors)
            rest.remove(scalar)
            for i, f in enumerate(rest):
                fs = f.factors if isinstance(f, E.MatMul) else (f,)
                if part in fs:
                    k = fs.index(part)
                    fs = fs[:k] + (name,) + fs[k + 1:]
                    rest[i] = fs[0] if len(fs) == 1 else E.MatMul(fs)
                    out = rest[-1]
                    for g in reversed(rest[:-1]):
                        out = E.Scale(g, out)
                    return out
        return n

    def _name_part_of_sum(self, n: E.Add) -> E.Node:
        """`W2*a + b2 - y` as `o - y` when o = W2*a + b2: the named sum takes the place of
        its first term."""
        terms = list(n.terms)
        candidates = {id(c): (c, name) for t in terms for c, name in self.sums.get(t, ())}
        # the largest named sum first
        for counts, name in sorted(candidates.values(), key=lambda cn: -sum(cn[0].values())):
            have = Counter(terms)
            if len(terms) <= sum(counts.values()) or any(have[t] < k for t, k in counts.items()):
                continue
            at = min(terms.index(t) for t in counts)
            left = counts.copy()
            kept = []
            for i, t in enumerate(terms):
                if left[t] > 0:
                    left[t] -= 1
                    if i == at:
                        kept.append(name)
                else:
                    kept.append(t)
            terms = kept
        return terms[0] if len(terms) == 1 else E.Add(tuple(terms)) if terms != list(n.terms) \
            else n
