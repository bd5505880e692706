"""pql/text and pql/json → typed tree; every error names its exact position and token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from clarion.audiences.pql import PqlError, parse_json, parse_text, referenced_paths
from clarion.audiences.pql.nodes import (
    AllOf,
    AnyOf,
    Arithmetic,
    Branch,
    Choice,
    Compare,
    DatePart,
    Exists,
    Literal,
    Member,
    Moment,
    Negate,
    Not,
    Path,
    TextTest,
    Truth,
    ValueType,
)
from clarion.errors import Invalid

AGE = Path(("person", "age"))
D = Path(("d",))
TS = ValueType.TIMESTAMP
NUMBER, STRING, BOOLEAN, ANY = ValueType.NUMBER, ValueType.STRING, ValueType.BOOLEAN, ValueType.ANY

PARSED = [
    ('workAddress.country = "US"', Compare("=", Path(("workAddress", "country")), Literal("US"), STRING)),
    ("person.age > 30", Compare(">", AGE, Literal(30), NUMBER)),
    ("person.age == -2.5", Compare("=", AGE, Literal(-2.5), NUMBER)),
    ("person.age <> 1e3", Compare("!=", AGE, Literal(1000.0), NUMBER)),
    ("30 <= person.age", Compare("<=", Literal(30), AGE, NUMBER)),
    ("$1.person.age >= 18", Compare(">=", AGE, Literal(18), NUMBER)),
    ("(Profile) => Profile.person.age < 18", Compare("<", AGE, Literal(18), NUMBER)),
    ("(P) => person.age < 18", Compare("<", AGE, Literal(18), NUMBER)),
    ("a = b", Compare("=", Path(("a",)), Path(("b",)), ANY)),
    ("person.isActive", Compare("=", Path(("person", "isActive")), Literal(True), BOOLEAN)),
    ("true", Truth(True)),
    ("not false", Not(Truth(False))),
    ("!(a = 1)", Not(Compare("=", Path(("a",)), Literal(1), NUMBER))),
    (
        "a = 1 and b = 2 and c = 3 or d",
        AnyOf(
            (
                AllOf(
                    (
                        Compare("=", Path(("a",)), Literal(1), NUMBER),
                        Compare("=", Path(("b",)), Literal(2), NUMBER),
                        Compare("=", Path(("c",)), Literal(3), NUMBER),
                    )
                ),
                Compare("=", Path(("d",)), Literal(True), BOOLEAN),
            )
        ),
    ),
    ("not a = 1", Not(Compare("=", Path(("a",)), Literal(1), NUMBER))),
    (
        "a + 2 * b > -c",
        Compare(
            ">",
            Arithmetic("+", Path(("a",)), Arithmetic("*", Literal(2), Path(("b",)))),
            Negate(Path(("c",))),
            NUMBER,
        ),
    ),
    (
        "(a - 1) % 2 = 0",
        Compare(
            "=", Arithmetic("%", Arithmetic("-", Path(("a",)), Literal(1)), Literal(2)), Literal(0), NUMBER
        ),
    ),
    ('x in ["a", "b"]', Member(Path(("x",)), (Literal("a"), Literal("b")), STRING)),
    ("x notIn [1, 2.5]", Not(Member(Path(("x",)), (Literal(1), Literal(2.5)), NUMBER))),
    ("x in []", Member(Path(("x",)), (), ANY)),
    ("x.isNull()", Not(Exists(Path(("x",))))),
    ("exists x.y", Exists(Path(("x", "y")))),
    ("not exists(x)", Not(Exists(Path(("x",))))),
    ('name.startsWith("Jo")', TextTest("startsWith", Path(("name",)), Literal("Jo"))),
    (
        'name.doesNotEndWith("x", false)',
        Not(TextTest("endsWith", Path(("name",)), Literal("x"), case_sensitive=False)),
    ),
    ("name.contains(other)", TextTest("contains", Path(("name",)), Path(("other",)))),
    ('name like "J%"', TextTest("like", Path(("name",)), Literal("J%"))),
    ('name.matches("^J\\\\d+")', TextTest("matches", Path(("name",)), Literal("^J\\d+"))),
    ('name.notEqualTo("a")', Not(TextTest("equals", Path(("name",)), Literal("a")))),
    ('"tab\\there\\u00e9" = x', Compare("=", Literal("tab\there\u00e9"), Path(("x",)), STRING)),
    ("`first.name`.`a``b` = 1", Compare("=", Path(("first.name", "a`b")), Literal(1), NUMBER)),
    ("items.keys.values = 1", Compare("=", Path(("items", "keys", "values")), Literal(1), NUMBER)),
    ("scores.2024 = 1", Compare("=", Path(("scores", "2024")), Literal(1), NUMBER)),
    ("x.from.on = 1", Compare("=", Path(("x", "from", "on")), Literal(1), NUMBER)),
    (
        "d > date(2024, 2, 29)",
        Compare(
            ">", Path(("d",)), Moment("fixed", fixed=datetime(2024, 2, 29, tzinfo=UTC)), ValueType.TIMESTAMP
        ),
    ),
    ("d < today", Compare("<", Path(("d",)), Moment("day", 0), ValueType.TIMESTAMP)),
    (
        "d.getMonth() = currentMonth()",
        Compare("=", DatePart("month", Path(("d",))), DatePart("month", Moment("now")), NUMBER),
    ),
    (
        'if(a > 1, "x", b) = "x"',
        Compare(
            "=",
            Choice(Compare(">", Path(("a",)), Literal(1), NUMBER), Literal("x"), Path(("b",)), STRING),
            Literal("x"),
            STRING,
        ),
    ),
    (
        "if(a, b = 1, c)",
        Branch(
            Compare("=", Path(("a",)), Literal(True), BOOLEAN),
            Compare("=", Path(("b",)), Literal(1), NUMBER),
            Compare("=", Path(("c",)), Literal(True), BOOLEAN),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[text for text, _ in PARSED])
def test_text_parses_to_the_typed_tree(text: str, expected: object) -> None:
    assert parse_text(text) == expected


OCCURS = [
    (
        "d occurs today",
        AllOf((Compare(">=", D, Moment("day", 0), TS), Compare("<", D, Moment("day", 1), TS))),
    ),
    (
        "d occurs on yesterday",
        AllOf((Compare(">=", D, Moment("day", -1), TS), Compare("<", D, Moment("day", 0), TS))),
    ),
    ("d occurs now", Compare("=", D, Moment("now"), TS)),
    (
        "d occurs last month",
        AllOf((Compare(">=", D, Moment("month", -1), TS), Compare("<", D, Moment("month", 0), TS))),
    ),
    ("d occurs before next year", Compare("<", D, Moment("year", 1), TS)),
    ("d occurs after tomorrow", Compare(">=", D, Moment("day", 2), TS)),
    ("d occurs after now", Compare(">", D, Moment("now"), TS)),
    ("d occurs from this week", Compare(">=", D, Moment("week", 0), TS)),
    (
        "d occurs <= 3 days before now",
        AllOf(
            (Compare(">=", D, Moment("now", shifts=((-3, "day"),)), TS), Compare("<=", D, Moment("now"), TS))
        ),
    ),
    ("d occurs > 2 hours before now", Compare("<", D, Moment("now", shifts=((-2, "hour"),)), TS)),
    (
        "d occurs < 1 week after today",
        AllOf(
            (
                Compare(">=", D, Moment("day", 1), TS),
                Compare("<", D, Moment("day", 1, shifts=((1, "week"),)), TS),
            )
        ),
    ),
    (
        "d occurs 2 months before today",
        AllOf(
            (
                Compare(">=", D, Moment("day", 0, shifts=((-2, "month"),)), TS),
                Compare("<", D, Moment("day", 0, shifts=((-1, "month"),)), TS),
            )
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), OCCURS, ids=[text for text, _ in OCCURS])
def test_occurs_becomes_comparisons_with_moments(text: str, expected: object) -> None:
    assert parse_text(text) == expected


ERRORS = [
    # (text, position, token, words in the message)
    ("person.age > 30 adn x", 16, "adn", "Unexpected token 'adn' at position 16: expected and, or or end"),
    ("person.age >", 12, "", "Unexpected end of input at position 12"),
    ("a = 1 and", 9, "", "expected a value"),
    ("(a = 1", 6, "", "expected ')'"),
    ("a in [1, 2", 10, "", "expected ',' or ']'"),
    ("a = 1 = 2", 6, "=", "expected and, or"),
    ("a # 1", 2, "#", "Invalid character"),
    ('a = "open', 4, '"open', "Unterminated string"),
    ('a = "\\q"', 5, "\\q", "Invalid escape"),
    ("a = `key", 4, "`key", "Unterminated key"),
    ("a = 30abc", 4, "30abc", "Invalid number"),
    ("a. = 1", 3, "=", "expected a field name"),
    ('"a".b = 1', 4, "b", "only fields have fields"),
    ("and = 1", 0, "and", "expected a value"),
    ("(Profile) => Profile", 20, "", "expected '.' and a field of Profile"),
    ("(a, b) => a.x = 1", 2, ",", "Unsupported"),
    ("$2.x = 1", 0, "$2", "not supported"),
    ("$1 = 1", 3, "=", "expected '.' and a field of $1"),
    ("select X from xEvent where X.a = 1", 0, "select", "not supported"),
    ("xEvent.a = 1", 0, "xEvent", "not supported"),
    ("exists E from xEvent where E.a = 1", 0, "exists", "not supported"),
    ("forall E from xEvent where E.a = 1", 0, "forall", "not supported"),
    ("tags.count() > 1", 5, "count", "Unsupported 'count' at position 5: the function count is not"),
    ("nope(1)", 0, "nope", "Unknown function 'nope'"),
    ("a.frobnicate()", 2, "frobnicate", "Unknown function"),
    # type errors
    ('"a" + 1', 4, "+", "Type error on '+' at position 4: + needs numbers, found a string and a number"),
    ("a - true", 2, "-", "needs numbers"),
    ('-"a" = 1', 0, "-", "cannot negate a string"),
    ('"a" < 3', 4, "<", "cannot compare a string with a number"),
    ("a > true", 2, ">", "booleans have no order"),
    ("a.startsWith(3)", 13, "3", "expected a string, found a number"),
    ('a.startsWith("x", 1)', 18, "1", "the case-sensitivity flag must be true or false"),
    ("a.startsWith()", 2, "startsWith", "takes a string"),
    ('a.startsWith("x", true, 3)', 2, "startsWith", "takes a string"),
    ("a like b", 7, "b", "like needs a string literal pattern"),
    ('a.matches("(")', 10, '"("', "invalid regular expression"),
    ("a.matches(b)", 10, "b", "string literal regular expression"),
    ("a in b", 5, "b", "needs a list literal"),
    ("a in [1, b]", 9, "b", "list items must be literals"),
    ('a in [1, "x"]', 9, '"x"', "cannot compare a number with a string"),
    ("date(2024, 13, 1) = d", 11, "13", "the month must be a whole number from 1 to 12"),
    ("d = date(2023, 2, 29)", 18, "29", "month 2 of 2023 has no day 29"),
    ("d = date(2024, 1)", 4, "date", "takes a year, a month and a day"),
    ("d = date(0, 1, 1)", 9, "0", "the year must be"),
    ("d = date(2024, 1.5, 1)", 15, "1.5", "the month must be"),
    ("d occurs <= 3 parsecs before now", 14, "parsecs", "expected a time unit"),
    ("d occurs <= 3 days around now", 19, "around", "expected before, after or from"),
    ("d occurs <= x days before now", 12, "x", "expected a whole number"),
    ("d occurs between today or tomorrow", 23, "or", "expected and"),
    ("d occurs soon", 9, "soon", "expected a time"),
    ("d occurs this fortnight", 14, "fortnight", "expected a time unit"),
    ('"x" occurs today', 0, '"x"', "expected a timestamp, found a string"),
    ("a.getYear() = 'x'", 14, "'", "Invalid character"),
    ("a.getYear(1) = 2024", 2, "getYear", "takes no arguments"),
    ('"x".getYear() = 2024', 0, '"x"', "expected a timestamp"),
    ("not 3", 4, "3", "expected a condition, found a number"),
    ('"yes"', 0, '"yes"', "expected a condition, found a string"),
    ("a > (b = 1)", 7, "=", "expected a value, found a condition"),
    ("if(a, 1) = 1", 0, "if", "takes a test"),
    ('if(a, 1, "x") = 1', 0, "if", "cannot compare a number with a string"),
    ("[1, 2]", 0, "[1, 2]", "a list is only allowed after in or notIn"),
    # values no database can hold are refused here, not by the driver
    ("a = 1e400", 4, "1e400", "the number is out of range"),
    ("a = " + "9" * 70, 4, "9" * 70, "Invalid number"),
    ('a = "x\\u0000y"', 4, '"x\\u0000y"', "cannot contain the NUL character"),
    ('a = "\\ud800"', 4, '"\\ud800"', "must be valid Unicode"),
    ("`k\x00` = 1", 0, "`k\x00`", "cannot contain the NUL character"),
    ("(" * 40 + "a" + ")" * 40, 32, "(", "Too deep"),
    ("not " * 40 + "a", 128, "not", "Too deep"),
    (" + ".join(["a"] * 60) + " > 1", 46, "+", "nested more than 48 levels"),
]


@pytest.mark.parametrize(("text", "position", "token", "message"), ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_text_errors_name_position_and_token(text: str, position: int, token: str, message: str) -> None:
    with pytest.raises(PqlError) as caught:
        parse_text(text)

    error = caught.value
    assert (error.position, error.token) == (position, token), str(error)
    assert message in str(error)
    assert isinstance(error, Invalid)  # renders as a 400 if it ever escapes a service


def test_error_text_reads_kind_token_position_and_message() -> None:
    with pytest.raises(PqlError) as caught:
        parse_text("person.age > 30 adn x")

    assert caught.value.message == "expected and, or or end of input"
    assert str(caught.value) == "Unexpected token 'adn' at position 16: expected and, or or end of input"


def _field(*keys: str) -> dict[str, Any]:
    node: dict[str, Any] = {"nodeType": "parameterReference", "position": 1}
    for key in keys:
        node = {"nodeType": "fieldLookup", "fieldName": key, "object": node}
    return node


def _apply(name: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {"nodeType": "fnApply", "fnName": name, "params": list(params)}


def _literal(value: object, kind: str = "String") -> dict[str, Any]:
    return {"nodeType": "literal", "literalType": kind, "value": value}


JSON_PARSED = [
    (_apply("=", _field("a"), _field("b")), Compare("=", Path(("a",)), Path(("b",)), ANY)),
    (
        _apply(
            "and",
            _apply(">", _field("person", "age"), _literal(30, "Integer")),
            _apply("isNotNull", _field("email")),
        ),
        AllOf((Compare(">", AGE, Literal(30), NUMBER), Exists(Path(("email",))))),
    ),
    (
        _apply("in", _field("c"), _literal(["US", "CA"], "List")),
        Member(Path(("c",)), (Literal("US"), Literal("CA")), STRING),
    ),
    (
        _apply("startsWith", _field("n"), _literal("J"), _literal(False, "Boolean")),
        TextTest("startsWith", Path(("n",)), Literal("J"), case_sensitive=False),
    ),
    (_apply("not", _field("active")), Not(Compare("=", Path(("active",)), Literal(True), BOOLEAN))),
    (_apply("<", _field("d"), _apply("now")), Compare("<", Path(("d",)), Moment("now"), ValueType.TIMESTAMP)),
    (_apply("=", _field("a.b"), _literal(1.5, "Double")), Compare("=", Path(("a.b",)), Literal(1.5), NUMBER)),
    (_apply("<>", _field("a"), _literal("x")), Compare("!=", Path(("a",)), Literal("x"), STRING)),
]


@pytest.mark.parametrize(("document", "expected"), JSON_PARSED, ids=[str(i) for i in range(len(JSON_PARSED))])
def test_json_parses_to_the_same_tree(document: dict[str, Any], expected: object) -> None:
    assert parse_json(document) == expected
    assert parse_json(json.dumps(document)) == expected


def test_adobe_json_example_equals_its_text_form() -> None:
    adobe = (
        '{"nodeType":"fnApply","fnName":"=","params":[{"nodeType":"fieldLookup","fieldName":"a","object":'
        '{"nodeType":"parameterReference","position":1}},{"nodeType":"fieldLookup","fieldName":"b","object":'
        '{"nodeType":"parameterReference","position":1}}]}'
    )

    assert parse_json(adobe) == parse_text("a = b")


JSON_ERRORS = [
    ("{", "Invalid JSON", 1),
    ("[1]", "Invalid pql/json node 'list'", 0),
    ({"nodeType": "mystery"}, "Invalid pql/json node 'mystery'", 0),
    ({"nodeType": "fnApply", "params": []}, "fnName must be a non-empty string", 0),
    (_apply("frob", _field("a")), "Unknown function 'frob'", 0),
    (_apply("count", _field("a")), "Unsupported 'count'", 0),
    (_apply("+", _literal("a"), _literal(1, "Integer")), "Type error on '+'", 0),
    (
        {"nodeType": "fieldLookup", "fieldName": "a", "object": {"nodeType": "literal", "value": 1}},
        "object must be",
        0,
    ),
    (
        {
            "nodeType": "fieldLookup",
            "fieldName": "a",
            "object": {"nodeType": "parameterReference", "position": 2},
        },
        "Unsupported",
        0,
    ),
    ({"nodeType": "parameterReference", "position": 1}, "only used as the object", 0),
    (_apply("=", _field("a"), {"nodeType": "literal", "value": None}), "a literal value must be", 0),
    ({"nodeType": "variableReference", "name": "X"}, "Unsupported 'variableReference'", 0),
    ("[" * 5000, "Invalid JSON", 0),
    ('{"nodeType": "literal", "value": NaN}', "the number is out of range", 0),
    ('{"nodeType": "literal", "value": ' + "9" * 5000 + "}", "Invalid JSON", 0),
]


@pytest.mark.parametrize(
    ("document", "message", "position"), JSON_ERRORS, ids=[str(i) for i in range(len(JSON_ERRORS))]
)
def test_json_errors_name_the_node(document: Any, message: str, position: int) -> None:
    with pytest.raises(PqlError) as caught:
        parse_json(document)

    assert message in str(caught.value)
    assert caught.value.position == position


def test_deep_json_is_refused_not_crashed() -> None:
    node: dict[str, Any] = _field("a")
    for _ in range(200):
        node = _apply("not", node)

    with pytest.raises(PqlError, match="nested too deeply"):
        parse_json(node)


def test_referenced_paths_in_order_without_repeats() -> None:
    expression = parse_text(
        'b.c > 1 and (a = b.c or not x.`y.z`.isNull()) and d occurs today and if(e, f, g) = "h"'
    )

    assert referenced_paths(expression) == [("b", "c"), ("a",), ("x", "y.z"), ("d",), ("e",), ("f",), ("g",)]


ADOBE_EXAMPLES = [
    "person.birthMonth = currentMonth()",
    "person.birthdate.getMonth() = 6",
    "product.saleYear = currentYear()",
    "person.birthday.getYear() in [1991, 1992, 1993, 1994, 1995]",
    "person.birthDay = currentDayOfMonth()",
    "product.sale.getDayOfMonth() <= 15",
    'city like "%es%"',
    'person.name.startsWith("Joe")',
    'person.name.doesNotStartWith("Joe")',
    'person.emailAddress.endsWith(".com")',
    'person.emailAddress.doesNotEndWith(".com")',
    'person.emailAddress.contains("2010@gm")',
    'person.emailAddress.doesNotContain("2010@gm")',
    'person.name.equals("John")',
    'person.name.notEqualTo("John")',
    'person.name.matches("(?i)^John")',
    "person.homeAddress.isNull()",
    "person.homeAddress.isNotNull()",
    "homeAddress.stateProvince = workAddress.stateProvince",
    "$1.homeAddress.stateProvince = $1.homeAddress.stateProvince",
    "(Profile) => Profile.homeAddress.stateProvince = Profile.workAddress.stateProvince",
    "X.timestamp occurs before today",
    "X.timestamp occurs last month",
    "X.timestamp occurs <= 3 days before now",
    'homeAddress.countryCode = "US" and not (homeAddress.stateProvince = "CA")',
    'workAddress.country = "US"',
    '_id = "abc"',
]


@pytest.mark.parametrize("text", ADOBE_EXAMPLES)
def test_adobe_documentation_examples_parse(text: str) -> None:
    assert referenced_paths(parse_text(text))
