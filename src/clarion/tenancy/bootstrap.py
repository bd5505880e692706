"""The development organization created on the first embedded start, and ``credentials.json``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from clarion.config import Settings
from clarion.container import Container
from clarion.tenancy import errors, service
from clarion.tenancy.principal import Role

DEV_ORG_NAME = "Development"


@dataclass(frozen=True, slots=True)
class DevCredentials:
    """What ``credentials.json`` holds: everything a client needs to call this instance."""

    orgId: str
    sandboxName: str
    apiKey: str
    accessToken: str
    baseUrl: str

    def headers(self) -> dict[str, str]:
        """The four gateway headers."""
        return {
            "Authorization": f"Bearer {self.accessToken}",
            "x-api-key": self.apiKey,
            "x-gw-ims-org-id": self.orgId,
            "x-sandbox-name": self.sandboxName,
        }


async def ensure_dev_credentials(container: Container) -> DevCredentials:
    """Create the development organization once; on every start issue a fresh token and rewrite the file."""
    settings = container.settings
    previous = read_dev_credentials(settings)
    async with container.unit_of_work() as uow:
        try:
            org = await service.find_organization(uow, previous.orgId if previous else DEV_ORG_NAME)
            try:
                issued = await service.issue_token(
                    uow,
                    org,
                    client_id=previous.apiKey if previous else None,
                    ttl_seconds=settings.token_ttl_seconds,
                )
            except errors.CredentialNotFound:
                # The key of the file was revoked: the development organization gets a new admin key.
                issued = await service.create_credential(
                    uow, org, name="development", role=Role.ADMIN, ttl_seconds=settings.token_ttl_seconds
                )
        except errors.OrganizationNotFound:
            org = await service.create_organization(uow, DEV_ORG_NAME, high_throughput=True)
            issued = await service.create_credential(
                uow, org, name="development", ttl_seconds=settings.token_ttl_seconds
            )
    credentials = DevCredentials(
        orgId=org.ims_org_id,
        sandboxName=service.PRODUCTION_SANDBOX,
        apiKey=issued.client_id,
        accessToken=issued.token.access_token,
        baseUrl=settings.base_url,
    )
    _write(settings, credentials)
    return credentials


def read_dev_credentials(settings: Settings) -> DevCredentials | None:
    """The development credentials written at the last embedded start, if any."""
    try:
        return DevCredentials(**json.loads(settings.credentials_path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(settings: Settings, credentials: DevCredentials) -> None:
    path = settings.credentials_path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # The file holds a live token: readable by its owner only.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(credentials), handle, indent=2)
        handle.write("\n")
    temporary.replace(path)
