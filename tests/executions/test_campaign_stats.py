"""Per-campaign statistics count what the worker recorded, by status and per hour."""

from __future__ import annotations

from clarion.runtime import BackgroundServices
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import HT, final, trigger


async def test_stats_count_sent_messages_in_the_current_hour(live: Live, worker: BackgroundServices) -> None:
    execution = await trigger(live, HT, live.body())
    await final(live.api, execution)
    path = f"/v1/campaigns/{live.ht_campaign}/stats?hours=2"
    stats = (await live.api.call("GET", path, expect=200)).json()
    assert (stats["total"], stats["counts"]) == (1, {"sent": 1})
    assert [bucket["counts"] for bucket in stats["hourly"]] == [{}, {"sent": 1}]
    other = (await live.api.call("GET", f"/v1/campaigns/{live.std_campaign}/stats", expect=200)).json()
    assert other["total"] == 0
