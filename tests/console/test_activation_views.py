"""What the activation pages read from the API's JSON and send back to it (no browser): run metrics, list
tokens, connection-spec forms, dataflow bodies and where a refusal lands on the form."""

from __future__ import annotations

from typing import Any

from clarion.activation.flowservice import specs
from clarion.console.api import ApiProblem
from clarion.console.pages.dataflows import audiences_of, flow_body, form_field_of, last_run_of
from clarion.console.pages.destinations import (
    Destination,
    destination_type,
    location_of,
    param_values,
    patches_of,
)
from clarion.console.pages.runs import next_token_of, records_chart, summary_of

RUN: dict[str, Any] = {
    "id": "run-1",
    "flowId": "flow-1",
    "createdAt": 1_800_000_000_000,
    "metrics": {
        "durationSummary": {"startedAtUTC": 1_800_000_000_000, "completedAtUTC": 1_800_000_002_500},
        "sizeSummary": {"outputBytes": 73},
        "recordSummary": {
            "outputRecordCount": 2,
            "sourceSummaries": [{"entitySummaries": [{"id": "segment:aud-1"}]}],
        },
        "fileSummary": {
            "files": [{"name": "a.csv", "segmentId": "aud-1", "records": 2, "bytes": 73, "sha256": "ab"}]
        },
        "statusSummary": {"status": "failed", "errors": [{"code": "X", "message": "disk full"}]},
    },
}


def test_a_run_summary_reads_the_contract_metrics() -> None:
    run = summary_of(RUN)
    assert (run.status, run.records, run.bytes, run.audiences) == ("failed", 2, 73, ("aud-1",))
    assert run.files[0].name == "a.csv"
    assert run.files[0].records == 2
    assert run.duration == "2.5 s"
    assert run.errors == ("disk full",)
    waiting = summary_of({"id": "run-2", "metrics": {"statusSummary": {"status": "waiting"}}})
    assert (waiting.records, waiting.files, waiting.duration) == (0, (), "")


def test_the_chart_runs_oldest_first() -> None:
    newer = summary_of({**RUN, "id": "run-2", "metrics": {**RUN["metrics"], "recordSummary": {}}})
    chart = records_chart([newer, summary_of(RUN)])  # the API lists newest first
    assert chart["series"] == [{"label": "Records", "values": [2, 0]}]
    assert len(chart["x"]) == 2


def test_the_next_page_token_comes_from_the_links() -> None:
    body = {"_links": {"next": {"href": "/runs?limit=20&continuationToken=eyJvZmZzZXQiOiAyMH0"}}}
    assert next_token_of(body) == "eyJvZmZzZXQiOiAyMH0"
    assert next_token_of({"_links": {}}) == ""


def test_the_destination_form_is_the_connection_spec() -> None:
    sftp = specs.connection_spec(specs.SFTP_SPEC_ID)
    assert sftp is not None
    kind = destination_type(sftp.view(), "SFTP with SSH Key")
    assert kind.auth_name == "SFTP with SSH Key"
    fields = {field.name: field for field in kind.auth_fields}
    assert fields["auth.params.sshKey"].secret
    assert fields["auth.params.domain"].required
    assert fields["auth.params.port"].number
    targets = {field.name: field for field in kind.target_fields}
    assert targets["params.fileType"].choices == specs.FILE_TYPES
    assert "params.csvOptions" not in targets  # left to Adobe's defaults
    unknown_auth = destination_type(sftp.view(), "nonsense")
    assert unknown_auth.auth_name == "SFTP with Password"
    form = {"auth.params.port": "2222", "auth.params.domain": " host ", "auth.params.username": ""}
    assert param_values(kind.auth_fields, form, "auth.params.") == {"port": 2222, "domain": "host"}


def test_an_edit_sends_the_mask_back_for_secrets_left_empty() -> None:
    sftp = specs.connection_spec(specs.SFTP_SPEC_ID)
    assert sftp is not None
    kind = destination_type(sftp.view(), "SFTP with Password")
    base = {
        "id": "base-1",
        "etag": '"b"',
        "auth": {"specName": "SFTP with Password", "params": {"domain": "h", "password": "********"}},
    }
    target = {"id": "t-1", "etag": '"t"', "name": "x", "params": {"csvOptions": {"delimiter": ";"}}}
    destination = Destination(target, base, "SFTP", kind)
    assert "auth.params.password" not in destination.form()
    form = {"name": "New", "auth.params.domain": "h2", "auth.params.password": "", "params.fileType": "CSV"}
    (base_path, base_etag, base_ops), (_, target_etag, target_ops) = patches_of(destination, kind, form)
    assert (base_path, base_etag, target_etag) == (
        "/data/foundation/flowservice/connections/base-1",
        '"b"',
        '"t"',
    )
    assert base_ops[1]["value"] == {"domain": "h2", "password": "********"}
    assert target_ops[1]["value"] == {"fileType": "CSV", "csvOptions": {"delimiter": ";"}}
    typed = patches_of(destination, kind, {**form, "auth.params.password": "new-secret"})
    assert typed[0][2][1]["value"]["password"] == "new-secret"


def test_locations() -> None:
    assert location_of({"bucketName": "b", "path": "out"}) == "s3://b/out"
    assert location_of({"remotePath": "/upload"}) == "/upload"
    assert location_of({}) == "(root)"


def test_a_dataflow_body_maps_each_audience_with_the_schedule() -> None:
    form = {
        "name": "Nightly",
        "target": "t-1",
        "audiences": ["a", "b"],
        "frequency": "EVERY_6_HOURS",
        "startDate": "2030-01-01",
        "startTime": "06:00",
        "attributes": "identityMap.email\n\n loyalty.points ",
    }
    body = flow_body(form, "s-1", "spec-1")
    params = body["transformations"][0]["params"]
    assert params["profileMapping"] == {
        "mappings": [{"source": "identityMap.email"}, {"source": "loyalty.points"}]
    }
    selectors = params["segmentSelectors"]["selectors"]
    assert [selector["value"]["id"] for selector in selectors] == ["a", "b"]
    assert selectors[0]["value"]["exportMode"] == "FIRST_FULL_THEN_INCREMENTAL"
    assert "triggerType" not in selectors[0]["value"]["schedule"]
    daily = flow_body({**form, "frequency": "DAILY"}, "s-1", "spec-1")
    value = daily["transformations"][0]["params"]["segmentSelectors"]["selectors"][0]["value"]
    assert (value["exportMode"], value["schedule"]["triggerType"]) == ("DAILY_FULL_EXPORT", "SCHEDULED")
    flow = {**body, "transformations": body["transformations"]}
    assert [audience.path for audience in audiences_of(flow)] == [
        "/transformations/0/params/segmentSelectors/selectors/0",
        "/transformations/0/params/segmentSelectors/selectors/1",
    ]


def test_a_refusal_lands_on_its_input() -> None:
    def problem(field: str | None) -> ApiProblem:
        return ApiProblem(400, "no", {}, field=field)

    selector = "transformations[0].params.segmentSelectors.selectors[0].value"
    assert form_field_of(problem(f"{selector}.schedule.startTime")) == "startTime"
    assert form_field_of(problem(f"{selector}.filenameTemplate")) == "filenameTemplate"
    mapping = "transformations[0].params.profileMapping.mappings[0].source"
    assert form_field_of(problem(mapping)) == "attributes"
    assert form_field_of(problem("name")) == "name"
    assert form_field_of(problem(None)) == ""
    assert form_field_of(None) == ""


def test_last_run_details() -> None:
    state, started = last_run_of({"lastRunDetails": {"id": "r", "state": "success", "startedAtUTC": 0}})
    assert state == "success"
    assert started is not None
    assert last_run_of({}) == ("", None)
