"""pql functions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00.000000

PostgreSQL helpers of the PQL compiler (SQLite needs none: julianday() returns NULL on bad input and the
REGEXP function is registered per connection in db/engine.py). Both turn ill-typed profile data or a regex
PostgreSQL cannot read into NULL (the comparison is then unknown) instead of failing the whole query.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# IMMUTABLE so expression indexes may use it: it reads only the ISO-8601 forms below, whose meaning does not
# depend on DateStyle, and a value without an offset is read as UTC, never in the session's time zone.
_TRY_TIMESTAMPTZ = r"""
CREATE OR REPLACE FUNCTION clarion_try_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    clock constant text := '([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?';
    zone constant text := '(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])';
BEGIN
    IF value !~ ('^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]' || clock || zone || '?)?$') THEN
        RETURN NULL;
    END IF;
    IF value ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' AND length(value) > 10 THEN
        RETURN value::timestamptz;
    END IF;
    RETURN value::timestamp AT TIME ZONE 'UTC';
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$
"""

_REGEX_MATCH = r"""
CREATE OR REPLACE FUNCTION clarion_regex_match(value text, pattern text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN value ~ pattern;
EXCEPTION WHEN invalid_regular_expression THEN
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Apply."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_TRY_TIMESTAMPTZ)
    op.execute(_REGEX_MATCH)


def downgrade() -> None:
    """Revert."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS clarion_regex_match(text, text)")
    op.execute("DROP FUNCTION IF EXISTS clarion_try_timestamptz(text)")
