"""The task registry of every domain, in one place (workers import this, domains do not import workers)."""

from __future__ import annotations

from clarion.container import Container
from clarion.queue.worker import TaskRegistry

QUEUES: tuple[str, ...] = ("default",)
"""Queue names a worker consumes by default."""


def build_registry(container: Container) -> TaskRegistry:
    """Register every domain's handlers, bound to the process's container."""
    registry = TaskRegistry()
    del container  # domains register their ``domain.verb`` handlers here as they arrive
    return registry
