"""The action-call ledger: runtime writes (insert-ignore, final upsert) and /v1/action-calls reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from clarion.container import Container
from clarion.outbound.ledger import clip_response
from clarion.outbound.repository import insert_queued, upsert_calls
from clarion.outbound.schemas import CallRecord
from tests.actions.conftest import Api, detail, report, sandbox_id
from tests.outbound.conftest import call_row

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def queue(container: Container, rows: Sequence[dict[str, Any]]) -> None:
    async with container.unit_of_work() as uow:
        await insert_queued(uow.session, [CallRecord(**row) for row in rows])
        await uow.commit()


async def finish(container: Container, rows: Sequence[dict[str, Any]]) -> None:
    async with container.unit_of_work() as uow:
        await upsert_calls(uow.session, [CallRecord(**row) for row in rows])
        await uow.commit()


async def test_queued_then_final(api: Api, container: Container) -> None:
    row = call_row(api.tenant.org_id, await sandbox_id(api), accepted_at=T0, request_id="req-1")
    await queue(container, [row])
    queued = (await api.call("GET", f"/v1/action-calls/{row['id']}", expect=200)).json()
    assert queued == {
        "id": row["id"],
        "actionId": "action-1",
        "actionName": "notify_crm",
        "status": "queued",
        "attempts": 0,
        "responseStatus": None,
        "response": "",
        "latencyMs": None,
        "throttleConfigUid": None,
        "requestId": "req-1",
        "acceptedAt": "2026-03-01T12:00:00Z",
        "updatedAt": "2026-03-01T12:00:00Z",
        "sentAt": None,
    }
    sent_at = T0 + timedelta(seconds=2)
    final = row | {
        "status": "sent",
        "attempts": 2,
        "response_status": 200,
        "response": '{"ok": true}',
        "latency_ms": 12.5,
        "throttle_config_uid": "cfg-1",
        "updated_at": sent_at,
        "sent_at": sent_at,
        # Who and when never change on a final write, even if a sender's row disagrees.
        "accepted_at": T0 + timedelta(hours=1),
        "request_id": "other",
    }
    await finish(container, [final])
    sent = (await api.call("GET", f"/v1/action-calls/{row['id']}", expect=200)).json()
    assert (
        sent
        | {
            "status": "sent",
            "attempts": 2,
            "responseStatus": 200,
            "latencyMs": 12.5,
            "throttleConfigUid": "cfg-1",
            "sentAt": "2026-03-01T12:00:02Z",
            "acceptedAt": "2026-03-01T12:00:00Z",
            "requestId": "req-1",
        }
        == sent
    )


async def test_queued_never_overwrites_a_finished_call(api: Api, container: Container) -> None:
    row = call_row(api.tenant.org_id, await sandbox_id(api), accepted_at=T0)
    # The sender was quicker than the intake's "queued" write: the final row lands first.
    await finish(container, [row | {"status": "failed", "attempts": 1, "response": "timeout"}])
    await queue(container, [row])
    stored = (await api.call("GET", f"/v1/action-calls/{row['id']}", expect=200)).json()
    assert (stored["status"], stored["attempts"], stored["response"]) == ("failed", 1, "timeout")


async def test_batches_and_empty_batches(api: Api, container: Container) -> None:
    sandbox = await sandbox_id(api)
    rows = [call_row(api.tenant.org_id, sandbox, accepted_at=T0 + timedelta(seconds=i)) for i in range(5)]
    await queue(container, [])
    await finish(container, [])
    await queue(container, rows)
    await queue(container, rows)  # a retried batch is harmless
    await finish(container, [row | {"status": "expired"} for row in rows[:2]])
    page = (await api.call("GET", "/v1/action-calls", expect=200)).json()
    assert page["total"] == 5
    assert [item["status"] for item in page["items"]] == ["queued"] * 3 + ["expired"] * 2


async def test_list_filters_and_pages(api: Api, container: Container) -> None:
    sandbox = await sandbox_id(api)
    org = api.tenant.org_id
    rows = [
        call_row(org, sandbox, action_id="a", status="sent", accepted_at=T0),
        call_row(org, sandbox, action_id="a", status="failed", accepted_at=T0 + timedelta(minutes=1)),
        call_row(org, sandbox, action_id="b", status="sent", accepted_at=T0 + timedelta(minutes=2)),
        call_row(org, sandbox, action_id="b", status="queued", accepted_at=T0 + timedelta(minutes=3)),
    ]
    await finish(container, rows)
    ids = [row["id"] for row in rows]

    async def listed(query: str) -> list[str]:
        page = (await api.call("GET", f"/v1/action-calls{query}", expect=200)).json()
        return [item["id"] for item in page["items"]]

    assert await listed("") == ids[::-1]
    assert await listed("?actionId=a") == [ids[1], ids[0]]
    assert await listed("?status=sent") == [ids[2], ids[0]]
    assert await listed("?actionId=b&status=sent") == [ids[2]]
    since = quote((T0 + timedelta(minutes=1)).isoformat())
    until = quote((T0 + timedelta(minutes=3)).isoformat())
    assert await listed(f"?since={since}") == [ids[3], ids[2], ids[1]]
    assert await listed(f"?until={until}") == [ids[2], ids[1], ids[0]]
    assert await listed(f"?since={since}&until={until}") == [ids[2], ids[1]]
    assert await listed("?since=2026-03-01T13:01:30%2B01:00") == [ids[3], ids[2]]
    page = (await api.call("GET", "/v1/action-calls?limit=1&offset=1&actionId=a", expect=200)).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [item["id"] for item in page["items"]] == [ids[0]]


async def test_filter_rules(api: Api) -> None:
    response = await api.call("GET", "/v1/action-calls?status=done", expect=400)
    assert report(response)["field"] == "status"
    response = await api.call("GET", "/v1/action-calls?since=2026-03-01T12:00:00", expect=400)
    assert (report(response)["field"], report(response)["rule"]) == ("since", "time_zone")
    response = await api.call("GET", "/v1/action-calls?since=yesterday", expect=400)
    assert report(response)["field"] == "since"
    response = await api.call(
        "GET", "/v1/action-calls?since=2026-03-01T12:00:00Z&until=2026-03-01T12:00:00Z", expect=400
    )
    assert detail(response) == "until: must be after since"
    await api.call("GET", "/v1/action-calls?limit=501", expect=400)


async def test_unknown_call_is_404(api: Api) -> None:
    response = await api.call("GET", "/v1/action-calls/nope", expect=404)
    assert "'nope' does not exist" in detail(response)


async def test_calls_are_scoped_to_organization_and_sandbox(
    api: Api, make_api: Any, container: Container
) -> None:
    other = await make_api()
    await api.call("POST", "/v1/sandboxes", {"name": "dev"}, expect=201)
    mine = call_row(api.tenant.org_id, await sandbox_id(api), accepted_at=T0)
    dev = call_row(api.tenant.org_id, await sandbox_id(api, "dev"), accepted_at=T0)
    theirs = call_row(other.tenant.org_id, await sandbox_id(other), accepted_at=T0)
    await finish(container, [mine, dev, theirs])
    listed = (await api.call("GET", "/v1/action-calls", expect=200)).json()
    assert [item["id"] for item in listed["items"]] == [mine["id"]]
    await api.call("GET", f"/v1/action-calls/{theirs['id']}", expect=404)
    await api.call("GET", f"/v1/action-calls/{dev['id']}", expect=404)
    dev_listed = await api.client.get("/v1/action-calls", headers=api.tenant.headers("dev"))
    assert [item["id"] for item in dev_listed.json()["items"]] == [dev["id"]]
    await other.call("GET", f"/v1/action-calls/{mine['id']}", expect=404)
    assert (await other.call("GET", "/v1/action-calls", expect=200)).json()["total"] == 1


def test_clip_response() -> None:
    assert clip_response("x" * 501) == "x" * 500
    assert clip_response("short") == "short"
