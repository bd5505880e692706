"""Recursive-descent parser for ``pql/text``: tokens → syntax tree (types are checked afterwards).

Precedence, loosest first: ``or``; ``and``; ``not``/``!``/``exists``; one comparison (``= != < <= > >=``,
``in``, ``notIn``, ``like``, ``occurs …``); ``+ -``; ``* / %``; unary ``-``; member access and method calls.
"""

from __future__ import annotations

from clarion.audiences.pql.errors import PqlError, unexpected, unsupported
from clarion.audiences.pql.lexer import Kind, Token, tokenize
from clarion.audiences.pql.syntax import Apply, Constant, Field, ListOf, Occurs, Syntax, TimeWord

MAX_NESTING = 32
COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
UNITS = {
    "millisecond": "millisecond",
    "milliseconds": "millisecond",
    "second": "second",
    "seconds": "second",
    "minute": "minute",
    "minutes": "minute",
    "hour": "hour",
    "hours": "hour",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "month": "month",
    "months": "month",
    "year": "year",
    "years": "year",
    "decade": "decade",
    "decades": "decade",
    "century": "century",
    "centuries": "century",
    "millennium": "millennium",
    "millennia": "millennium",
}
DAY_WORDS = ("now", "today", "yesterday", "tomorrow")
PERIOD_WORDS = ("this", "last", "next")
DIRECTIONS = ("before", "after", "from")
# Words that cannot start a value (they would otherwise read as a field name).
_RESERVED = frozenset({"and", "or", "not", "in", "notIn", "like", "occurs", "between", "on", "where", "from"})
_EXPECTED_VALUE = "a value (a field, a literal, a function or '(')"
_EXPECTED_TIME = "a time: now, today, yesterday, tomorrow, this|last|next <unit> or date(year, month, day)"


def parse_syntax(text: str) -> Syntax:
    """Parse ``pql/text`` into a syntax tree; raise ``PqlError`` at the first token that does not fit."""
    tokens = tokenize(text)
    _guard_nesting(tokens)
    return _Parser(tokens, text).parse()


def _guard_nesting(tokens: list[Token]) -> None:
    """Refuse nesting deep enough to exhaust the recursive descent (and Python's stack) before parsing."""
    depth = prefixes = 0
    for token in tokens:
        depth += token.is_symbol("(", "[") - token.is_symbol(")", "]")
        prefixes = prefixes + 1 if token.is_word("not") or token.is_symbol("!", "-") else 0
        if depth > MAX_NESTING or prefixes > MAX_NESTING:
            raise PqlError(
                f"more than {MAX_NESTING} nested parentheses or prefix operators",
                position=token.position,
                token=token.text,
                kind="Too deep",
            )


class _Parser:
    def __init__(self, tokens: list[Token], text: str) -> None:
        self._tokens = tokens
        self._text = text
        self._index = 0
        self._alias = ""

    # -- token helpers -------------------------------------------------------------------------------

    def _peek(self, ahead: int = 0) -> Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _take(self) -> Token:
        token = self._peek()
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return token

    def _expect_symbol(self, symbol: str, expected: str = "") -> Token:
        token = self._peek()
        if not token.is_symbol(symbol):
            raise unexpected(token.text, token.position, expected or repr(symbol))
        return self._take()

    def _expect_word(self, words: tuple[str, ...], expected: str) -> Token:
        token = self._peek()
        if not token.is_word(*words):
            raise unexpected(token.text, token.position, expected)
        return self._take()

    def _span(self, start: Token) -> str:
        """The source text from ``start`` up to the last token taken."""
        last = self._tokens[self._index - 1]
        return self._text[start.position : last.position + len(last.text)]

    # -- grammar -------------------------------------------------------------------------------------

    def parse(self) -> Syntax:
        self._lambda_header()
        node = self._or()
        end = self._peek()
        if end.kind is not Kind.END:
            raise unexpected(end.text, end.position, "and, or or end of input")
        return node

    def _lambda_header(self) -> None:
        """``(Profile) => …`` names the profile; the name then starts paths (``Profile.person.age``)."""
        first, name, close, arrow = self._peek(), self._peek(1), self._peek(2), self._peek(3)
        if not (first.is_symbol("(") and name.kind is Kind.WORD):
            return
        if close.is_symbol(",") and self._lambda_ahead():
            raise unsupported(close.text, close.position, "a lambda with more than one parameter")
        if close.is_symbol(")") and arrow.is_symbol("=>"):
            self._alias = name.text
            self._index += 4

    def _lambda_ahead(self) -> bool:
        return any(token.is_symbol("=>") for token in self._tokens[self._index :])

    def _or(self) -> Syntax:
        node = self._and()
        while self._peek().is_word("or"):
            operator = self._take()
            node = Apply(operator.position, operator.text, "or", (node, self._and()))
        return node

    def _and(self) -> Syntax:
        node = self._not()
        while self._peek().is_word("and"):
            operator = self._take()
            node = Apply(operator.position, operator.text, "and", (node, self._not()))
        return node

    def _not(self) -> Syntax:
        token = self._peek()
        if token.is_word("not") or token.is_symbol("!"):
            self._take()
            return Apply(token.position, token.text, "not", (self._not(),))
        if token.is_word("exists"):
            return self._exists()
        if token.is_word("forall"):
            raise unsupported(token.text, token.position, "the array quantifier forall … from …")
        return self._comparison()

    def _exists(self) -> Syntax:
        token = self._take()
        if self._peek(1).is_word("from") or self._peek(1).is_symbol(","):
            raise unsupported(token.text, token.position, "the array quantifier exists … from …")
        return Apply(token.position, token.text, "isNotNull", (self._postfix(),))

    def _comparison(self) -> Syntax:
        left = self._additive()
        token = self._peek()
        if token.kind is Kind.SYMBOL and token.text in COMPARISONS:
            self._take()
            return Apply(token.position, token.text, COMPARISONS[token.text], (left, self._additive()))
        if token.is_word("in", "notIn", "like"):
            self._take()
            return Apply(token.position, token.text, token.text, (left, self._additive()))
        if token.is_word("occurs"):
            self._take()
            return self._occurs(token, left)
        return left

    def _additive(self) -> Syntax:
        node = self._multiplicative()
        while self._peek().is_symbol("+", "-"):
            operator = self._take()
            node = Apply(operator.position, operator.text, operator.text, (node, self._multiplicative()))
        return node

    def _multiplicative(self) -> Syntax:
        node = self._unary()
        while self._peek().is_symbol("*", "/", "%"):
            operator = self._take()
            node = Apply(operator.position, operator.text, operator.text, (node, self._unary()))
        return node

    def _unary(self) -> Syntax:
        token = self._peek()
        if not token.is_symbol("-"):
            return self._postfix()
        self._take()
        operand = self._unary()
        number = operand.value if isinstance(operand, Constant) else None
        if isinstance(number, int | float) and not isinstance(number, bool):
            return Constant(token.position, self._span(token), -number)
        return Apply(token.position, token.text, "negate", (operand,))

    def _postfix(self) -> Syntax:
        node = self._primary()
        while self._peek().is_symbol("."):
            self._take()
            key = self._peek()
            if key.kind not in (Kind.WORD, Kind.QUOTED_KEY, Kind.INTEGER):
                raise unexpected(key.text, key.position, "a field name or a function name")
            self._take()
            if key.kind is Kind.WORD and self._peek().is_symbol("("):
                node = Apply(key.position, key.text, key.text, (node, *self._arguments()))
            elif isinstance(node, Field):
                node = Field(
                    node.position,
                    self._text[node.position : key.position + len(key.text)],
                    (*node.keys, key.text if key.kind is Kind.INTEGER else str(key.value)),
                )
            else:
                raise unexpected(key.text, key.position, "a function call: only fields have fields")
        return node

    def _arguments(self) -> tuple[Syntax, ...]:
        self._expect_symbol("(")
        if self._peek().is_symbol(")"):
            self._take()
            return ()
        args = [self._or()]
        while self._peek().is_symbol(","):
            self._take()
            args.append(self._or())
        self._expect_symbol(")", "',' or ')'")
        return tuple(args)

    def _primary(self) -> Syntax:
        token = self._peek()
        if token.kind in (Kind.STRING, Kind.INTEGER, Kind.DECIMAL):
            self._take()
            return Constant(token.position, token.text, token.value)
        if token.is_symbol("("):
            self._take()
            node = self._or()
            self._expect_symbol(")", "')'")
            return node
        if token.is_symbol("["):
            return self._list()
        if token.kind is Kind.PARAMETER:
            return self._parameter()
        if token.kind is Kind.QUOTED_KEY:
            self._take()
            return Field(token.position, token.text, (str(token.value),))
        if token.kind is Kind.WORD:
            return self._word()
        raise unexpected(token.text, token.position, _EXPECTED_VALUE)

    def _list(self) -> Syntax:
        start = self._take()
        items: list[Syntax] = []
        if not self._peek().is_symbol("]"):
            items.append(self._additive())
            while self._peek().is_symbol(","):
                self._take()
                items.append(self._additive())
        self._expect_symbol("]", "',' or ']'")
        return ListOf(start.position, self._span(start), tuple(items))

    def _parameter(self) -> Syntax:
        token = self._take()
        if token.value != 1:
            raise unsupported(token.text, token.position, "a parameter other than $1 (the profile)")
        return self._profile_root(token)

    def _profile_root(self, token: Token) -> Syntax:
        """``$1`` or the lambda's name: must be followed by ``.field``."""
        if not self._peek().is_symbol("."):
            nxt = self._peek()
            raise unexpected(nxt.text, nxt.position, f"'.' and a field of {token.text}")
        return Field(token.position, token.text, ())

    def _word(self) -> Syntax:
        token = self._peek()
        word = token.text
        if word in ("true", "false"):
            self._take()
            return Constant(token.position, word, word == "true")
        if word in DAY_WORDS or word in PERIOD_WORDS:
            return self._time()
        if word == self._alias:
            self._take()
            return self._profile_root(token)
        if word in ("select", "xEvent"):
            raise unsupported(word, token.position, "an experience-event query (select … from xEvent)")
        if word in _RESERVED:
            raise unexpected(word, token.position, _EXPECTED_VALUE)
        self._take()
        if self._peek().is_symbol("("):
            return Apply(token.position, word, word, self._arguments())
        return Field(token.position, word, (word,))

    def _time(self) -> Syntax:
        token = self._peek()
        if token.is_word(*DAY_WORDS):
            self._take()
            return TimeWord(token.position, token.text, token.text)
        if token.is_word(*PERIOD_WORDS):
            self._take()
            unit = self._peek()
            if unit.kind is not Kind.WORD or unit.text not in UNITS:
                raise unexpected(unit.text, unit.position, "a time unit (day, week, month, year, …)")
            self._take()
            return TimeWord(token.position, self._span(token), token.text, UNITS[unit.text])
        if token.is_word("date") and self._peek(1).is_symbol("("):
            self._take()
            return Apply(token.position, token.text, "date", self._arguments())
        raise unexpected(token.text, token.position, _EXPECTED_TIME)

    def _occurs(self, keyword: Token, operand: Syntax) -> Syntax:
        token = self._peek()
        if token.is_word("between"):
            self._take()
            first = self._time()
            self._expect_word(("and",), "and")
            return Occurs(keyword.position, keyword.text, operand, "between", (first, self._time()))
        if token.is_word(*DIRECTIONS):
            self._take()
            return Occurs(keyword.position, keyword.text, operand, "direction", (self._time(),), token.text)
        if (token.kind is Kind.SYMBOL and token.text in COMPARISONS) or token.kind is Kind.INTEGER:
            return self._occurs_count(keyword, operand)
        if token.is_word("on"):
            self._take()
        return Occurs(keyword.position, keyword.text, operand, "on", (self._time(),))

    def _occurs_count(self, keyword: Token, operand: Syntax) -> Syntax:
        comparison = "="
        if self._peek().kind is Kind.SYMBOL:
            comparison = COMPARISONS[self._take().text]
        amount = self._peek()
        if amount.kind is not Kind.INTEGER:
            raise unexpected(amount.text, amount.position, "a whole number of time units")
        self._take()
        unit = self._peek()
        if unit.kind is not Kind.WORD or unit.text not in UNITS:
            raise unexpected(unit.text, unit.position, "a time unit (days, weeks, months, …)")
        self._take()
        direction = self._expect_word(DIRECTIONS, "before, after or from").text
        assert isinstance(amount.value, int)
        return Occurs(
            keyword.position,
            keyword.text,
            operand,
            "count",
            (self._time(),),
            direction,
            comparison,
            amount.value,
            UNITS[unit.text],
        )
