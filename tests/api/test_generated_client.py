"""A client generated from the served document by openapi-python-client drives a real server.

The generator runs as a subprocess into ``tmp_path`` (nothing cached elsewhere); the generated package is
imported from there and used as a customer would: pool → configuration → campaign → activate → execution,
with typed results, and a 400 parsed as the documented error model.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from clarion.config import Settings
from tests.api.live import live_server, new_tenant

PACKAGE = "clarion_generated_client"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Path]:
    """Where the generated package goes; its modules leave ``sys.modules`` afterwards."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def generate(document: dict[str, Any], folder: Path) -> None:
    """Run openapi-python-client on ``document``; the package lands in ``folder / PACKAGE``."""
    (folder / "openapi.json").write_text(json.dumps(document))
    # No post hooks: formatting the generated code is not what this test is about, and it costs time.
    # The open pixel is an image/gif, which the generator reads as bytes only when told so.
    config = {"post_hooks": [], "content_type_overrides": {"image/gif": "application/octet-stream"}}
    (folder / "generator.json").write_text(json.dumps(config))
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--config",
            str(folder / "generator.json"),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=folder,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Any warning means an operation or a model was left out of the client.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr


def module(name: str) -> ModuleType:
    """A module of the generated package."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_generated_client_creates_a_pool_a_configuration_a_campaign_and_an_execution(
    settings: Settings, generated: Path
) -> None:
    tenant = new_tenant(settings, high_throughput=True)
    with live_server(settings) as base_url:
        generate(httpx.get(f"{base_url}/openapi.json").json(), generated)
        client_module, models = module("client"), module("models")
        headers = {name: value for name, value in tenant.headers().items() if name != "Authorization"}
        client = client_module.AuthenticatedClient(base_url=base_url, token=tenant.token, headers=headers)
        with client:
            pool = module("api.campaigns.create_ip_pool").sync_detailed(
                client=client,
                body=models.IpPoolWrite.from_dict(
                    {"name": "generated", "relays": [{"host": "127.0.0.1", "port": 2525}]}
                ),
            )
            assert pool.status_code == 201, pool.content
            assert isinstance(pool.parsed, models.IpPoolRead)
            assert pool.parsed.name == "generated"
            assert pool.parsed.relays[0].port == 2525

            configuration = module("api.campaigns.create_channel_configuration").sync(
                client=client,
                body=models.ChannelConfigurationWrite.from_dict(
                    {
                        "name": "generated-mail",
                        "channel": "email",
                        "highThroughput": True,
                        "email": {"fromAddress": "news@shop.example", "ipPoolId": pool.parsed.id},
                    }
                ),
            )
            assert isinstance(configuration, models.ChannelConfigurationRead), configuration
            assert configuration.email["ipPoolId"] == pool.parsed.id

            campaign = module("api.campaigns.create_campaign").sync(
                client=client,
                body=models.CampaignWrite.from_dict(
                    {
                        "name": "Generated receipts",
                        "channel": "email",
                        "channelConfigurationId": configuration.id,
                        "highThroughputMode": True,
                        "content": {"email": {"subject": "Order {{context.id}}", "html": "<p>Thanks</p>"}},
                    }
                ),
            )
            assert isinstance(campaign, models.CampaignRead), campaign
            assert campaign.status == "Draft"
            live = module("api.campaigns.activate_campaign").sync(client=client, campaign_id=campaign.id)
            assert isinstance(live, models.CampaignRead), live
            assert live.status == "Live"

            execution = module("api.executions.post_im_unitary_ha_message_execution").sync_detailed(
                client=client,
                body=models.ExecutionRequest.from_dict(
                    {
                        "requestId": "generated-1",
                        "campaignId": campaign.id,
                        "recipients": [
                            {
                                "type": "external",
                                "userId": "ada@example.com",
                                "namespace": "email",
                                "context": {"id": "A-1"},
                            }
                        ],
                    }
                ),
            )
            assert execution.status_code == 202, execution.content
            assert isinstance(execution.parsed, models.ExecutionResponse)
            assert execution.parsed.request_id == "generated-1"
            assert execution.parsed.execution_id

            refused = module("api.campaigns.create_ip_pool").sync_detailed(
                client=client, body=models.IpPoolWrite.from_dict({"name": "no-relays", "relays": []})
            )
            assert refused.status_code == 400, refused.content
            assert isinstance(refused.parsed, models.AepError), refused.parsed
            assert refused.parsed.status == 400
            assert "relays" in refused.parsed.report.detailed_message
            assert refused.parsed.report.request_id == refused.headers["x-request-id"]
