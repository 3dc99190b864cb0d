"""Without PostGIS everything works on codes (docs/services.md, "The neighbourhoods service"): the
service on a database of the same server made without the extension loads the demo kaart's names
and hierarchy, answers `area-at` with null, and residents, messages, initiatives and the summary
work as with boundaries."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url

from services.neighbourhoods.app import create_app
from services.neighbourhoods.areas import DEMO_FILE, load_file
from shared.clock import FixedClock
from shared.db import asyncpg_dsn
from tests.neighbourhoods.conftest import START, NeighbourhoodsApp, Partners, nbh_settings
from tests.support import Infra, drop_database, serve

PELDERSVELD = (52.4444505, 4.842619091336563)  # inside BU04791310 where boundaries are loaded
WK, BU = "WK047913", "BU04791310"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def plain(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[NeighbourhoodsApp]:
    """The service on a database made from template0 (no PostGIS), with the demo kaart loaded."""
    name = f"wk_nbh_plain_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(asyncpg_dsn(infra.database_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    url = make_url(infra.database_url).set(database=name).render_as_string(hide_password=False)
    try:
        schema = f"neighbourhoods_{secrets.token_hex(3)}"
        settings = nbh_settings(infra, schema, database_url=url)
        assert await load_file(settings, DEMO_FILE) == 70
        clock = FixedClock(START)
        async with serve(create_app(settings, clock=clock)) as client:
            yield NeighbourhoodsApp(client, settings, Partners(infra, schema, producer), infra, clock)
    finally:
        await drop_database(infra.database_url, name)


async def test_the_database_has_no_postgis_and_areas_no_boundary(plain: NeighbourhoodsApp) -> None:
    conn = await asyncpg.connect(
        asyncpg_dsn(plain.settings.database_url), server_settings={"search_path": plain.settings.db_schema_name}
    )
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'") == 0
        boundary = "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('areas') AND attname = 'boundary'"
        assert await conn.fetchval(boundary) == 0
        assert await conn.fetchval("SELECT count(*) FROM areas") == 70  # 19 WK, 50 BU, the GM: names alone
    finally:
        await conn.close()


async def test_area_at_is_null_and_areas_answer_by_code_with_names(plain: NeighbourhoodsApp) -> None:
    h = plain.headers("resident")
    lat, lon = PELDERSVELD
    at = await plain.client.get(f"/v1/area-at?lat={lat}&lon={lon}", headers=h)
    assert (at.status_code, at.json()) == (200, {"area": None})
    bad = await plain.client.get("/v1/area-at?lat=91&lon=4.8", headers=h)
    assert bad.status_code == 400  # still validated without boundaries
    one = await plain.client.get(f"/v1/areas/{BU}", headers=h)
    assert one.json() == {
        "code": BU,
        "level": "neighbourhood",
        "name": "Peldersveld",
        "municipality": "GM0479",
        "parent": WK,
        "year": 2014,
    }
    children = (await plain.client.get(f"/v1/areas?municipality=GM0479&parent={WK}", headers=h)).json()
    assert [a["code"] for a in children["results"]] == [BU, "BU04791320"]
    assert (children["totalCount"], children["next"]) == (2, None)
    unknown = await plain.client.get("/v1/areas/BU0479ZZ01", headers=h)
    assert (unknown.status_code, unknown.json()["name"], unknown.json()["parent"]) == (200, None, "WK0479ZZ")


async def test_residents_messages_initiatives_and_the_summary_work_on_codes(plain: NeighbourhoodsApp) -> None:
    leader = plain.headers("resident", sub=f"leider-{secrets.token_hex(3)}")
    neighbour = plain.headers("resident", sub=f"buur-{secrets.token_hex(3)}")
    coordinator = plain.headers("coordinator")

    joined = await plain.client.put(f"/v1/me/neighbourhoods/{BU}", headers=leader)
    assert (joined.status_code, joined.json()["name"]) == (200, "Peldersveld")
    mine = (await plain.client.get("/v1/me/neighbourhoods", headers=leader)).json()
    assert [a["code"] for a in mine["results"]] == [BU]

    message = {"area": WK, "kind": "warning", "title": "Inbraakgolf", "body": "Doe de deur op slot."}
    posted = await plain.client.post("/v1/messages", json=message, headers=coordinator)
    assert posted.status_code == 201, posted.text
    listed = (await plain.client.get(f"/v1/messages?area={BU}", headers=neighbour)).json()
    assert posted.json()["id"] in [m["id"] for m in listed["results"]]  # a BU shows its WK's messages

    start = {"municipality": "GM0479", "area": BU, "title": "Zwerfafval prikken", "kind": "cleanup"}
    started = await plain.client.post("/v1/initiatives", json=start, headers=leader)
    assert started.status_code == 201, started.text
    initiative = started.json()
    together = await plain.client.post(f"/v1/initiatives/{initiative['id']}/join", headers=neighbour)
    assert (together.json()["participantCount"], together.json()["joinedByMe"]) == (2, True)
    in_district = (await plain.client.get(f"/v1/initiatives?area={WK}", headers=neighbour)).json()
    assert initiative["id"] in [i["id"] for i in in_district["results"]]  # a WK shows its BUs' initiatives

    summary = await plain.client.get(f"/v1/summary?area={WK}&quarter=2026-Q4", headers=neighbour)
    assert summary.status_code == 200, summary.text
    found = summary.json()
    assert found["area"]["name"] == "Wijk 13 Pelders- en Hoornseveld"
    assert initiative["id"] in [i["id"] for i in found["initiatives"]]
    assert posted.json()["id"] in [m["id"] for m in found["messages"]]
