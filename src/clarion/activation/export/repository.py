"""SQL that streams an audience's members for export: the export engine's only reads.

Columns are chosen by the dataflow (profile attribute paths, identity namespaces,
``segmentMembership.status``).
PostgreSQL streams with ``COPY (SELECT …) TO STDOUT`` so rows are never decoded in Python; SQLite streams a
cursor in partitions. Attribute paths and namespaces are always bound parameters, never SQL text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.activation.export.schemas import IDENTITY_PREFIX, STATUS_COLUMN, Audience, Columns
from clarion.db.dialect import dialect_of
from clarion.models.audiences import SegmentMembership
from clarion.models.profiles import Profile


def _sqlite_path(path: list[str | int]) -> str:
    """A SQLite JSON path; keys are quoted (they may hold dots), integers index arrays."""
    return "$" + "".join(
        f"[{key}]" if isinstance(key, int) else '."' + key.replace('"', '""') + '"' for key in path
    )


def _pg_path(path: list[str | int]) -> ColumnElement[Any]:
    return cast(literal([str(key) for key in path]), ARRAY(String))


def _text_value(dialect: str, document: Any, path: list[str | int]) -> ColumnElement[Any]:
    """A JSON value as text: strings bare, numbers/booleans as JSON spells them, objects as JSON text."""
    if dialect == "postgresql":
        return type_coerce(document, JSONB).op("#>>")(_pg_path(path))
    json_path = _sqlite_path(path)
    kind = func.json_type(document, json_path)
    # json_extract turns true/false into 1/0; spell them as JSON (and PostgreSQL) do.
    return case(
        (kind == "true", literal("true")),
        (kind == "false", literal("false")),
        (kind.in_(("object", "array")), func.json_extract(document, json_path).cast(String)),
        else_=cast(func.json_extract(document, json_path), String),
    )


def _json_value(dialect: str, document: Any, path: list[str | int]) -> ColumnElement[Any]:
    """A JSON value kept as JSON (for JSON-lines exports)."""
    if dialect == "postgresql":
        return type_coerce(document, JSONB).op("#>")(_pg_path(path))
    return func.json(document.op("->")(_sqlite_path(path)))


def _column(dialect: str, name: str, *, as_json: bool, members: bool = True) -> ColumnElement[Any]:
    if name == STATUS_COLUMN:
        return SegmentMembership.__table__.c.status if members else null()
    value = _json_value if as_json else _text_value
    if name.startswith(IDENTITY_PREFIX):
        namespace = name[len(IDENTITY_PREFIX) :]
        # Text formats carry the first (primary) identity; JSON carries them all.
        return value(dialect, Profile.identities, [namespace] if as_json else [namespace, 0])
    return value(dialect, Profile.attributes, list(name.split(".")))


def _members(audience: Audience, columns: Sequence[ColumnElement[Any]]) -> Select[Any]:
    if audience.segment_id is None:
        return select(*columns).where(
            Profile.org_id == audience.org_id, Profile.sandbox_id == audience.sandbox_id
        )
    conditions = [
        SegmentMembership.segment_id == audience.segment_id,
        SegmentMembership.org_id == audience.org_id,
        SegmentMembership.sandbox_id == audience.sandbox_id,
        SegmentMembership.status.in_(audience.statuses),
    ]
    if audience.qualified_from is not None:
        conditions.append(SegmentMembership.qualified_at >= audience.qualified_from)
    if audience.qualified_to is not None:
        conditions.append(SegmentMembership.qualified_at <= audience.qualified_to)
    return (
        select(*columns)
        .select_from(SegmentMembership)
        .join(Profile, Profile.id == SegmentMembership.profile_id)
        .where(and_(*conditions))
    )


def rows_query(dialect: str, audience: Audience, columns: Columns) -> Select[Any]:
    """One text value per column per member."""
    members = audience.segment_id is not None
    return _members(
        audience,
        [_column(dialect, name, as_json=False, members=members).label(name) for name in columns.names],
    )


def json_query(dialect: str, audience: Audience, columns: Columns) -> Select[Any]:
    """One JSON document per member, nested by path (``person.name.firstName`` → ``{"person": {…}}``)."""
    tree: dict[str, Any] = {}
    members = audience.segment_id is not None
    for name in columns.names:
        node = tree
        keys = name.split(".", 1) if name.startswith(IDENTITY_PREFIX) else name.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _column(dialect, name, as_json=True, members=members)
    if columns.whole_profile:
        tree.setdefault("identityMap", _json_value(dialect, Profile.identities, []))
    build = func.jsonb_build_object if dialect == "postgresql" else func.json_object

    def render(node: dict[str, Any]) -> ColumnElement[Any]:
        arguments: list[Any] = []
        for key, child in node.items():
            arguments += [literal(key), render(child) if isinstance(child, dict) else child]
        return build(*arguments)

    document = render(tree)
    if columns.whole_profile:
        # Every attribute, with the identities beside them (export jobs without ``fields``).
        if dialect == "postgresql":
            document = type_coerce(Profile.attributes, JSONB).op("||")(document)
        else:
            document = func.json_patch(Profile.attributes, document)
    return _members(audience, [cast(document, String) if dialect == "postgresql" else document])


@dataclass(frozen=True)
class CopyOptions:
    """PostgreSQL ``COPY … (FORMAT csv)`` options."""

    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    null: str = ""
    header: bool = True


async def copy_csv(
    session: AsyncSession, query: Select[Any], options: CopyOptions, sink: Callable[[bytes], Awaitable[None]]
) -> int:
    """Stream ``query`` as CSV into ``sink`` with PostgreSQL COPY; returns the number of rows."""
    compiled = query.compile(
        dialect=postgresql.asyncpg.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"render_postcompile": True},
    )
    arguments = [compiled.params[name] for name in compiled.positiontup or ()]
    await dialect_of(session).prefer_hash_joins(session)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    status: str = await driver.copy_from_query(
        compiled.string,
        *arguments,
        output=sink,
        format="csv",
        header=options.header,
        delimiter=options.delimiter,
        quote=options.quote,
        escape=options.escape,
        null=options.null,
    )
    return int(status.rsplit(" ", 1)[-1])


async def stream_rows(session: AsyncSession, query: Select[Any], *, batch: int) -> AsyncIterator[list[Any]]:
    """Rows of ``query`` in partitions of ``batch`` (a server-side cursor, memory flat)."""
    result = await session.stream(query.execution_options(yield_per=batch))
    async for partition in result.partitions(batch):
        yield [tuple(row) for row in partition]
