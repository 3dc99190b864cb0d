"""Where PostGIS is, if anywhere: the schema of the `geometry` type of `areas.boundary`.

PostGIS lives in a schema of its own (stack/pg.py, k8s) and the service's search_path is its own
schema alone, so every PostGIS name is qualified with the schema found here. Only a found schema
is remembered: a service that started before boundaries existed finds them once they do.
"""

from __future__ import annotations

import weakref

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_found: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()  # per engine

_BOUNDARY_TYPE_SCHEMA = text(
    "SELECT n.nspname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " JOIN pg_namespace n ON n.oid = t.typnamespace"
    " WHERE a.attrelid = to_regclass('areas') AND a.attname = 'boundary' AND NOT a.attisdropped"
)
_EXTENSION_SCHEMA = text(
    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
    " WHERE e.extname = 'postgis' AND has_schema_privilege(n.nspname, 'USAGE')"
)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def postgis_schema(session: AsyncSession) -> str | None:
    """The quoted schema to qualify PostGIS names with, or None: no boundaries in this database."""
    key = session.bind
    if (known := _found.get(key)) is not None:
        return known
    schema = (await session.execute(_BOUNDARY_TYPE_SCHEMA)).scalar()
    if schema is None:
        return None
    _found[key] = _quote(schema)
    return _found[key]


async def ensure_boundaries(session: AsyncSession) -> str | None:
    """The boundary column, added now when PostGIS was installed after the migration ran (the
    loader calls this); None when PostGIS is still absent."""
    if (found := await postgis_schema(session)) is not None:
        return found
    schema = (await session.execute(_EXTENSION_SCHEMA)).scalar()
    if schema is None:
        return None
    await session.execute(text(f"ALTER TABLE areas ADD COLUMN boundary {_quote(schema)}.geometry(MultiPolygon, 4326)"))
    await session.execute(text("CREATE INDEX areas_boundary ON areas USING gist (boundary)"))
    return await postgis_schema(session)
