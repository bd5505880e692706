"""Fast RFC 5322 / MIME (RFC 2045-2047) writer for campaign email.

Two phases: ``build_skeleton`` validates and pre-encodes what a campaign version shares (From, Reply-To,
custom headers, List-Unsubscribe) once; ``MessageSkeleton.render`` adds the per-recipient headers and the
two bodies with a handful of bytes operations. The standard ``email`` package costs ~1.3 ms per message
on this machine (~750 msg/s per core); it stays the oracle the tests parse every message back with.

Bodies are canonical text: CR LF, CR and LF all become line breaks, written as CRLF, and a non-empty body
always ends with one. Every output line ends with CRLF (aiosmtpd rejects bare LF).
"""

from __future__ import annotations

import binascii
import itertools
import os
import re
import time
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

_FOLD_AT = 78  # RFC 5322 "SHOULD" line length; encoded words and plain words fold here
_MAX_LINE = 998  # RFC 5322 "MUST" line length, CRLF excluded
_WORD_MAX = 75  # RFC 2047 limit of one encoded word
_WORD_OVERHEAD = len("=?utf-8?q??=")
_MIN_FIRST_WORD = 24  # room for one 4-byte character in either encoding after a long header name

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ADDRESS = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@{_LABEL}(?:\.{_LABEL})*")
_ATOMS = re.compile(rf"{_ATEXT}+(?: {_ATEXT}+)*")
_HEADER_NAME = re.compile(
    r"[!-9;-~]{1,76}"
)  # RFC 5322 ftext: printable ASCII except ':'; short enough to fold
_MSGID_TAG = re.compile(r"[a-z0-9]{0,64}")
_MSGID_CORE = re.compile(r"[!-;=?A-~]+@[!-;=?A-~]+")  # no space, '<', '>' or second '@'
_URI = r"<[!-;=?-~]+>"
_LIST_UNSUBSCRIBE = re.compile(rf"{_URI}(?:[ \t]*,[ \t]*{_URI})*")
_URI_INSIDE = re.compile(r"<([!-;=?-~]+)>")

# Headers the writer owns: letting callers add them would duplicate or contradict ours (or leak a Bcc).
_RESERVED = frozenset(
    {
        "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "mime-version",
        "content-type", "content-transfer-encoding", "content-disposition", "list-unsubscribe",
        "list-unsubscribe-post", "return-path", "received",
    }
)  # fmt: skip

# RFC 2047 "Q": the conservative set that is literal in every context (text and phrase); space is '_'.
_Q_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/"
_Q_MAP = tuple(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in range(256))
_Q_ONE_CHAR = _Q_SAFE + b" "
# Bytes quoted-printable writes as themselves: used to count the ones it must escape as =XX.
_QP_LITERAL = bytes(b for b in range(0x20, 0x7F) if b != 0x3D) + b"\t\n"

_SEVEN_BIT, _QUOTED_PRINTABLE, _BASE64 = 0, 1, 2
_CTE_NAMES = ("7bit", "quoted-printable", "base64")
_PLAIN = tuple(
    f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {c}\r\n\r\n".encode()
    for c in _CTE_NAMES
)
_HTML = tuple(
    f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: {c}\r\n\r\n".encode()
    for c in _CTE_NAMES
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class RenderedMessage(NamedTuple):
    """The wire bytes of one message (CRLF line ends) and its Message-ID, angle brackets included."""

    raw: bytes
    message_id: str


class MessageSkeleton:
    """The pre-encoded, per-campaign-version part of every message; ``render`` adds one recipient."""

    __slots__ = (
        "_boundary_prefix",
        "_counter",
        "_custom_names",
        "_date",
        "_head",
        "_id_tail",
        "_one_click",
    )

    def __init__(
        self,
        head: bytes,
        *,
        list_unsubscribe: bytes,
        one_click: bool,
        custom_names: frozenset[str],
        domain: str,
        message_id_tag: str = "",
    ) -> None:
        self._head = (head, list_unsubscribe)
        self._one_click = one_click
        self._custom_names = custom_names
        # What follows the random part of a Message-ID: ``.tag@domain>`` (see build_skeleton).
        self._id_tail = f"{'.' + message_id_tag if message_id_tag else ''}@{domain}>"
        self._date = _DateLines()
        # Uniqueness of a boundary comes from the checks in ``_boundary``, not from chance: the random
        # prefix only keeps two campaigns' boundaries apart when one message is forwarded inside another.
        self._boundary_prefix = b"=_" + os.urandom(9).hex().encode() + b"."
        self._counter = itertools.count()

    @property
    def head(self) -> bytes:
        """The constant header lines every message of this skeleton starts with (what DKIM precomputes)."""
        return self._head[0]

    def render(
        self,
        *,
        to: str,
        to_name: str | None = None,
        subject: str,
        html: str | None,
        text: str | None,
        message_id: str | None = None,
        date: datetime | None = None,
        extra_headers: Mapping[str, str] | None = None,
        list_unsubscribe: str | None = None,
        one_click: bool | None = None,
    ) -> RenderedMessage:
        """One recipient's message; ``list_unsubscribe`` replaces the campaign's (per-recipient links), with
        the RFC 8058 ``List-Unsubscribe-Post`` header when ``one_click`` (default: as the skeleton)."""
        # 128 random bits: os.urandom is 5x cheaper than uuid4().hex (0.4 vs 1.9 µs).
        msgid = (
            "<" + os.urandom(16).hex() + self._id_tail
            if message_id is None
            else _checked_message_id(message_id)
        )
        head, unsubscribe = self._head
        if list_unsubscribe is not None:
            unsubscribe = _list_unsubscribe(
                list_unsubscribe, one_click=self._one_click if one_click is None else one_click
            )
        return RenderedMessage(
            b"".join(
                (
                    head,
                    _address_header("To", to, to_name),
                    _unstructured("Subject", subject),
                    self._date(time.time() if date is None else _timestamp(date)),
                    b"Message-ID: " + msgid.encode() + b"\r\n",
                    self._extra(extra_headers) if extra_headers else b"",
                    unsubscribe,
                    self._body(text, html),
                )
            ),
            msgid,
        )

    def _extra(self, headers: Mapping[str, str]) -> bytes:
        """Per-message custom headers, checked like the campaign's."""
        return b"".join(_custom_header(name, value, self._custom_names) for name, value in headers.items())

    def _body(self, text: str | None, html: str | None) -> bytes:
        """Content headers and body: one part, or multipart/alternative with text before html."""
        if html is None:
            if text is None:
                raise ValueError("a message needs an html or a text body (both are None)")
            cte, data = _encode_body(text)
            return _PLAIN[cte] + data
        if text is None:
            cte, data = _encode_body(html)
            return _HTML[cte] + data
        text_cte, text_data = _encode_body(text)
        html_cte, html_data = _encode_body(html)
        boundary = self._boundary(
            text_data if text_cte == _SEVEN_BIT else b"", html_data if html_cte == _SEVEN_BIT else b""
        )
        # The CRLF before each "--boundary" belongs to the delimiter, hence the extra one after each body.
        return b"".join(
            (
                b'Content-Type: multipart/alternative; boundary="',
                boundary,
                b'"\r\n\r\n--',
                boundary,
                b"\r\n",
                _PLAIN[text_cte],
                text_data,
                b"\r\n--",
                boundary,
                b"\r\n",
                _HTML[html_cte],
                html_data,
                b"\r\n--",
                boundary,
                b"--\r\n",
            )
        )

    def _boundary(self, text: bytes, html: bytes) -> bytes:
        """A boundary found in neither 7bit part; QP and base64 output can never contain its "=_"."""
        while True:
            boundary = self._boundary_prefix + b"%x" % next(self._counter)
            if boundary not in text and boundary not in html:
                return boundary


def build_skeleton(
    *,
    from_address: str,
    from_name: str | None = None,
    reply_to: str | None = None,
    headers: Mapping[str, str] = _NO_HEADERS,
    list_unsubscribe: str | None = None,
    list_unsubscribe_post: bool = False,
    message_id_domain: str,
    message_id_tag: str = "",
) -> MessageSkeleton:
    """Validate and pre-encode the headers a campaign version shares; raises ValueError on bad input.

    Generated Message-IDs are ``<32 random hex[.message_id_tag]@message_id_domain>``: the tag (lowercase
    letters and digits) is how Clarion recognizes its own messages later (``delivery/attribution.py``).
    """
    if not _DOMAIN.fullmatch(message_id_domain):
        raise ValueError(f"message_id_domain {message_id_domain!r} is not a domain name")
    if not _MSGID_TAG.fullmatch(message_id_tag):
        raise ValueError(f"message_id_tag {message_id_tag!r}: lowercase letters and digits only")
    if list_unsubscribe_post and list_unsubscribe is None:
        raise ValueError("list_unsubscribe_post (RFC 8058 one-click) needs a list_unsubscribe URI")
    head = [_address_header("From", from_address, from_name)]
    if reply_to is not None:
        head.append(_address_header("Reply-To", reply_to, None))
    custom_names = frozenset(name.lower() for name in headers)
    if len(custom_names) != len(headers):
        raise ValueError(f"headers repeat a name (names are case-insensitive): {sorted(headers)}")
    head.extend(_custom_header(name, value, frozenset()) for name, value in headers.items())
    head.append(b"MIME-Version: 1.0\r\n")
    return MessageSkeleton(
        b"".join(head),
        list_unsubscribe=b""
        if list_unsubscribe is None
        else _list_unsubscribe(list_unsubscribe, one_click=list_unsubscribe_post),
        one_click=list_unsubscribe_post,
        custom_names=custom_names,
        domain=message_id_domain,
        message_id_tag=message_id_tag,
    )


# --- headers ---------------------------------------------------------------------------------------------


def _refuse_line_breaks(what: str, value: str) -> None:
    """A CR or LF in a header value would start a new header: refuse it (header injection)."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} contains a line break (CR or LF); refused to prevent header injection")


def _address_header(name: str, address: str, display_name: str | None) -> bytes:
    """``Name: [display name] <address>`` with the address checked to be one plain mailbox."""
    _refuse_line_breaks(f"header {name}", address)
    match = _ADDRESS.fullmatch(address)
    if match is None or len(match[1]) > 64 or len(address) > 254:
        raise ValueError(
            f"header {name}: {address!r} is not a single plain email address like user@example.com "
            "(ASCII; no display name, angle brackets, commas, spaces or quoted local part)"
        )
    if not display_name:
        return f"{name}: {address}\r\n".encode("ascii")
    lines = list(_phrase_lines(name, display_name))
    angle = f"<{address}>"
    if len(lines[-1]) + 1 + len(angle) > _FOLD_AT:
        lines.append(" " + angle)
    else:
        lines[-1] += " " + angle
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


@lru_cache(maxsize=4096)
def _phrase_lines(name: str, display_name: str) -> tuple[str, ...]:
    """``Name: <display name>`` lines: an atom, a quoted string, or RFC 2047 words when not ASCII."""
    _refuse_line_breaks(f"header {name} display name", display_name)
    prefix = f"{name}: "
    # "=?" would be decoded as an encoded word by lenient readers even inside quotes.
    if display_name.isascii() and display_name.isprintable() and "=?" not in display_name:
        if _ATOMS.fullmatch(display_name):
            return (prefix + display_name,)
        if len(display_name) < _MAX_LINE // 2:
            return (prefix + '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"',)
    words = _encoded_words(display_name, max(_FOLD_AT - len(prefix), _MIN_FIRST_WORD))
    return (prefix + words[0], *(" " + word for word in words[1:]))


def _custom_header(name: str, value: str, taken: frozenset[str]) -> bytes:
    """A caller-chosen header: the name must be a valid field name, not ours and not already set."""
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(
            f"invalid header name {name!r}: use 1-76 printable ASCII characters without ':' or spaces"
        )
    if name.lower() in _RESERVED:
        raise ValueError(f"header {name} is written by the MIME writer; pass it through its own argument")
    if name.lower() in taken:
        raise ValueError(f"header {name} is already set by the campaign skeleton")
    return _unstructured(name, value)


@lru_cache(maxsize=4096)
def _unstructured(name: str, value: str) -> bytes:
    """``Name: value`` (RFC 5322 unstructured): as-is when safe ASCII, else encoded words; folded."""
    _refuse_line_breaks(f"header {name}", value)
    prefix = f"{name}: "
    # Readers strip leading blanks and some MTAs trailing ones; "=?" would be decoded: encode those.
    plain = value.isascii() and value.isprintable() and "=?" not in value
    if plain and not value.startswith(" ") and not value.endswith(" "):
        folded = _fold_plain(prefix, value)
        if folded is not None:
            return folded
    words = _encoded_words(value, max(_FOLD_AT - len(prefix), _MIN_FIRST_WORD))
    return (prefix + "\r\n ".join(words) + "\r\n").encode("ascii")


def _fold_plain(prefix: str, value: str) -> bytes | None:
    """Fold before single spaces to keep lines ≤ 78 where words allow; None if a line passes 998."""
    if len(prefix) + len(value) <= _FOLD_AT:
        return (prefix + value + "\r\n").encode("ascii")
    words = value.split(" ")
    lines: list[str] = []
    line, previous = prefix + words[0], words[0]
    for word in words[1:]:
        # Fold only between two non-empty words so no line ends with, or consists only of, blanks.
        if word and previous and len(line) + 1 + len(word) > _FOLD_AT:
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
        previous = word
    lines.append(line)
    if max(map(len, lines)) > _MAX_LINE:
        return None
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _encoded_words(value: str, first: int) -> list[str]:
    """RFC 2047 words for ``value``: the first ≤ ``first`` chars, the rest ≤ 75; Q or B, the shorter."""
    data = value.encode()
    q_length = len(data) + 2 * len(data.translate(None, _Q_ONE_CHAR))
    if q_length > 4 * ((len(data) + 2) // 3):
        return _b_words(data, first)
    if q_length + _WORD_OVERHEAD <= first:
        return ["=?utf-8?q?" + "".join([_Q_MAP[byte] for byte in data]) + "?="]
    return _q_words(value, first)


def _b_words(data: bytes, first: int) -> list[str]:
    """Base64 encoded words, cut between UTF-8 sequences (a word must decode on its own)."""
    words: list[str] = []
    start, budget = 0, first
    while start < len(data):
        end = start + (budget - _WORD_OVERHEAD) // 4 * 3
        if end < len(data):
            while data[end] & 0xC0 == 0x80:  # a continuation byte: back off to the character's start
                end -= 1
        words.append("=?utf-8?b?" + binascii.b2a_base64(data[start:end], newline=False).decode() + "?=")
        start, budget = end, _WORD_MAX
    return words


def _q_words(value: str, first: int) -> list[str]:
    """Q encoded words, cut between characters."""
    words: list[str] = []
    chunk: list[str] = []
    size, budget = _WORD_OVERHEAD, first
    for char in value:
        encoded = "".join([_Q_MAP[byte] for byte in char.encode()])
        if chunk and size + len(encoded) > budget:
            words.append("=?utf-8?q?" + "".join(chunk) + "?=")
            chunk, size, budget = [], _WORD_OVERHEAD, _WORD_MAX
        chunk.append(encoded)
        size += len(encoded)
    words.append("=?utf-8?q?" + "".join(chunk) + "?=")
    return words


def _list_unsubscribe(value: str, *, one_click: bool) -> bytes:
    """List-Unsubscribe (RFC 2369) from one URI or ``<uri>, <uri>``; plus the RFC 8058 one-click header."""
    _refuse_line_breaks("header List-Unsubscribe", value)
    value = value.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if not _LIST_UNSUBSCRIBE.fullmatch(value):
        raise ValueError(
            "List-Unsubscribe must be one URI or a comma-separated list of <URI>s "
            "(printable ASCII, no spaces)"
        )
    uris = _URI_INSIDE.findall(value)
    if one_click and not any(uri.lower().startswith("https://") for uri in uris):
        raise ValueError("one-click unsubscribe (RFC 8058) needs an https URI in List-Unsubscribe")
    lines = [f"List-Unsubscribe: <{uris[0]}>"]
    for uri in uris[1:]:
        if len(lines[-1]) + len(uri) + 4 > _FOLD_AT:
            lines[-1] += ","
            lines.append(f" <{uri}>")
        else:
            lines[-1] += f", <{uri}>"
    if max(map(len, lines)) > _MAX_LINE:
        raise ValueError(f"List-Unsubscribe URI longer than {_MAX_LINE - 20} characters")
    if one_click:
        lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _checked_message_id(message_id: str) -> str:
    """A caller's Message-ID, with or without angle brackets, returned with them."""
    core = message_id[1:-1] if message_id[:1] == "<" and message_id[-1:] == ">" else message_id
    if not _MSGID_CORE.fullmatch(core):
        raise ValueError(f"message_id {message_id!r} is not of the form <left@right> (printable ASCII)")
    return f"<{core}>"


def _timestamp(date: datetime) -> float:
    """Seconds since the epoch of an aware datetime; a naive one is ambiguous and refused."""
    if date.utcoffset() is None:
        raise ValueError("date must be timezone-aware (a naive datetime has no defined instant)")
    return date.timestamp()


class _DateLines:
    """``Date:`` header lines in UTC, formatted once per second (seconds are all a Date shows)."""

    __slots__ = ("_cached",)

    def __init__(self) -> None:
        self._cached = (-1, b"")

    def __call__(self, moment: float) -> bytes:
        second = int(moment // 1)
        cached_second, line = self._cached  # one tuple, so threads never see a mismatched pair
        if second != cached_second:
            t = time.gmtime(second)
            line = (
                f"Date: {_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000\r\n"
            ).encode()
            self._cached = (second, line)
        return line


# --- bodies ----------------------------------------------------------------------------------------------


def _encode_body(content: str) -> tuple[int, bytes]:
    """Canonical CRLF bytes of a text body and its transfer encoding (an index into ``_CTE_NAMES``).

    7bit when ASCII, NUL-free and every line ≤ 998 octets: no work and readable. Otherwise quoted-printable
    while at most 1 byte in 6 needs escaping (then QP is the shorter and stays readable), else base64.
    """
    if "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")
    if content and content[-1] != "\n":
        content += "\n"
    data = content.encode()
    if data.isascii() and b"\0" not in data and _lines_fit(data):
        return _SEVEN_BIT, data.replace(b"\n", b"\r\n")
    crlf = data.replace(b"\n", b"\r\n")
    if 6 * len(data.translate(None, _QP_LITERAL)) <= len(data):
        # The input has CRLF line ends, so b2a_qp writes its soft breaks as "=\r\n" too.
        return _QUOTED_PRINTABLE, binascii.b2a_qp(crlf, istext=True)
    return _BASE64, _base64_lines(crlf)


def _lines_fit(data: bytes) -> bool:
    """Whether no LF-separated line of ``data`` passes 998 octets."""
    return len(data) <= _MAX_LINE or max(map(len, data.split(b"\n"))) <= _MAX_LINE


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines: one C call, then slicing (5.0 µs vs 6.8 µs per 57-byte call)."""
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"
