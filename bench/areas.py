"""`areaAt` lookups per second on the full demo boundaries (Zaanstad's 50 buurten, CBS 2014), and
the service's side of `neighbourhoodSummary` (`GET /v1/summary` of a district with its buurten).

The neighbourhoods service runs as a process of its own beside the shared platform (same
database, topics and keys of this run) with the demo kaart loaded; the load generator sends
`GET /v1/area-at` for a point in Peldersveld with a resident's token, 8 clients in a closed loop.
Baseline, same run: the same PostGIS query (`ST_Covers` on the GiST-indexed boundaries) on plain
asyncpg connections at the same concurrency. The summary: Poelenburg (WK047912) with 20
initiatives and 20 messages in its buurten this quarter, 8 clients; the gateway adds goals'
counts to it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time

import asyncpg
import httpx

from bench.platform import Process
from bench.report import Figure, Report
from bench.system import Summary, run_load, system
from services.neighbourhoods.app import Settings
from services.neighbourhoods.areas import DEMO_FILE, load_file
from shared.clock import AMSTERDAM, SYSTEM_CLOCK
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


async def _fill_district(url: str, resident: str, coordinator: str, district: str, n: int) -> None:
    """n initiatives and n messages in the district's buurten (not timed)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(n):
            area = f"BU{district[2:]}{(i % 4) * 10 + 10:02d}"
            start = {"municipality": "GM0479", "area": area, "title": f"Initiatief {i}", "kind": "cleanup"}
            r = await client.post("/v1/initiatives", json=start, headers={"Authorization": f"Bearer {resident}"})
            r.raise_for_status()
            message = {"area": area, "kind": "info", "title": f"Bericht {i}", "body": "Ter informatie."}
            r = await client.post("/v1/messages", json=message, headers={"Authorization": f"Bearer {coordinator}"})
            r.raise_for_status()


def _quarter() -> str:
    now = SYSTEM_CLOCK.now().astimezone(AMSTERDAM)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


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
        district, n = "WK047912", 5 if quick else 20
        await _fill_district(p.url(NAME), token, p.token("coordinator"), district, n)
        summary_path = f"/v1/summary?area={district}&quarter={_quarter()}"
        common = {"mode": "trivial", "url": p.url(NAME), "path": summary_path, "token": token}
        summary = Summary.of(await run_load({**common, "concurrency": CLIENTS, "duration": seconds}), warmup=0.5)
        report.add(
            Figure(
                SECTION,
                f"GET /v1/summary p50 ({n}+{n} in a WK), {CLIENTS} clients",
                summary.p50,
                "ms",
                concurrency=CLIENTS,
                p99=summary.p99,
                notes=f"{summary.rate:.0f} summaries/s; {summary.failed} failed; the gateway's neighbourhoodSummary"
                " adds goals' counts",
            )
        )
    finally:
        await asyncio.to_thread(p.terminate, NAME)
