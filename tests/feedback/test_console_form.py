"""The console's channel configuration form carries the bounce domain (VERP) to the API."""

from __future__ import annotations

from clarion.console.pages.channel_configurations import configuration_body

FORM = {"name": "mail", "channel": "email", "email.fromAddress": "news@shop.example", "email.ipPoolId": "p1"}


def test_a_bounce_domain_is_sent_when_given_and_left_out_when_empty() -> None:
    given = configuration_body({**FORM, "email.bounceDomain": " bounces.shop.example "})
    assert given["email"]["bounceDomain"] == "bounces.shop.example"
    assert "bounceDomain" not in configuration_body({**FORM, "email.bounceDomain": ""})["email"]
