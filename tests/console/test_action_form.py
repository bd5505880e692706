"""The custom-action form → API body (no browser): what the API must judge goes to it unchanged."""

from __future__ import annotations

from clarion.console.pages.actions import action_body
from clarion.console.pages.capping import capping_body


def test_action_form_becomes_the_api_body() -> None:
    body = action_body(
        {
            "name": " crm ",
            "url": "https://crm.example.org/hook",
            "method": "PUT",
            "headers": "X-Team: growth\n\nX-Env:  prod ",
            "queryParameters": '[{"name": "id", "fromContext": "userId"}]',
            "authType": "apiKey",
            "headerName": "X-Key",
            "secret": "k-1",
            "body": "",
            "timeoutSeconds": "12",
        }
    )
    assert body == {
        "name": "crm",
        "description": "",
        "url": "https://crm.example.org/hook",
        "method": "PUT",
        "headers": {"X-Team": "growth", "X-Env": "prod"},
        "queryParameters": [{"name": "id", "fromContext": "userId"}],
        "authentication": {"type": "apiKey", "headerName": "X-Key", "apiKey": "k-1"},
        "body": None,
        "timeoutSeconds": 12.0,
    }


def test_an_empty_secret_is_left_out_so_the_stored_one_is_kept() -> None:
    body = action_body({"authType": "basic", "username": "ada", "secret": ""})
    assert body["authentication"] == {"type": "basic", "username": "ada"}


def test_text_the_api_must_judge_is_sent_as_is() -> None:
    body = action_body({"queryParameters": "[not json", "timeoutSeconds": "soon"})
    assert (body["queryParameters"], body["timeoutSeconds"]) == ("[not json", "soon")


def test_capping_form_becomes_one_service() -> None:
    body = capping_body(
        {
            "url": "https://a.example.org/*",
            "method-POST": "1",
            "service": "dataSource",
            "maxCallsCount": "5",
            "periodInMs": "1000",
            "maxHttpConnections": "",
        }
    )
    assert body == {
        "url": "https://a.example.org/*",
        "methods": ["POST"],
        "services": {"dataSource": {"rating": {"maxCallsCount": 5, "periodInMs": 1000}}},
    }
