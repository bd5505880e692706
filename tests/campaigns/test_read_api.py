"""The AJO campaign read API serves the same campaigns in Adobe's Campaign Model."""

from __future__ import annotations

import re

from tests.campaigns.conftest import Api

BASE = "/journey/campaigns/service/campaigns"
MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def make_campaigns(api: Api) -> list[dict[str, object]]:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"])
    created = [
        await api.campaign(configuration["id"], name=name) for name in ("Bravo", "alpha receipt", "Charlie")
    ]
    await api.call("POST", f"/v1/campaigns/{created[0]['id']}/activate", expect=200)
    return created


async def test_campaign_model(api: Api) -> None:
    created = await make_campaigns(api)
    model = (await api.call("GET", f"{BASE}/{created[0]['id']}", expect=200)).json()
    assert model["campaignId"] == created[0]["id"]
    assert model["status"] == "Live"
    assert model["campaignType"] == "ApiTriggered"
    assert model["category"] == "Transactional"
    assert model["highThroughputMode"] is False
    assert MICROS.match(model["createdAt"])
    assert MICROS.match(model["publishedAt"])
    assert model["schedule"] == {
        "startDate": None,
        "startDateEnabled": False,
        "endDate": None,
        "endDateEnabled": False,
    }
    assert model["packages"][0]["surfaces"][0]["surfaceId"] == created[0]["channelConfigurationId"]


async def test_list_orders_filters_and_pages(api: Api) -> None:
    await make_campaigns(api)
    listed = (await api.call("GET", f"{BASE}?count=2&orderby=name", expect=200)).json()
    assert [item["name"] for item in listed["data"]] == ["Bravo", "Charlie"]
    assert listed["_page"]["totalCount"] == 3
    assert listed["_page"]["totalPages"] == 2
    assert "page=1" in listed["_links"]["next"]["href"]
    second = (await api.call("GET", f"{BASE}?count=2&page=1&orderby=name", expect=200)).json()
    assert [item["name"] for item in second["data"]] == ["alpha receipt"]
    live = (await api.call("GET", f"{BASE}?property=status==Live", expect=200)).json()
    assert [item["name"] for item in live["data"]] == ["Bravo"]
    like = (await api.call("GET", f'{BASE}?property=name=like="receipt"', expect=200)).json()
    assert [item["name"] for item in like["data"]] == ["alpha receipt"]
    descending = (await api.call("GET", f"{BASE}?orderby=-name", expect=200)).json()
    assert descending["data"][0]["name"] == "alpha receipt"


async def test_bad_filter_and_unknown_campaign(api: Api) -> None:
    response = await api.call("GET", f"{BASE}?property=colour==red")
    assert response.status_code == 400
    assert "unknown field 'colour'" in response.json()["report"]["detailed-message"]
    await api.call("GET", f"{BASE}/nope", expect=404)
