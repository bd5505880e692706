"""Open and click tracking of an HTML body: links found once per campaign version, signed once per message.

``mark_links`` runs on the HTML *template source* when a version is compiled. It wraps the value of every
``href`` of an ``<a>`` tag that may be tracked in two markers (``<`` + a control character) and puts a third
where the open pixel goes (before the last ``</body>``, else at the end). The marked source compiles like
any template, so personalized links (``href="https://x.example/{{context.id}}"``) render per recipient.
``Tracker.apply`` then works on the rendered HTML with ``str.split``/``partition`` only: for each marked
value it unescapes the rendered attribute (``&amp;`` → ``&``), keeps it as it is unless it is an
``http(s)`` URL (a value that renders to ``mailto:``, empty or relative stays untracked), signs the URL with
the message id (``delivery/tokens.MessageTokens.click``) and writes ``{base}/t/c/{token}`` instead. Nothing
is parsed per message.

The markers cannot be forged by personalization data: autoescaped output never holds ``<``. Raw output
(``{{{…}}}``) could; a marker without its closing partner is then left as text, never misread as a link.

Skipped when marking: ``mailto:``, ``tel:``, ``sms:``, ``#anchors`` and other non-web schemes written as
literals, links with ``data-clarion-track="off"``, and links to the message's own unsubscribe page
(``{base}/u/``, checked after rendering). The plain-text part is not rewritten: a recipient who reads the
text alternative reaches the original URL and no ``clicked`` event is recorded.
"""

from __future__ import annotations

import html
import re

from clarion.delivery.tokens import MessageTokens

LINK_OPEN = "<\x02"
LINK_CLOSE = "<\x03"
PIXEL = "<\x04"

# A template expression ends at its FIRST closing delimiter, and a "{" outside one is only a "{" not followed
# by "{" or "%": every character has exactly one reading, so a tag that does not close fails without
# backtracking (overlapping alternatives backtrack exponentially on HTML such as "<a {{x}}{{x}}…"). Neither
# a tag nor an expression in it crosses a "<", so a failed tag costs at most the text up to the next "<"
# (a page of unclosed "<a <a …" stays linear). A link whose tag holds a "<" (``{%#if a < b%}`` in an
# attribute) is not tracked.
_EXPRESSION = r"\{\{(?:[^}<]|\}(?!\}))*\}\}|\{%(?:[^%<]|%(?!\}))*%\}|\{(?![{%])"
# An <a …> start tag whose attributes may hold template expressions (a '>' inside one does not end the tag).
_ANCHOR = re.compile(rf"<a(?=[\s>/])(?:{_EXPRESSION}|[^<>{{])*>", re.IGNORECASE)
_HREF = re.compile(
    rf"""(?<=[\s"'])href\s*=\s*(?:"((?:{_EXPRESSION}|[^"{{])*)"|'((?:{_EXPRESSION}|[^'{{])*)'|([^\s"'=<>`]+))""",
    re.IGNORECASE,
)
_OPT_OUT = re.compile(r"""(?<=[\s"'])data-clarion-track\s*=\s*["']?off\b""", re.IGNORECASE)
_UNTRACKED_LITERAL = re.compile(r"\s*(?:#|mailto:|tel:|sms:|javascript:|data:|cid:)", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_WEB = ("http://", "https://")


def mark_links(source: str, *, clicks: bool, opens: bool) -> str:
    """The HTML template source with its trackable ``href`` values and the pixel's place marked."""
    if clicks:
        source = _ANCHOR.sub(_mark_anchor, source)
    if opens:
        ends = list(_BODY_END.finditer(source))
        if ends:
            at = ends[-1].start()
            source = source[:at] + PIXEL + source[at:]
        else:
            source += PIXEL
    return source


def _mark_anchor(match: re.Match[str]) -> str:
    tag = match[0]
    if _OPT_OUT.search(tag):
        return tag
    href = _HREF.search(tag)
    if href is None:
        return tag
    group = next(index for index in (1, 2, 3) if href.group(index) is not None)
    value = href.group(group)
    if not value.strip() or _UNTRACKED_LITERAL.match(value):
        return tag
    start, end = href.span(group)
    if group == 3:  # an unquoted value: quote it, the markers are not attribute-safe unquoted
        return f'{tag[:start]}"{LINK_OPEN}{value}{LINK_CLOSE}"{tag[end:]}'
    return f"{tag[:start]}{LINK_OPEN}{value}{LINK_CLOSE}{tag[end:]}"


class Tracker:
    """Rewrites one campaign version's rendered HTML for one message: signed links and the open pixel."""

    __slots__ = ("_click_prefix", "_open_prefix", "_tokens", "_unsubscribe_prefix")

    def __init__(self, tokens: MessageTokens, base_url: str) -> None:
        base = base_url.rstrip("/")
        self._tokens = tokens
        self._click_prefix = f"{base}/t/c/"
        self._open_prefix = f"{base}/t/o/"
        self._unsubscribe_prefix = f"{base}/u/"

    def apply(self, rendered: str, message_id: str) -> str:
        """``rendered`` (from a ``mark_links`` template) with tracked links and pixel for ``message_id``."""
        if LINK_OPEN in rendered:
            rendered = self._links(rendered, message_id)
        if PIXEL in rendered:
            before, _, after = rendered.rpartition(PIXEL)
            pixel = (
                f'<img src="{self._open_prefix}{self._tokens.open(message_id)}" width="1" height="1" '
                'alt="" style="display:block;width:1px;height:1px;border:0" />'
            )
            # A pixel mark repeated by a loop in the template: only the last one becomes the image.
            rendered = before.replace(PIXEL, "") + pixel + after
        return rendered

    def _links(self, rendered: str, message_id: str) -> str:
        parts = rendered.split(LINK_OPEN)
        out = [parts[0]]
        click = self._tokens.click
        for part in parts[1:]:
            value, closed, rest = part.partition(LINK_CLOSE)
            if not closed:  # not a marker of ours (raw output): leave the text as it was
                out.append(LINK_OPEN + part)
                continue
            url = html.unescape(value).strip() if "&" in value else value.strip()
            if url[:8].lower().startswith(_WEB) and not url.startswith(self._unsubscribe_prefix):
                out.append(self._click_prefix + click(message_id, url))
            else:
                out.append(value)
            out.append(rest)
        return "".join(out)

    @staticmethod
    def strip(rendered: str) -> str:
        """``rendered`` with every marker removed and links left as written (a message without an id)."""
        return rendered.replace(LINK_OPEN, "").replace(LINK_CLOSE, "").replace(PIXEL, "")
