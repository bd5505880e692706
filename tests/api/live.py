"""A real uvicorn server on 127.0.0.1 running the app in a thread, and a tenant made outside of it.

For tests whose client is not in this process's event loop: a schemathesis run, a generated client.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from clarion.app import create_app
from clarion.config import Settings
from clarion.container import Container
from clarion.tenancy import service
from tests.builders import Tenant


@contextmanager
def live_server(settings: Settings, deadline: float = 30.0) -> Iterator[str]:
    """Serve the app (lifespan on, no background worker) on a free port; yield its base URL."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-uvicorn", daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() - started < deadline, "uvicorn did not start in time"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def new_tenant(settings: Settings, *, high_throughput: bool = True) -> Tenant:
    """An organization with a credential, written through the real services (in a loop of its own)."""

    async def make() -> Tenant:
        container = Container.build(settings)
        try:
            async with container.unit_of_work() as uow:
                org = await service.create_organization(
                    uow, f"org-{secrets.token_hex(4)}", high_throughput=high_throughput
                )
                credential = await service.create_credential(uow, org, name="tests", ttl_seconds=3600)
        finally:
            await container.close()
        return Tenant(org.id, org.ims_org_id, credential.client_id, credential.token.access_token)

    return asyncio.run(make())
