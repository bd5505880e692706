"""``Template.references`` and ``profile_references``: what a template reads, and where."""

from __future__ import annotations

from clarion.templating import Reference, compile_template, profile_references


def refs(source: str) -> list[tuple[str, int, int]]:
    template = compile_template(source, autoescape=True)
    return [(r.path, r.line, r.column) for r in template.references]


def test_positions_are_the_first_use_of_each_path() -> None:
    source = "Hi {{context.user.name}},\n  order {{context.order.id}}\n{{context.user.name}}"
    assert refs(source) == [("context.user.name", 1, 6), ("context.order.id", 2, 11)]


def test_block_arguments_and_conditions_are_references() -> None:
    source = (
        "{{#if context.a}}{{/if}}\n"
        "{{#unless context.b}}{{else if context.c}}{{/unless}}\n"
        "{%#if context.d > 1 and (profile.e = 'x' or not context.f)%}{%else if context.g%}{%/if%}"
    )
    assert refs(source) == [
        ("context.a", 1, 7),
        ("context.b", 2, 11),
        ("context.c", 2, 32),
        ("context.d", 3, 7),
        ("profile.e", 3, 26),
        ("context.f", 3, 49),
        ("context.g", 3, 71),
    ]


def test_loop_relative_paths_are_reported_from_the_root() -> None:
    source = (
        "{{#each context.items}}\n"
        "  {{this.name}} {{this}} {{@index}}\n"
        "  {{#each this.tags as |tag|}}{{tag.label}}{{../sku}}{{/each}}\n"
        "{{/each}}"
    )
    assert refs(source) == [
        ("context.items", 1, 9),
        ("context.items.name", 2, 5),
        ("context.items.tags", 3, 11),
        ("context.items.tags.label", 3, 33),
        ("context.items.sku", 3, 46),
    ]


def test_bare_paths_in_a_loop_report_both_candidates() -> None:
    # A bare path in a loop reads the item first and falls back to the root, so it may read either.
    source = "{{#each context.items}}{{name}}\n{{profile.person.name.firstName}}{{/each}}"
    assert refs(source) == [
        ("context.items", 1, 9),
        ("context.items.name", 1, 26),
        ("name", 1, 26),
        ("context.items.profile.person.name.firstName", 2, 3),
        ("profile.person.name.firstName", 2, 3),
    ]


def test_with_and_root_paths() -> None:
    source = "{{#with profile.person}}{{name.firstName}}{{@root.context.x}}{{/with}}"
    assert refs(source) == [
        ("profile.person", 1, 9),
        ("profile.person.name.firstName", 1, 27),
        ("name.firstName", 1, 27),
        ("context.x", 1, 45),
    ]


def test_the_whole_root_is_reported_as_at_root() -> None:
    assert refs("{{this}}") == [("@root", 1, 3)]
    assert refs("{{#each this}}{{/each}}") == [("@root", 1, 9)]


def test_comments_and_text_have_no_references() -> None:
    assert refs("{{! profile.x }}{{!-- {{profile.y}} --}} profile.z \\{{profile.w}}") == []


def test_profile_references_finds_every_profile_read() -> None:
    source = (
        "Hello {{context.name}}\n"
        "Hi {{profile.person.name.firstName}} and {{{profile.mobilePhone.number}}}\n"
        "{%#if profile.person.gender = 'f'%}{%/if%}{{#each context.l}}{{profile}}{{/each}}"
    )
    template = compile_template(source, autoescape=True)
    found = profile_references(template)
    assert found == [
        Reference("profile.person.name.firstName", 2, 6),
        Reference("profile.mobilePhone.number", 2, 45),
        Reference("profile.person.gender", 3, 7),
        Reference("profile", 3, 64),
    ]
    assert str(found[0]) == "profile.person.name.firstName at line 2, column 6"


def test_profile_references_ignores_look_alikes() -> None:
    source = "{{context.profile.x}}{{profiles.x}}{{#each context.l as |profile|}}{{profile.name}}{{/each}}"
    assert profile_references(compile_template(source, autoescape=True)) == []


def test_positions_count_characters_not_bytes() -> None:
    assert refs("héllo wörld {{context.x}}") == [("context.x", 1, 15)]
