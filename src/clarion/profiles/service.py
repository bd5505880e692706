"""Profile rules used by other domains: resolve recipients by identity, create the missing ones."""

from __future__ import annotations

from typing import Any

from clarion.db.uow import UnitOfWork
from clarion.kit.ids import new_id
from clarion.models.profiles import Profile
from clarion.profiles.repository import ProfileRepository
from clarion.tenancy.principal import Principal


async def resolve(
    uow: UnitOfWork, principal: Principal, namespace: str, user_ids: list[str], *, create_missing: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Attributes of the profiles for ``user_ids`` in ``namespace``; create missing ones when asked.

    Returns ``(attributes by user id, user ids without a profile)``. Created profiles hold only their
    identity (contract §1.3: "at maximum, profile is created with the namespace details").
    """
    repo = ProfileRepository(uow.session, principal.org_id, principal.sandbox_id)
    found = await repo.by_identities(namespace, user_ids)
    missing = [user_id for user_id in user_ids if user_id not in found]
    attributes = {user_id: dict(profile.attributes) for user_id, profile in found.items()}
    if missing and create_missing:
        for user_id in missing:
            repo.add(
                Profile(id=new_id(), org_id=principal.org_id, sandbox_id=principal.sandbox_id, attributes={}),
                [(namespace, user_id)],
            )
            attributes[user_id] = {}
        await uow.commit()
        missing = []
    return attributes, missing
