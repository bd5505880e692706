"""``escape="json"``: ``{{…}}`` output fits inside a JSON string; ``{{{…}}}`` stays raw."""

from __future__ import annotations

import json

import pytest

from clarion.templating import compile_template


def render_json(source: str, **context: object) -> str:
    return compile_template(source, autoescape=True, escape="json").render({"context": context})


@pytest.mark.parametrize("value", ['a"b', "a\\b", "line\nbreak", "tab\t", "\x00\x1f", "é ✓ 😀", "<&>'"])
def test_strings_are_escaped_for_json(value: str) -> None:
    assert json.loads(render_json('{"v": "{{context.v}}"}', v=value)) == {"v": value}


def test_non_ascii_and_html_characters_are_left_alone() -> None:
    assert render_json("{{context.v}}", v="é <b>") == "é <b>"


def test_scalars_and_raw_output() -> None:
    assert render_json(
        "{{context.n}} {{context.f}} {{context.t}} [{{context.none}}]", n=1, f=2.5, t=True
    ) == ("1 2.5 true []")
    assert render_json("{{{context.o}}}", o={"k": 'v"'}) == '{"k":"v\\""}'
    assert render_json("{{context.o}}", o={"k": "v"}) == '{\\"k\\":\\"v\\"}'


def test_html_escaping_is_still_the_default() -> None:
    assert compile_template("{{v}}", autoescape=True).render({"v": '"'}) == "&quot;"
