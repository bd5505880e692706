"""Every rule of a dataflow, table-driven: selectors, schedules, file-name templates, connections, fields."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from clarion.activation.flowservice import specs
from tests.activation.flowservice.conftest import FlowService, add_selector, report, selector

Change = Callable[[dict[str, Any]], None]
SELECTOR = "transformations[0].params.segmentSelectors.selectors[0]"


def _value(**fields: Any) -> Change:
    def change(item: dict[str, Any]) -> None:
        for key, value in fields.items():
            if value is None:
                item["value"].pop(key, None)
            else:
                item["value"][key] = value

    return change


def _schedule(**fields: Any) -> Change:
    def change(item: dict[str, Any]) -> None:
        for key, value in fields.items():
            if value is None:
                item["value"]["schedule"].pop(key, None)
            else:
                item["value"]["schedule"][key] = value

    return change


def _both(*changes: Change) -> Change:
    def change(item: dict[str, Any]) -> None:
        for each in changes:
            each(item)

    return change


def _type(item: dict[str, Any]) -> None:
    item["type"] = "EXTERNAL_SEGMENT"


INCREMENTAL = _value(exportMode="FIRST_FULL_THEN_INCREMENTAL")
SELECTOR_RULES: list[tuple[str, Change, str, str]] = [
    ("type", _type, "type", "enum"),
    ("id missing", _value(id=None), "value.id", "required"),
    ("unknown field", _value(colour="red"), "value.colour", "unknown_field"),
    ("name type", _value(name=5), "value.name", "type"),
    ("export mode missing", _value(exportMode=None), "value.exportMode", "required"),
    ("export mode", _value(exportMode="WEEKLY"), "value.exportMode", "enum"),
    ("schedule missing", _value(schedule=None), "value.schedule", "required"),
    ("schedule field", _schedule(timezone="CET"), "value.schedule.timezone", "unknown_field"),
    ("frequency missing", _schedule(frequency=None), "value.schedule.frequency", "required"),
    ("frequency", _schedule(frequency="HOURLY"), "value.schedule.frequency", "enum"),
    ("hourly full", _schedule(frequency="EVERY_6_HOURS"), "value.schedule.frequency", "incremental_only"),
    ("trigger missing", _schedule(triggerType=None), "value.schedule.triggerType", "required"),
    ("trigger", _schedule(triggerType="CHAINED"), "value.schedule.triggerType", "enum"),
    ("start missing", _schedule(startDate=None), "value.schedule.startDate", "required"),
    ("start format", _schedule(startDate="2030/07/22"), "value.schedule.startDate", "date"),
    ("start calendar", _schedule(startDate="2030-02-30"), "value.schedule.startDate", "date"),
    ("end format", _schedule(endDate="22-07-2030"), "value.schedule.endDate", "date"),
    ("end before start", _schedule(endDate="2030-07-21"), "value.schedule.endDate", "before_start"),
    (
        "end with full once",
        _schedule(frequency="ONCE", endDate="2030-08-01"),
        "value.schedule.endDate",
        "not_applicable",
    ),
    ("minutes", _schedule(startTime="23:30"), "value.schedule.startTime", "whole_hour"),
    ("hour", _schedule(startTime="24:00"), "value.schedule.startTime", "time"),
    ("time format", _schedule(startTime="7:00"), "value.schedule.startTime", "time"),
    ("scheduled needs time", _schedule(startTime=None), "value.schedule.startTime", "required"),
    (
        "time after evaluation",
        _schedule(triggerType="AFTER_SEGMENT_EVAL"),
        "value.schedule.startTime",
        "not_applicable",
    ),
    ("no destination", _value(filenameTemplate="%SEGMENT_ID%_x"), "value.filenameTemplate", "required_macro"),
    ("no segment", _value(filenameTemplate="%DESTINATION%_x"), "value.filenameTemplate", "required_macro"),
    (
        "unknown macro",
        _value(filenameTemplate="%DESTINATION%_%SEGMENTID%_%SEGMENT_ID%"),
        "value.filenameTemplate",
        "unknown_macro",
    ),
    (
        "unsafe",
        _value(filenameTemplate="dir/%DESTINATION%_%SEGMENT_ID%"),
        "value.filenameTemplate",
        "unsafe_character",
    ),
    (
        "unbalanced",
        _value(filenameTemplate="%DESTINATION%_%SEGMENT_ID%_50%"),
        "value.filenameTemplate",
        "unbalanced_percent",
    ),
    (
        "datetime pattern",
        _value(filenameTemplate="%DESTINATION%_%SEGMENT_ID%_%DATETIME(yesterday)%"),
        "value.filenameTemplate",
        "datetime_pattern",
    ),
    (
        "argument",
        _value(filenameTemplate="%DESTINATION%_%SEGMENT_ID%_%TIMESTAMP(s)%"),
        "value.filenameTemplate",
        "macro_argument",
    ),
    (
        "too long",
        _value(filenameTemplate="%DESTINATION%_%SEGMENT_ID%_" + "x" * 215),
        "value.filenameTemplate",
        "max_length",
    ),
    (
        "both spellings",
        _value(fileNameTemplate="%DESTINATION%_%SEGMENT_ID%"),
        "value.fileNameTemplate",
        "conflict",
    ),
    ("empty template", _value(filenameTemplate=""), "value.filenameTemplate", "type"),
]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [case[1:] for case in SELECTOR_RULES],
    ids=[case[0] for case in SELECTOR_RULES],
)
async def test_selector_rules(fs: FlowService, change: Change, field: str, rule: str) -> None:
    flow_id = await fs.flow()
    item = selector(await fs.audience())
    change(item)
    refused = await fs.patch(f"/flows/{flow_id}", add_selector(item), expect=400)
    assert refused.json()["type"].endswith("/FLOW-1100-400")
    assert (report(refused)["field"], report(refused)["rule"]) == (f"{SELECTOR}.{field}", rule)
    assert report(refused)["detailed-message"].startswith(f"{SELECTOR}.{field}: ")


ACCEPTED: list[tuple[str, Change]] = [
    (
        "incremental every 3 hours",
        _both(INCREMENTAL, _schedule(frequency="EVERY_3_HOURS", endDate="2030-08-01")),
    ),
    (
        "incremental without trigger",
        _both(INCREMENTAL, _schedule(triggerType=None, frequency="EVERY_12_HOURS")),
    ),
    ("after evaluation", _schedule(triggerType="AFTER_SEGMENT_EVAL", startTime=None)),
    ("once", _schedule(frequency="ONCE")),
    ("end equals start", _schedule(endDate="2030-07-22")),
    ("custom text", _value(filenameTemplate="%DESTINATION%_%SEGMENT_ID%_%my-campaign%_%SEGMENT_NAME%")),
    ("date pattern", _value(filenameTemplate="%DESTINATION_NAME%-%SEGMENT_ID%-%DATETIME(MMddYYYY_HHmmss)%")),
    (
        "every macro",
        _value(
            filenameTemplate="%DESTINATION%_%SEGMENT_ID%_%DESTINATION_INSTANCE_ID%_%DESTINATION_INSTANCE_NAME%"
            "_%ORGANIZATION_NAME%_%SANDBOX_NAME%_%TIMESTAMP%"
        ),
    ),
    ("external audience fields", _value(namespace="ups", systemSegmentId="ext-1", description="d")),
]


@pytest.mark.parametrize("change", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
async def test_accepted_selectors(fs: FlowService, change: Change) -> None:
    flow_id = await fs.flow()
    item = selector(await fs.audience())
    change(item)
    await fs.patch(f"/flows/{flow_id}", add_selector(item))
    stored = (await fs.item(f"/flows/{flow_id}"))["transformations"][0]["params"]["segmentSelectors"][
        "selectors"
    ]
    expected = {key: value for key, value in item["value"].items() if key != "schedule"}
    assert {key: stored[0]["value"][key] for key in expected} == expected


async def test_audience_must_exist_in_the_sandbox(fs: FlowService, make_fs: Any) -> None:
    flow_id = await fs.flow()
    other = await make_fs()
    foreign = await other.audience()
    refused = await fs.patch(f"/flows/{flow_id}", add_selector(selector(foreign)), expect=400)
    assert (report(refused)["field"], report(refused)["rule"]) == (f"{SELECTOR}.value.id", "unknown_audience")
    assert foreign in report(refused)["detailed-message"]


async def test_an_audience_appears_once(fs: FlowService) -> None:
    flow_id = await fs.flow()
    audience = await fs.audience()
    await fs.patch(f"/flows/{flow_id}", add_selector(selector(audience)))
    refused = await fs.patch(f"/flows/{flow_id}", add_selector(selector(audience)), expect=400)
    assert report(refused)["rule"] == "duplicate"


async def test_rendered_file_name_length_counts_the_flow_name(fs: FlowService) -> None:
    flow_id = await fs.flow(name="n" * 240)
    template = "%DESTINATION_NAME%_%SEGMENT_ID%_%DESTINATION_INSTANCE_NAME%"
    refused = await fs.patch(
        f"/flows/{flow_id}",
        add_selector(selector(await fs.audience(), filenameTemplate=template)),
        expect=400,
    )
    assert report(refused)["rule"] == "max_length"


def _flow_change(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body.update(fields)

    return change


def _params(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["transformations"][0]["params"].update(fields)

    return change


FLOW_RULES: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    (
        "unknown flow spec",
        _flow_change(flowSpec={"id": "nope", "version": "1.0"}),
        "flowSpec.id",
        "unknown_spec",
        "1413",
    ),
    (
        "spec of another destination",
        _flow_change(flowSpec={"id": specs.S3_FLOW_SPEC_ID, "version": "1.0"}),
        "flowSpec.id",
        "spec_mismatch",
        "1100",
    ),
    ("state on create", _flow_change(state="disabled"), "state", "read_only", "1410"),
    ("two sources", _flow_change(sourceConnectionIds=["a", "b"]), "sourceConnectionIds", "too_long", "1100"),
    ("no target", _flow_change(targetConnectionIds=[]), "targetConnectionIds", "too_short", "1100"),
    (
        "unknown source",
        _flow_change(sourceConnectionIds=["nope"]),
        "sourceConnectionIds[0]",
        "unknown_reference",
        "1100",
    ),
    (
        "unknown target",
        _flow_change(targetConnectionIds=["nope"]),
        "targetConnectionIds[0]",
        "unknown_reference",
        "1100",
    ),
    ("transformations type", _flow_change(transformations={}), "transformations", "list_type", "1100"),
    (
        "transformation name",
        _flow_change(transformations=[{"name": "Mapping", "params": {}}]),
        "transformations[0].name",
        "enum",
        "1100",
    ),
    ("params field", _params(datasets=[]), "transformations[0].params.datasets", "unknown_field", "1100"),
    (
        "mapping set",
        _params(profileMapping={"mappingId": "5d21b8", "mappingVersion": 0}),
        "transformations[0].params.profileMapping.mappingId",
        "mapping_set",
        "1100",
    ),
    (
        "mapping source",
        _params(profileMapping={"mappings": [{"source": "person name"}]}),
        "transformations[0].params.profileMapping.mappings[0].source",
        "path",
        "1100",
    ),
    (
        "primary field type",
        _params(primaryFields=[{"fieldType": "SEGMENT", "attributePath": "a.b"}]),
        "transformations[0].params.primaryFields[0].fieldType",
        "enum",
        "1100",
    ),
    (
        "primary identity",
        _params(primaryFields=[{"fieldType": "IDENTITY", "identityNamespace": "e mail"}]),
        "transformations[0].params.primaryFields[0].identityNamespace",
        "namespace",
        "1100",
    ),
    (
        "mandatory",
        _params(mandatoryFields=[7]),
        "transformations[0].params.mandatoryFields[0]",
        "path",
        "1100",
    ),
    (
        "profile selector",
        _params(profileSelectors={"selectors": [{"type": "JSON_PATH", "value": {"path": "a..b"}}]}),
        "transformations[0].params.profileSelectors.selectors[0].value.path",
        "path",
        "1100",
    ),
]


@pytest.mark.parametrize(
    ("change", "field", "rule", "code"),
    [case[1:] for case in FLOW_RULES],
    ids=[case[0] for case in FLOW_RULES],
)
async def test_flow_rules(
    fs: FlowService, change: Callable[[dict[str, Any]], None], field: str, rule: str, code: str
) -> None:
    body = copy.deepcopy(fs.flow_body(await fs.source(), await fs.target("sftp")))
    change(body)
    refused = await fs.call("POST", "/flows", body, expect=400)
    assert refused.json()["type"].endswith(f"/FLOW-{code}-400")
    assert (report(refused)["field"], report(refused)["rule"]) == (field, rule)


async def test_target_must_be_a_target_connection(fs: FlowService) -> None:
    source_id = await fs.source()
    refused = await fs.call("POST", "/flows", fs.flow_body(source_id, source_id), expect=400)
    assert report(refused)["field"] == "targetConnectionIds[0]"


async def test_patch_cannot_break_connections(fs: FlowService) -> None:
    flow_id = await fs.flow()
    refused = await fs.patch(
        f"/flows/{flow_id}", [{"op": "replace", "path": "/sourceConnectionIds", "value": []}], expect=400
    )
    assert (report(refused)["field"], report(refused)["rule"]) == ("sourceConnectionIds", "one_connection")
    s3_target = await fs.target("s3")
    mismatch = [{"op": "replace", "path": "/targetConnectionIds/0", "value": s3_target}]
    assert report(await fs.patch(f"/flows/{flow_id}", mismatch, expect=400))["rule"] == "spec_mismatch"


async def test_segment_flow_spec_aliases(fs: FlowService) -> None:
    body = fs.flow_body(await fs.source(), await fs.target("s3"), spec="1a0514a6-33d4-4c7f-aff8-594799c47549")
    flow = await fs.item(f"/flows/{await fs.create('/flows', body)}")
    assert flow["flowSpec"]["id"] == "1a0514a6-33d4-4c7f-aff8-594799c47549"
    local = fs.flow_body(
        await fs.source(), await fs.target("local"), spec=specs.DATA_LANDING_ZONE_FLOW_SPEC_ID
    )
    await fs.create("/flows", local)


async def test_flow_spec_version_defaults(fs: FlowService) -> None:
    body = fs.flow_body(await fs.source(), await fs.target(), flowSpec={"id": specs.SFTP_FLOW_SPEC_ID})
    assert (await fs.item(f"/flows/{await fs.create('/flows', body)}"))["flowSpec"]["version"] == "1.0"


async def test_transformations_default_when_absent(fs: FlowService) -> None:
    body = fs.flow_body(await fs.source(), await fs.target())
    del body["transformations"]
    flow_id = await fs.create("/flows", body)
    await fs.patch(f"/flows/{flow_id}", add_selector(selector(await fs.audience())))


async def test_file_name_limit_is_255_with_extension(fs: FlowService) -> None:
    flow_id = await fs.flow()
    fixed = len("SFTP") + 1 + 36 + 1 + len(".csv")
    fits = selector(await fs.audience(), filenameTemplate="%DESTINATION%_%SEGMENT_ID%_" + "x" * (255 - fixed))
    await fs.patch(f"/flows/{flow_id}", add_selector(fits))
    over = selector(await fs.audience(), filenameTemplate="%DESTINATION%_%SEGMENT_ID%_" + "x" * (256 - fixed))
    refused = await fs.patch(f"/flows/{flow_id}", add_selector(over), expect=400)
    assert "256 characters" in report(refused)["detailed-message"]


MALFORMED: list[Any] = [
    [{"op": "replace", "path": "/transformations", "value": [None]}],
    [{"op": "replace", "path": "/transformations/0", "value": "x"}],
    [{"op": "replace", "path": "/transformations/0/params", "value": []}],
    [{"op": "replace", "path": "/transformations/0/params/segmentSelectors", "value": {"selectors": {}}}],
    [{"op": "replace", "path": "/transformations/0/params/segmentSelectors/selectors", "value": [5]}],
    [
        {
            "op": "add",
            "path": "/transformations/0/params/segmentSelectors/selectors/-",
            "value": {"type": "PLATFORM_SEGMENT", "value": {"id": 7}},
        }
    ],
    [
        {
            "op": "add",
            "path": "/transformations/0/params/segmentSelectors/selectors/-",
            "value": {"type": "PLATFORM_SEGMENT", "value": []},
        }
    ],
    [{"op": "replace", "path": "/transformations/0/params/profileMapping", "value": {"mappings": [3]}}],
    [{"op": "replace", "path": "/transformations/0/params/profileMapping", "value": {"mappings": {}}}],
    [{"op": "replace", "path": "/transformations/0/params/primaryFields", "value": [None]}],
    [{"op": "replace", "path": "/transformations/0/params/mandatoryFields", "value": "ECID"}],
    [
        {
            "op": "add",
            "path": "/transformations/0/params/profileSelectors",
            "value": {"selectors": [{"type": "JSON_PATH"}]},
        }
    ],
    [{"op": "add", "path": "/transformations/0/params/profileSelectors", "value": []}],
    [{"op": "replace", "path": "/name", "value": 5}],
    [{"op": "replace", "path": "/name", "value": "   "}],
    [{"op": "replace", "path": "/description", "value": None}],
    [{"op": "remove", "path": "/name"}],
    [{"op": "replace", "path": "/targetConnectionIds", "value": [5]}],
    [{"op": "replace", "path": "/sourceConnectionIds", "value": "abc"}],
    [{"op": "add", "path": "name", "value": "no slash"}],
    [{"op": "add", "path": "/transformations/01/params", "value": {}}],
    [{"op": 5, "path": "/name", "value": "x"}],
    [{"op": "add", "path": 5, "value": "x"}],
    [{"op": "replace", "path": "/name"}],
    ["replace"],
    {"op": "replace", "path": "/name", "value": "x"},
    "x",
]


@pytest.mark.parametrize("operations", MALFORMED)
async def test_malformed_patches_are_400(fs: FlowService, operations: Any) -> None:
    flow_id = await fs.flow()
    refused = await fs.patch(f"/flows/{flow_id}", operations, expect=400)
    assert report(refused)["detailed-message"]


async def test_malformed_selector_values_are_400(fs: FlowService) -> None:
    flow_id = await fs.flow()
    audience = await fs.audience()
    for change in (
        {
            "schedule": {
                "frequency": "DAILY",
                "startDate": 20300722,
                "startTime": "23:00",
                "triggerType": "SCHEDULED",
            }
        },
        {
            "schedule": {
                "frequency": "DAILY",
                "startDate": "2030-07-22",
                "startTime": 2300,
                "triggerType": "SCHEDULED",
            }
        },
        {"schedule": {"frequency": ["DAILY"], "startDate": "2030-07-22"}},
        {"schedule": "DAILY"},
        {"filenameTemplate": 12},
        {"exportMode": {"mode": 1}},
        {"description": None},
    ):
        item = selector(audience)
        item["value"].update(change)
        refused = await fs.patch(f"/flows/{flow_id}", add_selector(item), expect=400)
        assert report(refused)["field"].startswith(SELECTOR), change
