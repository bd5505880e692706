"""A redelivered delivery job (crashed worker, expired lease) sends nothing that the ledger already holds."""

from __future__ import annotations

from dataclasses import replace

from clarion.container import Container
from clarion.delivery.service import QUEUE
from clarion.services import Services
from clarion.tasks import Tasks
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import final

HT = "/ajo/im/executions/highthroughput"


async def test_redelivered_job_is_a_no_op(live: Live, container: Container, services: Services) -> None:
    response = await live.api.client.post(HT, json=live.body(), headers=live.api.tenant.headers())
    assert response.status_code == 202
    execution = response.json()["executionId"]
    jobs = await container.queue.reserve(QUEUE, limit=10, lease_seconds=30)
    assert [job.id for job in jobs] == [execution]
    tasks = Tasks(services)
    try:
        await tasks.delivery.send(jobs[0])
        await live.smtp.wait_for_messages(1)
        # The worker died before acking: the same job comes back as attempt 2.
        await tasks.delivery.send(replace(jobs[0], attempts=2))
        rows = await final(live.api, execution)
    finally:
        await tasks.close()
    assert len(live.smtp.messages) == 1
    assert rows[0]["status"] == "sent"
    assert rows[0]["attempts"] == 1
