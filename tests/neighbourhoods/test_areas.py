"""Areas: names and hierarchy from a loaded kaart, any well-formed code, and the neighbourhood of a
point on real Zaanstad boundaries (CBS 2014, the demo file)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import struct
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from services.neighbourhoods.areas import DEMO_FILE, load_file
from stack import REPO_ROOT
from tests.neighbourhoods.conftest import NeighbourhoodsApp, invalid

# A point inside Peldersveld (BU04791310, Zaanstad): PostGIS's ST_PointOnSurface of its 2014 boundary.
PELDERSVELD = (52.4444505, 4.842619091336563)
UTRECHT = (52.0907, 5.1214)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo(app: NeighbourhoodsApp) -> NeighbourhoodsApp:
    lines: list[str] = []
    assert await load_file(app.settings, DEMO_FILE, progress=lines.append) == 70  # 19 WK, 50 BU, the GM
    assert any("70/70" in line for line in lines)
    return app


async def boundaries_loaded(app: NeighbourhoodsApp) -> bool:
    rows = await app.sql("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('areas') AND attname = 'boundary'")
    return bool(rows)


def _inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    """Ray casting on (lon, lat): whether the point lies inside the ring."""
    lat, lon = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def test_the_point_lies_in_peldersveld_and_in_no_other_buurt_of_the_demo_file() -> None:
    features = json.loads(DEMO_FILE.read_text())["features"]
    holding = [
        f["properties"]["code"]
        for f in features
        if f["properties"]["level"] == "buurt" and _inside(PELDERSVELD, f["geometry"]["coordinates"][0])
    ]
    assert holding == ["BU04791310"]


async def test_area_at_finds_peldersveld_for_a_point_inside_it(demo: NeighbourhoodsApp) -> None:
    if not await boundaries_loaded(demo):
        # `make test` installs PostGIS; the codes-only path has its own test (test_without_postgis)
        pytest.fail("PostGIS is not installed on this server (apt-get install postgresql-15-postgis-3)")
    lat, lon = PELDERSVELD
    r = await demo.client.get(f"/v1/area-at?lat={lat}&lon={lon}", headers=demo.headers("resident"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "area": {
            "code": "BU04791310",
            "level": "neighbourhood",
            "name": "Peldersveld",
            "municipality": "GM0479",
            "parent": "WK047913",
            "year": 2014,
        }
    }


async def test_area_at_a_point_outside_every_boundary_is_null(demo: NeighbourhoodsApp) -> None:
    lat, lon = UTRECHT
    r = await demo.client.get(f"/v1/area-at?lat={lat}&lon={lon}", headers=demo.headers("partner_agent"))
    assert r.status_code == 200
    assert r.json() == {"area": None}


async def test_area_at_reports_both_coordinates_out_of_range_at_once(demo: NeighbourhoodsApp) -> None:
    r = await demo.client.get("/v1/area-at?lat=91&lon=-181", headers=demo.headers("resident"))
    assert r.status_code == 400
    assert invalid(r) == {"lat", "lon"}


async def test_area_at_needs_a_token(demo: NeighbourhoodsApp) -> None:
    r = await demo.client.get("/v1/area-at?lat=52.44&lon=4.84")
    assert r.status_code == 401


async def test_a_loaded_area_has_its_name_year_and_parent(demo: NeighbourhoodsApp) -> None:
    r = await demo.client.get("/v1/areas/WK047912", headers=demo.headers("resident"))
    assert r.status_code == 200
    assert r.json() == {
        "code": "WK047912",
        "level": "district",
        "name": "Wijk 12 Poelenburg",
        "municipality": "GM0479",
        "parent": "GM0479",
        "year": 2014,
    }


async def test_any_well_formed_code_is_an_area_without_a_name_where_none_is_loaded(demo: NeighbourhoodsApp) -> None:
    r = await demo.client.get("/v1/areas/BU0479ZZ01", headers=demo.headers("coordinator"))
    assert r.status_code == 200
    assert r.json() == {
        "code": "BU0479ZZ01",
        "level": "neighbourhood",
        "name": None,
        "municipality": "GM0479",
        "parent": "WK0479ZZ",
        "year": None,
    }


async def test_another_municipalitys_area_is_not_found_and_a_malformed_code_is_bad_input(
    demo: NeighbourhoodsApp,
) -> None:
    other = await demo.client.get("/v1/areas/WK036300", headers=demo.headers("resident"))
    assert other.status_code == 404
    malformed = await demo.client.get("/v1/areas/BU123", headers=demo.headers("resident"))
    assert malformed.status_code == 400
    assert invalid(malformed) == {"code"}


async def test_the_children_of_a_district_are_listed_by_code(demo: NeighbourhoodsApp) -> None:
    r = await demo.client.get("/v1/areas?municipality=GM0479&parent=WK047913", headers=demo.headers("resident"))
    assert r.status_code == 200
    assert [(a["code"], a["name"]) for a in r.json()["results"]] == [
        ("BU04791310", "Peldersveld"),
        ("BU04791320", "Hoornseveld"),
    ]
    everything = await demo.client.get("/v1/areas?municipality=GM0479", headers=demo.headers("resident"))
    items = everything.json()["results"]
    assert len(items) == 70
    assert [a["code"] for a in items] == sorted(a["code"] for a in items)


async def test_listing_areas_checks_municipality_and_parent(demo: NeighbourhoodsApp) -> None:
    bad = await demo.client.get("/v1/areas?municipality=WK047913&parent=BU04791310", headers=demo.headers("resident"))
    assert bad.status_code == 400
    assert invalid(bad) == {"municipality", "parent"}
    other = await demo.client.get("/v1/areas?municipality=GM0363", headers=demo.headers("resident"))
    assert other.status_code == 404


# --- the loader ----------------------------------------------------------------------------------


def _polygon_wkb(ring: list[tuple[float, float]]) -> bytes:
    """A WKB Polygon (little endian) of one closed ring."""
    points = b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return struct.pack("<BIII", 1, 3, 1, len(ring)) + points


def _geopackage(path: Path, rows: list[dict[str, object]], srid: int) -> None:
    """A minimal GeoPackage as CBS ships its kaart: a `buurten` layer with CBS's columns."""
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, srs_id INTEGER);"
        "CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,"
        " srs_id INTEGER, z INTEGER, m INTEGER);"
        "CREATE TABLE buurten (fid INTEGER PRIMARY KEY, geom BLOB, buurtcode TEXT, buurtnaam TEXT, wijkcode TEXT,"
        " wijknaam TEXT, gemeentecode TEXT, gemeentenaam TEXT, jaar INTEGER);"
    )
    db.execute("INSERT INTO gpkg_contents VALUES ('buurten', 'features', ?)", (srid,))
    db.execute("INSERT INTO gpkg_geometry_columns VALUES ('buurten', 'geom', 'MULTIPOLYGON', ?, 0, 0)", (srid,))
    for row in rows:
        db.execute(
            "INSERT INTO buurten (geom, buurtcode, buurtnaam, wijkcode, wijknaam, gemeentecode, gemeentenaam, jaar)"
            " VALUES (:geom, :buurtcode, :buurtnaam, :wijkcode, :wijknaam, :gemeentecode, :gemeentenaam, :jaar)",
            row,
        )
    db.commit()
    db.close()


def _gpkg_blob(wkb: bytes, srid: int) -> bytes:
    return b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", srid) + wkb


async def test_the_loader_reads_a_cbs_geopackage_in_rd_new(demo: NeighbourhoodsApp, tmp_path: Path) -> None:
    # A 200 m square near Amersfoort in Rijksdriehoek coordinates (EPSG:28992), as CBS delivers.
    square = [(155000.0, 463000.0), (155200.0, 463000.0), (155200.0, 463200.0), (155000.0, 463200.0)]
    square.append(square[0])
    path = tmp_path / "wijkenbuurten_2024.gpkg"
    _geopackage(
        path,
        [
            {
                "geom": _gpkg_blob(_polygon_wkb(square), 28992),
                "buurtcode": "BU99990101",
                "buurtnaam": "Proefbuurt",
                "wijkcode": "WK999901",
                "wijknaam": "Proefwijk",
                "gemeentecode": "GM9999",
                "gemeentenaam": "Proefgemeente",
                "jaar": 2024,
            }
        ],
        28992,
    )
    assert await load_file(demo.settings, path) == 3
    h = demo.headers("resident", ["GM9999"])
    listed = await demo.client.get("/v1/areas?municipality=GM9999", headers=h)
    assert [(a["code"], a["name"], a["year"]) for a in listed.json()["results"]] == [
        ("BU99990101", "Proefbuurt", 2024),
        ("GM9999", "Proefgemeente", 2024),
        ("WK999901", "Proefwijk", 2024),
    ]
    if await boundaries_loaded(demo):
        found = await demo.client.get("/v1/area-at?lat=52.1564&lon=5.3886", headers=h)
        assert found.json()["area"]["code"] == "BU99990101"


async def test_loading_unless_loaded_changes_nothing_once_the_municipality_has_areas(demo: NeighbourhoodsApp) -> None:
    assert await load_file(demo.settings, DEMO_FILE, unless_loaded=True) == 0
    r = await demo.client.get("/v1/areas/BU04791310", headers=demo.headers("resident"))
    assert r.json()["name"] == "Peldersveld"


async def test_a_reload_replaces_the_municipalitys_areas(demo: NeighbourhoodsApp, tmp_path: Path) -> None:
    def kaart(features: list[tuple[str, str]]) -> Path:
        path = tmp_path / "buurten.geojson"
        path.write_text(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "properties": {"code": code, "name": name, "level": "buurt"},
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [[[3.0, 51.0], [3.01, 51.0], [3.01, 51.01], [3.0, 51.0]]],
                            },
                        }
                        for code, name in features
                    ],
                }
            )
        )
        return path

    assert await load_file(demo.settings, kaart([("BU99980101", "Oud"), ("BU99980102", "Weg")]), year=2020) == 4
    assert await load_file(demo.settings, kaart([("BU99980101", "Nieuw")]), year=2021) == 3
    r = await demo.client.get("/v1/areas?municipality=GM9998", headers=demo.headers("resident", ["GM9998"]))
    assert [(a["code"], a["name"], a["year"]) for a in r.json()["results"]] == [
        ("BU99980101", "Nieuw", 2021),
        ("GM9998", None, 2021),
        ("WK999801", None, 2021),
    ]


async def test_the_load_command_prints_its_progress_and_loads_unless_loaded(demo: NeighbourhoodsApp) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "NEIGHBOURHOODS_DATABASE_URL": demo.settings.database_url,
        "NEIGHBOURHOODS_DB_SCHEMA": demo.settings.db_schema,
    }
    command = [sys.executable, "-m", "services.neighbourhoods.areas", "load", "--unless-loaded", str(DEMO_FILE)]
    proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert "cbs-2014-GM0479.geojson: 70 areas" in out.decode()
    assert "loaded already: nothing changed" in out.decode()
    missing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.neighbourhoods.areas", "load", "/nonexistent.gpkg",
        env=env, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )  # fmt: skip
    _, err = await missing.communicate()
    assert missing.returncode != 0 and b"cannot load" in err
