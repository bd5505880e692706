"""Rules of IP pools: the organization's SMTP relays, with their passwords sealed."""

from __future__ import annotations

from typing import Any

from clarion.campaigns.errors import InUse, InvalidCampaign, IpPoolNotFound, NameTaken
from clarion.campaigns.repository import IpPoolRepository, relays_of_every_pool
from clarion.campaigns.schemas import IpPoolWrite
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.kit.secretbox import SecretBox
from clarion.models.campaigns import IpPool
from clarion.tenancy.principal import Principal


async def instance_relays(uow: UnitOfWork) -> list[tuple[str, int]]:
    """Every distinct SMTP relay ``(host, port)`` any organization sends through (``clarion doctor``)."""
    found = {
        (str(relay["host"]), int(relay.get("port", 25)))
        for relays in await relays_of_every_pool(uow.session)
        for relay in relays
        if relay.get("host")
    }
    return sorted(found)


async def create(uow: UnitOfWork, principal: Principal, body: IpPoolWrite, box: SecretBox) -> IpPool:
    """Create an organization-wide IP pool."""
    repo = IpPoolRepository(uow.session, principal.org_id)
    if await repo.by_name(body.name) is not None:
        raise NameTaken(f"name: an IP pool named {body.name!r} already exists")
    pool = IpPool(org_id=principal.org_id, name=body.name)
    _apply(pool, body, box, previous=[])
    repo.add(pool)
    await uow.commit()
    return pool


async def get(uow: UnitOfWork, principal: Principal, pool_id: str) -> IpPool:
    """One of the organization's pools."""
    pool = await IpPoolRepository(uow.session, principal.org_id).get(pool_id)
    return require(pool, IpPoolNotFound(f"IP pool {pool_id!r} does not exist"))


async def page(uow: UnitOfWork, principal: Principal, *, limit: int, offset: int) -> tuple[list[IpPool], int]:
    """The organization's pools."""
    return await IpPoolRepository(uow.session, principal.org_id).page(limit=limit, offset=offset)


async def replace(
    uow: UnitOfWork, principal: Principal, pool_id: str, body: IpPoolWrite, box: SecretBox
) -> IpPool:
    """Replace a pool's relays and settings; its name cannot change (as in AJO)."""
    pool = await get(uow, principal, pool_id)
    if body.name != pool.name:
        raise InvalidCampaign(f"name: an IP pool cannot be renamed (it is {pool.name!r})")
    _apply(pool, body, box, previous=pool.relays)
    pool.version += 1
    pool.modified_at = utcnow()
    await uow.commit()
    return pool


async def delete(uow: UnitOfWork, principal: Principal, pool_id: str) -> None:
    """Delete a pool that no channel configuration uses."""
    repo = IpPoolRepository(uow.session, principal.org_id)
    pool = await get(uow, principal, pool_id)
    users = await repo.configurations_using(pool.id)
    if users:
        names = ", ".join(sorted(configuration.name for configuration in users))
        raise InUse(
            f"IP pool {pool.name!r} is used by channel configuration(s) {names}; delete or change them first"
        )
    await repo.remove(pool)
    await uow.commit()


def _apply(pool: IpPool, body: IpPoolWrite, box: SecretBox, *, previous: list[dict[str, Any]]) -> None:
    kept = {
        (relay["host"], relay["port"], relay.get("username")): relay.get("passwordSealed")
        for relay in previous
    }
    relays = []
    for relay in body.relays:
        sealed = kept.get((relay.host, relay.port, relay.username)) if relay.password is None else None
        if relay.password:
            sealed = box.seal(relay.password)
        relays.append(
            {
                "host": relay.host,
                "port": relay.port,
                "tls": relay.tls,
                "username": relay.username,
                "passwordSealed": sealed,
            }
        )
    pool.description = body.description
    pool.relays = relays
    pool.bind_addresses = list(body.bind_addresses)
    pool.max_connections = body.max_connections
