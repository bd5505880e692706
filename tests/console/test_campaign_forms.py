"""The campaign area's form → API body translations and the curl command (no browser needed)."""

from __future__ import annotations

import json
import shlex

from clarion.console.api import ApiProblem
from clarion.console.pages.campaigns import Sample, campaign_body, curl_command, kept_fields
from clarion.console.pages.channel_configurations import configuration_body
from clarion.console.pages.ip_pools import pool_body, pool_echo
from clarion.console.sessions import Credentials


def test_pool_body_skips_empty_relays_and_keeps_an_empty_password_out() -> None:
    form = {
        "name": "p1",
        "relay-0-host": "smtp.example",
        "relay-0-port": "587",
        "relay-0-tls": "starttls",
        "relay-0-username": "u",
        "relay-0-password": "",
        "relay-1-host": " ",
        "bindAddresses": "10.0.0.1, 10.0.0.2",
        "maxConnections": "x8",
    }
    body = pool_body(form)
    assert body["relays"] == [{"host": "smtp.example", "port": 587, "tls": "starttls", "username": "u"}]
    assert body["bindAddresses"] == ["10.0.0.1", "10.0.0.2"]
    assert body["maxConnections"] == "x8", "not a number: sent as typed, so the API names the field"
    echoed = pool_echo({**form, "relay-0-password": "secret"})
    assert "secret" not in json.dumps(echoed)
    assert echoed["relays"][0]["hasPassword"] is True


def test_configuration_body_sends_only_the_chosen_channel_and_no_empty_secret() -> None:
    form = {
        "name": "sms1",
        "channel": "sms",
        "email.fromAddress": "a@b.example",
        "sms.baseUrl": "https://sms.example",
        "sms.accountSid": "AC1",
        "sms.authToken": "",
        "sms.fromNumber": "+100",
    }
    body = configuration_body(form)
    assert "email" not in body
    assert body["sms"] == {"baseUrl": "https://sms.example", "accountSid": "AC1", "fromNumber": "+100"}
    assert body["highThroughput"] is False
    typed = configuration_body({**form, "sms.authToken": "tok"}, echo=True)
    assert "authToken" not in typed["sms"], "a typed secret is never echoed back into the form"


def test_campaign_body_keeps_the_channel_content_only() -> None:
    form = {
        "name": "c",
        "channel": "email",
        "highThroughputMode": "true",
        "email.subject": "S",
        "email.html": "<p>x</p>",
        "email.text": "",
        "sms.body": "ignored",
    }
    body = campaign_body(form)
    assert body["content"] == {"email": {"subject": "S", "html": "<p>x</p>"}}
    assert body["highThroughputMode"] is True


def test_sample_context_errors_name_line_and_column() -> None:
    problem = Sample('{\n  "a": 1,\n}', "", "").context()
    assert isinstance(problem, ApiProblem)
    assert (problem.field, problem.line, problem.column) == ("sample.context", 3, 1)
    assert isinstance(Sample("[1]", "", "").context(), ApiProblem)
    assert Sample('{"a": 1}', "email", "").profile() is None


def test_curl_command_quotes_the_context_and_never_holds_the_token() -> None:
    credentials = Credentials("ORG@AdobeOrg", "key-1", "the-real-token", "prod")
    campaign = {"highThroughputMode": True, "identityNamespace": "email"}
    command = curl_command("http://h:1", credentials, "c-1", campaign, {"note": "it's <fine>"})
    assert "the-real-token" not in command
    words = shlex.split(command.replace("\\\n", " "))
    assert words[3] == "http://h:1/ajo/im/executions/highthroughput"
    assert "Authorization: Bearer $CLARION_TOKEN" in words
    body = json.loads(words[words.index("-d") + 1])
    assert body["recipients"][0]["context"] == {"note": "it's <fine>"}
    assert body["recipients"][0]["type"] == "external"


def test_fields_the_editor_does_not_show_are_carried_over() -> None:
    stored = {
        "name": "old",
        "enableWebhooks": True,
        "webhookUrl": "https://hooks.example/x",
        "throttleRatePerSec": None,
        "customActionId": "a-1",
        "schedule": {"startDate": None, "endDate": "2027-01-01T00:00:00Z"},
    }
    assert kept_fields(stored) == {
        "enableWebhooks": True,
        "webhookUrl": "https://hooks.example/x",
        "customActionId": "a-1",
        "schedule": {"endDate": "2027-01-01T00:00:00Z"},
    }
