"""``clarion suppressions import|export``: CSV both ways, bad rows by line number, filters, --help."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from clarion.cli.main import app as cli
from clarion.config import Settings
from tests.builders import Api

runner = CliRunner()


@pytest.fixture
def cli_env(cli_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shared CLI environment, without migrations on start (the test database is migrated)."""
    monkeypatch.setenv("CLARION_AUTO_MIGRATE", "0")
    return cli_env


async def invoke(*arguments: str) -> Result:
    """Run the CLI in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(lambda: runner.invoke(cli, list(arguments)))


@pytest.mark.parametrize("command", ["import", "export"])
def test_help(command: str) -> None:
    result = runner.invoke(cli, ["suppressions", command, "--help"])
    assert result.exit_code == 0
    assert "--sandbox" in result.output
    assert "--reason" in result.output
    assert command == "import" or "--out" in result.output


async def test_import_reports_bad_rows_and_export_writes_the_list(
    api: Api, cli_env: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "list.csv"
    rows = ["\ufeffaddress,reason,category,detail"]  # Excel's UTF-8 BOM
    rows += [f"user{i}@example.com,,,bulk" for i in range(2500)]
    rows += ["broken address,,,", "Spam@Example.com,complaint,,ARF"]
    rows += ["x@example.com,nonsense,,"]
    source.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    org = api.tenant.ims_org_id

    result = await invoke("suppressions", "import", str(source), "--org", org)
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "2,503 rows" in output
    assert "2,501 added" in output
    assert "2 failed" in output
    assert "line 2502: address 'broken address': must be an email address" in output
    assert "line 2504: reason 'nonsense': must be one of" in output

    again = await invoke("suppressions", "import", str(source), "--org", org, "--reason", "manual")
    assert "0 added" in again.output
    assert "2,501 already suppressed" in " ".join(again.output.split())

    out = tmp_path / "out.csv"
    exported = await invoke(
        "suppressions", "export", "--org", org, "--out", str(out), "--reason", "complaint"
    )
    assert exported.exit_code == 0, exported.output
    with out.open(newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["address", "reason", "category", "source", "detail", "created"]
    assert [line[:5] for line in lines[1:]] == [["spam@example.com", "complaint", "", "import", "ARF"]]
    everything = await invoke("suppressions", "export", "--org", org)
    assert everything.exit_code == 0
    assert everything.stdout.count("\n") == 2502  # header + every entry
    bad = await invoke("suppressions", "export", "--org", org, "--reason", "bored")
    assert bad.exit_code == 2
    assert "must be one of" in bad.output


async def test_a_file_that_is_not_utf8_is_one_line(api: Api, cli_env: Settings, tmp_path: Path) -> None:
    source = tmp_path / "latin1.csv"
    source.write_bytes("address\nj\xe9r\xf4me@example.com\n".encode("latin-1"))
    result = await invoke("suppressions", "import", str(source), "--org", api.tenant.ims_org_id)
    assert result.exit_code == 1
    assert "not UTF-8" in result.output
