"""Every task's typed payload reads the JSON that earlier versions wrote, and writes the same JSON again.

Jobs wait in durable queues across upgrades: a contract whose keys drift would strand them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from clarion.activation.runs.schemas import ExportJobRun, RunJob
from clarion.audiences.schemas import EvaluateJob
from clarion.executions.schemas import TriggerJob

WRITTEN_BEFORE: list[tuple[type[msgspec.Struct], dict[str, Any]]] = [
    (RunJob, {"run_id": "4f6c0e0a-1d7e-5b8e-9a0b-2c3d4e5f6a7b"}),
    (ExportJobRun, {"export_job_id": 17}),
    (EvaluateJob, {"jobId": "job-1", "orgId": "org-1", "sandboxId": "sbx-1"}),
    (TriggerJob, {"org": "org-1", "sandbox": "sbx-1", "execution": "exec-1"}),
]


@pytest.mark.parametrize(
    ("contract", "payload"), WRITTEN_BEFORE, ids=lambda value: getattr(value, "__name__", "")
)
def test_a_payload_written_before_decodes_and_encodes_the_same(
    contract: type[msgspec.Struct], payload: dict[str, Any]
) -> None:
    decoded = msgspec.convert(payload, contract)
    assert msgspec.json.decode(msgspec.json.encode(decoded)) == payload


def test_a_payload_missing_a_key_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="sandboxId"):
        msgspec.convert({"jobId": "job-1", "orgId": "org-1"}, EvaluateJob)
