"""Previews and estimates of unsaved expressions (``/preview``, ``/estimate``) and ``pql:validate``."""

from __future__ import annotations

from typing import Any

import httpx

from tests.audiences.conftest import Ups, UpsFactory, detail

VALIDATE = "/v1/audiences/pql:validate"


async def preview(ups: Ups, expression: str, **fields: Any) -> str:
    """Create a preview job of a pql/text expression; return its id."""
    response = await ups.call("POST", "/preview", {"predicateExpression": expression, **fields}, expect=201)
    body = response.json()
    assert body["state"] == body["previewQueryStatus"] == "RESULT_READY"
    assert response.headers["X-Location"] == f"/data/core/ups/preview/{body['previewId']}"
    return str(body["previewId"])


async def validate(ups: Ups, value: Any, format_: str = "pql/text") -> httpx.Response:
    """Call ``pql:validate`` as the tenant."""
    body = {"expression": {"type": "PQL", "format": format_, "value": value}}
    return await ups.client.post(VALIDATE, json=body, headers=ups.tenant.headers(ups.sandbox))


async def test_estimate_is_the_exact_count_of_matching_profiles(ups: Ups) -> None:
    await ups.add_profiles(
        ({"person": {"age": 40}}, {"email": ["a@example.com"], "crm": ["1"]}),
        ({"person": {"age": 50}}, {"email": ["b@example.com"]}),
        ({"person": {"age": 20}}, {"email": ["c@example.com"]}),
    )
    preview_id = await preview(ups, "person.age >= 30")
    estimate = (await ups.call("GET", f"/estimate/{preview_id}", expect=200)).json()
    assert estimate["estimatedSize"] == estimate["profilesMatchedSoFar"] == 2
    assert estimate["totalRows"] == estimate["numRowsToRead"] == 3
    assert estimate["confidenceInterval"] == "100%"
    assert estimate["state"] == "RESULT_READY"
    assert estimate["estimatedNamespaceDistribution"] == [
        {"namespaceId": "crm", "profilesMatchedSoFar": 1},
        {"namespaceId": "email", "profilesMatchedSoFar": 2},
    ]
    assert estimate["_links"] == {"preview": f"/data/core/ups/preview/{preview_id}"}


async def test_preview_pages_through_matching_profiles(ups: Ups) -> None:
    ids = []
    for email, tier in (("a@example.com", "gold"), ("b/x@example.com", "gold"), ("c@example.com", "silver")):
        written = await ups.client.put(
            f"/v1/profiles/email/{email}", json={"attributes": {"tier": tier}}, headers=ups.tenant.headers()
        )
        assert written.status_code == 201, written.text
        ids.append(written.json()["id"])
    preview_id = await preview(ups, 'tier = "gold"')
    first = (await ups.call("GET", f"/preview/{preview_id}?limit=1", expect=200)).json()
    assert [result["objectId"] for result in first["results"]] == [ids[0]]
    assert first["results"][0]["relatedObjects"] == [
        {"objectId": "email:a@example.com", "_href": "/v1/profiles/email/a%40example.com"}
    ]
    assert first["page"] == {"offset": 0, "size": 1, "limit": 1}
    assert first["link"] == f"/data/core/ups/preview/{preview_id}?offset=1&limit=1"
    rest = (await ups.call("GET", f"/preview/{preview_id}?offset=1&limit=5", expect=200)).json()
    assert [result["objectId"] for result in rest["results"]] == [ids[1]]
    assert rest["link"] == ""
    profile = await ups.client.get(rest["results"][0]["_href"], headers=ups.tenant.headers())
    assert profile.status_code == 200, profile.text
    assert profile.json()["id"] == ids[1]


async def test_invalid_expression_is_400_naming_line_column_and_token(ups: Ups) -> None:
    response = await ups.call("POST", "/preview", {"predicateExpression": 'a = "x"\nadn b = 1'}, expect=400)
    report = response.json()["report"]
    assert (report["position"], report["line"], report["column"], report["token"]) == (8, 2, 1, "adn")
    assert "line 2, column 1" in detail(response)


async def test_bad_fields_are_400_naming_them(ups: Ups) -> None:
    bad_model = {"predicateExpression": "a = 1", "predicateModel": "_xdm.context.experienceevent"}
    response = await ups.call("POST", "/preview", bad_model, expect=400)
    assert "predicateModel" in detail(response)
    response = await ups.call(
        "POST", "/preview", {"predicateExpression": "a = 1", "predicateType": "sql"}, expect=400
    )
    assert "predicateType" in detail(response)
    response = await ups.call("POST", "/preview", {"predicateExpression": ""}, expect=400)
    assert "predicateExpression" in detail(response)
    await ups.call("GET", "/estimate/no-such-preview", expect=404)


async def test_previews_of_another_organization_are_404(ups: Ups, make_ups: UpsFactory) -> None:
    preview_id = await preview(ups, "a = 1")
    other = await make_ups()
    await other.call("GET", f"/preview/{preview_id}", expect=404)
    await other.call("GET", f"/estimate/{preview_id}", expect=404)
    await other.call("DELETE", f"/preview/{preview_id}", expect=404)
    await ups.call("GET", f"/estimate/{preview_id}", expect=200)


async def test_delete_removes_the_preview(ups: Ups) -> None:
    preview_id = await preview(ups, "a = 1")
    await ups.call("DELETE", f"/preview/{preview_id}", expect=200)
    await ups.call("GET", f"/preview/{preview_id}", expect=404)
    await ups.call("DELETE", f"/preview/{preview_id}", expect=404)


async def test_validate_names_the_paths_of_a_valid_expression(ups: Ups) -> None:
    response = await validate(ups, 'person.age > 30 and homeAddress.countryCode = "US"')
    assert response.status_code == 200, response.text
    assert response.json() == {
        "valid": True,
        "problem": None,
        "paths": ["person.age", "homeAddress.countryCode"],
    }


async def test_validate_places_the_first_problem(ups: Ups) -> None:
    response = await validate(ups, 'person.age > 30\n  and "a" + 1 = 2')
    assert response.status_code == 200, response.text
    problem = response.json()["problem"]
    assert response.json()["valid"] is False
    assert problem["kind"] == "Type error on"
    assert (problem["line"], problem["column"]) == (2, problem["position"] - 15)
    assert problem["token"] in problem["message"]
    end = (await validate(ups, "a = ")).json()["problem"]
    assert (end["position"], end["line"], end["column"], end["token"]) == (4, 1, 5, "")
    assert "Unexpected end of input" in end["message"]
    broken = (await validate(ups, '{"nodeType": ', "pql/json")).json()["problem"]
    assert (broken["kind"], broken["position"]) == ("Invalid JSON", 13)


async def test_validate_refuses_a_malformed_body_naming_the_field(ups: Ups) -> None:
    response = await ups.client.post(
        VALIDATE,
        json={"expression": {"type": "PQL", "format": "pql/yaml", "value": "a"}},
        headers=ups.tenant.headers(),
    )
    assert response.status_code == 400
    assert "expression.format" in detail(response)
