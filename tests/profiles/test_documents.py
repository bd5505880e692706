"""The pure rules of profile documents and write plans: merge, limits, identity parsing, CSV headers."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.profiles.documents import (
    MAX_DEPTH,
    MAX_IDENTITIES,
    changes,
    merge,
    parse_item,
    profile_input,
    verbatim_document,
)
from clarion.profiles.errors import InvalidProfile
from clarion.profiles.plan import Plan, StoredProfile, id_sequence
from clarion.profiles.sources import csv_item, jsonl_write, parse_header

keys = st.sampled_from(["a", "b", "c", "items", "values"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    # NUL is refused at the door (PostgreSQL stores none): these properties are about the documents that pass.
    | st.text(st.characters(exclude_characters="\x00"), max_size=3)
)
documents = st.recursive(
    st.dictionaries(keys, scalars, max_size=3),
    lambda inner: st.dictionaries(keys, inner | st.lists(inner, max_size=2), max_size=3),
    max_leaves=12,
)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


@given(documents, documents)
def test_merge_never_changes_its_arguments_and_patches_win(
    current: dict[str, Any], patch: dict[str, Any]
) -> None:
    before = (repr(current), repr(patch))
    merged = merge(current, patch)
    assert (repr(current), repr(patch)) == before
    for key, value in patch.items():
        if value is None:
            assert key not in merged
        elif not isinstance(value, dict):
            assert merged[key] == value
    assert merge(merged, {}) == merged


@given(documents, documents)
def test_changes_tells_whether_a_merge_changes_anything(
    current: dict[str, Any], patch: dict[str, Any]
) -> None:
    stored = merge({}, current)
    assert changes(stored, patch) == (merge(stored, patch) != stored)
    assert not changes(merge(stored, patch), patch), "a patch applied twice changes nothing the second time"


@given(documents)
def test_merge_into_nothing_drops_only_object_nulls(patch: dict[str, Any]) -> None:
    assert merge({}, patch) == _without_nulls(patch)
    assert profile_input([("crmid", "1")], patch).removes == (merge({}, patch) != patch)


def test_merge_examples() -> None:
    current = {"person": {"name": {"first": "A", "last": "B"}}, "tags": [1, 2], "n": 1}
    patch = {"person": {"name": {"last": None, "nick": "Z"}}, "tags": [None], "n": {"deep": True}}
    assert merge(current, patch) == {
        "person": {"name": {"first": "A", "nick": "Z"}},
        "tags": [None],
        "n": {"deep": True},
    }


def test_identity_rules() -> None:
    item = parse_item({"identities": {"Email": "Ann@X.example", "crmid": ["1", "1", "2"]}})
    assert item.identities == (("Email", "ann@x.example"), ("crmid", "1"), ("crmid", "2"))
    assert item.primary == ("Email", "ann@x.example")
    too_many = {"identities": {"crmid": [str(n) for n in range(MAX_IDENTITIES + 1)]}}
    with pytest.raises(InvalidProfile, match="at most 50 identities"):
        parse_item(too_many)
    with pytest.raises(InvalidProfile, match=r"identities.crmid\[1\]: identity values must be strings"):
        parse_item({"identities": {"crmid": ["1", 2]}})
    with pytest.raises(InvalidProfile, match="attributes: must be a JSON object"):
        parse_item({"identities": {"crmid": ["1"]}, "attributes": [1]})


def test_plan_applies_writes_in_order() -> None:
    existing = StoredProfile("p1", {"a": {"x": 1}}, {"crmid": ["1"]})
    plan = Plan({("crmid", "1"): "p1", ("crmid", "9"): "p9"}, {"p1": existing})
    assert plan.apply(profile_input([("crmid", "1")], {"a": {"x": 1}})).changed is False, "no-op merge"
    assert plan.apply(profile_input([("crmid", "1"), ("email", "e")], {"a": {"y": 2}})).status == 200
    conflict = plan.apply(profile_input([("email", "f"), ("crmid", "9")], {}))
    assert (conflict.status, conflict.profile_id) == (409, None)
    created = plan.apply(profile_input([("email", "g")], {"b": None, "c": 1}))
    assert created.status == 201
    assert plan.apply(profile_input([("email", "g")], {"d": 2})).status == 200
    assert list(plan.updated) == ["p1"]
    assert existing.attributes == {"a": {"x": 1, "y": 2}}
    assert existing.identities == {"crmid": ["1"], "email": ["e"]}
    new = plan.created[str(created.profile_id)]
    assert (new.attributes, new.identities) == ({"c": 1, "d": 2}, {"email": ["g"]})
    assert [(ns, value) for _, ns, value, _ in plan.new_identities] == [("email", "e"), ("email", "g")]


def test_a_profile_created_from_a_verbatim_patch_merges_like_any_other() -> None:
    plan = Plan({}, {})
    first = jsonl_write(b'{"identities": {"crmid": "v"}, "attributes": {"a": {"x": 1}, "n": 2}}')
    assert first.document is not None, "stored as it came"
    assert plan.apply(first).status == 201
    again = jsonl_write(b'{"identities": {"crmid": "v"}, "attributes": {"a": {"y": 2}, "n": null}}')
    assert again.document is None, "a null must be merged"
    assert plan.apply(again).status == 200
    (profile,) = plan.created.values()
    assert profile.attributes == {"a": {"x": 1, "y": 2}}
    assert msgspec.json.decode(profile.document) == profile.attributes


def test_id_sequences_are_unique_uuid_shaped_and_ordered() -> None:
    first, second = id_sequence(), id_sequence()
    ids = [first() for _ in range(3)] + [second() for _ in range(3)]
    assert len(set(ids)) == 6
    assert all(len(value) == 36 and value.count("-") == 4 for value in ids)
    assert ids[:3] == sorted(ids[:3])


def test_csv_header_rules() -> None:
    columns = parse_header(["identity:email", "a.b:number", "c"])
    assert csv_item(columns, ["x@y", "3", "s"]) == {
        "identities": {"email": ["x@y"]},
        "attributes": {"a": {"b": 3}, "c": "s"},
    }
    for header, message in [
        (["a"], "needs at least one identity"),
        (["identity:email", "a:date"], "unknown type 'date'"),
        (["identity:email", "a..b"], "not a dotted attribute path"),
        (["identity:email", "a", "a.b"], "column a.b is inside column a"),
    ]:
        with pytest.raises(InvalidProfile, match=message):
            parse_header(header)
    with pytest.raises(InvalidProfile, match="has 2 fields, the header has 3"):
        csv_item(columns, ["x@y", "1"])


items = st.fixed_dictionaries(
    {},
    optional={
        "identities": st.dictionaries(
            st.sampled_from(["crmid", "Email", "bad ns"]),
            st.lists(st.text(max_size=3), max_size=2) | st.text(max_size=3) | st.integers(),
            max_size=2,
        ),
        "attributes": documents | st.none() | st.integers(),
        "extra": st.just(1),
    },
)


@given(items, st.sampled_from([(",", ":"), (", ", ": ")]))
def test_json_lines_read_as_batch_items_are(item: dict[str, Any], separators: tuple[str, str]) -> None:
    line = json.dumps(item, separators=separators).encode()
    try:
        expected = parse_item(msgspec.json.decode(line))
    except InvalidProfile as refused:
        with pytest.raises(InvalidProfile, match=re.escape(refused.detail)):
            jsonl_write(line)
        return
    write = jsonl_write(line)
    assert (write.identities, write.attributes, write.removes) == (
        expected.identities,
        expected.attributes,
        expected.removes,
    )


def test_verbatim_documents_are_the_plain_ones() -> None:
    plain = b'{"person": {"name": "A"}, "points": 12, "rate": 0.25, "tags": ["x"], "ok": true}'
    assert verbatim_document(plain) == plain
    deep = b"{" + b'"a": {' * (MAX_DEPTH - 1) + b"}" * MAX_DEPTH
    assert verbatim_document(deep) == deep
    for refused in [
        b"[1]",
        b'"s"',
        b"null",
        b'{"a": null}',
        b'{"a": "x\\u0000y"}',  # a NUL: the general path refuses it
        b"{" + b'"a": {' * MAX_DEPTH + b"}" * (MAX_DEPTH + 1),
    ]:
        assert verbatim_document(refused) is None, refused
    for number in [b"1e5", b"2.50", b"100.0", b"12345678901234567", b"1234567.123456789"]:
        assert verbatim_document(b'{"n": ' + number + b"}") is None, number
