"""Rules of segment definitions (audiences), and the reads other domains use (exports, activation)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from clarion.audiences import expressions
from clarion.audiences.errors import InvalidSegment, SegmentInUse, SegmentNameTaken, SegmentNotFound
from clarion.audiences.repository import SegmentJobRepository, SegmentRepository
from clarion.audiences.schemas import (
    PROFILE_SCHEMA,
    EvaluationInfoIn,
    ExpressionIn,
    SchemaRef,
    SegmentDefinitionCreate,
    SegmentDefinitionUpdate,
)
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.audiences import SegmentDefinition, SegmentJob
from clarion.tenancy.principal import Principal

_MERGE_POLICIES = uuid.UUID("0b5c8f0e-6f7a-4c1e-9a57-3d1f2b8c4e90")
"""Namespace of the per-sandbox default merge policy ids (Clarion has one merge policy per sandbox)."""
SORTABLE = {
    "name": SegmentDefinition.name,
    "creationTime": SegmentDefinition.created_at,
    "updateTime": SegmentDefinition.updated_at,
    "updateEpoch": SegmentDefinition.updated_at,
    "id": SegmentDefinition.id,
    "internalId": SegmentDefinition.id,
}
"""``sort`` attributes of ``GET /segment/definitions`` and their columns."""


def default_merge_policy_id(sandbox_id: str) -> str:
    """The sandbox's merge policy id: stable, derived from the sandbox id."""
    return str(uuid.uuid5(_MERGE_POLICIES, sandbox_id))


async def create_segment(
    uow: UnitOfWork, principal: Principal, body: SegmentDefinitionCreate
) -> SegmentDefinition:
    """Create an audience; its PQL must parse (400 naming position and token), its name be free (422)."""
    _check_schema(body.schema_)
    segment = SegmentDefinition(
        org_id=principal.org_id,
        sandbox_id=principal.sandbox_id,
        name=body.name,
        description=body.description,
        expression=_checked_expression(body.expression),
        evaluation_info=evaluation_info(body.evaluation_info),
        schema_name=body.schema_.name,
        profile_instance_id=body.profile_instance_id,
        merge_policy_id=default_merge_policy_id(principal.sandbox_id),
        payload_schema=body.payload_schema,
    )
    await _save(uow, principal, segment)
    return segment


async def get_segment(uow: UnitOfWork, principal: Principal, segment_id: str) -> SegmentDefinition:
    """One audience of the caller's sandbox."""
    return require(
        await _segments(uow, principal).get(segment_id),
        SegmentNotFound(
            f"Segment definition {segment_id!r} was not found in this sandbox", context={"id": segment_id}
        ),
    )


async def list_segments(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int, sort: str | None
) -> tuple[list[SegmentDefinition], int, list[tuple[str, str]]]:
    """One page of the sandbox's audiences, the total, and the sort applied (``[(attribute, asc|desc)]``)."""
    orders = parse_sort(sort, set(SORTABLE), default=[("creationTime", "desc")])
    order_by = [_ordered(SORTABLE[name], direction) for name, direction in orders]
    order_by.append(SegmentDefinition.id)
    rows, total = await _segments(uow, principal).listing(order_by=order_by, limit=limit, offset=offset)
    return rows, total, orders


async def update_segment(
    uow: UnitOfWork, principal: Principal, segment_id: str, body: SegmentDefinitionUpdate
) -> SegmentDefinition:
    """Replace the fields given; a new expression is checked like at creation, a new name must be free."""
    segment = await get_segment(uow, principal, segment_id)
    if body.schema_ is not None:
        _check_schema(body.schema_)
        segment.schema_name = body.schema_.name
    if body.expression is not None:
        segment.expression = _checked_expression(body.expression)
    if body.evaluation_info is not None:
        segment.evaluation_info = evaluation_info(body.evaluation_info)
    changes: Mapping[str, Any] = {
        "name": body.name,
        "description": body.description,
        "profile_instance_id": body.profile_instance_id,
        "payload_schema": body.payload_schema,
    }
    for field, value in changes.items():
        if value is not None:
            setattr(segment, field, value)
    segment.updated_at = utcnow()
    await _save(uow, principal, segment)
    return segment


async def delete_segment(uow: UnitOfWork, principal: Principal, segment_id: str) -> None:
    """Delete an audience and its memberships, unless a dataflow activates it (409 naming the flows)."""
    segment = await get_segment(uow, principal, segment_id)
    repo = _segments(uow, principal)
    flows = await repo.flows_using(segment.id)
    if flows:
        raise SegmentInUse(
            f"Segment definition {segment.id!r} is used in destination activation by dataflow(s) "
            f"{', '.join(flows)} and cannot be deleted; remove it from the dataflows first",
            context={"id": segment.id, "flowIds": flows},
        )
    await repo.remove(segment)
    await uow.commit()


async def bulk_segments(
    uow: UnitOfWork, principal: Principal, ids: Sequence[str]
) -> dict[str, SegmentDefinition]:
    """The audiences among ``ids`` that exist in the caller's sandbox, by id."""
    return await _segments(uow, principal).many(ids)


async def load_segments(uow: UnitOfWork, principal: Principal, ids: Sequence[str]) -> list[SegmentDefinition]:
    """The audiences ``ids`` in that order; NotFound naming the first id missing from the sandbox."""
    found = await bulk_segments(uow, principal, ids)
    for segment_id in ids:
        if segment_id not in found:
            raise SegmentNotFound(
                f"Segment definition {segment_id!r} was not found in this sandbox", context={"id": segment_id}
            )
    return [found[segment_id] for segment_id in ids]


async def last_successful_job(uow: UnitOfWork, principal: Principal, segment_id: str) -> SegmentJob | None:
    """The latest SUCCEEDED segment job that evaluated the audience (its snapshot is the one in force)."""
    repo = SegmentJobRepository(uow.session, principal.org_id, principal.sandbox_id)
    return await repo.last_succeeded(segment_id)


def evaluation_info(given: EvaluationInfoIn | None) -> dict[str, Any]:
    """All three evaluation modes, explicit; none given means batch (segmentation.yaml's default)."""
    modes = ("batch", "continuous", "synchronous")
    toggles = {mode: getattr(given, mode) if given is not None else None for mode in modes}
    if all(toggle is None for toggle in toggles.values()):
        return {
            "batch": {"enabled": True},
            "continuous": {"enabled": False},
            "synchronous": {"enabled": False},
        }
    return {
        mode: {"enabled": bool(toggle is not None and toggle.enabled)} for mode, toggle in toggles.items()
    }


def parse_sort(
    sort: str | None, allowed: set[str], *, default: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``attr:asc,attr2:desc`` → ``[(attr, asc), …]``; an unknown attribute or direction is a 400."""
    if not sort:
        return default
    orders: list[tuple[str, str]] = []
    for item in sort.split(","):
        name, _, direction = item.strip().partition(":")
        direction = (direction or "asc").lower()
        if name not in allowed or direction not in ("asc", "desc"):
            raise InvalidSegment(
                f"sort: {item.strip()!r} is not [attribute]:[asc|desc] with attribute one of "
                f"{', '.join(sorted(allowed))}",
                context={"field": "sort"},
            )
        orders.append((name, direction))
    return orders


def _ordered(column: Any, direction: str) -> Any:
    return column.desc() if direction == "desc" else column.asc()


def _checked_expression(expression: ExpressionIn) -> dict[str, Any]:
    stored = expressions.stored_form(expression.format, expression.value)
    expressions.parse(stored)
    return stored


def _check_schema(schema: SchemaRef) -> None:
    if schema.name != PROFILE_SCHEMA:
        raise InvalidSegment(
            f"schema.name: {schema.name!r} is not supported; Clarion segments profiles ({PROFILE_SCHEMA!r})",
            context={"field": "schema.name"},
        )


async def _save(uow: UnitOfWork, principal: Principal, segment: SegmentDefinition) -> None:
    name = segment.name  # read before the flush: a failed flush leaves the row's attributes unreadable
    if not await _segments(uow, principal).save(segment):
        raise SegmentNameTaken(
            f"A segment definition named {name!r} already exists in this sandbox. "
            "In order to update a segment definition, use the PATCH operation instead.",
            context={"field": "name"},
        )
    await uow.commit()


def _segments(uow: UnitOfWork, principal: Principal) -> SegmentRepository:
    return SegmentRepository(uow.session, principal.org_id, principal.sandbox_id)
