"""AJO condition expressions, as in ``{%#if context.total >= 100 and not context.vip%}``.

Grammar, loosest binding first::

    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := primary (("=" | "==" | "!=" | "<" | "<=" | ">" | ">=") primary)?
    primary := "(" or ")" | STRING | NUMBER | "true" | "false" | "null" | PATH
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from clarion.templating.lexer import Locator
from clarion.templating.nodes import BoolOp, Compare, CompareOp, Const, Expr, Not, Scalar, Var

MAX_DEPTH = 32
"""Deeper nesting is refused rather than risking recursion limits in our parser or Python's compiler."""

_DELIMITED = r"(?=[\s()=<>!'\"]|$)"
_TOKEN = re.compile(
    rf"""(?P<space>\s+)
    |(?P<op>==|!=|<=|>=|=|<|>)
    |(?P<paren>[()])
    |(?P<string>"[^"]*"|'[^']*')
    |(?P<number>-?\d+(?:\.\d+)?){_DELIMITED}
    |(?P<word>and|or|not|true|false|null){_DELIMITED}
    |(?P<path>(?:\[[^\]]*\]|[^\s()=<>!'"\[])+)
    |(?P<unterminated>["'])
    """,
    re.VERBOSE,
)
_LITERALS: dict[str, Scalar] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    offset: int


ResolvePath = Callable[[str, int], Var]
"""Turns a path token (text, source offset) into a resolved variable."""


def parse_condition(text: str, offset: int, locator: Locator, resolve: ResolvePath) -> Expr:
    """Parse the condition ``text`` found at source ``offset``."""
    tokens = _tokenize(text, offset, locator)
    parser = _Parser(tokens, offset + len(text), locator, resolve)
    expr = parser.parse_or(0)
    if parser.peek() is not None:
        token = tokens[parser.index]
        raise locator.error(f"unexpected {token.text!r} in condition", token.offset)
    return expr


def _tokenize(text: str, offset: int, locator: Locator) -> list[_Tok]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = cast(str, match.lastgroup)
        if kind == "unterminated":
            raise locator.error("unterminated string literal in condition", offset + match.start())
        if kind != "space":
            tokens.append(_Tok(kind, match.group(), offset + match.start()))
    return tokens


class _Parser:
    """Recursive descent over the token list; ``depth`` bounds nesting."""

    def __init__(self, tokens: list[_Tok], end: int, locator: Locator, resolve: ResolvePath) -> None:
        self.tokens, self.index, self.end = tokens, 0, end
        self.locator, self.resolve = locator, resolve

    def peek(self) -> _Tok | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take_word(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text == word:
            self.index += 1
            return True
        return False

    def parse_or(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise self.locator.error("condition nested too deeply", self._offset())
        expr = self.parse_and(depth)
        while self.take_word("or"):
            expr = BoolOp("or", expr, self.parse_and(depth))
        return expr

    def parse_and(self, depth: int) -> Expr:
        expr = self.parse_not(depth)
        while self.take_word("and"):
            expr = BoolOp("and", expr, self.parse_not(depth))
        return expr

    def parse_not(self, depth: int) -> Expr:
        if self.take_word("not"):
            if depth > MAX_DEPTH:
                raise self.locator.error("condition nested too deeply", self._offset())
            return Not(self.parse_not(depth + 1))
        return self.parse_compare(depth)

    def parse_compare(self, depth: int) -> Expr:
        left = self.parse_primary(depth)
        token = self.peek()
        if token is None or token.kind != "op":
            return left
        self.index += 1
        op = cast(CompareOp, "=" if token.text == "==" else token.text)
        return Compare(op, left, self.parse_primary(depth, after=token.text))

    def parse_primary(self, depth: int, after: str | None = None) -> Expr:
        token = self.peek()
        if token is None:
            what = f"after {after!r}" if after else "in condition"
            raise self.locator.error(f"expected a value {what}", self.end)
        self.index += 1
        if token.kind == "paren" and token.text == "(":
            expr = self.parse_or(depth + 1)
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise self.locator.error("missing ')' for this '('", token.offset)
            self.index += 1
            return expr
        if token.kind == "string":
            return Const(token.text[1:-1])
        if token.kind == "number":
            text = token.text
            return Const(float(text) if "." in text else int(text))
        if token.kind == "path":
            return self.resolve(token.text, token.offset)
        if token.kind == "word" and token.text in _LITERALS:
            return Const(_LITERALS[token.text])
        raise self.locator.error(f"unexpected {token.text!r} in condition", token.offset)

    def _offset(self) -> int:
        token = self.peek()
        return token.offset if token is not None else self.end
