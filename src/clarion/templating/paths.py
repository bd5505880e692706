"""Path syntax: ``a.b``, ``a/b``, ``a.[odd key]``, ``this``, ``.``, ``../x``, ``@index``, ``@root.x``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clarion.templating.lexer import Locator

# Handlebars' ID: anything but whitespace and these punctuation characters.
_ID = r"""[^\s!"#%&'()*+,./;<=>@\[\\\]^`{|}~]+"""
_SEGMENT = re.compile(rf"\[([^\]]*)\]|({_ID})")
_SEPARATOR = re.compile(r"[./]")
NAME = re.compile(_ID)


@dataclass(frozen=True, slots=True)
class PathSpec:
    """A parsed, not yet resolved path.

    ``data`` is set for ``@name`` paths; ``up`` counts ``../``; ``this`` marks an explicit ``this``/``.``
    start, which pins the lookup to the current scope.
    """

    segments: tuple[str, ...]
    data: str | None = None
    up: int = 0
    this: bool = False


def parse_path(text: str, offset: int, locator: Locator) -> PathSpec:
    """Parse one path written at ``offset``; raise TemplateSyntaxError if it is malformed."""
    i, data, up, this = 0, None, 0, False
    if text.startswith("@"):
        match = NAME.match(text, 1)
        if match is None:
            raise locator.error(f"invalid path {text!r}: expected a name after @", offset)
        data, i = match.group(), match.end()
        if i < len(text) and not _SEPARATOR.match(text, i):
            raise locator.error(f"invalid path {text!r}", offset)
        i += i < len(text)
    else:
        while text.startswith("../", i) or text[i:] == "..":
            up, i = up + 1, i + 3
        i = min(i, len(text))
        if up == 0 and (text == "." or text.startswith(("./", "this.", "this/")) or text == "this"):
            this, i = True, min(len(text), 2 if text.startswith(".") else 5)
    segments = _segments(text, i, offset, locator)
    return PathSpec(segments, data, up, this or bool(up and not segments))


def _segments(text: str, i: int, offset: int, locator: Locator) -> tuple[str, ...]:
    segments: list[str] = []
    while i < len(text):
        match = _SEGMENT.match(text, i)
        if match is None or (match[2] in ("this", "..") and match[1] is None):
            raise locator.error(f"invalid path {text!r}", offset + i)
        segments.append(match[1] if match[1] is not None else match[2])
        i = match.end()
        if i < len(text):
            if not _SEPARATOR.match(text, i) or i + 1 == len(text):
                raise locator.error(f"invalid path {text!r}", offset + i)
            i += 1
    return tuple(segments)
