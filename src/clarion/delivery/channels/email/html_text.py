"""Plain-text alternative of an HTML email, made from the TEMPLATE source once per campaign version.

Template expressions (``{{context.order.id}}``, ``{{{raw}}}``, ``{%#if x%}``) are swapped for opaque
placeholders before parsing and put back verbatim afterwards, so neither the HTML parser (``a<b`` inside
an expression looks like a tag) nor whitespace collapsing nor entity decoding can touch them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_EXPRESSION = re.compile(r"\{\{!--.*?--\}\}|\{\{\{.*?\}\}\}|\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_PLACEHOLDER = re.compile("\ue000([0-9]+)\ue001")  # private-use characters: no parser gives them meaning
_BLANKS = re.compile(r"[ \t\n\r\f\xa0]+")  # HTML whitespace, plus no-break space (spacer in email layouts)
# Block elements ask for "a line break here" on open AND close; two such requests must not add up (rows
# would be double-spaced), while two <br> must. So blocks emit marks, <br> emits "\n", and ``_tidy`` turns
# each run of blanks into max(<br> count, strongest mark) line breaks.
_LINE_MARK, _PARAGRAPH_MARK = "\ue002", "\ue003"
_RUN = re.compile(r"[ \t\n\r\f\xa0\ue002\ue003]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"))  # preheader padding
_BLANK_LINES = re.compile(r"\n{3,}")

_SKIPPED = frozenset(("head", "style", "script", "title", "template"))
_PARAGRAPHS = frozenset(
    ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr", "pre")
)
_LINES = frozenset(("div", "tr", "li", "section", "header", "footer", "article", "center", "dl", "dt", "dd"))
_CELLS = frozenset(("td", "th"))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML email: structure as line breaks, links as ``text (url)``."""
    numbers: dict[str, int] = {}  # one number per distinct expression: a link equal to its text stays equal

    def stash(match: re.Match[str]) -> str:
        return f"\ue000{numbers.setdefault(match[0], len(numbers))}\ue001"

    # A template already holding U+E000 (never seen in practice) keeps its expressions unprotected rather
    # than risk restoring the wrong text.
    protect = ("{{" in html or "{%" in html) and "\ue000" not in html
    source = _EXPRESSION.sub(stash, html) if protect else html
    extractor = _TextExtractor()
    extractor.feed(source)
    extractor.close()
    text = _tidy("".join(extractor.out))
    if not numbers:
        return text
    expressions = list(numbers)
    return _PLACEHOLDER.sub(lambda m: expressions[int(m[1])], text)


def _tidy(text: str) -> str:
    """Turn each run of blanks and marks into one space or its line breaks; at most one blank line."""
    text = _RUN.sub(_line_breaks, text.translate(_INVISIBLE))
    return _BLANK_LINES.sub("\n\n", text).strip("\n ")


def _line_breaks(match: re.Match[str]) -> str:
    """One run: ``max(<br> count, 2 for a paragraph mark, 1 for a line mark)`` breaks, or a space."""
    run = match[0]
    mark = 2 if _PARAGRAPH_MARK in run else 1 if _LINE_MARK in run else 0
    breaks = max(run.count("\n"), mark)
    return "\n" * breaks if breaks else " "


class _TextExtractor(HTMLParser):
    """Collects text and line-break marks; ``handle_data`` emits ``\\n`` only inside ``<pre>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._pre = 0
        self._links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element: skip invisible ones, break lines before blocks, remember links."""
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "body":
            self._skip = 0  # an unclosed <head> ends where <body> starts
        if self._skip:
            return
        self._break(tag)
        if tag == "li":
            self.out.append("- ")
        elif tag in _CELLS:
            self.out.append(" ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "pre":
            self._pre += 1
        elif tag == "a":
            self._links.append((_attribute(attrs, "href"), len(self.out)))
        elif tag == "img":
            self.out.append(" " + _attribute(attrs, "alt") + " ")

    def handle_endtag(self, tag: str) -> None:
        """Close an element: break lines after blocks, append the URL after a link's text."""
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip:
            return
        self._break(tag)
        if tag in _CELLS:
            self.out.append(" ")
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())

    def handle_data(self, data: str) -> None:
        """Text: whitespace becomes one space, except line breaks inside ``<pre>``."""
        if self._skip:
            return
        if self._pre:
            data = "\n".join(_BLANKS.sub(" ", line) for line in data.split("\n"))
        else:
            data = _BLANKS.sub(" ", data)
        self.out.append(data)

    def _break(self, tag: str) -> None:
        """Line breaks around block elements: a blank line for paragraphs, one break for the rest."""
        if tag in _PARAGRAPHS:
            self.out.append(_PARAGRAPH_MARK)
        elif tag in _LINES:
            self.out.append(_LINE_MARK)

    def _close_link(self, href: str, start: int) -> None:
        """Append `` (url)`` unless the link's text already is the URL; an empty link shows the URL."""
        if not href or href.startswith("#") or href.lower().startswith("javascript:"):
            return
        label = _RUN.sub(" ", "".join(self.out[start:])).strip()
        bare = href[7:] if href.lower().startswith("mailto:") else href
        if not label:
            self.out.append(bare)
        elif label not in (href, bare):
            self.out.append(f" ({href})")


def _attribute(attrs: list[tuple[str, str | None]], name: str) -> str:
    """An attribute's value, stripped ('' when absent)."""
    for key, value in attrs:
        if key == name:
            return (value or "").strip()
    return ""
