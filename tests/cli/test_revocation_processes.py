"""Revocation across real processes: `clarion serve --workers 2`, each caching verified tokens for 30 s."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.test_serve import CLARION, serve_environment, wait_until_ready

DEADLINE_SECONDS = 1.0


def test_a_revoked_key_is_refused_by_every_api_process_within_a_second(tmp_path: Path) -> None:
    env = serve_environment(tmp_path) | {"CLARION_AUTH_CACHE_SECONDS": "30"}
    base_url = f"http://127.0.0.1:{env['CLARION_PORT']}"
    process = subprocess.Popen(
        [CLARION, "serve", "--workers", "2", "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(base_url, process)
        credentials = json.loads((Path(env["CLARION_HOME"]) / "credentials.json").read_text())
        admin = {
            "Authorization": f"Bearer {credentials['accessToken']}",
            "x-api-key": credentials["apiKey"],
            "x-gw-ims-org-id": credentials["orgId"],
        }
        created = httpx.post(f"{base_url}/v1/credentials", json={"role": "user"}, headers=admin)
        assert created.status_code == 201, created.text
        key = created.json()
        victim = admin | {"Authorization": f"Bearer {key['accessToken']}", "x-api-key": key["clientId"]}
        # A new connection per request, so that both processes verify and cache the token.
        for _ in range(20):
            assert httpx.get(f"{base_url}/v1/organization", headers=victim).status_code == 200

        revoked = httpx.delete(f"{base_url}/v1/credentials/{key['clientId']}", headers=admin)
        assert revoked.status_code == 204, revoked.text
        revoked_at = time.monotonic()
        answers: list[tuple[float, int]] = []
        while time.monotonic() - revoked_at < DEADLINE_SECONDS + 0.5:
            status = httpx.get(f"{base_url}/v1/organization", headers=victim).status_code
            answers.append((time.monotonic() - revoked_at, status))
        late = [status for elapsed, status in answers if elapsed > DEADLINE_SECONDS]
        assert late, "no request was made after the deadline"
        assert set(late) == {401}, answers
        assert all(status in (200, 401) for _, status in answers)
        # The admin key is untouched.
        assert httpx.get(f"{base_url}/v1/organization", headers=admin).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
