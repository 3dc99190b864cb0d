"""`areaAt` lookups per second on the full demo boundaries (Zaanstad's 50 buurten, CBS 2014).

The neighbourhoods service runs as a process of its own beside the shared platform (same
database, topics and keys of this run) with the demo kaart loaded; the load generator sends
`GET /v1/area-at` for a point in Peldersveld with a resident's token, 8 clients in a closed loop.
Baseline, same run: the same PostGIS query (`ST_Covers` on the GiST-indexed boundaries) on plain
asyncpg connections at the same concurrency.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time

import asyncpg

from bench.platform import Process
from bench.report import Figure, Report
from bench.system import Summary, run_load, system
from services.neighbourhoods.app import Settings
from services.neighbourhoods.areas import DEMO_FILE, load_file
from shared.db import asyncpg_dsn
from stack.testing import free_ports

SECTION = "neighbourhoods"
NAME = "neighbourhoods"
CLIENTS = 8
PELDERSVELD = (52.4444505, 4.842619091336563)


async def _raw_lookups(dsn: str, schema: str, seconds: float) -> float:
    """ST_Covers lookups per second on plain asyncpg connections, CLIENTS at once."""
    lat, lon = PELDERSVELD
    sql = (
        "SELECT code FROM areas WHERE level = 'neighbourhood' AND postgis.ST_Covers(boundary,"
        " postgis.ST_SetSRID(postgis.ST_MakePoint($1, $2), 4326)) ORDER BY postgis.ST_Area(boundary), code LIMIT 1"
    )
    connections = [await asyncpg.connect(dsn, server_settings={"search_path": schema}) for _ in range(CLIENTS)]
    done = 0
    end = time.monotonic() + seconds

    async def worker(conn: asyncpg.Connection) -> None:
        nonlocal done
        while time.monotonic() < end:
            if await conn.fetchval(sql, lon, lat) != "BU04791310":
                raise RuntimeError("the baseline query did not find Peldersveld")
            done += 1

    started = time.monotonic()
    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    return done / (time.monotonic() - started)


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    p = (await system(database_url, bootstrap)).platform
    seconds = 3.0 if quick else 15.0
    p.processes[NAME] = Process(NAME, free_ports(1)[0])
    p.env_overrides["NEIGHBOURHOODS_RESIDENT_REF_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    p.spawn(NAME)
    try:
        await p.wait_ready(NAME)
        settings = Settings(database_url=p.database_url, db_schema=p.schema(NAME))
        areas = await load_file(settings, DEMO_FILE)
        lat, lon = PELDERSVELD
        path = f"/v1/area-at?lat={lat}&lon={lon}"
        token = p.token("resident")
        await run_load(
            {"mode": "trivial", "url": p.url(NAME), "path": path, "token": token, "concurrency": 2, "duration": 1}
        )
        lines = await run_load(
            {
                "mode": "trivial",
                "url": p.url(NAME),
                "path": path,
                "token": token,
                "concurrency": CLIENTS,
                "duration": seconds,
            }
        )
        got = Summary.of(lines, warmup=0.5)
        raw = await _raw_lookups(asyncpg_dsn(p.database_url), p.schema(NAME), seconds)
        report.add(
            Figure(
                SECTION,
                f"areaAt GET /v1/area-at, {CLIENTS} clients",
                got.rate,
                "req/s",
                baseline_name=f"asyncpg ST_Covers on the GiST index, {CLIENTS} connections",
                baseline=raw,
                concurrency=CLIENTS,
                p99=got.p99,
                notes=f"{areas} areas loaded (demo kaart); p50 {got.p50:.1f} ms; {got.failed} failed",
            )
        )
    finally:
        await asyncio.to_thread(p.terminate, NAME)
