"""SQL for audience and scheduled executions."""

from __future__ import annotations

from clarion.kit.repository import SandboxRepository
from clarion.models.messages import Execution


class ExecutionRepository(SandboxRepository):
    """Executions of one sandbox."""

    def add(self, execution: Execution) -> None:
        """Stage a new execution."""
        self.session.add(execution)

    async def get(self, execution_id: str) -> Execution | None:
        """The execution with this id."""
        return await self.session.scalar(self.scoped(Execution).where(Execution.id == execution_id))

    async def by_schedule(self, schedule_id: str) -> Execution | None:
        """The execution created with this schedule."""
        return await self.session.scalar(self.scoped(Execution).where(Execution.schedule_id == schedule_id))
