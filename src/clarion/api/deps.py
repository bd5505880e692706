"""FastAPI dependencies shared by every domain's endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from clarion.container import Container
from clarion.db.uow import UnitOfWork


def container_of(request: Request) -> Container:
    """The process's container."""
    container: Container = request.app.state.container
    return container


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    """A unit of work for one request; rolled back unless a service committed it."""
    async with container_of(request).unit_of_work() as uow:
        yield uow


UoWDep = Annotated[UnitOfWork, Depends(unit_of_work)]
ContainerDep = Annotated[Container, Depends(container_of)]
