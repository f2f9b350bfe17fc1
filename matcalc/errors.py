"""User errors: one exception type carrying the source span, rendered in one place.

Every error a user can cause (syntax, unknown name, shapes, bad option) is a
`MatcalcError` with a `Span` into the text they wrote; `render()` prints it the way
CPython shows a syntax error: position, the source line, carets, then a hint.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range [start, end) into the source text."""

    start: int
    end: int

    def __or__(self, other: "Span") -> "Span":
        return Span(min(self.start, other.start), max(self.end, other.end))


WINDOW = 100          # characters of a long source line shown around an error
_NEW_LINE = re.compile(r"\r\n?|\n")      # a new line in the language (grammar.lark's _NL)
_LINE_END = re.compile(r"[\r\n]")


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    r"""The 1-based line and column of `offset` in `source` (a line ends at \n, \r\n or \r)."""
    line_start = max(source.rfind("\n", 0, offset), source.rfind("\r", 0, offset)) + 1
    return len(_NEW_LINE.findall(source, 0, offset)) + 1, offset - line_start + 1


@dataclass(frozen=True, slots=True)
class Fix:
    """What the user probably meant, as an input that is itself valid: the whole program
    rewritten, and declarations to add (`--shape NAME=DIMS`, as (NAME, DIMS) pairs). A
    message that suggests a rewrite carries it, so that tests can derive every suggestion."""

    program: str
    shapes: tuple[tuple[str, str], ...] = ()

    @property
    def declarations(self) -> str:
        """The declarations as the command line writes them: `--shape X=N,n`."""
        return " ".join(f"--shape {name}={dims}" for name, dims in self.shapes)


class MatcalcError(Exception):
    """An error in the user's input; `kind` says which (syntax, name, shape, option, ...).
    `fix`, when there is one, is the rewrite the hint suggests (a `Fix`)."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, source: str | None = None,
                 hint: str | None = None, fix: Fix | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.hint = hint
        self.fix = fix

    def with_source(self, source: str) -> "MatcalcError":
        if self.source is None:
            self.source = source
        return self

    def render(self) -> str:
        """`line L, column C: message`, the source line, carets under the span, the hint."""
        lines = []
        if self.span is not None and self.source is not None:
            src = self.source
            start = max(0, min(self.span.start, len(src)))
            end = max(start, min(self.span.end, len(src)))
            line_no, col = line_and_column(src, start)
            line_start = start - col + 1
            line_end = _LINE_END.search(src, start)
            line_end = len(src) if line_end is None else line_end.start()
            text = src[line_start:line_end].expandtabs(1)
            width = max(1, min(end, line_end) - start)
            lines.append(f"line {line_no}, column {col}: {self.message}")
            # a long line is shown as a window around the span, elided with "..."
            lo = max(0, col - 1 - WINDOW // 3)
            hi = min(len(text), lo + WINDOW)
            shown = ("..." if lo else "") + text[lo:hi] + ("..." if hi < len(text) else "")
            pad = col - 1 - lo + (3 if lo else 0)
            lines.append("  " + shown)
            lines.append("  " + " " * pad + "^" * max(1, min(width, hi - (col - 1))))
        else:
            lines.append(self.message)
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ParseError(MatcalcError):
    kind = "syntax"


class NameError_(MatcalcError):
    kind = "name"


class ShapeError(MatcalcError):
    kind = "shape"


class OptionError(MatcalcError):
    kind = "option"


class LimitError(MatcalcError):
    kind = "limit"
