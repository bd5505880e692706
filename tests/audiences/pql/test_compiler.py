"""Compiled PQL run in the database of this test run: which hand-made profiles each expression selects.

The same table passes on SQLite and on PostgreSQL (CI runs the suite on both), which is the point: the two
dialects agree on every case, tricky data included. ``now`` is 2024-05-15T12:00:00Z, a Wednesday.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from clarion.audiences.pql import parse_json, parse_text, to_sql
from clarion.models.profiles import Profile
from tests.audiences.pql.conftest import NOW, ProfileStore

PROFILES: dict[str, dict[str, Any]] = {
    "ada": {
        "person": {"name": {"firstName": "Ada"}, "age": 36, "isActive": True, "birthDate": "1815-12-10"},
        "homeAddress": {"stateProvince": "CA"},
        "workAddress": {"stateProvince": "CA"},
        "email": "ada@example.com",
        "lastPurchaseAt": "2024-05-14T10:00:00Z",
        "score": 7.5,
    },
    "bob": {  # numbers and booleans written as strings; an offset that moves the instant into March (UTC)
        "person": {"name": {"firstName": "bob"}, "age": "41", "isActive": "true"},
        "homeAddress": {"stateProvince": "NY"},
        "workAddress": {"stateProvince": "NJ"},
        "email": "BOB@EXAMPLE.COM",
        "lastPurchaseAt": "2024-04-01T00:00:00+02:00",
        "score": 3,
    },
    "chloe": {
        "person": {"name": {"firstName": "Chloé"}, "age": 29.5, "isActive": False},
        "homeAddress": {"stateProvince": "CA"},
        "workAddress": {"stateProvince": "WA"},
        "email": "chloe@exemple.fr",
        "lastPurchaseAt": "2024-05-15T11:59:59.999Z",
        "score": 0,
    },
    "dora": {
        "person": {"name": None, "age": None},
        "email": None,
        "lastPurchaseAt": "not a date",
        "score": -2,
    },
    "empty": {},
    "eve": {
        "person": {"name": {"firstName": "Eve%_"}, "age": 30},
        "email": "eve_x@example.com",
        "lastPurchaseAt": "2024-02-30",  # no such day
    },
    "keys": {
        "a.b": 1,
        'quote"key': "yes",
        "items": {"keys": "v"},
        "values": 5,
        "é": {"ü": "unicode-key"},
        "back\\slash": True,
        "0": "zero",
        "x'); DROP TABLE profiles; --": "a'b",
    },
    "arrays": {"person": {"age": [30]}, "homeAddress": ["CA"], "email": ["x@example.com"]},
    "objects": {
        "person": {"name": "Fred", "age": {"value": 30}},
        "homeAddress": {"stateProvince": {"code": "CA"}},
    },
    "gus": {
        "person": {"name": {"firstName": "Gus"}, "age": 65, "isActive": True},
        "homeAddress": {"stateProvince": "TX"},
        "workAddress": {"stateProvince": "TX"},
        "email": "gus@example.COM",
        "lastPurchaseAt": "2024-05-15T12:00:00Z",  # exactly now
        "score": 100,
    },
    "hal": {
        "person": {"age": 1e15},
        "email": "hal@example.com",
        "lastPurchaseAt": "2024-05-14 23:30:00-01:00",  # 00:30 today in UTC
        "score": 2.5,
    },
    "ivy": {
        "person": {"name": {"firstName": "Ivy"}, "age": 18},
        "email": "ivy@example.org",
        "lastPurchaseAt": "2023-05-15",
        "score": 10,
    },
}
EVERYONE = set(PROFILES)

CASES: list[tuple[str, set[str]]] = [
    # numbers: a field compared with a number reads numbers only ("41" is a string, [30] an array)
    ("person.age > 30", {"ada", "gus", "hal"}),
    ("person.age >= 30", {"ada", "eve", "gus", "hal"}),
    ("person.age > 999999999999999", {"hal"}),
    ("not (person.age > 30)", {"chloe", "eve", "ivy"}),
    ('person.age = "41"', {"bob"}),
    ("person.age != 30", {"ada", "chloe", "gus", "hal", "ivy"}),
    ("person.age in [18, 29.5, 30]", {"chloe", "eve", "ivy"}),
    ("person.age notIn [18, 36]", {"chloe", "eve", "gus", "hal"}),
    ("person.age.0 = 30", set()),
    ("not (person.age.0 = 30)", set()),
    # existence: missing and JSON null are null; a wrong type is not
    ("person.age.isNull()", {"dora", "empty", "keys"}),
    ("person.age.isNotNull()", {"ada", "bob", "chloe", "eve", "arrays", "objects", "gus", "hal", "ivy"}),
    ("exists person.name.firstName", {"ada", "bob", "chloe", "eve", "gus", "ivy"}),
    ("not exists person.name.firstName", {"dora", "empty", "keys", "arrays", "objects", "hal"}),
    # booleans
    ("person.isActive", {"ada", "gus"}),
    ("person.isActive = false", {"chloe"}),
    ("!person.isActive", {"chloe"}),
    # strings: case-sensitive unless told, code-point order, ASCII-only case folding
    ('person.name.firstName.startsWith("Ch")', {"chloe"}),
    ('person.name.firstName.startsWith("B")', set()),
    ('person.name.firstName.startsWith("B", false)', {"bob"}),
    ('person.name.firstName.doesNotStartWith("A")', {"bob", "chloe", "eve", "gus", "ivy"}),
    ('email.endsWith("@example.com")', {"ada", "eve", "hal"}),
    ('email.endsWith("@EXAMPLE.com", false)', {"ada", "bob", "eve", "gus", "hal"}),
    ('email.doesNotEndWith("")', set()),
    ('email.contains("exemple")', {"chloe"}),
    ('email.doesNotContain("example")', {"bob", "chloe"}),
    ('person.name.firstName.equals("chloé", false)', {"chloe"}),
    ('person.name.firstName.equals("CHLOÉ", false)', set()),
    ('person.name.firstName.notEqualTo("Ada")', {"bob", "chloe", "eve", "gus", "ivy"}),
    ('person.name.firstName > "Chloe"', {"bob", "chloe", "eve", "gus", "ivy"}),
    ('email like "%@example.___"', {"ada", "eve", "gus", "hal", "ivy"}),
    ('email like "eve_x%"', {"eve"}),
    ('person.name.firstName like "Eve%_"', {"eve"}),
    ('email like "*%"', set()),
    ('email.matches("^[a-z]+@example\\\\.(com|org)$")', {"ada", "hal", "ivy"}),
    # two fields: equal only when both hold the same kind of scalar
    ("homeAddress.stateProvince = workAddress.stateProvince", {"ada", "gus"}),
    ("homeAddress.stateProvince != workAddress.stateProvince", {"bob", "chloe"}),
    ('homeAddress.stateProvince in ["CA", "TX"]', {"ada", "chloe", "gus"}),
    # keys that are not identifiers, keys named like dict methods, injection attempts
    ("`a.b` = 1", {"keys"}),
    ('`quote"key` = "yes"', {"keys"}),
    ('items.keys = "v" and values = 5', {"keys"}),
    ('`é`.`ü` = "unicode-key"', {"keys"}),
    ("`back\\slash`", {"keys"}),
    ('`0` = "zero"', {"keys"}),
    ("`x'); DROP TABLE profiles; --` = \"a'b\"", {"keys"}),
    # arithmetic: real division, truncated remainder, division by zero is unknown
    ("score + 1 > 5", {"ada", "gus", "ivy"}),
    ("score * 2 = 15", {"ada"}),
    ("score / 4 = 0.75", {"bob"}),
    ("score / 0 > 0 or score / 0 <= 0", set()),
    ("score % 2 = 1", {"bob"}),
    ("-score > 1", {"dora"}),
    # time: ISO strings with offsets, invalid dates are unknown
    ("lastPurchaseAt occurs <= 30 days before now", {"ada", "chloe", "gus", "hal"}),
    ("lastPurchaseAt occurs > 30 days before now", {"bob", "ivy"}),
    ("lastPurchaseAt occurs today", {"chloe", "gus", "hal"}),
    ("not (lastPurchaseAt occurs today)", {"ada", "bob", "ivy"}),
    ("lastPurchaseAt occurs yesterday", {"ada"}),
    ("lastPurchaseAt occurs = 1 day before today", {"ada"}),
    ("lastPurchaseAt occurs before today", {"ada", "bob", "ivy"}),
    ("lastPurchaseAt occurs this month", {"ada", "chloe", "gus", "hal"}),
    ("lastPurchaseAt occurs last month", set()),
    ("lastPurchaseAt occurs between date(2024, 3, 1) and date(2024, 3, 31)", {"bob"}),
    ("lastPurchaseAt occurs this year", {"ada", "bob", "chloe", "gus", "hal"}),
    ("lastPurchaseAt > date(2024, 5, 15)", {"chloe", "gus", "hal"}),
    ("lastPurchaseAt < now", {"ada", "bob", "chloe", "hal", "ivy"}),
    ("person.birthDate.getYear() = 1815 and person.birthDate.getMonth() = 12", {"ada"}),
    ("lastPurchaseAt.getYear() = currentYear() - 1", {"ivy"}),
    # logic, constants, parameters
    ('person.age > 30 and not (homeAddress.stateProvince = "CA")', {"gus"}),
    ('person.age > 30 or homeAddress.stateProvince = "NY"', {"ada", "bob", "gus", "hal"}),
    ("true", EVERYONE),
    ("false or person.age > 60", {"gus", "hal"}),
    ("(Profile) => Profile.person.age > 60", {"gus", "hal"}),
    ("$1.person.age < 20", {"ivy"}),
    ('if(person.age > 30, "senior", "junior") = "junior"', EVERYONE - {"ada", "gus", "hal"}),
    ("if(score > 5, person.age > 30, person.age < 20)", {"ada", "gus"}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text for text, _ in CASES])
async def test_expression_selects_expected_profiles(
    store: ProfileStore, text: str, expected: set[str]
) -> None:
    names = await store.insert(PROFILES)

    found = await store.matching(parse_text(text), names)

    assert {names[profile_id] for profile_id in found} == expected


async def test_pql_json_selects_like_its_text_form(store: ProfileStore) -> None:
    def field(*keys: str) -> dict[str, Any]:
        node: dict[str, Any] = {"nodeType": "parameterReference", "position": 1}
        for key in keys:
            node = {"nodeType": "fieldLookup", "fieldName": key, "object": node}
        return node

    same_state = {
        "nodeType": "fnApply",
        "fnName": "=",
        "params": [field("homeAddress", "stateProvince"), field("workAddress", "stateProvince")],
    }
    older = {
        "nodeType": "fnApply",
        "fnName": ">",
        "params": [field("person", "age"), {"nodeType": "literal", "literalType": "Integer", "value": 40}],
    }
    names = await store.insert(PROFILES)

    found = await store.matching(
        parse_json({"nodeType": "fnApply", "fnName": "and", "params": [same_state, older]}), names
    )

    assert {names[profile_id] for profile_id in found} == {"gus"}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_keys_and_literals_are_bound_parameters(dialect: str) -> None:
    expression = parse_text(
        '`evil\'key` = "O\'Brien; DROP TABLE profiles" and note.startsWith("secret-literal")'
    )
    where = to_sql(expression, attributes=Profile.attributes, dialect=dialect, now=NOW)

    compiled = (
        select(Profile.id)
        .where(where)
        .compile(dialect=(sqlite if dialect == "sqlite" else postgresql).dialect())
    )

    sql = str(compiled)
    assert "evil" not in sql
    assert "DROP" not in sql
    assert "secret-literal" not in sql
    assert any("O'Brien; DROP TABLE profiles" in str(value) for value in compiled.params.values())


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_sql(
            parse_text("a = 1"), attributes=Profile.attributes, dialect="sqlite", now=NOW.replace(tzinfo=None)
        )


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported dialect"):
        to_sql(parse_text("a = 1"), attributes=Profile.attributes, dialect="oracle", now=NOW)


@pytest.mark.parametrize(("dialect", "shape"), [("sqlite", " BETWEEN "), ("postgresql", "tstzrange(")])
def test_a_time_window_reads_the_timestamp_once(dialect: str, shape: str) -> None:
    where = to_sql(parse_text("t occurs today"), attributes=Profile.attributes, dialect=dialect, now=NOW)

    sql = str(where.compile(dialect=(sqlite if dialect == "sqlite" else postgresql).dialect()))

    assert shape in sql
    assert sql.count("julianday(CASE") + sql.count("clarion_try_timestamptz(") == 1
