"""/v1/suppressions over HTTP: batches all or nothing, per-entry errors, cursors with filters, lookup and
removal by address, CSV import with bad rows reported, roles."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import func, select

from clarion.container import Container
from clarion.models.suppressions import Suppression, SuppressionRevision
from clarion.tenancy.principal import Role
from tests.builders import Api, Tenant
from tests.conftest import KeyFactory


async def call(api: Api, method: str, path: str, body: Any = None, *, expect: int) -> Any:
    response = await api.call(method, path, body, expect=expect)
    return response.json()


async def test_a_batch_is_added_and_looked_up_case_insensitively(api: Api) -> None:
    body = {
        "entries": [
            {"address": "Ann@Example.com", "reason": "manual", "detail": "asked by phone"},
            {"address": "ann@example.com", "reason": "manual"},  # the same entry twice: one
            {"address": "bob@example.com", "reason": "unsubscribe"},
        ]
    }
    assert await call(api, "POST", "/v1/suppressions", body, expect=200) == {"added": 2, "existing": 0}
    assert await call(api, "POST", "/v1/suppressions", body, expect=200) == {"added": 0, "existing": 2}
    found = await call(api, "GET", "/v1/suppressions/ANN%40example.com", expect=200)
    assert found["address"] == "ann@example.com"
    [entry] = found["items"]
    assert entry["reason"] == "manual"
    assert entry["category"] == ""
    assert entry["source"] == "api"
    assert entry["detail"] == "asked by phone"
    assert entry["createdAt"].endswith("Z") or "+00:00" in entry["createdAt"]
    [bob] = (await call(api, "GET", "/v1/suppressions/bob@example.com", expect=200))["items"]
    assert bob["category"] == "Marketing"
    missing = await api.call("GET", "/v1/suppressions/nobody@example.com", expect=404)
    assert "not suppressed" in missing.text


async def test_an_invalid_address_refuses_the_whole_batch_naming_the_entry(api: Api) -> None:
    body = {
        "entries": [
            {"address": "fine@example.com"},
            {"address": "not an address"},
            {"address": "x@"},
        ]
    }
    refused = await call(api, "POST", "/v1/suppressions", body, expect=400)
    text = str(refused)
    assert "entries[1].address" in text
    assert "entries[2].address" in text
    await api.call("GET", "/v1/suppressions/fine@example.com", expect=404)  # nothing was added
    too_many = {"entries": [{"address": f"u{i}@example.com"} for i in range(1001)]}
    assert "entries" in str(await call(api, "POST", "/v1/suppressions", too_many, expect=400))
    bad_reason = {"entries": [{"address": "a@example.com", "reason": "bored"}]}
    assert "reason" in str(await call(api, "POST", "/v1/suppressions", bad_reason, expect=400))


async def test_cursor_pages_with_filters_and_next_links(api: Api) -> None:
    entries = [{"address": f"page{i:02}@example.com"} for i in range(25)]
    entries += [{"address": "other@example.org", "reason": "complaint"}]
    await call(api, "POST", "/v1/suppressions", {"entries": entries}, expect=200)
    seen: list[str] = []
    path = "/v1/suppressions?prefix=PAGE&limit=10"
    while path:
        page = await call(api, "GET", path, expect=200)
        assert page["limit"] == 10
        seen += [item["address"] for item in page["items"]]
        path = page["nextHref"]
        assert (page["next"] is None) == (path is None)
    assert seen == [f"page{i:02}@example.com" for i in reversed(range(25))]
    complaints = await call(api, "GET", "/v1/suppressions?reason=complaint", expect=200)
    assert [item["address"] for item in complaints["items"]] == ["other@example.org"]
    assert complaints["next"] is None
    contains = await call(api, "GET", "/v1/suppressions?contains=.ORG", expect=200)
    assert [item["address"] for item in contains["items"]] == ["other@example.org"]
    for bad in ("cursor=garbage", "limit=0", "limit=1001", "reason=nope", "since=2026-01-01T00:00:00"):
        refused = await api.call("GET", f"/v1/suppressions?{bad}", expect=400)
        assert bad.split("=")[0] in refused.text
    window = "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"
    assert "until" in (await api.call("GET", f"/v1/suppressions?{window}", expect=400)).text


async def test_removal_by_reason_and_category_then_all(api: Api) -> None:
    entries = [
        {"address": "cy@example.com", "reason": "manual"},
        {"address": "cy@example.com", "reason": "unsubscribe", "category": "Newsletter"},
        {"address": "cy@example.com", "reason": "unsubscribe"},
    ]
    await call(api, "POST", "/v1/suppressions", {"entries": entries}, expect=200)
    path = "/v1/suppressions/" + quote("CY@example.com")
    removed = await call(api, "DELETE", f"{path}?reason=unsubscribe&category=Newsletter", expect=200)
    assert removed == {"removed": 1}
    assert await call(api, "DELETE", f"{path}?reason=unsubscribe", expect=200) == {"removed": 1}
    left = await call(api, "GET", path, expect=200)
    assert [(item["reason"], item["category"]) for item in left["items"]] == [("manual", "")]
    assert await call(api, "DELETE", path, expect=200) == {"removed": 1}
    await api.call("DELETE", path, expect=404)


async def test_csv_import_reports_bad_rows_by_line_and_adds_the_rest(api: Api) -> None:
    csv = (
        "address,reason,category,detail\n"
        "good1@example.com,,,\n"
        "not-an-address,manual,,\n"
        "\n"
        'good2@example.com,complaint,,"from ARF, by hand"\n'
        "good3@example.com,whatever,,\n"
    )
    summary = await call(api, "POST", "/v1/suppressions/import", {"csv": csv, "reason": "manual"}, expect=200)
    assert summary["rows"] == 4
    assert summary["added"] == 2
    assert summary["failed"] == 2
    assert [error["line"] for error in summary["errors"]] == [3, 6]
    assert "must be an email address" in summary["errors"][0]["reason"]
    assert "must be one of" in summary["errors"][1]["reason"]
    [entry] = (await call(api, "GET", "/v1/suppressions/good2@example.com", expect=200))["items"]
    assert (entry["reason"], entry["detail"], entry["source"]) == ("complaint", "from ARF, by hand", "import")
    bare = await call(api, "POST", "/v1/suppressions/import", {"csv": "plain@example.com\n"}, expect=200)
    assert (bare["rows"], bare["added"]) == (1, 1)


async def test_a_read_only_key_reads_and_cannot_change(
    api: Api, client: httpx.AsyncClient, make_key: KeyFactory
) -> None:
    await call(api, "POST", "/v1/suppressions", {"entries": [{"address": "r@example.com"}]}, expect=200)
    reader: Tenant = await make_key(api.tenant, Role.READ_ONLY)
    headers = reader.headers()
    assert (await client.get("/v1/suppressions", headers=headers)).status_code == 200
    assert (await client.get("/v1/suppressions/r@example.com", headers=headers)).status_code == 200
    body = {"entries": [{"address": "s@example.com"}]}
    assert (await client.post("/v1/suppressions", json=body, headers=headers)).status_code == 403
    assert (await client.delete("/v1/suppressions/r@example.com", headers=headers)).status_code == 403
    user = await make_key(api.tenant, Role.USER)
    response = await client.delete("/v1/suppressions/r@example.com", headers=user.headers())
    assert response.status_code == 200


async def test_lists_are_per_sandbox(api: Api, make_api: Any) -> None:
    await call(api, "POST", "/v1/suppressions", {"entries": [{"address": "mine@example.com"}]}, expect=200)
    other: Api = await make_api()
    await other.call("GET", "/v1/suppressions/mine@example.com", expect=404)
    assert (await call(other, "GET", "/v1/suppressions", expect=200))["items"] == []
    await other.call("DELETE", "/v1/suppressions/mine@example.com", expect=404)


async def test_deleting_a_sandbox_deletes_its_list_and_counters(api: Api, container: Container) -> None:
    await call(api, "POST", "/v1/sandboxes", {"name": "gone", "type": "development"}, expect=201)
    headers = api.tenant.headers("gone")
    body = {"entries": [{"address": "x@example.com"}]}
    added = await api.client.post("/v1/suppressions", json=body, headers=headers)
    assert added.json() == {"added": 1, "existing": 0}
    deleted = await api.client.delete("/v1/sandboxes/gone", headers=api.tenant.headers())
    assert deleted.status_code == 204
    async with container.unit_of_work() as uow:
        for table in (Suppression, SuppressionRevision):
            left = await uow.session.scalar(
                select(func.count()).select_from(table).where(table.org_id == api.tenant.org_id)
            )
            assert left == 0, table
