"""Rendering: every Handlebars construct, escaping, lookups, loops and whitespace rules."""

from __future__ import annotations

from typing import Any

import pytest
from bench.templates import AJO, DATA, FLAT, HANDLEBARS, flat_mapping

from clarion.templating import compile_template

from .helpers import render

ORDER: dict[str, Any] = {
    "context": {
        "user": {"firstName": "Ada", "tags": ["a", "b"]},
        "order": {
            "id": "ORD-1",
            "items": [{"name": "Manual", "qty": 1}, {"name": "Cards", "qty": 2}],
            "keys": "K",
            "values": "V",
            "get": "G",
            "copy": "C",
            "update": "U",
        },
        "prices": {"eur": "10", "usd": "11"},
        "currency": "EUR",
    }
}


# ---------------------------------------------------------------- substitutions


def test_substitutes_nested_paths() -> None:
    assert (
        render("Hi {{context.user.firstName}}, order {{context.order.id}}.", ORDER) == "Hi Ada, order ORD-1."
    )


def test_slash_separators_and_bracket_segments() -> None:
    variables = {"context": {"first name": "Ada", "a": {"b": "slash"}}}
    assert render("{{context.[first name]}} {{context/a/b}}", variables) == "Ada slash"


def test_digit_segment_indexes_lists_and_dict_keys() -> None:
    variables = {"context": {"items": [{"n": "zero"}, {"n": "one"}], "map": {"0": "key zero"}}}
    source = "{{context.items.1.n}} {{context.items.[0].n}} {{context.map.0}} [{{context.items.9.n}}]"
    assert render(source, variables) == "one zero key zero []"


@pytest.mark.parametrize(("key", "expected"), [("keys", "K"), ("values", "V"), ("get", "G"), ("copy", "C")])
def test_dict_method_names_resolve_to_data(key: str, expected: str) -> None:
    assert render(f"{{{{context.order.{key}}}}}", ORDER) == expected


def test_items_key_is_iterable_data() -> None:
    assert render("{{#each context.order.items}}{{this.name}};{{/each}}", ORDER) == "Manual;Cards;"
    assert render("{{#if context.order.update}}{{context.order.update}}{{/if}}", ORDER) == "U"


def test_list_of_dicts_renders_without_method_repr() -> None:
    assert "built-in" not in render("{{context.order.items}}", ORDER)


@pytest.mark.parametrize(
    "source",
    [
        "{{context.nope}}",
        "{{context.user.firstName.deeper}}",
        "{{nothing.at.all}}",
        "{{context.user.tags.x}}",
    ],
)
def test_missing_values_render_empty(source: str) -> None:
    assert render(f"[{source}]", ORDER) == "[]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        (None, ""),
        (0, "0"),
        (12, "12"),
        (2.5, "2.5"),
        (["a", 1, True], "a,1,true"),
        ({"k": "v"}, '{"k":"v"}'),
        ("", ""),
    ],
)
def test_scalars_render_like_handlebars(value: object, expected: str) -> None:
    assert render("{{{context.v}}}", {"context": {"v": value}}) == expected


def test_never_reads_object_attributes() -> None:
    class Secretive:
        secret = "leaked"

    assert render("[{{context.obj.secret}}]", {"context": {"obj": Secretive()}}) == "[]"


def test_str_subclass_is_escaped_as_plain_text() -> None:
    class Tagged(str):
        def replace(self, *args: Any, **kwargs: Any) -> str:
            return "hijacked"

    assert render("{{context.v}}", {"context": {"v": Tagged("<b>")}}) == "&lt;b&gt;"


# ---------------------------------------------------------------- escaping


def test_autoescape_escapes_the_five_characters() -> None:
    variables = {"context": {"v": "<a href=\"x\" title='y'>&amp;</a>"}}
    expected = "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;amp;&lt;/a&gt;"
    assert render("{{context.v}}", variables) == expected


def test_triple_stash_and_ampersand_are_raw() -> None:
    variables = {"context": {"v": "<b>&</b>"}}
    assert render("{{{context.v}}}|{{& context.v}}", variables) == "<b>&</b>|<b>&</b>"


def test_without_autoescape_double_braces_are_raw() -> None:
    assert render("{{context.v}}", {"context": {"v": "<b>"}}, autoescape=False) == "<b>"


def test_template_text_is_never_escaped() -> None:
    assert (
        render("<p class=\"x\">'&'</p>{{context.v}}", {"context": {"v": "&"}})
        == "<p class=\"x\">'&'</p>&amp;"
    )


def test_json_of_a_mapping_is_escaped() -> None:
    assert render("{{context.m}}", {"context": {"m": {"a": "<"}}}) == "{&quot;a&quot;:&quot;&lt;&quot;}"


# ---------------------------------------------------------------- conditionals


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (0, False),
        (0.0, False),
        ("0", True),
        ("false", True),
        (1, True),
        ([0], True),
        ({"a": None}, True),
        (True, True),
    ],
)
def test_if_truthiness(value: object, truthy: bool) -> None:
    rendered = render("{{#if context.v}}yes{{else}}no{{/if}}", {"context": {"v": value}})
    assert rendered == ("yes" if truthy else "no")


def test_if_on_a_missing_path_is_false() -> None:
    assert render("{{#if context.nope.deeper}}yes{{else}}no{{/if}}", ORDER) == "no"


def test_unless_inverts() -> None:
    source = "{{#unless context.v}}empty{{else}}full{{/unless}}"
    assert render(source, {"context": {"v": ""}}) == "empty"
    assert render(source, {"context": {"v": "x"}}) == "full"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(True, True, "A"), (False, True, "B"), (False, False, "C")],
)
def test_else_if_chain(a: bool, b: bool, expected: str) -> None:
    source = "{{#if context.a}}A{{else if context.b}}B{{else}}C{{/if}}"
    assert render(source, {"context": {"a": a, "b": b}}) == expected


def test_else_unless_in_a_chain() -> None:
    source = "{{#if context.a}}A{{else unless context.b}}not b{{else}}b{{/if}}"
    assert render(source, {"context": {"a": False, "b": False}}) == "not b"
    assert render(source, {"context": {"a": False, "b": True}}) == "b"


def test_caret_is_an_else() -> None:
    assert render("{{#if context.a}}A{{^}}other{{/if}}", {"context": {"a": 0}}) == "other"


def test_nested_ifs() -> None:
    source = "{{#if context.a}}a{{#if context.b}}b{{else}}!b{{/if}}{{else}}!a{{/if}}"
    assert render(source, {"context": {"a": 1, "b": 0}}) == "a!b"
    assert render(source, {"context": {"a": 0, "b": 1}}) == "!a"


# ---------------------------------------------------------------- loops


def test_each_over_a_list_with_this_and_data() -> None:
    source = (
        "{{#each context.order.items}}{{@index}}:{{this.name}}x{{qty}}"
        "{{#if @first}}^{{/if}}{{#if @last}}${{/if}} {{/each}}"
    )
    assert render(source, ORDER) == "0:Manualx1^ 1:Cardsx2$ "


def test_each_over_a_list_of_scalars() -> None:
    assert render("{{#each context.user.tags}}[{{this}}|{{.}}|{{@key}}]{{/each}}", ORDER) == "[a|a|0][b|b|1]"


def test_each_over_a_dict_gives_keys_in_order() -> None:
    source = "{{#each context.prices}}{{@key}}={{this}}@{{@index}}{{#if @last}}.{{else}},{{/if}}{{/each}}"
    assert render(source, ORDER) == "eur=10@0,usd=11@1."


@pytest.mark.parametrize("value", [[], {}, None, "text", 5])
def test_each_else_when_nothing_to_iterate(value: object) -> None:
    assert render("{{#each context.v}}item{{else}}none{{/each}}", {"context": {"v": value}}) == "none"


def test_nested_each_with_parent_access() -> None:
    variables = {
        "context": {
            "label": "root",
            "groups": [{"name": "g1", "rows": ["x", "y"]}, {"name": "g2", "rows": []}],
        }
    }
    source = (
        "{{#each context.groups}}{{@index}}{{name}}<{{#each this.rows}}{{@index}}{{this}}{{../name}}"
        "{{../../context.label}}{{else}}empty {{name}}{{/each}}>{{/each}}"
    )
    assert render(source, variables) == "0g1<0xg1root1yg1root>1g2<empty g2>"


def test_block_params_name_item_and_index() -> None:
    source = "{{#each context.order.items as |item i|}}{{i}}={{item.name}};{{/each}}"
    assert render(source, ORDER) == "0=Manual;1=Cards;"


def test_block_params_of_a_dict_loop_give_the_key() -> None:
    source = "{{#each context.prices as |price currency|}}{{currency}}:{{price}} {{/each}}"
    assert render(source, ORDER) == "eur:10 usd:11 "


def test_outer_block_param_visible_in_inner_loop() -> None:
    variables = {"context": {"groups": [{"g": "A", "rows": [1, 2]}]}}
    source = (
        "{{#each context.groups as |group|}}{{#each group.rows as |row|}}{{group.g}}{{row}}{{/each}}{{/each}}"
    )
    assert render(source, variables) == "A1A2"


def test_root_paths_inside_a_loop_fall_back_to_the_root() -> None:
    source = "{{#each context.order.items}}{{name}} {{context.currency}};{{/each}}"
    assert render(source, ORDER) == "Manual EUR;Cards EUR;"


def test_loop_item_keys_shadow_root_keys() -> None:
    # Handlebars compat lookup: the innermost scope holding the head key wins, even if it lacks the rest.
    variables = {"context": {"items": [{"context": {"other": 1}}, {"name": "n"}], "currency": "root"}}
    assert render("{{#each context.items}}[{{context.currency}}]{{/each}}", variables) == "[][root]"


def test_this_path_does_not_fall_back_to_the_root() -> None:
    assert render("{{#each context.order.items}}[{{this.context}}]{{/each}}", ORDER) == "[][]"


def test_at_root_reaches_the_root_from_a_loop() -> None:
    source = "{{#each context.order.items}}{{@root.context.order.id}}{{/each}}"
    assert render(source, ORDER) == "ORD-1ORD-1"


def test_with_changes_this_and_has_an_else() -> None:
    source = "{{#with context.user}}{{firstName}}/{{this.firstName}}{{else}}nobody{{/with}}"
    assert render(source, ORDER) == "Ada/Ada"
    assert render(source, {"context": {}}) == "nobody"


def test_with_block_param() -> None:
    assert render("{{#with context.user as |u|}}{{u.firstName}}{{/with}}", ORDER) == "Ada"


def test_else_of_each_sees_the_outer_scope() -> None:
    variables = {"context": {"list": [], "name": "outer"}}
    assert render("{{#each context.list}}x{{else}}{{context.name}}{{/each}}", variables) == "outer"


# ---------------------------------------------------------------- comments, whitespace, escapes


def test_comments_render_nothing() -> None:
    assert render("a{{! short }}b{{!-- has }} inside --}}c", {}) == "abc"


def test_tilde_strips_whitespace() -> None:
    variables = {"context": {"v": "X"}}
    assert render("a  \n {{~context.v~}} \n  b", variables) == "aXb"
    assert render("a {{~context.v}} b", variables) == "aX b"
    assert render("<{{#if context.v~}}  \n  yes  {{~/if}}>", variables) == "<yes>"


def test_standalone_block_lines_disappear() -> None:
    source = "<ul>\n  {{#each context.user.tags}}\n  <li>{{this}}</li>\n  {{/each}}\n</ul>\n"
    assert render(source, ORDER) == "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>\n"


def test_standalone_ajo_tags_and_comments_disappear() -> None:
    source = "a\n{%#if context.v = 1%}\none\n{%else%}\nother\n{%/if%}\n{{! note }}\nz"
    assert render(source, {"context": {"v": "1"}}) == "a\none\nz"


def test_inline_block_tags_keep_surrounding_whitespace() -> None:
    assert render("a {{#if context.v}} b {{/if}} c", {"context": {"v": 1}}) == "a  b  c"


def test_output_tags_are_never_standalone() -> None:
    assert render("a\n{{context.v}}\nb", {"context": {"v": ""}}) == "a\n\nb"


def test_crlf_standalone_lines() -> None:
    source = "a\r\n{{#if context.v}}\r\nyes\r\n{{/if}}\r\nb"
    assert render(source, {"context": {"v": 1}}) == "a\r\nyes\r\nb"


def test_backslash_escapes_a_mustache() -> None:
    assert render("\\{{context.v}} {{context.v}}", {"context": {"v": "x"}}) == "{{context.v}} x"


def test_stray_closing_braces_are_text() -> None:
    assert render("}} %} } {", {}) == "}} %} } {"


# ---------------------------------------------------------------- generated code safety and reuse


@pytest.mark.parametrize(
    "text",
    ["'''", '"""', "\\", "\\n", "\x00", "')\nimport os\n('", "\ud800", "{", "#", "\t\r\n"],
)
def test_text_that_looks_like_code_is_rendered_literally(text: str) -> None:
    assert render(f"<{text}>{{{{context.v}}}}", {"context": {"v": 1}}) == f"<{text}>1"


def test_keys_that_look_like_code_are_plain_keys() -> None:
    key = "a' + __import__('os').getcwd() + '\\"
    assert render(f"{{{{context.[{key}]}}}}", {"context": {key: "safe"}}) == "safe"


def test_compiled_template_is_reusable_and_stateless() -> None:
    template = compile_template("{{#each context.l}}{{this}}{{/each}}", autoescape=True)
    assert template.render({"context": {"l": [1, 2]}}) == "12"
    assert template.render({"context": {"l": ["<"]}}) == "&lt;"
    assert template.render({}) == ""
    assert template.autoescape is True


def test_sample_email_matches_a_flat_substitution_of_the_same_data() -> None:
    expected = __import__("string").Template(FLAT).substitute(flat_mapping(DATA))
    assert render(HANDLEBARS, DATA) == expected
    assert render(AJO, DATA) == expected
    assert "Item &lt;3&gt; &amp; co" in expected
