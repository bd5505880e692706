"""``kit/pagination``: an offset past MAX_OFFSET is a 400 naming it, the largest one an empty page."""

from __future__ import annotations

import httpx

from clarion.kit.params import MAX_OFFSET
from tests.builders import Tenant


async def test_an_offset_past_the_bound_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    too_far = await client.get(f"/v1/ip-pools?offset={MAX_OFFSET + 1}", headers=tenant.headers())
    assert too_far.status_code == 400, too_far.text
    assert too_far.json()["report"]["field"] == "offset"
    last = await client.get(f"/v1/ip-pools?offset={MAX_OFFSET}", headers=tenant.headers())
    assert last.status_code == 200, last.text
    assert last.json()["items"] == []
