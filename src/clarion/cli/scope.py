"""The organization and sandbox a one-shot command acts for (``--org``, ``--sandbox``)."""

from __future__ import annotations

import json
from dataclasses import replace

from clarion.container import Container
from clarion.tenancy import service as tenancy
from clarion.tenancy.bootstrap import DEV_ORG_NAME, ensure_dev_credentials
from clarion.tenancy.errors import OrganizationNotFound
from clarion.tenancy.principal import Principal, job_principal


async def command_principal(container: Container, org: str | None, sandbox_name: str) -> Principal:
    """Whom a command acts for: the organization and sandbox named on the command line (the development
    organization when ``--org`` is not given)."""
    reference = org or await _default_org(container)
    async with container.unit_of_work() as uow:
        try:
            organization = await tenancy.find_organization(uow, reference)
        except OrganizationNotFound as error:
            if org is not None:
                raise
            raise OrganizationNotFound(
                f"{error.detail}: run `clarion serve` once to create the development organization, "
                "or give --org"
            ) from None
        scope = replace(
            job_principal(organization.id, ""),
            ims_org_id=organization.ims_org_id,
            technical_account="clarion-cli",
        )
        found = await tenancy.get_sandbox(uow, scope, sandbox_name)
    return replace(scope, sandbox_id=found.id, sandbox_name=found.name, sandbox_type=found.type)


async def _default_org(container: Container) -> str:
    """The development organization: created as ``serve`` does when embedded (so that a newcomer's first
    import works before the first ``serve``), else the one in ``credentials.json`` or named Development.
    """
    if container.settings.embedded:
        return (await ensure_dev_credentials(container)).orgId
    try:
        return str(json.loads(container.settings.credentials_path.read_text())["orgId"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEV_ORG_NAME
