"""End to end with DKIM: a configuration saved with two keys through the API signs what the worker sends
(BundleCache unseals the keys), and the mail the SMTP server received verifies with dkimpy."""

from __future__ import annotations

from clarion.kit import dkim
from clarion.runtime import BackgroundServices
from tests.campaigns.conftest import ApiFactory
from tests.delivery.dkimcheck import record_of, verify
from tests.delivery.servers import SmtpServer
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import HT, final, trigger


async def test_mail_sent_by_the_worker_is_signed_with_the_configured_keys(
    make_api: ApiFactory, smtp_server: SmtpServer, worker: BackgroundServices
) -> None:
    api = await make_api()
    ed, rsa = dkim.generate("ed25519-sha256"), dkim.generate("rsa-sha256", 2048)
    pool = await api.pool("signpool", port=smtp_server.port)
    configuration = await api.configuration(
        pool["id"],
        name="signed",
        high_throughput=True,
        dkim=[
            {
                "domain": "shop.example",
                "selector": "ed",
                "algorithm": "ed25519-sha256",
                "privateKey": dkim.private_pem(ed),
            },
            {
                "domain": "shop.example",
                "selector": "rsa",
                "algorithm": "rsa-sha256",
                "privateKey": dkim.private_pem(rsa),
            },
        ],
    )
    campaign = await api.campaign(configuration["id"], high_throughput=True)
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    live = Live(api, campaign["id"], campaign["id"], smtp_server)
    recipients = [
        {
            "type": "external",
            "userId": f"u{i}@example.com",
            "namespace": "email",
            "context": {"order": {"id": f"Ü-{i}"}, "name": "Zoë"},
        }
        for i in range(2)
    ]
    execution = await trigger(live, HT, live.body(recipients=recipients))
    rows = await final(api, execution, count=2)
    assert {row["status"] for row in rows} == {"sent"}
    await smtp_server.wait_for_messages(2)
    records = dict((record_of("ed", "shop.example", ed), record_of("rsa", "shop.example", rsa)))
    for mail in smtp_server.messages:
        assert verify(mail.data, records) == [True, True]
    # The ledger counts what went on the wire, signatures included.
    assert sorted(row["renderedSize"] for row in rows) == sorted(
        len(mail.data) for mail in smtp_server.messages
    )
