"""Reading a CBS wijk- en buurtkaart: GeoPackage (CBS's own format) or GeoJSON. Pure Python, no
database: what comes out is a record per area with its geometry still encoded (GeoJSON text or
WKB), for PostGIS to parse.

Columns as CBS names them (`gemeentecode`/`gemeentenaam`, `wijkcode`/`wijknaam`,
`buurtcode`/`buurtnaam`, `jaar`), or the `code`/`name`/`level` of `shared/data/`.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from shared import areas

WGS84 = 4326
# Most specific first: a buurt row also names its wijk and gemeente.
_CBS_COLUMNS = (
    ("buurtcode", "buurtnaam", "BU"),
    ("wijkcode", "wijknaam", "WK"),
    ("gemeentecode", "gemeentenaam", "GM"),
)
_YEAR_IN_NAME = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
_EPSG = re.compile(r"EPSG:+(\d+)$", re.IGNORECASE)


class UnreadableKaart(ValueError):
    """Not a GeoPackage or GeoJSON file this loader understands."""


@dataclass(frozen=True)
class Geometry:
    """An encoded geometry: GeoJSON text or WKB bytes, in `srid`."""

    srid: int
    geojson: str | None = None
    wkb: bytes | None = None


@dataclass
class AreaRecord:
    code: str
    name: str | None
    year: int | None
    geometry: Geometry | None = None

    @property
    def municipality(self) -> str:
        return areas.parse(self.code).municipality


@dataclass
class Kaart:
    """What a file holds: its areas (parents named by their children added without a boundary)."""

    records: list[AreaRecord] = field(default_factory=list)
    skipped: int = 0


def read(path: Path, year: int | None = None) -> Kaart:
    """The areas of a GeoPackage (`.gpkg`) or GeoJSON file; `year` when the rows do not say it
    (else a year in the file name, e.g. cbs-2014-GM0479.geojson)."""
    default_year = year if year is not None else year_in_name(path.name)
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        rows = _geopackage_rows(path)
    elif path.suffix.lower() in (".geojson", ".json") or head.lstrip()[:1] == b"{":
        rows = _geojson_rows(path)
    else:
        raise UnreadableKaart(f"{path.name}: neither a GeoPackage nor GeoJSON")
    return _records(rows, default_year)


def year_in_name(name: str) -> int | None:
    match = _YEAR_IN_NAME.search(name)
    return int(match.group(0)) if match else None


def _records(rows: Iterator[tuple[Mapping[str, Any], Geometry | None]], default_year: int | None) -> Kaart:
    kaart = Kaart()
    found: dict[str, AreaRecord] = {}
    parent_names: dict[str, str] = {}
    for properties, geometry in rows:
        props = {str(k).lower(): v for k, v in properties.items()}
        code, name = _code_and_name(props)
        if code is None:
            kaart.skipped += 1
            continue
        for code_column, name_column, prefix in _CBS_COLUMNS:
            parent = _code(props.get(code_column), prefix)
            if parent and parent != code and isinstance(props.get(name_column), str):
                parent_names.setdefault(parent, props[name_column].strip())
        found[code] = AreaRecord(code, name, _year(props) or default_year, geometry)
    for record in list(found.values()):
        for enclosing in areas.parse(record.code).enclosing()[1:]:
            if enclosing.code not in found:
                found[enclosing.code] = AreaRecord(enclosing.code, parent_names.get(enclosing.code), record.year)
    kaart.records = sorted(found.values(), key=lambda r: r.code)
    return kaart


def _code(value: object, prefix: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip().upper()
    if text.isdigit():
        text = prefix + text
    return text if text.startswith(prefix) and areas.is_area(text) else None


def _code_and_name(props: Mapping[str, Any]) -> tuple[str | None, str | None]:
    if "code" in props:
        given = areas.parse_or_none(str(props["code"]).strip().upper())
        name = props.get("name") or props.get("naam")
        return (given.code if given else None), (str(name).strip() if name else None)
    for code_column, name_column, prefix in _CBS_COLUMNS:
        code = _code(props.get(code_column), prefix)
        if code is not None:
            name = props.get(name_column)
            return code, (str(name).strip() if name else None)
    return None, None


def _year(props: Mapping[str, Any]) -> int | None:
    for column in ("jaar", "year"):
        value = props.get(column)
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return int(value)
    return None


# --- GeoJSON -------------------------------------------------------------------------------------


def _geojson_rows(path: Path) -> Iterator[tuple[Mapping[str, Any], Geometry | None]]:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UnreadableKaart(f"{path.name}: not JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise UnreadableKaart(f"{path.name}: not a GeoJSON FeatureCollection")
    srid = _geojson_srid(document)
    for feature in document.get("features") or []:
        geometry = feature.get("geometry")
        encoded = Geometry(srid, geojson=orjson.dumps(geometry).decode()) if geometry else None
        yield feature.get("properties") or {}, encoded


def _geojson_srid(document: Mapping[str, Any]) -> int:
    """WGS84 (RFC 7946) unless an old-style `crs` member names another EPSG code (e.g. RD New, 28992)."""
    name = ((document.get("crs") or {}).get("properties") or {}).get("name")
    match = _EPSG.search(str(name or "").replace("::", ":"))
    return int(match.group(1)) if match else WGS84


# --- GeoPackage ----------------------------------------------------------------------------------


def _geopackage_rows(path: Path) -> Iterator[tuple[Mapping[str, Any], Geometry | None]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        layers = connection.execute(
            "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c"
            " JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features'"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise UnreadableKaart(f"{path.name}: not a GeoPackage ({exc})") from exc
    try:
        for layer in layers:
            table, column = layer["table_name"], layer["column_name"]
            quoted = '"' + table.replace('"', '""') + '"'
            cursor = connection.execute(f"SELECT * FROM {quoted}")
            names = [d[0] for d in cursor.description]
            for row in cursor:
                values = {k: row[k] for k in names if k != column}
                blob = row[column]
                yield values, (geopackage_geometry(bytes(blob), layer["srs_id"]) if blob else None)
    finally:
        connection.close()


def geopackage_geometry(blob: bytes, default_srid: int) -> Geometry | None:
    """The WKB inside a GeoPackage geometry blob (its header: "GP", version, flags, srs id, envelope)."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise UnreadableKaart("not a GeoPackage geometry blob")
    flags = blob[3]
    if flags & 0b10000:  # empty geometry
        return None
    order = "<" if flags & 1 else ">"
    srid = struct.unpack(f"{order}i", blob[4:8])[0] or default_srid
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0b111)
    if envelope is None:
        raise UnreadableKaart("GeoPackage geometry with an unknown envelope")
    return Geometry(srid if srid > 0 else WGS84, wkb=blob[8 + envelope :])
