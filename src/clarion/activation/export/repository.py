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


class MemberQueries:
    """The two member queries of an export; the JSON reads they are built from differ by database.

    One subclass per dialect, chosen with the way rows are read (``service._members``), so no query branches.
    """

    def rows(self, audience: Audience, columns: Columns) -> Select[Any]:
        """One text value per column per member."""
        members = audience.segment_id is not None
        return _members(
            audience,
            [self._column(name, as_json=False, members=members).label(name) for name in columns.names],
        )

    def documents(self, audience: Audience, columns: Columns) -> Select[Any]:
        """One JSON document per member, nested by path (``person.name.firstName`` → ``{"person": {…}}``)."""
        tree: dict[str, Any] = {}
        members = audience.segment_id is not None
        for name in columns.names:
            node = tree
            keys = name.split(".", 1) if name.startswith(IDENTITY_PREFIX) else name.split(".")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = self._column(name, as_json=True, members=members)
        if columns.whole_profile:
            tree.setdefault("identityMap", self.json_value(Profile.identities, []))

        def render(node: dict[str, Any]) -> ColumnElement[Any]:
            arguments: list[Any] = []
            for key, child in node.items():
                arguments += [literal(key), render(child) if isinstance(child, dict) else child]
            return self.json_object(arguments)

        document = render(tree)
        if columns.whole_profile:
            # Every attribute, with the identities beside them (export jobs without ``fields``).
            document = self.over_attributes(document)
        return _members(audience, [self.as_text(document)])

    def _column(self, name: str, *, as_json: bool, members: bool) -> ColumnElement[Any]:
        if name == STATUS_COLUMN:
            return SegmentMembership.__table__.c.status if members else null()
        value = self.json_value if as_json else self.text_value
        if name.startswith(IDENTITY_PREFIX):
            namespace = name[len(IDENTITY_PREFIX) :]
            # Text formats carry the first (primary) identity; JSON carries them all.
            return value(Profile.identities, [namespace] if as_json else [namespace, 0])
        return value(Profile.attributes, list(name.split(".")))

    def text_value(self, document: Any, path: list[str | int]) -> ColumnElement[Any]:
        """A JSON value as text: strings bare, numbers/booleans as JSON spells them, objects as JSON text."""
        raise NotImplementedError

    def json_value(self, document: Any, path: list[str | int]) -> ColumnElement[Any]:
        """A JSON value kept as JSON (for JSON-lines exports)."""
        raise NotImplementedError

    def json_object(self, arguments: list[Any]) -> ColumnElement[Any]:
        """A JSON object from alternating keys and values."""
        raise NotImplementedError

    def over_attributes(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """The profile's attributes with ``document``'s keys laid over them."""
        raise NotImplementedError

    def as_text(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON document as the text a JSON-lines file holds."""
        raise NotImplementedError


class PostgresMembers(MemberQueries):
    """JSONB path operators (``#>>``, ``#>``), ``jsonb_build_object``, ``||``."""

    def text_value(self, document: Any, path: list[str | int]) -> ColumnElement[Any]:
        """``document #>> path``."""
        return type_coerce(document, JSONB).op("#>>")(_pg_path(path))

    def json_value(self, document: Any, path: list[str | int]) -> ColumnElement[Any]:
        """``document #> path``."""
        return type_coerce(document, JSONB).op("#>")(_pg_path(path))

    def json_object(self, arguments: list[Any]) -> ColumnElement[Any]:
        """``jsonb_build_object(…)``."""
        built: ColumnElement[Any] = func.jsonb_build_object(*arguments)
        return built

    def over_attributes(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """``attributes || document``."""
        return type_coerce(Profile.attributes, JSONB).op("||")(document)

    def as_text(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """``document::text``."""
        return cast(document, String)


class SqliteMembers(MemberQueries):
    """JSON1: ``json_type``/``json_extract`` with quoted paths, ``json_object``, ``json_patch``."""

    def text_value(self, document: Any, path: list[str | int]) -> ColumnElement[Any]:
        """``json_extract``, with true/false spelled as JSON (and PostgreSQL) spell them, not 1/0."""
        json_path = _sqlite_path(path)
        kind = func.json_type(document, json_path)
        return case(
            (kind == "true", literal("true")),
            (kind == "false", literal("false")),
            (kind.in_(("object", "array")), func.json_extract(document, json_path).cast(String)),
            else_=cast(func.json_extract(document, json_path), String),
        )

    def json_value(self, document: Any, path: list[str | int]) -> ColumnElement[Any]:
        """``json(document -> path)``."""
        value: ColumnElement[Any] = func.json(document.op("->")(_sqlite_path(path)))
        return value

    def json_object(self, arguments: list[Any]) -> ColumnElement[Any]:
        """``json_object(…)``."""
        built: ColumnElement[Any] = func.json_object(*arguments)
        return built

    def over_attributes(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """``json_patch(attributes, document)``."""
        patched: ColumnElement[Any] = func.json_patch(Profile.attributes, document)
        return patched

    def as_text(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """SQLite's JSON functions already return text."""
        return document


def _sqlite_path(path: list[str | int]) -> str:
    """A SQLite JSON path; keys are quoted (they may hold dots), integers index arrays."""
    return "$" + "".join(
        f"[{key}]" if isinstance(key, int) else '."' + key.replace('"', '""') + '"' for key in path
    )


def _pg_path(path: list[str | int]) -> ColumnElement[Any]:
    return cast(literal([str(key) for key in path]), ARRAY(String))


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
