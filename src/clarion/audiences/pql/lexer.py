"""Split PQL text into tokens with their 0-based positions.

Words are case-sensitive (``and``, not ``AND``). Strings are double-quoted with JSON escapes. A key that is
not a plain identifier (a dot, a space, a quote in it) is written between backticks, a backtick doubled:
``person.`first.name```.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from clarion.audiences.pql.errors import PqlError


class Kind(Enum):
    """What a token is."""

    WORD = "word"
    QUOTED_KEY = "quoted key"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    PARAMETER = "parameter"
    SYMBOL = "symbol"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text`` as written, ``value`` decoded (string content, number, key, parameter index)."""

    kind: Kind
    text: str
    position: int
    value: str | int | float = ""

    def is_word(self, *words: str) -> bool:
        """Whether this is one of ``words`` (a bare word, not a quoted key)."""
        return self.kind is Kind.WORD and self.text in words

    def is_symbol(self, *symbols: str) -> bool:
        """Whether this is one of ``symbols``."""
        return self.kind is Kind.SYMBOL and self.text in symbols


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PARAMETER = re.compile(r"\$([0-9]+)")
# Longest first, so that `<=` is never read as `<` then `=`.
_SYMBOLS: tuple[str, ...] = ("=>", "==", "!=", "<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%")
_SYMBOLS += ("(", ")", "[", "]", ",", ".", "!", ":")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``, ending with an END token at ``len(text)``."""
    tokens: list[Token] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            tokens.append(Token(Kind.END, "", len(text)))
            return tokens
        token = _next_token(text, index)
        tokens.append(token)
        index += len(token.text)


def _next_token(text: str, index: int) -> Token:
    char = text[index]
    if char == '"':
        return _string(text, index)
    if char == "`":
        return _quoted_key(text, index)
    if (match := _WORD.match(text, index)) is not None:
        return Token(Kind.WORD, match.group(), index, match.group())
    if (match := _NUMBER.match(text, index)) is not None:
        return _number(text, index, match)
    if (match := _PARAMETER.match(text, index)) is not None:
        return Token(Kind.PARAMETER, match.group(), index, int(match.group(1)))
    for symbol in _SYMBOLS:
        if text.startswith(symbol, index):
            return Token(Kind.SYMBOL, symbol, index, symbol)
    raise PqlError("not a PQL character", position=index, token=char, kind="Invalid character")


def _number(text: str, index: int, match: re.Match[str]) -> Token:
    end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        word = _WORD.match(text, end)
        culprit = text[index : word.end() if word else end + 1]
        raise PqlError(
            "a number must not run into letters", position=index, token=culprit, kind="Invalid number"
        )
    written = match.group()
    if len(written) > 64:  # also keeps int() below Python's limit on digits
        raise PqlError("at most 64 characters", position=index, token=written, kind="Invalid number")
    if match.group(1) or match.group(2):
        return Token(Kind.DECIMAL, written, index, float(written))
    return Token(Kind.INTEGER, written, index, int(written))


def _string(text: str, start: int) -> Token:
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return Token(Kind.STRING, text[start : index + 1], start, "".join(chars))
        if char == "\\":
            decoded, index = _escape(text, index)
            chars.append(decoded)
            continue
        chars.append(char)
        index += 1
    raise PqlError(
        "the string is never closed", position=start, token=text[start:], kind="Unterminated string"
    )


def _escape(text: str, index: int) -> tuple[str, int]:
    """Decode the escape at ``text[index]`` (a backslash); return it and the index after it."""
    code = text[index + 1 : index + 2]
    if code in _ESCAPES:
        return _ESCAPES[code], index + 2
    digits = text[index + 2 : index + 6]
    if code == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
        return chr(int(digits, 16)), index + 6
    shown = text[index : index + (6 if code == "u" else 2)]
    raise PqlError(
        'use \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX', position=index, token=shown, kind="Invalid escape"
    )


def _quoted_key(text: str, start: int) -> Token:
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        if text[index] == "`":
            if text.startswith("``", index):
                chars.append("`")
                index += 2
                continue
            return Token(Kind.QUOTED_KEY, text[start : index + 1], start, "".join(chars))
        chars.append(text[index])
        index += 1
    raise PqlError(
        "the quoted key is never closed", position=start, token=text[start:], kind="Unterminated key"
    )
