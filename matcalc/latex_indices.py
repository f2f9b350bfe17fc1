r"""Index notation in LaTeX, as notes write it: `z_i = \sum_{k=1}^d W_{ik}^{(1)} x_k +
b_i^{(1)}` is matcalc's index statement `z[i] = W1[i,k]*x[k] + b1[i]`.

The LaTeX scanner (matcalc.parse_latex) composes a name with its subscript, `x_i`, as it
always has, and notes which subscripts could be indices and where each `\sum` stands.
Once a whole program is scanned, `read_index_statements` decides statement by statement
which are index notation (`_IndexStatements`), and turns their names into INDEXED tokens
(`W1 i:12 k:13`: the name, then each index and its position), which the LaTeX grammar
reads as `Indexed` nodes and index statements. Nothing here reads LaTeX itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Fix, Span
from .syntax import Name

__all__ = ["IndexSum", "indexed_token", "read_index_statements"]


def read_index_statements(scanner, scalars: frozenset[str]) -> None:
    r"""Make the statements of a scanned LaTeX program that are in index notation index
    statements (the scanner's tokens, changed in place), or refuse a \sum that cannot be
    read. `scalars`: the names that are scalars by their letter (alpha, the small Greek
    letters), which an index statement may use without indices."""
    _IndexStatements(scanner, scalars).read()


@dataclass(frozen=True)
class IndexSum:
    r"""A \sum sign: the number of the token after it, its indices (letter, position),
    its span, how many brackets are open around it, and the rewrite to offer where it
    cannot be read."""
    at: int
    letters: tuple[tuple[str, int], ...]
    span: Span
    depth: int
    fix: Fix | None


_OPEN = frozenset({"LPAR", "LBRACE", "EWPOW", "NORMOPEN", "ABSOPEN"})
_CLOSE = frozenset({"RPAR", "RBRACE", "NORMCLOSE", "ABSCLOSE"})
_ENDS_TERM = frozenset({"PLUS", "MINUS", "SEP", "EQUAL", "GT", "COMMA"})


class _IndexStatements:
    r"""Which statements are in index notation, and their names made indexed (INDEXED
    tokens, `W1 i:12 k:13`: the name, then each index and its position).

    A statement is in index notation when it has a \sum, or when its left side has letter
    subscripts (z_i, Z_{ij}) that all appear on the right, every name on the right has
    letter subscripts too (or is a Greek scalar) and every index on the right is on the
    left or in two factors: `y_i = W x_i + b` keeps its names x_i and y_i, and
    `h_t = W_h x_t` its names W_h and x_t. It then reads as matcalc's index statement
    `z[i] = W1[i,k]*x[k] + b1[i]` (an index on the right and not on the left is summed,
    a \sum says which). A \sum is read only where that reading is the sum it writes: it
    covers one term (up to the next + or - beside it), each of its indices is a factor's
    index in that term, outside functions, powers and parentheses (the term's einsum then
    sums it), and is not used beside the sum in the statement's term around it (another
    term may use the letter again: each term is summed on its own); anything else is
    refused with what to write."""

    def __init__(self, scanner, scalars: frozenset[str]):
        self.sc = scanner
        self.scalars = scalars
        self.tokens = scanner.tokens

    def read(self) -> None:
        tokens, start = self.tokens, 0
        for n in range(len(tokens) + 1):
            if n == len(tokens) or tokens[n].type == "SEP":
                if n > start:
                    self.statement(start, n)
                start = n + 1

    def statement(self, a: int, b: int) -> None:
        sc, tokens = self.sc, self.tokens
        sums = [s for s in sc.sums if a <= s.at <= b]
        named = b - a >= 2 and tokens[a].type == "NAME" and tokens[a + 1].type == "EQUAL"
        first = a + 2 if named else a
        left = sc.indexable.get(a) if named else None
        right = {k: sc.indexable[k] for k in range(first, b) if k in sc.indexable}
        used = {letter for _, found in right.values() for letter, _ in found}
        plain = [t for k, t in enumerate(tokens[first:b], first)
                 if t.type == "NAME" and k not in right and t.value not in self.scalars]
        if not sums and not (left and {x for x, _ in left[1]} <= used and not plain
                             and self.einstein(left, right)):
            return
        if not named:       # a bare expression has no left side to say what is summed
            s = sums[0]
            src = sc.src
            at = min(tokens[a].start_pos, s.span.start)
            sc.fail("a sum over an index needs a statement: name its value", s.span.start,
                    s.span.end, "write f = \\sum_i ..., whose left side has no index "
                    "(a scalar), or y_j = \\sum_i ... (a vector)",
                    s.fix if s.fix and self.term_end(s, b) == s.at + 1 else   # one name
                    Fix(src[:at] + "f = " + src[at:]))
        name, found = left if left is not None else (tokens[a].value, ())
        self.indexed(a, name, found)      # the left side: its indices, or none (a scalar)
        lhs = {x for x, _ in found}
        for k, (name, found) in right.items():
            self.indexed(k, name, found)
        for s in sums:
            self.check_sum(s, lhs, first, b)

    @staticmethod
    def einstein(left, right) -> bool:
        """Whether the subscripts read as Einstein's convention: every index on the right
        is on the left or in two factors (summed). A subscript that names a role, as the
        h of W_h h_t or of W_{hh}, is in one factor only: those stay names."""
        seen: dict[str, int] = {x: 2 for x, _ in left[1]}
        for _, found in right.values():
            for x in {x for x, _ in found}:
                seen[x] = seen.get(x, 0) + 1
        return all(count >= 2 for count in seen.values())

    def indexed(self, k: int, name: str, found) -> None:
        t = self.tokens[k]
        value = " ".join([name] + [f"{x}:{at}" for x, at in found])
        self.tokens[k] = self.sc.token("INDEXED", value, t.start_pos, None, None, None, None,
                                       t.end_pos)

    def term_end(self, s: IndexSum, b: int) -> int:
        """The token after the term a \\sum covers: the next + or - beside it (or the
        end of its parenthesis, or of the statement before token `b`)."""
        tokens = self.tokens
        end, depth = s.at, 0
        while end < b:
            t = tokens[end]
            if t.type in _OPEN:
                depth += 1
            elif t.type in _CLOSE:
                depth -= 1
                if depth < 0:
                    break
            elif depth == 0 and t.type in _ENDS_TERM and not (
                    end == s.at and t.type in ("PLUS", "MINUS")):
                break
            end += 1
        return end

    def check_sum(self, s: IndexSum, lhs: set[str], first: int, b: int) -> None:
        """Refuse the \\sum `s` of the right side tokens[first:b] where the einsum of its
        term would read another sum (see the class)."""
        tokens, sc = self.tokens, self.sc
        end = self.term_end(s, b)
        bare, inside, depth = set(), set(), 0
        for k in range(s.at, end):
            t = tokens[k]
            depth += (t.type in _OPEN) - (t.type in _CLOSE)
            if t.type != "INDEXED":
                continue
            letters = _letters(t)
            inside |= letters
            before = tokens[k - 1] if k > s.at else None
            after = tokens[k + 1] if k + 1 < len(tokens) else None
            if depth == 0 and not (before is not None and (
                    before.type in ("FUNC", "POW") or before.value in ("/", "./"))) \
                    and not (after is not None and (
                        after.type in ("POW", "EWPOW", "TRANSPOSE", "INVT")
                        or after.value in ("/", "./"))):
                bare |= letters
        # the statement's term around the sum: beside it, the index would be the sum's
        # (terms apart are summed each on their own, so they may use the letter again)
        top_start, depth = first, 0
        for k in range(first, s.at):
            t = tokens[k]
            depth += (t.type in _OPEN) - (t.type in _CLOSE)
            if depth == 0 and t.type in ("PLUS", "MINUS") and k > first:
                top_start = k + 1
        top = IndexSum(top_start, (), s.span, 0, None)
        top_end = self.term_end(top, b)
        elsewhere = set()
        for k in range(top_start, max(top_end, end)):
            if not s.at <= k < end and tokens[k].type == "INDEXED":
                elsewhere |= _letters(tokens[k])
        for letter, at in s.letters:
            where = Span(at, at + 1)
            if letter in lhs:
                sc.fail(f"{letter} is an index of the left side, so it is not summed",
                        where.start, where.end, "drop it from \\sum, or from the left side")
            if letter in elsewhere:
                sc.fail(f"the index {letter} of this \\sum is used beside the term it sums",
                        where.start, where.end, "give the sum's index a letter of its own")
            if letter not in bare:
                sc.fail(f"the sum over {letter} covers more than a product of indexed "
                        f"factors", s.span.start, s.span.end,
                        f"the term after \\sum_{letter} needs a factor indexed by {letter} "
                        f"outside functions, powers and parentheses; or name the summand in "
                        f"a statement of its own (T_{{i{letter}}} = ... \\\\ "
                        f"z_i = \\sum_{letter} T_{{i{letter}}})")


def _letters(token) -> set[str]:
    """The index letters of an INDEXED token."""
    return {item.partition(":")[0] for item in token.value.split()[1:]}


def indexed_token(token) -> tuple[str, tuple[Name, ...]]:
    """The name and indices of an INDEXED token (`W1 i:12 k:13`, see read_index_statements)."""
    name, *found = token.value.split()
    indices = []
    for item in found:
        letter, _, at = item.partition(":")
        indices.append(Name(letter, Span(int(at), int(at) + 1)))
    return name, tuple(indices)
