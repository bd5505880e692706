"""``examples/activation-quickstart.sh`` against a real ``clarion serve`` (the README's walkthrough)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.servers import running_clarion

SCRIPT = Path(__file__).parents[2] / "examples" / "activation-quickstart.sh"
LAST_LINE = "Activation quickstart: every step passed."


@pytest.fixture
def clarion(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A running ``clarion serve`` (embedded mode) without the first-activation delay; its environment."""
    with running_clarion(tmp_path, activation_first_run_delay_seconds="0") as env:
        yield env


async def test_activation_quickstart(clarion: dict[str, str], tmp_path: Path) -> None:
    script = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPT), env=clarion, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(script.communicate(), timeout=120)
    output = out.decode()
    assert script.returncode == 0, output + err.decode()
    assert output.rstrip().endswith(LAST_LINE)
    assert "1,000 created" in output
    # The file the run reports is in the landing zone, with one line per member plus the header.
    (written,) = (tmp_path / "home" / "landing" / "quickstart").iterdir()
    lines = gzip.decompress(written.read_bytes()).decode().splitlines()
    members = int(output.split("SUCCEEDED: ", 1)[1].split(" ", 1)[0])
    assert members > 0
    assert len(lines) == members + 1
    assert (
        lines[0]
        == "identityMap.email,person.name.firstName,homeAddress.city,loyalty.points,segmentMembership.status"
    )
