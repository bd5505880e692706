"""``clarion profiles import``: JSON lines, CSV, gzip; idempotent re-imports; bad lines named by number."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, cast, select
from typer.testing import CliRunner, Result

from clarion.cli.main import app as cli
from clarion.config import Settings
from clarion.container import Container
from clarion.models.profiles import Profile, ProfileIdentity
from clarion.profiles.documents import verbatim_document
from tests.profiles.conftest import Api, put, stored_counts

SAMPLE = Path(__file__).parents[2] / "examples" / "profiles.jsonl"
runner = CliRunner()


@pytest.fixture
def cli_env(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shared CLI environment, without migrations on start (the test database is migrated)."""
    monkeypatch.setenv("CLARION_AUTO_MIGRATE", "0")
    return cli_env


async def run_import(api: Api, path: Path, *options: str) -> Result:
    """Run the command for the tenant of ``api`` (in a thread: the CLI runs its own event loop)."""
    arguments = ["profiles", "import", str(path), "--org", api.tenant.ims_org_id, *options]
    return await invoke(arguments)


async def invoke(arguments: list[str]) -> Result:
    """Run the CLI in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(lambda: runner.invoke(cli, arguments))


def test_help() -> None:
    result = runner.invoke(cli, ["profiles", "import", "--help"])
    assert result.exit_code == 0
    assert "--batch-size" in result.output


def write_lines(path: Path, lines: list[Any]) -> Path:
    """A JSON-lines file of ``lines`` (strings are written as they are)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


async def test_sample_profiles_import_and_reimport_idempotently(
    api: Api, container: Container, cli_env: Settings
) -> None:
    first = await run_import(api, SAMPLE)
    assert first.exit_code == 0, first.output
    assert "1,000 profiles" in first.output
    assert "1,000 created, 0 updated, 0 unchanged, 0 failed" in first.output
    assert await stored_counts(container, api.tenant.org_id) == (1000, 2000)

    sample = json.loads(SAMPLE.read_text().splitlines()[41])
    email = sample["identities"]["email"][0]
    stored = (await api.call("GET", f"/v1/profiles/email/{email}", expect=200)).json()
    assert stored["attributes"] == sample["attributes"]
    assert stored["identities"] == sample["identities"]

    again = await run_import(api, SAMPLE, "--batch-size", "300")
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 1,000 unchanged, 0 failed" in again.output
    assert await stored_counts(container, api.tenant.org_id) == (1000, 2000)


async def test_reimport_deep_merges_into_existing_profiles(
    api: Api, container: Container, cli_env: Settings, tmp_path: Path
) -> None:
    await put(
        api, "crmid", "c1", {"attributes": {"person": {"name": {"lastName": "Doe"}}, "keep": 1}}, expect=201
    )
    lines = [
        {
            "identities": {"crmid": ["c1"], "email": ["C1@x.example"]},
            "attributes": {"person": {"name": {"firstName": "Jo"}}},
        },
        {"identities": {"crmid": ["c2"]}, "attributes": {"loyalty": {"points": 5}}},
        {"identities": {"email": ["c1@x.example"]}, "attributes": {"keep": None}},
    ]
    result = await run_import(api, write_lines(tmp_path / "merge.jsonl", lines), "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "1 created, 2 updated, 0 unchanged, 0 failed" in result.output
    stored = (await api.call("GET", "/v1/profiles/crmid/c1", expect=200)).json()
    assert stored["attributes"] == {"person": {"name": {"lastName": "Doe", "firstName": "Jo"}}}
    assert stored["identities"] == {"crmid": ["c1"], "email": ["c1@x.example"]}
    assert await stored_counts(container, api.tenant.org_id) == (2, 3)


async def test_a_batch_meeting_a_profile_of_an_earlier_batch_merges_into_it(
    api: Api, container: Container, cli_env: Settings, tmp_path: Path
) -> None:
    # The sandbox is empty: batches skip their reads until the second one meets b1, stored by the first.
    lines = [
        {"identities": {"crmid": ["b1"]}, "attributes": {"a": 1}},
        {"identities": {"crmid": ["b2"]}},
        {"identities": {"crmid": ["b3"]}},
        {"identities": {"crmid": ["b1"], "email": ["B1@x.example"]}, "attributes": {"b": 2}},
        {"identities": {"crmid": ["b4"]}},
    ]
    result = await run_import(api, write_lines(tmp_path / "again.jsonl", lines), "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "4 created, 1 updated, 0 unchanged, 0 failed" in result.output
    stored = (await api.call("GET", "/v1/profiles/email/b1@x.example", expect=200)).json()
    assert stored["attributes"] == {"a": 1, "b": 2}
    assert stored["identities"] == {"crmid": ["b1"], "email": ["b1@x.example"]}
    assert await stored_counts(container, api.tenant.org_id) == (4, 5)


NUMBER_SPELLINGS = [
    *("0", "-0", "7", "-17", "123456789012345", "1.5", "-0.25", "0.1", "3.14159", "0.00001", "5.0000001"),
    *("1.50", "100.0", "-0.0", "1e2", "1E2", "2.5e-3", "12345678901234567890", "1234567.123456789"),
    *("0.30000000000000001", "9007199254740993"),
]


async def test_imported_documents_are_stored_as_the_api_stores_them(
    api: Api, container: Container, cli_env: Settings, tmp_path: Path
) -> None:
    # The import stores most patches verbatim, the API re-encodes them: the stored texts must agree.
    patches = [
        f'{{"v": {number},"s":"\\u00c9\\/ \\"q\\"", "deep" : {{"list": [{number}, true, "x"]}}}}'
        for number in NUMBER_SPELLINGS
    ]
    assert sum(verbatim_document(patch.encode()) is not None for patch in patches) >= 10
    lines = [
        f'{{"identities": {{"crmid": ["i{n}"]}}, "attributes": {patch}}}' for n, patch in enumerate(patches)
    ]
    result = await run_import(api, write_lines(tmp_path / "numbers.jsonl", lines))
    assert result.exit_code == 0, result.output
    items = ",".join(
        f'{{"identities": {{"crmid": ["a{n}"]}}, "attributes": {p}}}' for n, p in enumerate(patches)
    )
    response = await api.client.post(
        "/v1/profiles:batch",
        content=f'{{"profiles": [{items}]}}',
        headers={**api.tenant.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    stored = await stored_texts(container, api.tenant.org_id)
    for n, spelling in enumerate(NUMBER_SPELLINGS):
        assert stored[f"i{n}"] == stored[f"a{n}"], spelling


async def stored_texts(container: Container, org_id: str) -> dict[str, str]:
    """The stored attribute text of the organization's profiles, by crmid."""
    async with container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(ProfileIdentity.value, cast(Profile.attributes, String))
            .join(Profile, Profile.id == ProfileIdentity.profile_id)
            .where(ProfileIdentity.org_id == org_id, ProfileIdentity.namespace == "crmid")
        )
        return {str(value): str(text) for value, text in rows}


async def test_bad_lines_are_reported_with_their_numbers(
    api: Api, container: Container, cli_env: Settings, tmp_path: Path
) -> None:
    await put(api, "crmid", "owned", {}, expect=201)
    lines: list[Any] = [
        {"identities": {"crmid": ["ok1"]}},
        "{not json",
        "",
        {"attributes": {"a": 1}},
        {"identities": {"email": ["new@x.example"], "crmid": ["owned"]}},
        {"identities": {"crmid": ["ok2"]}, "extra": True},
        {"identities": {"crmid": ["ok3"]}},
    ]
    result = await run_import(api, write_lines(tmp_path / "bad.jsonl", lines))
    assert result.exit_code == 1, result.output
    assert "2 created, 0 updated, 0 unchanged, 4 failed" in result.output
    output = " ".join(result.output.split())
    assert "line 2: invalid JSON" in output
    assert "line 4: identities: at least one identity is required" in output
    assert "line 5: identities.crmid: 'owned' already belongs to another profile" in output
    assert "line 6: extra: unknown field" in output
    assert (
        output.index("line 2:") < output.index("line 4:") < output.index("line 5:") < output.index("line 6:")
    )
    assert await stored_counts(container, api.tenant.org_id) == (3, 3)


async def test_csv_with_typed_columns(api: Api, cli_env: Settings, tmp_path: Path) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "identity:email,identity:crmid,person.name.firstName,loyalty.points:number,"
        "consents.marketing.email:boolean,tags:json,homeAddress.city\n"
        'Ann@X.example,c-1;c-9,Ann,1200,true,"[""a"", 2]",Lyon\n'
        ",c-2,Bob,12.5,no,,\n"
        "bad@x.example,,Cy,many,yes,,\n"
        "x@x.example,,Dee,1,maybe,,\n"
        ",,Nobody,,,,\n"
    )
    result = await run_import(api, csv_file)
    assert result.exit_code == 1, result.output
    assert "2 created, 0 updated, 0 unchanged, 3 failed" in result.output
    output = " ".join(result.output.split())
    assert "line 4: loyalty.points: 'many' is not a number" in output
    assert "line 5: consents.marketing.email: 'maybe' is not a boolean" in output
    assert "line 6: identities: at least one identity is required" in output
    ann = (await api.call("GET", "/v1/profiles/crmid/c-9", expect=200)).json()
    assert ann["identities"] == {"email": ["ann@x.example"], "crmid": ["c-1", "c-9"]}
    assert ann["attributes"] == {
        "person": {"name": {"firstName": "Ann"}},
        "loyalty": {"points": 1200},
        "consents": {"marketing": {"email": True}},
        "tags": ["a", 2],
        "homeAddress": {"city": "Lyon"},
    }
    bob = (await api.call("GET", "/v1/profiles/crmid/c-2", expect=200)).json()
    assert bob["attributes"] == {
        "person": {"name": {"firstName": "Bob"}},
        "loyalty": {"points": 12.5},
        "consents": {"marketing": {"email": False}},
    }


async def test_gzip_input_of_either_format(
    api: Api, container: Container, cli_env: Settings, tmp_path: Path
) -> None:
    jsonl = tmp_path / "p.jsonl.gz"
    jsonl.write_bytes(gzip.compress(b'{"identities": {"crmid": ["g1"]}, "attributes": {"n": 1}}\n'))
    csv_file = tmp_path / "p.csv.gz"
    csv_file.write_bytes(gzip.compress(b"identity:crmid,n:number\ng2,2\n"))
    for path in (jsonl, csv_file):
        result = await run_import(api, path)
        assert result.exit_code == 0, result.output
        assert "1 created" in result.output
    for crmid, number in (("g1", 1), ("g2", 2)):
        stored = (await api.call("GET", f"/v1/profiles/crmid/{crmid}", expect=200)).json()
        assert stored["attributes"] == {"n": number}
    assert await stored_counts(container, api.tenant.org_id) == (2, 2)


async def test_format_option_and_file_errors(api: Api, cli_env: Settings, tmp_path: Path) -> None:
    odd = tmp_path / "profiles.txt"
    odd.write_text("identity:crmid\nf1\n")
    unknown = await run_import(api, odd)
    assert unknown.exit_code == 1
    assert "give --format jsonl or csv" in " ".join(unknown.output.split())
    forced = await run_import(api, odd, "--format", "csv")
    assert forced.exit_code == 0, forced.output
    assert "1 created" in forced.output
    header = tmp_path / "header.csv"
    header.write_text("identity:bad ns,a:colour\n1,2\n")
    refused = await run_import(api, header)
    assert refused.exit_code == 1
    assert "header column 1" in " ".join(refused.output.split())


async def test_unknown_org_and_sandbox_are_readable_errors(api: Api, cli_env: Settings) -> None:
    result = await invoke(["profiles", "import", str(SAMPLE), "--org", "nobody@AdobeOrg"])
    assert result.exit_code == 1
    assert "No organization matches 'nobody@AdobeOrg'" in result.output
    sandbox = await run_import(api, SAMPLE, "--sandbox", "nope")
    assert sandbox.exit_code == 1
    assert "Sandbox 'nope' does not exist" in " ".join(sandbox.output.split())


async def test_newcomer_imports_the_sample_into_the_development_organization(
    cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh embedded instance of its own: the default organization must not be a shared test database's.
    monkeypatch.setenv("CLARION_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("CLARION_AUTO_MIGRATE", "1")
    result = await invoke(["profiles", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "1,000 created" in result.output
    credentials = json.loads((cli_env.home / "credentials.json").read_text())
    again = await invoke(["profiles", "import", str(SAMPLE), "--org", credentials["orgId"]])
    assert again.exit_code == 0, again.output
    assert "1,000 unchanged" in again.output
