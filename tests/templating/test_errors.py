"""Every syntax error names the problem and the offending tag, at the right 1-based line and column."""

from __future__ import annotations

import pytest

from clarion.templating import TemplateSyntaxError, compile_template

HEAD = "<html>\n  <body>\n"  # two lines before the interesting one, so lines are not all 1


def error_of(source: str) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(source, autoescape=True)
    return info.value


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        # unclosed blocks point at the opening tag
        (
            HEAD + "    {{#each context.items}}\n<li>{{this}}</li>\n",
            "unclosed {{#each context.items}} opened",
            3,
            5,
        ),
        (
            HEAD + "{{#if a}}\n  {{#unless b}}x{{/if}}",
            "unexpected {{/if}}, expected {{/unless}} to close {{#unless b}} from line 4, column 3",
            4,
            17,
        ),
        (HEAD + "  {%#if a = 1%}\n", "unclosed {%#if a = 1%} opened", 3, 3),
        (HEAD + "  {{#with a}}", "unclosed {{#with a}} opened", 3, 3),
        # stray closers and elses
        (HEAD + "text\n   {{/if}}", "unexpected {{/if}}", 4, 4),
        (HEAD + "{{else}}", "unexpected {{else}}", 3, 1),
        (HEAD + "  {%/if%}", "unexpected {%/if%}", 3, 3),
        (HEAD + "  {%else%}", "unexpected {%else%}", 3, 3),
        (
            HEAD + "{{#if a}}x{{else}}y{{else}}z{{/if}}",
            "unexpected {{else}}: {{#if a}} from line 3, column 1 already has an else",
            3,
            20,
        ),
        (HEAD + "{{#if a}}{{else}}{{else if b}}{{/if}}", "already has an else", 3, 18),
        (HEAD + "{%#if a%}{{/if}}", "unexpected {{/if}}, expected {%/if%} to close {%#if a%}", 3, 10),
        (HEAD + "{{#if a}}{%/if%}", "unexpected {%/if%}, expected {{/if}} to close {{#if a}}", 3, 10),
        (
            HEAD + "{{#if a}}{%else%}{{/if}}",
            "unexpected {%else%} inside {{#if a}} from line 3, column 1",
            3,
            10,
        ),
        (HEAD + "{%#if a%}{{else}}{%/if%}", "unexpected {{else}} inside {%#if a%}", 3, 10),
        (HEAD + "{{#each a}}x{{else if b}}y{{/each}}", "{{else if b}} is only allowed in {{#if}}", 3, 13),
        (HEAD + "{{#if a}}x{{else when b}}y{{/if}}", "expected {{else if path}} or {{else}}", 3, 11),
        (HEAD + "{{#each a}}{{/}}", "unexpected {{/}}", 3, 12),
        # unterminated tags
        (
            HEAD + "  Hi {{context.user.firstName\n</p>",
            "unterminated expression {{context.user.firstName",
            3,
            6,
        ),
        (HEAD + "  {{{context.html}}\n", "unterminated raw expression {{{context.html}}: missing }}}", 3, 3),
        (HEAD + "x {{!-- never closed }}", "unterminated comment", 3, 3),
        (HEAD + "x {%#if a = 1", "unterminated tag {%#if a = 1", 3, 3),
        (HEAD + "x {%#if a = 'open%}y{%/if%}", "unterminated string literal", 3, 13),
        # malformed expressions and paths
        (HEAD + "a {{}}", "empty expression {{}}", 3, 3),
        (HEAD + "a {{  }}", "empty expression", 3, 3),
        (HEAD + "a {{context..id}}", "invalid path 'context..id'", 3, 13),
        (HEAD + "a {{context.id.}}", "invalid path 'context.id.'", 3, 15),
        (HEAD + "a {{context.this}}", "invalid path 'context.this'", 3, 13),
        (HEAD + "a {{con(text}}", "invalid path 'con(text'", 3, 8),
        (HEAD + "a {{@foo}}", "unknown data variable '@foo'", 3, 5),
        (HEAD + "a {{@index}}", "@index used outside {{#each}}", 3, 5),
        (HEAD + "{{#each a}}{{@index.x}}{{/each}}", "invalid path '@index.x'", 3, 14),
        (HEAD + "a {{../up}}", "'../up' goes above the root", 3, 5),
        (HEAD + "{{#each a}}{{../../up}}{{/each}}", "goes above the root", 3, 14),
        (HEAD + "a {{upperCase profile.name}}", "unknown helper 'upperCase'", 3, 5),
        (HEAD + "a {{context.x as |y|}}", "unknown helper", 3, 5),
        (HEAD + "a {{> footer}}", "partials are not supported", 3, 3),
        (HEAD + "a {{^context.x}}{{/context.x}}", "inverted sections are not supported", 3, 3),
        # block openers
        (HEAD + "  {{#foo bar}}{{/foo}}", "unknown block helper {{#foo bar}}", 3, 3),
        (HEAD + "  {{#context.items}}{{/context.items}}", "unknown block helper", 3, 3),
        (HEAD + "  {{#if}}x{{/if}}", "{{#if}} needs exactly one path", 3, 3),
        (HEAD + "  {{#if a b}}x{{/if}}", "{{#if a b}} needs exactly one path", 3, 11),
        (HEAD + "  {{#if a as |x|}}{{/if}}", "{{#if}} takes no block parameters", 3, 3),
        (HEAD + "  {{#each a as |x y z|}}{{/each}}", "invalid block parameter 'z'", 3, 21),
        (HEAD + "  {{#with a as |x y|}}{{/with}}", "invalid block parameter 'y'", 3, 19),
        (HEAD + "  {{#each a as ||}}{{/each}}", "empty block parameters", 3, 3),
        (HEAD + "  {{#each a as |x.y|}}{{/each}}", "invalid block parameter 'x.y'", 3, 17),
        (HEAD + "  {{#each a |b}}{{/each}}", "unexpected '|'", 3, 13),
        # AJO conditions
        (HEAD + "  {%#if%}x{%/if%}", "{%#if%} needs a condition", 3, 3),
        (HEAD + "{%#if a%}{%else if   %}{%/if%}", "{%else if %} needs a condition", 3, 10),
        (HEAD + "  {%#if a = %}x{%/if%}", "expected a value after '='", 3, 13),
        (HEAD + "  {%#if a and%}x{%/if%}", "expected a value in condition", 3, 14),
        (HEAD + "  {%#if (a = 1%}x{%/if%}", "missing ')' for this '('", 3, 9),
        (HEAD + "  {%#if a = 1)%}x{%/if%}", "unexpected ')' in condition", 3, 14),
        (HEAD + "  {%#if a b%}x{%/if%}", "unexpected 'b' in condition", 3, 11),
        (HEAD + "  {%#if a = = 1%}x{%/if%}", "unexpected '=' in condition", 3, 13),
        (HEAD + "  {%#if a = b = c%}x{%/if%}", "unexpected '=' in condition", 3, 15),
        (HEAD + "  {%#if a..b%}x{%/if%}", "invalid path 'a..b'", 3, 11),
        (HEAD + "  {%#each a%}x{%/each%}", "unknown tag {%#each a%}", 3, 3),
        (HEAD + "  {%#if a%}x{%/if b%}", "unexpected 'b' in {%/if b%}", 3, 19),
        (HEAD + "  {%#if a%}x{%else b%}y{%/if%}", "unexpected 'b' in {%else b%}", 3, 20),
    ],
)
def test_syntax_errors(source: str, message: str, line: int, column: int) -> None:
    error = error_of(source)
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert f"line {line}, column {column}" in str(error)


def test_str_reads_as_one_sentence() -> None:
    error = error_of("a\nb\n    {{#each context.items}}\n")
    assert str(error) == "unclosed {{#each context.items}} opened at line 3, column 5"
    assert isinstance(error, ValueError)


def test_innermost_unclosed_block_is_reported() -> None:
    error = error_of("{{#if a}}\n  {{#each b}}\n")
    assert error.message == "unclosed {{#each b}} opened"
    assert (error.line, error.column) == (2, 3)


def test_long_tags_are_shortened_in_messages() -> None:
    path = "context." + "x" * 200
    error = error_of("{{#each " + path + "}}")
    assert len(error.message) < 100
    assert error.message.startswith("unclosed {{#each context.xxx")


def test_deep_nesting_is_refused_not_crashing() -> None:
    deep = "{{#if a}}" * 30 + "{{/if}}" * 30
    assert "nested too deeply" in error_of(deep).message
    loops = "{{#each a}}" * 17 + "{{/each}}" * 17
    assert "nested too deeply" in error_of(loops).message
    condition = "(" * 40 + "a" + ")" * 40
    assert "nested too deeply" in error_of("{%#if " + condition + "%}{%/if%}").message
    negations = "not " * 40 + "a"
    assert "nested too deeply" in error_of("{%#if " + negations + "%}{%/if%}").message


def test_nesting_up_to_the_limits_compiles_and_renders() -> None:
    loops = "{{#each this.l}}" * 16 + "{{this}}" + "{{/each}}" * 16
    variables: dict[str, object] = {"l": ["leaf"]}
    for _ in range(15):
        variables = {"l": [variables]}
    assert compile_template(loops, autoescape=True).render(variables) == "leaf"
    ifs = "{{#if a}}" * 23 + "deep" + "{{/if}}" * 23
    assert compile_template(ifs, autoescape=True).render({"a": 1}) == "deep"


def test_long_condition_chains_compile() -> None:
    condition = " and ".join(f"context.v{i} = {i}" for i in range(300))
    variables = {"context": {f"v{i}": str(i) for i in range(300)}}
    assert compile_template("{%#if " + condition + "%}yes{%/if%}", autoescape=True).render(variables) == "yes"
