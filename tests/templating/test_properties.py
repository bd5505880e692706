"""Property tests: plain text is rendered verbatim, and escaping is right for any string."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from clarion.templating import Template, TemplateSyntaxError, compile_template

from .helpers import render

# Text that opens no tag: anything without "{{" or "{%". Braces, percent signs, backslashes, quotes and
# line breaks are all in the alphabet so the lexer's edge cases get exercised.
plain_text = st.text(
    alphabet=st.sampled_from("ab {}%\\~!#/^&<>\"'\n\r\t=é€😀\x00") | st.characters(),
    max_size=200,
).filter(lambda s: "{{" not in s and "{%" not in s)


@given(plain_text)
def test_plain_text_renders_to_itself(text: str) -> None:
    assert render(text, {"context": {}}) == text
    assert render(text, {}, autoescape=False) == text
    assert compile_template(text, autoescape=True).references == ()


@given(st.text(max_size=200))
def test_escaped_output_unescapes_to_the_input(value: str) -> None:
    escaped = render("{{context.v}}", {"context": {"v": value}})
    assert html.unescape(escaped) == value
    assert not any(c in escaped for c in "<>\"'")
    # every & starts one of the five entities we emit
    for index in (i for i, c in enumerate(escaped) if c == "&"):
        assert escaped.startswith(("&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"), index)


@given(st.text(max_size=200))
def test_raw_output_is_the_input(value: str) -> None:
    assert render("{{{context.v}}}", {"context": {"v": value}}) == value
    assert render("{{context.v}}", {"context": {"v": value}}, autoescape=False) == value


@given(plain_text, st.text(max_size=50), plain_text)
def test_text_around_a_substitution_is_untouched(before: str, value: str, after: str) -> None:
    before = before.rstrip("{\\")  # a trailing "{" or "\\" would fuse with the tag ("{{{{", "\\{{")
    rendered = render(before + "{{{context.v}}}" + after, {"context": {"v": value}})
    assert rendered == before + value + after


@given(st.lists(st.text(max_size=20), max_size=8))
def test_each_renders_every_item_in_order(values: list[str]) -> None:
    rendered = render("{{#each context.l}}[{{{this}}}]{{/each}}", {"context": {"l": values}})
    assert rendered == "".join(f"[{v}]" for v in values)


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=-(10**30), max_value=10**30))
def test_numeric_comparison_of_strings_matches_integers(a: int, b: int) -> None:
    variables = {"context": {"a": str(a), "b": str(b)}}
    rendered = render(
        "{%#if context.a < context.b%}lt{%else if context.a = context.b%}eq{%else%}gt{%/if%}", variables
    )
    assert rendered == ("lt" if a < b else "eq" if a == b else "gt")


FRAGMENTS = [
    "{{", "}}", "{{{", "}}}", "{%", "%}", "#if ", "#unless ", "#each ", "#with ", "/if", "/each", "/with",
    "else", "else if ", "^", "!", "!--", "--", "~", "&", ">", " ", "\n", "a", "b.c", ".", "/", "@index",
    "@key", "@last", "@root.", "../", "this", "as |x|", "as |x i|", "[", "]", "(", ")", "=", "<", ">=",
    "!=", "'", '"', "and ", "or ", "not ", "1", "-2.5", "true", "\\",
]  # fmt: skip


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_any_input_compiles_or_raises_a_syntax_error(fragments: list[str]) -> None:
    source = "".join(fragments)
    outcome = _compile(source)
    if isinstance(outcome, TemplateSyntaxError):
        assert 1 <= outcome.line <= source.count("\n") + 1
        assert outcome.column >= 1
        return
    variables = {"a": [1, {"x": "<"}], "b": {"c": {"d": "e"}}, "x": "1", "this": "t"}
    assert isinstance(outcome.render(variables), str)


def _compile(source: str) -> Template | TemplateSyntaxError:
    try:
        return compile_template(source, autoescape=True)
    except TemplateSyntaxError as error:
        return error
