"""Split template source into text and tags, with positions, then apply Handlebars whitespace rules.

Two tag families share one scan: Handlebars ``{{…}}`` (with ``{{{…}}}``, ``{{!…}}``, ``{{!--…--}}``,
``{{#…}}``, ``{{/…}}``, ``{{else…}}``) and AJO conditions ``{%…%}``. ``\\{{`` renders a literal ``{{``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import Enum

from clarion.templating.errors import TemplateSyntaxError
from clarion.templating.nodes import Position

_TAG_START = re.compile(r"\{\{|\{%")
# A `%}` inside a quoted string does not end an AJO tag.
_AJO_TAG = re.compile(r"""\{%((?:"[^"]*"|'[^']*'|[^"'%]|%(?!\}))*)%\}""")
_LONG_COMMENT_END = re.compile(r"--(~?)\}\}")
_ELSE = re.compile(r"\s*(?:else(?=\s|$)|\^\s*$)")
_MAX_SHOWN = 60


class Kind(Enum):
    """What a token is; the parser dispatches on it."""

    TEXT = "text"
    OUTPUT = "output"
    RAW = "raw"
    OPEN = "open"
    ELSE = "else"
    CLOSE = "close"
    COMMENT = "comment"
    AJO = "ajo"


# Tags that vanish with their line when they stand alone on it (Handlebars "standalone" rule).
_STANDALONE_KINDS = frozenset({Kind.OPEN, Kind.ELSE, Kind.CLOSE, Kind.COMMENT, Kind.AJO})


@dataclass(slots=True)
class Token:
    """Text, or one tag: ``body`` is the tag's content without delimiters, sigil and ``~``."""

    kind: Kind
    start: int
    end: int
    body: str = ""
    body_start: int = 0
    strip_before: bool = False
    strip_after: bool = False
    tag: str = ""


class Locator:
    """Turns source offsets into 1-based line and column numbers."""

    def __init__(self, source: str) -> None:
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def position(self, offset: int) -> Position:
        """The line and column of ``offset``."""
        line = bisect.bisect_right(self._line_starts, offset)
        return Position(line, offset - self._line_starts[line - 1] + 1)

    def error(self, message: str, offset: int) -> TemplateSyntaxError:
        """A syntax error pointing at ``offset``."""
        position = self.position(offset)
        return TemplateSyntaxError(message, position.line, position.column)


def shown(tag: str) -> str:
    """A tag as quoted in error messages: on one line and not too long."""
    flat = " ".join(tag.split())
    return flat if len(flat) <= _MAX_SHOWN else flat[: _MAX_SHOWN - 1] + "…"


def tokenize(source: str, locator: Locator) -> list[Token]:
    """All tokens of ``source`` with whitespace control applied; empty text tokens are dropped."""
    tokens: list[Token] = []
    text: list[str] = []
    text_start = pos = 0
    while (match := _TAG_START.search(source, pos)) is not None:
        start = match.start()
        if start > 0 and source[start - 1] == "\\":
            text.append(source[pos : start - 1] + match.group())
            pos = start + 2
            continue
        text.append(source[pos:start])
        _flush_text(tokens, text, text_start, start)
        token = _read_tag(source, start, locator)
        tokens.append(token)
        pos = text_start = token.end
    text.append(source[pos:])
    _flush_text(tokens, text, text_start, len(source))
    _apply_standalone(tokens)
    _apply_tildes(tokens)
    return [t for t in tokens if t.kind is not Kind.TEXT or t.body]


def _flush_text(tokens: list[Token], text: list[str], start: int, end: int) -> None:
    value = "".join(text)
    text.clear()
    if value:
        tokens.append(Token(Kind.TEXT, start, end, value))


def _read_tag(source: str, start: int, locator: Locator) -> Token:
    if source.startswith("{%", start):
        return _read_ajo(source, start, locator)
    if source.startswith("{{{", start):
        return _read_triple(source, start, locator)
    inner = start + 2
    strip_before = source.startswith("~", inner)
    inner += strip_before
    if source.startswith("!--", inner):
        return _read_long_comment(source, start, inner, strip_before, locator)
    close = source.find("}}", inner)
    if close < 0:
        raise locator.error(f"unterminated expression {_opening(source, start)}: missing }}}}", start)
    strip_after = close > inner and source[close - 1] == "~"
    token = Token(Kind.OUTPUT, start, close + 2, source[inner : close - strip_after], inner)
    token.strip_before, token.strip_after = strip_before, strip_after
    token.tag = source[start : close + 2]
    _classify(token, locator)
    return token


def _opening(source: str, start: int) -> str:
    """The first line of an unterminated tag, for the error message."""
    line_end = source.find("\n", start)
    return shown(source[start : line_end if line_end >= 0 else len(source)])


def _read_ajo(source: str, start: int, locator: Locator) -> Token:
    match = _AJO_TAG.match(source, start)
    if match is not None:
        end, body_end = match.end(), match.end(1)
    else:
        # An unbalanced quote hides the real `%}`: cut at the first one so that the expression parser
        # can point at the unterminated string.
        body_end = source.find("%}", start + 2)
        if body_end < 0:
            raise locator.error(f"unterminated tag {_opening(source, start)}: missing %}}", start)
        end = body_end + 2
    return Token(Kind.AJO, start, end, source[start + 2 : body_end], start + 2, tag=source[start:end])


def _read_triple(source: str, start: int, locator: Locator) -> Token:
    inner = start + 3
    strip_before = source.startswith("~", inner)
    inner += strip_before
    close = source.find("}}}", inner)
    if close < 0:
        raise locator.error(f"unterminated raw expression {_opening(source, start)}: missing }}}}}}", start)
    strip_after = close > inner and source[close - 1] == "~"
    token = Token(Kind.RAW, start, close + 3, source[inner : close - strip_after], inner)
    token.strip_before, token.strip_after = strip_before, strip_after
    token.tag = source[start : close + 3]
    return token


def _read_long_comment(source: str, start: int, inner: int, strip_before: bool, locator: Locator) -> Token:
    match = _LONG_COMMENT_END.search(source, inner + 3)
    if match is None:
        raise locator.error("unterminated comment {{!--: missing --}}", start)
    token = Token(Kind.COMMENT, start, match.end(), strip_before=strip_before, strip_after=bool(match[1]))
    token.tag = "{{!--…--}}"
    return token


def _classify(token: Token, locator: Locator) -> None:
    """Set the kind of a ``{{…}}`` tag from its sigil and strip the sigil from its body."""
    body = token.body
    stripped = body.lstrip()
    sigil_at = token.body_start + len(body) - len(stripped)
    sigil = stripped[:1]
    if sigil in ("#", "/", "!", "&"):
        token.kind = {"#": Kind.OPEN, "/": Kind.CLOSE, "!": Kind.COMMENT, "&": Kind.RAW}[sigil]
        token.body, token.body_start = stripped[1:], sigil_at + 1
    elif (match := _ELSE.match(body)) is not None:
        token.kind = Kind.ELSE
        token.body, token.body_start = body[match.end() :], token.body_start + match.end()
    elif sigil == ">":
        raise locator.error(f"partials are not supported: {shown(token.tag)}", token.start)
    elif sigil == "^":
        raise locator.error(f"inverted sections are not supported: {shown(token.tag)}", token.start)


def _apply_standalone(tokens: list[Token]) -> None:
    """Drop the whitespace and line break around a block tag that is alone on its line."""
    cuts: dict[int, list[int]] = {}
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        if token.kind not in _STANDALONE_KINDS:
            continue
        before = _line_tail(tokens, i - 1)
        after = _line_head(tokens, i + 1, last)
        if before is None or after is None:
            continue
        if i > 0:
            cuts.setdefault(i - 1, [0, len(tokens[i - 1].body)])[1] = before
        if i < last:
            cuts.setdefault(i + 1, [0, len(tokens[i + 1].body)])[0] = after
    for i, (left, right) in cuts.items():
        tokens[i].body = tokens[i].body[left:right]


def _line_tail(tokens: list[Token], i: int) -> int | None:
    """Where the blank end of the line before a tag starts, or None if that line has other content."""
    if i < 0:
        return 0
    token = tokens[i]
    if token.kind is not Kind.TEXT:
        return None
    head, newline, tail = token.body.rpartition("\n")
    if tail.strip(" \t") or not (newline or i == 0):
        return None
    return len(head) + len(newline)


def _line_head(tokens: list[Token], i: int, last: int) -> int | None:
    """Where the text after a tag's blank line end (past the newline) is, or None if not blank."""
    if i > last:
        return 0
    token = tokens[i]
    if token.kind is not Kind.TEXT:
        return None
    head, newline, _ = token.body.partition("\n")
    if head.strip(" \t\r") or not (newline or i == last):
        return None
    return len(head) + len(newline)


def _apply_tildes(tokens: list[Token]) -> None:
    """``{{~`` strips whitespace before the tag, ``~}}`` after it."""
    for i, token in enumerate(tokens):
        if token.strip_before and i > 0 and tokens[i - 1].kind is Kind.TEXT:
            tokens[i - 1].body = tokens[i - 1].body.rstrip()
        if token.strip_after and i + 1 < len(tokens) and tokens[i + 1].kind is Kind.TEXT:
            tokens[i + 1].body = tokens[i + 1].body.lstrip()
