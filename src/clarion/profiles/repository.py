"""SQL for profiles and identities."""

from __future__ import annotations

from sqlalchemy import select

from clarion.kit.repository import SandboxRepository
from clarion.models.profiles import Profile, ProfileIdentity


class ProfileRepository(SandboxRepository):
    """Profiles of one sandbox."""

    async def by_identities(self, namespace: str, values: list[str]) -> dict[str, Profile]:
        """Profiles found for ``namespace`` identity values, keyed by value (one query)."""
        statement = (
            select(ProfileIdentity.value, Profile)
            .join(Profile, Profile.id == ProfileIdentity.profile_id)
            .where(
                ProfileIdentity.org_id == self.org_id,
                ProfileIdentity.sandbox_id == self.sandbox_id,
                ProfileIdentity.namespace == namespace,
                ProfileIdentity.value.in_(values),
            )
        )
        return {row[0]: row[1] for row in await self.session.execute(statement)}

    def add(self, profile: Profile, identities: list[tuple[str, str]]) -> None:
        """Stage a profile with its ``(namespace, value)`` identities."""
        self.session.add(profile)
        for namespace, value in identities:
            self.session.add(
                ProfileIdentity(
                    org_id=self.org_id,
                    sandbox_id=self.sandbox_id,
                    namespace=namespace,
                    value=value,
                    profile_id=profile.id,
                )
            )
