"""Property: the database selects exactly the profiles a small pure-Python PQL evaluator selects.

Random documents (missing keys, nulls, numbers, strings, booleans, arrays, objects where scalars are
expected) and random expressions (comparisons with literals and between fields, ``in``/``notIn``,
``isNull``/``isNotNull``, ``and``/``or``/``not``) are generated; each expression is written as pql/text,
parsed, compiled and run in the test run's database (SQLite or PostgreSQL), and compared with the reference
below, which implements the documented three-valued logic independently of the compiler. Literals are often
drawn from the stored values, so that boundaries (equal values) are exercised.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clarion.audiences.pql import parse_text
from tests.audiences.pql.conftest import ProfileStore

MISSING = object()
PATHS = [("a",), ("b",), ("n", "a"), ("n", "b")]
ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {"=": operator.eq, "!=": operator.ne, **ORDERINGS}

numbers = st.one_of(st.integers(-3, 3), st.sampled_from([-1.5, 0.0, 2.5]))
strings = st.sampled_from(["", "x", "y", "xy", "X", "é", "x é"])
scalars = st.one_of(st.booleans(), numbers, strings)
# Mostly scalars (where comparisons decide), sometimes null or a structure where a scalar is expected.
values = st.one_of(scalars, scalars, scalars, st.none(), st.just([1]), st.just({"a": 1}))
nested = st.one_of(values, st.fixed_dictionaries({}, optional={"a": values, "b": values}))
documents = st.fixed_dictionaries({}, optional={"a": values, "b": values, "n": nested})


# -- the reference evaluator (None = unknown) ----------------------------------------------------------


def read(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` or MISSING."""
    current: Any = document
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return MISSING
        current = current[key]
    return current


def kind(value: Any) -> str:
    """The JSON kind of a Python value, as the compiler's typed reads see it."""
    if value is MISSING or value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "other"


def compare(op: str, left: Any, right: Any) -> bool | None:
    """``left op right`` when both are the same kind of scalar (booleans have no order), else unknown."""
    same = kind(left) == kind(right) and kind(left) in ("number", "string", "boolean")
    if not same or (kind(left) == "boolean" and op in ORDERINGS):
        return None
    return OPERATORS[op](left, right)


@dataclass(frozen=True)
class Node:
    """A generated expression: its PQL text and its reference meaning."""

    text: str
    evaluate: Callable[[dict[str, Any]], bool | None]


def field(path: tuple[str, ...]) -> str:
    """The PQL text of a path."""
    return ".".join(path)


def literal(value: Any) -> str:
    """The PQL text of a literal (JSON escapes are PQL string escapes)."""
    return json.dumps(value)


def kleene_not(value: bool | None) -> bool | None:
    """Three-valued ``not``."""
    return None if value is None else not value


def kleene_and(left: bool | None, right: bool | None) -> bool | None:
    """Three-valued ``and``."""
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def kleene_or(left: bool | None, right: bool | None) -> bool | None:
    """Three-valued ``or``."""
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


# -- expression strategies -----------------------------------------------------------------------------


def literal_comparison(literals: st.SearchStrategy[Any]) -> st.SearchStrategy[Node]:
    """``path <op> literal``."""

    @st.composite
    def build(draw: st.DrawFn) -> Node:
        path, value = draw(st.sampled_from(PATHS)), draw(literals)
        op = draw(st.sampled_from(["=", "!="] if isinstance(value, bool) else list(OPERATORS)))
        return Node(f"{field(path)} {op} {literal(value)}", lambda doc: compare(op, read(doc, path), value))

    return build()


@st.composite
def field_comparison(draw: st.DrawFn) -> Node:
    """``path <op> path``."""
    left, right = draw(st.sampled_from(PATHS)), draw(st.sampled_from(PATHS))
    op = draw(st.sampled_from(list(OPERATORS)))
    return Node(
        f"{field(left)} {op} {field(right)}", lambda doc: compare(op, read(doc, left), read(doc, right))
    )


def membership(literals: st.SearchStrategy[Any]) -> st.SearchStrategy[Node]:
    """``path in [...]`` / ``path notIn [...]`` with items of one kind."""

    @st.composite
    def build(draw: st.DrawFn) -> Node:
        path, negated, first = draw(st.sampled_from(PATHS)), draw(st.booleans()), draw(literals)
        same_kind = {"boolean": st.booleans(), "number": numbers, "string": strings}[kind(first)]
        more = draw(st.lists(same_kind, max_size=2))
        items = [first, *more]

        def evaluate(doc: dict[str, Any]) -> bool | None:
            value = read(doc, path)
            if kind(value) != kind(first):
                return None
            found = any(compare("=", value, item) for item in items)
            return not found if negated else found

        listed = ", ".join(literal(item) for item in items)
        return Node(f"{field(path)} {'notIn' if negated else 'in'} [{listed}]", evaluate)

    return build()


@st.composite
def null_test(draw: st.DrawFn) -> Node:
    """``path.isNull()`` / ``path.isNotNull()``."""
    path, negated = draw(st.sampled_from(PATHS)), draw(st.booleans())

    def evaluate(doc: dict[str, Any]) -> bool:
        is_null = kind(read(doc, path)) == "null"
        return not is_null if negated else is_null

    return Node(f"{field(path)}.{'isNotNull' if negated else 'isNull'}()", evaluate)


def negated(condition: Node) -> Node:
    """``not (condition)``."""
    return Node(f"not ({condition.text})", lambda doc: kleene_not(condition.evaluate(doc)))


def combine(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    """``not``, ``and`` and ``or`` over generated conditions."""
    negation = children.map(negated)
    both = st.tuples(children, children)
    conjunction = both.map(
        lambda ab: Node(
            f"({ab[0].text}) and ({ab[1].text})",
            lambda doc: kleene_and(ab[0].evaluate(doc), ab[1].evaluate(doc)),
        )
    )
    disjunction = both.map(
        lambda ab: Node(
            f"({ab[0].text}) or ({ab[1].text})",
            lambda doc: kleene_or(ab[0].evaluate(doc), ab[1].evaluate(doc)),
        )
    )
    return st.one_of(negation, conjunction, disjunction)


def expressions(literals: st.SearchStrategy[Any]) -> st.SearchStrategy[Node]:
    """Conditions whose literals come from ``literals``."""
    compared = literal_comparison(literals)
    atoms = st.one_of(compared, compared, compared, field_comparison(), membership(literals), null_test())
    return st.recursive(atoms, combine, max_leaves=4)


def scalars_in(document: Any) -> list[Any]:
    """Every scalar in a document, so that literals often equal stored values (boundaries matter most)."""
    if isinstance(document, dict):
        return [found for value in document.values() for found in scalars_in(value)]
    return [document] if kind(document) in ("number", "string", "boolean") else []


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(docs=st.lists(documents, min_size=3, max_size=8), data=st.data())
async def test_database_agrees_with_the_reference_evaluator(
    store: ProfileStore, docs: list[dict[str, Any]], data: st.DataObject
) -> None:
    stored = [value for doc in docs for value in scalars_in(doc)]
    literals = st.one_of(scalars, st.sampled_from(stored)) if stored else scalars
    conditions = data.draw(st.lists(expressions(literals), min_size=5, max_size=15))
    named = {f"p{index}": doc for index, doc in enumerate(docs)}
    names = await store.insert(named)
    try:
        # Each condition and its negation: the "false" side of every node is compiled separately.
        for condition in [*conditions, *(negated(condition) for condition in conditions)]:
            expected = {name for name, doc in named.items() if condition.evaluate(doc) is True}

            found = {
                names[profile_id] for profile_id in await store.matching(parse_text(condition.text), names)
            }

            assert found == expected, (condition.text, named)
    finally:
        await store.remove(names)
