"""The loaded areas: names, hierarchy, year and (with PostGIS) boundaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.neighbourhoods.domain.areas import AreaInfo
from services.neighbourhoods.kaart import WGS84, AreaRecord
from services.neighbourhoods.store.geo import ensure_boundaries, postgis_schema
from shared.events.codes import AreaLevel

_COLUMNS = "code, level, name, municipality, parent, year"
BATCH = 200


def _area(row: RowMapping) -> AreaInfo:
    return AreaInfo(
        code=row["code"],
        level=AreaLevel(row["level"]),
        municipality=row["municipality"],
        parent=row["parent"],
        name=row["name"],
        year=row["year"],
    )


async def described(session: AsyncSession, codes: Sequence[str]) -> dict[str, AreaInfo]:
    """Every well-formed code as an area, with the name and year of what was loaded."""
    rows = await session.execute(text(f"SELECT {_COLUMNS} FROM areas WHERE code = ANY(:codes)"), {"codes": list(codes)})
    loaded = {r["code"]: _area(r) for r in rows.mappings()}
    return {code: loaded.get(code) or AreaInfo.of(code) for code in codes}


async def describe(session: AsyncSession, code: str) -> AreaInfo:
    return (await described(session, [code]))[code]


async def loaded(session: AsyncSession, municipality: str, parent: str | None) -> list[AreaInfo]:
    where = "municipality = :m" + (" AND parent = :parent" if parent else "")
    rows = await session.execute(
        text(f"SELECT {_COLUMNS} FROM areas WHERE {where} ORDER BY code"), {"m": municipality, "parent": parent}
    )
    return [_area(r) for r in rows.mappings()]


async def any_loaded(session: AsyncSession, municipalities: Sequence[str]) -> bool:
    found = await session.execute(
        text("SELECT 1 FROM areas WHERE municipality = ANY(:m) LIMIT 1"), {"m": list(municipalities)}
    )
    return found.scalar() is not None


async def neighbourhood_at(session: AsyncSession, lat: float, lon: float) -> AreaInfo | None:
    """The loaded neighbourhood (BU) whose boundary covers the point; None without boundaries."""
    s = await postgis_schema(session)
    if s is None:
        return None
    row = (
        (
            await session.execute(
                text(
                    f"SELECT {_COLUMNS} FROM areas WHERE level = 'neighbourhood'"
                    f" AND {s}.ST_Covers(boundary, {s}.ST_SetSRID({s}.ST_MakePoint(:lon, :lat), {WGS84}))"
                    f" ORDER BY {s}.ST_Area(boundary), code LIMIT 1"
                ),
                {"lat": lat, "lon": lon},
            )
        )
        .mappings()
        .first()
    )
    return _area(row) if row else None


def _boundary_sql(s: str, record: AreaRecord) -> str:
    """PostGIS parses the geometry, repairs it (coarse, quantized boundaries), makes it a
    MultiPolygon in WGS84."""
    g = record.geometry
    assert g is not None
    if g.wkb is not None:
        parsed = f"{s}.ST_GeomFromWKB(:wkb, :srid)"
    else:
        parsed = f"{s}.ST_SetSRID({s}.ST_GeomFromGeoJSON(CAST(:geojson AS text)), :srid)"
    shaped = f"{s}.ST_Multi({s}.ST_CollectionExtract({s}.ST_MakeValid({parsed}), 3))"
    return shaped if g.srid == WGS84 else f"{s}.ST_Transform({shaped}, {WGS84})"


async def replace(
    session: AsyncSession, records: Sequence[AreaRecord], at: datetime, progress: Callable[[int], None] | None = None
) -> int:
    """The areas of the file's municipalities become exactly the file's (a reload replaces)."""
    s = await ensure_boundaries(session)
    municipalities = sorted({r.municipality for r in records})
    await session.execute(
        text("DELETE FROM areas WHERE municipality = ANY(:m) AND NOT code = ANY(:codes)"),
        {"m": municipalities, "codes": [r.code for r in records]},
    )
    done = 0
    for start in range(0, len(records), BATCH):
        for record in records[start : start + BATCH]:
            await _upsert(session, s, record, at)
        done += len(records[start : start + BATCH])
        if progress is not None:
            progress(done)
    return done


async def _upsert(session: AsyncSession, s: str | None, record: AreaRecord, at: datetime) -> None:
    area = AreaInfo.of(record.code, record.name, record.year)
    params: dict[str, Any] = {**area.__dict__, "level": area.level.value, "at": at}
    boundary = "NULL"
    if s is not None and record.geometry is not None:
        boundary = _boundary_sql(s, record)
        g = record.geometry
        params.update({"srid": g.srid, **({"wkb": g.wkb} if g.wkb is not None else {"geojson": g.geojson})})
    columns, values, updates = (
        ("", "", "") if s is None else (", boundary", f", {boundary}", ", boundary = EXCLUDED.boundary")
    )
    await session.execute(
        text(
            f"INSERT INTO areas ({_COLUMNS}, loaded_at{columns})"
            f" VALUES (:code, :level, :name, :municipality, :parent, :year, :at{values})"
            f" ON CONFLICT (code) DO UPDATE SET level = EXCLUDED.level, name = EXCLUDED.name,"
            f" municipality = EXCLUDED.municipality, parent = EXCLUDED.parent, year = EXCLUDED.year,"
            f" loaded_at = EXCLUDED.loaded_at{updates}"
        ),
        params,
    )
