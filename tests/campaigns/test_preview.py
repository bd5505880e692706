"""Live preview: draft and saved content rendered as delivery renders it; refusals with line and column."""

from __future__ import annotations

from typing import Any

from tests.campaigns.conftest import Api, ApiFactory

PREVIEW = "/v1/campaigns/preview"


def draft(*, high_throughput: bool = False, **email: str) -> dict[str, Any]:
    content = {"subject": "Order {{context.order.id}}", "html": "<p>Hi {{context.name}}</p>", **email}
    return {"channel": "email", "highThroughputMode": high_throughput, "content": {"email": content}}


async def test_draft_email_renders_subject_html_and_derived_text(api: Api) -> None:
    body = {**draft(), "context": {"order": {"id": "A-7"}, "name": "Ada <3"}}
    answer = (await api.call("POST", PREVIEW, body, expect=200)).json()
    assert answer["subject"] == "Order A-7"
    assert answer["html"] == "<p>Hi Ada &lt;3</p>", "HTML is escaped as delivery escapes it"
    assert answer["text"] == "Hi Ada <3", "the text alternative is derived from the HTML as at send"


async def test_sms_and_push_render_their_fields(api: Api) -> None:
    sms = {"channel": "sms", "content": {"sms": {"body": "Code {{context.code}}"}}, "context": {"code": 42}}
    assert (await api.call("POST", PREVIEW, sms, expect=200)).json()["body"] == "Code 42"
    push = {
        "channel": "push",
        "content": {"push": {"title": "T {{context.a}}", "body": "B", "data": {"k": "{{context.a}}"}}},
        "context": {"a": "x"},
    }
    answer = (await api.call("POST", PREVIEW, push, expect=200)).json()
    assert (answer["title"], answer["body"], answer["data"]) == ("T x", "B", {"k": "x"})


async def test_syntax_error_names_field_line_and_column(api: Api) -> None:
    body = draft(html="<p>ok</p>\n<ul>{{#each context.items}}<li>{{this}}</li>\n</ul>")
    response = await api.call("POST", PREVIEW, body, expect=400)
    report = response.json()["report"]
    assert report["field"] == "content.email.html"
    assert (report["line"], report["column"]) == (2, 5)


async def test_high_throughput_profile_rule_names_line_and_column(api: Api) -> None:
    body = draft(high_throughput=True, subject="Hi\n  {{profile.person.name.firstName}}")
    report = (await api.call("POST", PREVIEW, body, expect=400)).json()["report"]
    assert report["field"] == "content.email.subject"
    assert (report["line"], report["column"], report["rule"]) == (2, 5, "no_profile_in_ht")


async def test_standard_preview_reads_a_profile_by_identity(api: Api) -> None:
    attributes = {"person": {"name": {"firstName": "Grace"}}}
    await api.call("PUT", "/v1/profiles/email/grace@example.org", {"attributes": attributes}, expect=201)
    body = {
        **draft(subject="Hi {{profile.person.name.firstName}}"),
        "profile": {"namespace": "email", "id": "Grace@example.org"},
    }
    assert (await api.call("POST", PREVIEW, body, expect=200)).json()["subject"] == "Hi Grace"
    body["profile"] = {"namespace": "email", "id": "nobody@example.org"}
    report = (await api.call("POST", PREVIEW, body, expect=400)).json()["report"]
    assert report["field"] == "profile.id"


async def test_high_throughput_preview_refuses_a_profile(api: Api) -> None:
    body = {**draft(high_throughput=True), "profile": {"namespace": "email", "id": "a@example.org"}}
    report = (await api.call("POST", PREVIEW, body, expect=400)).json()["report"]
    assert report["field"] == "profile"


async def test_bad_input_names_the_field(api: Api) -> None:
    response = await api.call("POST", PREVIEW, {"channel": "email", "content": {}}, expect=400)
    assert "content.email" in response.text
    response = await api.call("POST", PREVIEW, {**draft(), "context": [1]}, expect=400)
    assert "context" in response.text


async def test_saved_campaign_preview_and_cross_organization(api: Api, make_api: ApiFactory) -> None:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"])
    campaign = await api.campaign(configuration["id"])
    path = f"/v1/campaigns/{campaign['id']}/preview"
    answer = (await api.call("POST", path, {"context": {"order": {"id": 9}}}, expect=200)).json()
    assert answer["subject"] == "Order 9"
    other = await make_api()
    await other.call("POST", path, {"context": {}}, expect=404)
    await other.call("GET", f"/v1/campaigns/{campaign['id']}/stats", expect=404)


async def test_stats_of_a_campaign_without_messages(api: Api) -> None:
    pool = await api.pool()
    campaign = await api.campaign((await api.configuration(pool["id"]))["id"])
    stats = (await api.call("GET", f"/v1/campaigns/{campaign['id']}/stats?hours=3", expect=200)).json()
    assert (stats["total"], stats["counts"]) == (0, {})
    assert [bucket["counts"] for bucket in stats["hourly"]] == [{}, {}, {}]
    response = await api.call("GET", f"/v1/campaigns/{campaign['id']}/stats?hours=0", expect=400)
    assert "hours" in response.text


async def test_refusals_name_their_field(api: Api) -> None:
    pool = await api.pool()
    await api.configuration(pool["id"], name="std")
    body = {
        "name": "ht",
        "channel": "email",
        "highThroughput": True,
        "email": {"fromAddress": "a@shop.example", "ipPoolId": pool["id"]},
    }
    report = (await api.call("POST", "/v1/channel-configurations", body, expect=400)).json()["report"]
    assert report["field"] == "email.ipPoolId", "the exclusivity rule names the pool field"
    again = (await api.call("POST", "/v1/ip-pools", {"name": "pool1", "relays": [{"host": "h"}]})).json()
    assert again["report"]["field"] == "name"
