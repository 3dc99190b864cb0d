"""Map front-ends: `GET /v1/signals.geojson` and `signals(bbox:)` answer exactly the signals with a
location inside the box (edges included) that the caller may see, newest first, without
descriptions; a final signal's position only to about 50 m; PostGIS's spatial index where installed."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from shared.db import asyncpg_dsn
from tests.gateway.conftest import GM, Platform

# a municipality of its own: no other test's partner routes or escalates these signals
MAP_GM = "GM0513"

REPORT = "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { signal { id } } }"
PROPERTIES = {"id", "reference", "area", "category", "urgency", "status", "reportedAt"}


async def report(platform: Platform, headers: dict[str, str], area: str, lat: float | None, lon: float | None) -> str:
    location = {"lat": lat, "lon": lon} if lat is not None else {}
    data = await platform.data(
        headers,
        REPORT,
        input={
            "municipality": MAP_GM,
            "area": area,
            "category": "NOISE_NUISANCE",
            "urgency": "LOW",
            "description": "geheim",
            **location,
        },
    )
    signal_id: str = data["reportSignal"]["signal"]["id"]
    return signal_id


async def test_a_bounding_box_answers_exactly_the_located_signals_inside_it_the_caller_may_see(
    platform: Platform,
) -> None:
    # a box of its own, far from every other test's points (lat/lon are never checked against areas)
    lon0, lat0 = 6.0 + secrets.randbelow(900) / 1000, 51.0 + secrets.randbelow(900) / 1000
    box = (lon0, lat0, lon0 + 0.01, lat0 + 0.01)
    bbox = ",".join(f"{v:.6f}" for v in box)
    resident, neighbour, coordinator = (platform.headers(r, (MAP_GM,)) for r in ("resident", "resident", "coordinator"))
    district = f"BU0513{secrets.randbelow(100):02d}"
    areas = [f"{district}{n:02d}" for n in range(5)]  # apart: no merging
    inside = await report(platform, resident, areas[0], lat0 + 0.005, lon0 + 0.005)
    outside = await report(platform, resident, areas[1], lat0 + 0.02, lon0 + 0.005)
    await report(platform, resident, areas[2], None, None)  # no location: never on a map
    corner = await report(platform, resident, areas[3], round(lat0 + 0.01, 6), round(lon0, 6))  # on the edge
    theirs = await report(platform, neighbour, areas[4], lat0 + 0.001, lon0 + 0.001)

    answer = await platform.gateway.get(
        "/v1/signals.geojson", params={"municipality": MAP_GM, "bbox": bbox}, headers=resident
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/geo+json")
    collection: dict[str, Any] = answer.json()
    assert collection["type"] == "FeatureCollection" and "truncated" not in collection
    assert [f["id"] for f in collection["features"]] == [corner, inside]  # newest first; not theirs, not outside
    feature = collection["features"][1]
    assert feature["geometry"] == {"type": "Point", "coordinates": [lon0 + 0.005, lat0 + 0.005]}
    assert set(feature["properties"]) == PROPERTIES and "geheim" not in answer.text

    everyone = await platform.gateway.get(
        "/v1/signals.geojson", params={"municipality": MAP_GM, "bbox": bbox}, headers=coordinator
    )
    assert [f["id"] for f in everyone.json()["features"]] == [theirs, corner, inside]
    escalated = await platform.gateway.get(
        "/v1/signals.geojson", params={"municipality": MAP_GM, "bbox": bbox, "status": "escalated"}, headers=coordinator
    )
    assert escalated.json()["features"] == []

    query = 'query($b: [Float!]) { signals(municipality: "GM0513", bbox: $b) { nodes { id } } }'
    same_box = [float(v) for v in bbox.split(",")]  # exactly the REST request's box: the corner on its edge
    nodes = (await platform.data(coordinator, query, b=same_box))["signals"]["nodes"]
    assert [n["id"] for n in nodes] == [theirs, corner, inside]
    assert outside not in [n["id"] for n in nodes]
    wrong = await platform.graphql(coordinator, query, b=[1.0, 2.0, 3.0])
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in wrong["errors"][0]["extensions"]["fields"]] == ["bbox"]

    rejected = await platform.data(
        coordinator, 'mutation($id: ID!) { rejectSignal(id: $id, reason: "dubbel") { status } }', id=inside
    )
    assert rejected["rejectSignal"]["status"] == "REJECTED"
    after = await platform.gateway.get(
        "/v1/signals.geojson", params={"municipality": MAP_GM, "bbox": bbox}, headers=resident
    )
    lon, lat = next(f for f in after.json()["features"] if f["id"] == inside)["geometry"]["coordinates"]
    assert all(abs(v * 2000 - round(v * 2000)) < 1e-6 for v in (lon, lat))  # final: on a 1/2000 degree grid
    assert abs(lon - (lon0 + 0.005)) <= 0.00025 and abs(lat - (lat0 + 0.005)) <= 0.00025


async def test_a_malformed_bounding_box_is_refused_with_every_problem(platform: Platform) -> None:
    coordinator = platform.headers("coordinator")
    for bbox in ("4.8,52.4,4.9", "4.9,52.4,4.8,52.5", "a,b,c,d", "4.8,95,4.9,96"):
        answer = await platform.gateway.get(
            "/v1/signals.geojson", params={"municipality": GM, "bbox": bbox}, headers=coordinator
        )
        assert answer.status_code == 400, (bbox, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [p["name"] for p in answer.json()["invalidParams"]] == ["bbox"]
    unauthenticated = await platform.gateway.get("/v1/signals.geojson", params={"municipality": GM, "bbox": "0,0,1,1"})
    assert unauthenticated.status_code == 401
    elsewhere = await platform.gateway.get(
        "/v1/signals.geojson", params={"municipality": "GM0363", "bbox": "0,0,1,1"}, headers=coordinator
    )
    assert elsewhere.status_code == 404


async def test_signals_have_a_spatial_index_where_postgis_is_installed(platform: Platform) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(platform.infra.database_url))
    try:
        postgis = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
        indexes = await conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'signals_by_geom'",
            platform.schemas["signals"],
        )
    finally:
        await conn.close()
    assert indexes == postgis  # with PostGIS the gist index on geom; without it, areas and lat/lon alone
