"""Previews and estimates of an unsaved expression (``/preview``, ``/estimate``), and PQL validation.

Clarion evaluates a preview when it is read, inside the database like a segment job but writing nothing:
the job is RESULT_READY as soon as it is created, and its estimate is an exact count (confidence 100 %).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import ColumnElement

from clarion.audiences import expressions
from clarion.audiences.errors import InvalidSegment, PreviewNotFound
from clarion.audiences.repository import PreviewRepository
from clarion.audiences.schemas import (
    PROFILE_SCHEMA,
    Estimate,
    EstimateError,
    ExpressionIn,
    NamespaceCount,
    PqlCheck,
    PqlProblem,
    PreviewCreate,
    PreviewLink,
    PreviewPage,
    PreviewQuery,
    PreviewResult,
    PreviewResults,
    RelatedObject,
)
from clarion.audiences.views import BASE_PATH
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.audiences import SegmentPreview
from clarion.models.profiles import Profile
from clarion.tenancy.principal import Principal

READY = "RESULT_READY"
PREVIEW_LIFETIME = timedelta(days=1)
"""Preview jobs older than this are deleted when a new one is created."""
PREDICATE_MODELS = frozenset({PROFILE_SCHEMA, "xdm.model.profile"})
"""``predicateModel`` values meaning profiles (the contract's default is ``xdm.model.profile``)."""


def check_expression(expression: ExpressionIn) -> PqlCheck:
    """Whether the expression parses and type-checks: the paths it reads, or its first problem."""
    stored = expressions.stored_form(expression.format, expression.value)
    parsed = expressions.diagnose(stored)
    if isinstance(parsed, expressions.Problem):
        return PqlCheck(valid=False, problem=PqlProblem.model_validate(parsed, from_attributes=True))
    paths = [".".join(path) for path in expressions.referenced_paths(parsed)]
    return PqlCheck(valid=True, paths=paths)


async def create_preview(uow: UnitOfWork, principal: Principal, body: PreviewCreate) -> PreviewQuery:
    """Store a preview job for a valid expression (400 naming the position and token when not)."""
    if body.predicate_model not in PREDICATE_MODELS:
        raise InvalidSegment(
            f"predicateModel: {body.predicate_model!r} is not supported; Clarion previews profiles "
            f"({PROFILE_SCHEMA!r})",
            context={"field": "predicateModel"},
        )
    expression = expressions.stored_form(body.predicate_type, body.predicate_expression)
    expressions.parse(expression)
    preview = SegmentPreview(
        org_id=principal.org_id, sandbox_id=principal.sandbox_id, expression=expression, evaluated_at=utcnow()
    )
    repo = _previews(uow, principal)
    await repo.purge_before(utcnow() - PREVIEW_LIFETIME)
    repo.add(preview)
    await uow.commit()
    return PreviewQuery(
        preview_query_id=preview.id,
        state=READY,
        preview_query_status=READY,
        preview_id=preview.id,
        preview_execution_id=0,
    )


async def read_preview(
    uow: UnitOfWork, principal: Principal, preview_id: str, *, limit: int, offset: int
) -> PreviewResults:
    """One page of the profiles the preview's expression matches now."""
    preview = await _get(uow, principal, preview_id)
    rows = await _previews(uow, principal).matching(_condition(uow, preview), limit=limit, offset=offset)
    more = len(rows) == limit
    return PreviewResults(
        state=READY,
        page=PreviewPage(offset=offset, size=len(rows), limit=limit),
        link=f"{preview_path(preview_id)}?offset={offset + len(rows)}&limit={limit}" if more else "",
        results=[_result(profile_id, identities) for profile_id, identities in rows],
    )


async def estimate(uow: UnitOfWork, principal: Principal, preview_id: str) -> Estimate:
    """The preview's audience size, exact, with its spread over identity namespaces."""
    preview = await _get(uow, principal, preview_id)
    repo = _previews(uow, principal)
    condition = _condition(uow, preview)
    matched, total = await repo.count_matching(condition)
    namespaces = await repo.namespace_counts(condition)
    return Estimate(
        state=READY,
        estimated_size=matched,
        profiles_matched_so_far=matched,
        profiles_read_so_far=total,
        num_rows_to_read=total,
        total_rows=total,
        standard_error=0,
        confidence_interval="100%",
        estimated_namespace_distribution=[
            NamespaceCount(namespace_id=namespace, profiles_matched_so_far=count)
            for namespace, count in namespaces.items()
        ],
        error=EstimateError(),
        links=PreviewLink(preview=preview_path(preview_id)),
    )


async def delete_preview(uow: UnitOfWork, principal: Principal, preview_id: str) -> None:
    """Delete a preview job (404 when the sandbox has none with this id)."""
    if not await _previews(uow, principal).remove(preview_id):
        raise _not_found(preview_id)
    await uow.commit()


def preview_path(preview_id: str) -> str:
    """The address of a preview job."""
    return f"{BASE_PATH}/preview/{preview_id}"


async def _get(uow: UnitOfWork, principal: Principal, preview_id: str) -> SegmentPreview:
    return require(await _previews(uow, principal).get(preview_id), _not_found(preview_id))


def _not_found(preview_id: str) -> PreviewNotFound:
    return PreviewNotFound(
        f"Preview job {preview_id!r} was not found in this sandbox", context={"id": preview_id}
    )


def _condition(uow: UnitOfWork, preview: SegmentPreview) -> ColumnElement[bool]:
    return expressions.compile_condition(
        expressions.parse(preview.expression),
        attributes=Profile.__table__.c.attributes,
        dialect=uow.dialect.name,
        now=preview.evaluated_at,
    )


def _result(profile_id: str, identities: dict[str, list[str]]) -> PreviewResult:
    related = [
        RelatedObject(object_id=f"{namespace}:{value}", href=_profile_href(namespace, value))
        for namespace, values in sorted(identities.items())
        for value in values
    ]
    return PreviewResult(
        object_id=profile_id, href=related[0].href if related else "", related_objects=related
    )


def _profile_href(namespace: str, value: str) -> str:
    return f"/v1/profiles/{quote(namespace, safe='')}/{quote(value, safe='')}"


def _previews(uow: UnitOfWork, principal: Principal) -> PreviewRepository:
    return PreviewRepository(uow.session, principal.org_id, principal.sandbox_id)
