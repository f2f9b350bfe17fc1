"""Generated code as text: the user's text made inert, lines wrapped and folded.

A generated module is read by people and linters, so every line fits WIDTH (ruff's
default) the way black would fold it; and it is imported, so text that the user wrote
reaches it only through `inert`, the one door (tests/test_inert.py guards it).
"""
from __future__ import annotations

import textwrap

WIDTH = 88                   # ruff's default line length: generated code lints clean anywhere
FOLD_LIMIT = 4096            # longer lines (a megabyte name) are left as they are
INDENT = "    "
BRACKETS = ("(", ")", "[", "]", "{", "}")
AMBIGUOUS = ("l", "O", "I")     # names pycodestyle flags (E741): kept for arguments, with noqa

# ---- text from the user in generated code ----------------------------------------------------
# A generated module is imported (`d.compile()` runs it in the caller's process), so text
# that the user wrote (the program, its comments, names, dimension names) must never be
# able to end the string or the comment it stands in. Every such piece goes through `inert`.

def inert(text: str) -> str:
    r"""`text` as it may stand inside a double-quoted Python string (docstrings included) or
    a comment: backslashes and double quotes escaped, and every character that is not
    printable written as an escape (\xNN, \uNNNN, \UNNNNNNNN). That covers every line break
    that Python or an editor knows (\n \r \x0b \x0c \x1c-\x1e \x85 \u2028 \u2029), NUL and the
    other controls, the lone surrogates that undecodable bytes become (`caf\udce9`, which
    UTF-8 cannot encode) and invisible format characters. So the result is one line of
    printable text with no quote or backslash of its own, and a string literal around it
    reads back as `text`."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text                                        # the usual case: as it is
    out = []
    for ch in text:
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def literal(text: str) -> str:
    """`text` as a Python string literal (a dictionary key, a message)."""
    return f'"{inert(text)}"'


def program_lines(program: str, indent: str = "    ") -> list[str]:
    """The program for a module docstring: a line per line of it, wrapped, each inert."""
    out = []
    for line in program.strip().splitlines():
        out += [inert(piece) for piece in _lines(line.strip(), indent, indent * 2)]
    return out



def _describe_dims(dims: tuple) -> str:
    """`scalar`, `vector of length n` or `N x n`, for a docstring (dimension names inert)."""
    names = [inert(str(d)) for d in dims]
    if len(names) == 0:
        return "scalar"
    if len(names) == 1:
        return f"vector of length {names[0]}"
    return " x ".join(names)



def _groups(code: str) -> list[tuple[int, int]]:
    """(open, close) indices of the bracket pairs at depth 0 of a line of code."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(code):
        if ch in "([{":
            if depth == 0:
                start = i
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                out.append((start, i))
    return out


def _positions(code: str, marks: tuple[str, ...]) -> list[tuple[int, str]]:
    """(index, mark) of every place a mark starts in code, in order (str.find does the
    scanning: a line of a few thousand characters is folded at every depth of its
    brackets, and a loop over its characters would be the cost of the folding)."""
    out = []
    for mark in marks:
        i = code.find(mark)
        while i >= 0:
            out.append((i, mark))
            i = code.find(mark, i + 1)
    out.sort()
    return out


def _split_top(code: str, seps: tuple[str, ...]) -> list[str]:
    """code cut at the separators that sit at bracket depth 0 (kept at the piece's start)."""
    pieces, depth, last, resume = [], 0, 0, 0
    for i, mark in _positions(code, BRACKETS + seps):
        if i < resume:                        # inside a separator just cut at
            continue
        if mark in BRACKETS:
            depth += 1 if mark in "([{" else -1
        elif depth == 0 and i > last:
            pieces.append(code[last:i])
            last = resume = i + (2 if mark == ", " else 1)
    pieces.append(code[last:])
    return [p.strip() for p in pieces]


def _assignment(code: str) -> tuple[str, str]:
    """(`return ` or `names = ` (`+=`, `-=`, ...), the expression) of a statement; ("",
    code) for any other."""
    if code.startswith("return "):
        return "return ", code[7:]
    i = 0                                    # the names: word characters, commas, spaces
    while i < len(code) and (code[i].isalnum() or code[i] in "_, "):
        i += 1
    op = i + 1 if code[i:i + 1] in ("-", "+", "*", "/", "@") else i
    if i > 1 and code[i - 1] == " " and code.startswith("= ", op):
        return code[:op + 2], code[op + 2:]
    return "", code


def _fold(line: str, depth: int = 0, inside: bool = False) -> list[str]:
    """A code line longer than WIDTH broken inside brackets, as black would: before the
    + and - of a sum (the right-hand side parenthesised), else inside the bracket pair
    that ends the line, one argument a line if need be."""
    if len(line) <= WIDTH or len(line) > FOLD_LIMIT or depth > 8 or \
            line.lstrip().startswith("#"):
        return [line]
    indent = line[:len(line) - len(line.lstrip())]
    code, _, comment = line.strip().partition("  # ")
    if comment:                                         # the comment goes above
        above = textwrap.wrap(comment, WIDTH - len(indent) - 2, initial_indent="# ",
                              subsequent_indent="#   ", break_on_hyphens=False)
        return [indent + c for c in above] + _fold(indent + code, depth)
    inner = indent + INDENT
    prefix, expr = ("", code) if inside else _assignment(code)
    comma = expr.endswith(",") and inside
    if comma:
        expr = expr[:-1]
    items = _split_top(expr, (", ",))
    if len(items) > 1 and prefix:                       # a tuple: one item a line
        body = [x for item in items for x in _fold(inner + item + ",", depth + 1, True)]
        return [indent + prefix + "("] + body + [indent + ")"]
    terms = _split_top(expr, (" + ", " - "))            # each after the first keeps its sign
    if len(terms) > 1 and (inside or prefix):
        terms[-1] += "," if comma else ""
        where = indent if inside else inner
        body = [x for t in terms for x in _fold(where + t, depth + 1, True)]
        return body if inside else [indent + prefix + "("] + body + [indent + ")"]
    groups = [(o, c) for o, c in _groups(expr) if len(expr) - c <= 12 and c - o > 2]
    if not groups:
        return [line]
    o, c = groups[0]
    head, mid, tail = expr[:o + 1], expr[o + 1:c], expr[c:] + ("," if comma else "")
    items = _split_top(mid, (", ",))
    if len(inner + mid) <= WIDTH or len(items) == 1:
        body = _fold(inner + mid, depth + 1, True)
    else:                                               # a call, list, dict or tuple
        body = [x for item in items for x in _fold(inner + item + ",", depth + 1, True)]
    return [indent + prefix + head] + body + [indent + tail]


def _mark_ambiguous(text: str) -> str:
    """`# noqa: E741` where a variable the user named l, O or I becomes a Python name (an
    argument keeps the variable's name; pycodestyle would rather it did not)."""
    import ast
    lines = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.arg) and node.arg in AMBIGUOUS or \
                isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and \
                node.id in AMBIGUOUS:
            lines.add(node.lineno - 1)
    if not lines:
        return text
    out = text.split("\n")
    for i in sorted(lines):
        out[i] += "  # noqa: E741"
    return "\n".join(out)




def _dims_literal(dims: tuple) -> str:
    items = [literal(d) if isinstance(d, str) else str(d) for d in dims]
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"


def _wrap(head: str, items: list[str], tail: str, level: int) -> list[str]:
    """`head + ", ".join(items) + tail` on one line if it fits, else one item a line."""
    one = head + ", ".join(items) + tail
    if len(INDENT) * (level + 1) + len(one) <= WIDTH or not items:
        return [one]
    return [head.rstrip()] + [INDENT + i + "," for i in items] + [tail.lstrip() or ""]


def _unpack(names: list[str], head: str, items: list[str], tail: str) -> list[str]:
    """`a, b = head(items)tail` on one line if it fits, else black's layout."""
    if not names:
        return []
    lhs = ", ".join(names) + ("," if len(names) == 1 else "")
    rhs = head + ", ".join(items) + tail
    if not head and not tail:                              # a tuple of values
        if len(INDENT) * 2 + len(lhs) + len(rhs) + 3 <= WIDTH:
            return [f"{lhs} = {rhs}" + ("," if len(items) == 1 else "")]
        return [f"{n} = {i}" for n, i in zip(names, items, strict=True)]
    if len(INDENT) * 2 + len(lhs) + len(rhs) + 3 <= WIDTH:
        return [f"{lhs} = {rhs}"]
    out = ["("] + [f"{INDENT}{n}," for n in names]
    if not items:
        return out + [f") = {rhs}"]
    return out + [f") = {head.rstrip()}"] + [f"{INDENT}{i}," for i in items] + [tail or ""]


def _lines(text: str, first: str, rest: str) -> list[str]:
    """text wrapped to the module's width (inside a docstring: no indent of its own)."""
    return textwrap.wrap(text, WIDTH - len(INDENT), initial_indent=first,
                         subsequent_indent=rest, break_on_hyphens=False,
                         break_long_words=False) or [""]


def _para(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - 8, break_on_hyphens=False)

