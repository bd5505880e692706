"""SQL of custom actions."""

from __future__ import annotations

from sqlalchemy import delete, or_

from clarion.kit.repository import SandboxRepository
from clarion.models.actions import CustomAction


class CustomActionRepository(SandboxRepository):
    """Custom actions of one sandbox."""

    def add(self, action: CustomAction) -> None:
        """Stage a new action."""
        self.session.add(action)

    async def get(self, action_id: str) -> CustomAction | None:
        """The action with this id in this sandbox."""
        return await self.session.scalar(self.scoped(CustomAction).where(CustomAction.id == action_id))

    async def by_name(self, name: str) -> CustomAction | None:
        """The action with this name in this sandbox."""
        return await self.session.scalar(self.scoped(CustomAction).where(CustomAction.name == name))

    async def by_name_or_id(self, name_or_id: str) -> CustomAction | None:
        """The action with this id or name (names cannot hold the ``-`` of ids, so at most one matches)."""
        return await self.session.scalar(
            self.scoped(CustomAction).where(
                or_(CustomAction.id == name_or_id, CustomAction.name == name_or_id)
            )
        )

    async def remove(self, action: CustomAction) -> None:
        """Delete the action."""
        await self.session.execute(
            delete(CustomAction).where(
                CustomAction.org_id == self.org_id,
                CustomAction.sandbox_id == self.sandbox_id,
                CustomAction.id == action.id,
            )
        )
