"""AJO ``{%#if%}`` conditions: operators, numeric versus string comparison, precedence, literals."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import render

CONTEXT: dict[str, Any] = {
    "context": {
        "total": "150",
        "small": "9",
        "decimal": "10.50",
        "tier": "gold",
        "vip": True,
        "flag": "false",
        "empty": "",
        "zero": 0,
        "count": 3,
        "id": "12345678901234567890",
    }
}


def holds(condition: str, variables: dict[str, Any] = CONTEXT) -> bool:
    rendered = render(f"{{%#if {condition}%}}T{{%else%}}F{{%/if%}}", variables)
    assert rendered in ("T", "F")
    return rendered == "T"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("context.total = 150", True),
        ("context.total == 150", True),
        ("context.total = 150.0", True),
        ("context.total != 150", False),
        # numeric, not lexical: "9" < "150" is false as strings
        ("context.small < context.total", True),
        ("context.small < 10", True),
        ("context.small <= 9", True),
        ("context.small > 9", False),
        ("context.small >= 9", True),
        ("context.decimal = 10.5", True),
        ("context.decimal > 10", True),
        ("context.count = 3", True),
        ("context.count = '3'", True),
        ("context.count < 2.5", False),
        # long ids compare exactly, not through floats
        ("context.id = 12345678901234567891", False),
        ("context.id = '12345678901234567890'", True),
        # a quoted number is still a number: 150 < 2 is false, though "150" < "2" as strings
        ('context.total < "2"', False),
    ],
)
def test_numeric_comparison_when_both_sides_look_numeric(condition: str, expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('context.tier = "gold"', True),
        ("context.tier = 'gold'", True),
        ('context.tier = "Gold"', False),
        ('context.tier != "silver"', True),
        ('context.tier < "silver"', True),  # lexical
        ('context.tier > "silver"', False),
        ('context.missing = ""', True),
        ("context.missing = null", True),
        ('context.empty = ""', True),
        ("context.vip = true", True),
        ('context.vip = "true"', True),
        ("context.flag = false", True),
        ("context.tier = 5", False),
        ("context.tier < 5", False),
    ],
)
def test_string_comparison_otherwise(condition: str, expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("context.vip", True),
        ("context.flag", True),  # the string "false" is a non-empty string
        ("context.empty", False),
        ("context.zero", False),
        ("context.missing", False),
        ("not context.missing", True),
        ("not not context.vip", True),
        ("true", True),
        ("false", False),
        ("null", False),
    ],
)
def test_truthiness_of_bare_values(condition: str, expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # and binds tighter than or
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("false and false or true", True),
        ("false and (false or true)", False),
        # not binds tighter than and/or, looser than comparison
        ("not context.tier = 'gold'", False),
        ("not context.tier = 'silver' and context.vip", True),
        ("not (context.vip and context.empty)", True),
        ("not context.vip or context.tier = 'gold'", True),
        ("((context.total > 100))", True),
        ("context.total > 100 and context.tier = 'gold' and not context.empty", True),
        ("context.total > 100 and (context.tier = 'silver' or context.small = 9)", True),
    ],
)
def test_precedence_and_parentheses(condition: str, expected: bool) -> None:
    assert holds(condition) is expected


def test_else_if_chain_picks_the_first_true_branch() -> None:
    source = (
        "{%#if context.total > 1000%}platinum"
        "{%else if context.total > 100%}gold"
        "{%else if context.total > 10%}silver"
        "{%else%}bronze{%/if%}"
    )
    assert render(source, CONTEXT) == "gold"
    assert render(source, {"context": {"total": "50"}}) == "silver"
    assert render(source, {"context": {"total": "2000"}}) == "platinum"
    assert render(source, {"context": {}}) == "bronze"


def test_if_without_else_renders_nothing_when_false() -> None:
    assert render("a{%#if context.missing%}b{%/if%}c", CONTEXT) == "ac"


def test_whitespace_inside_tags_is_free() -> None:
    assert render("{% #if  context.vip %}y{% else %}n{% /if %}", CONTEXT) == "y"
    assert render("{%#if\ncontext.vip\n%}y{%/if%}", CONTEXT) == "y"


def test_percent_brace_inside_a_string_does_not_end_the_tag() -> None:
    variables = {"context": {"label": "50%}"}}
    assert render('{%#if context.label = "50%}"%}match{%/if%}', variables) == "match"


def test_ajo_and_handlebars_blocks_nest() -> None:
    source = (
        "{{#each context.items}}{%#if this.qty > 1%}{{this.name}}x{{this.qty}} {%/if%}{{/each}}"
        "{%#if context.vip%}{{#if context.tier}}{{context.tier}}{{/if}}{%/if%}"
    )
    variables = {
        "context": {"items": [{"name": "a", "qty": "1"}, {"name": "b", "qty": "2"}], "vip": 1, "tier": "gold"}
    }
    assert render(source, variables) == "bx2 gold"


def test_loop_data_in_conditions() -> None:
    source = "{{#each context.l}}{%#if @index >= 1 and not @last%}[{{this}}]{%/if%}{{/each}}"
    assert render(source, {"context": {"l": ["a", "b", "c", "d"]}}) == "[b][c]"
