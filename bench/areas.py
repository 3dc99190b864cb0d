"""The neighbourhoods service's figures, on the platform's neighbourhoods process (this run's
database, topics and keys) with Zaanstad's demo kaart loaded (50 buurten, CBS 2014):

- `areaAt`: `GET /v1/area-at` for a point in Peldersveld with a resident's token, 8 clients in a
  closed loop. Baseline, same run: the same PostGIS query (`ST_Covers` on the GiST-indexed
  boundaries) on plain asyncpg connections at the same concurrency.
- The service's side of `neighbourhoodSummary`: `GET /v1/summary` of Poelenburg (WK047912) with 20
  initiatives and 20 messages in its buurten this quarter, 8 clients.
- The gateway's `neighbourhoodSummary` of the same district (counts from goals, the service's
  initiatives and messages), 8 clients. Baseline, same run: the calls the gateway makes for it
  (the service's summary, goals' statistics with their per-category breakdown for this quarter and the one
  before, the year's goals) sent directly to the services as one wave of parallel GETs.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from bench.platform import Platform
from bench.report import Figure, Report
from bench.system import Summary, run_load, system
from shared.clock import AMSTERDAM, SYSTEM_CLOCK
from shared.db import asyncpg_dsn

SECTION = "neighbourhoods"
NAME = "neighbourhoods"
CLIENTS = 8
PELDERSVELD = (52.4444505, 4.842619091336563)
DISTRICT = "WK047912"  # Poelenburg
SUMMARY = """
query Summary($area: String!, $quarter: String!) { neighbourhoodSummary(area: $area, quarter: $quarter) {
  area { code name level } quarter resolvedShare medianAcknowledgeMinutes
  reported { category count previous }
  goals { id title area }
  initiatives { id title kind status participantCount joinedByMe asks { kind } pledges { kind partner { id name } } }
  messages { id title kind postedAt partner { id name } }
} }
"""


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


def _quarters() -> tuple[int, str, str]:
    """(year, this quarter, the one before) in Amsterdam."""
    now = SYSTEM_CLOCK.now().astimezone(AMSTERDAM)
    number = (now.month - 1) // 3 + 1
    before = f"{now.year - 1}-Q4" if number == 1 else f"{now.year}-Q{number - 1}"
    return now.year, f"{now.year}-Q{number}", before


def direct_calls(urls: dict[str, str], area: str, municipality: str) -> list[list[str]]:
    """The GETs the gateway sends for `neighbourhoodSummary` of a WK (gateway.neighbourhoods.summary),
    as one wave of `[base url, path]`."""
    year, quarter, before = _quarters()
    stats = f"/v1/area-statistics?area={area}&byCategory=true&quarter="
    return [
        [urls["neighbourhoods"], f"/v1/summary?area={area}&quarter={quarter}"],
        *([urls["goals"], stats + q] for q in (quarter, before)),
        [urls["goals"], f"/v1/goals?year={year}&first=200&municipality={municipality}"],
    ]


async def _area_count(dsn: str, schema: str) -> int:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        return int(await conn.fetchval("SELECT count(*) FROM areas"))
    finally:
        await conn.close()


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    p = (await system(database_url, bootstrap)).platform
    seconds = 3.0 if quick else 15.0
    dsn, schema = asyncpg_dsn(p.database_url), p.schema(NAME)
    areas = await _area_count(dsn, schema)
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
    raw = await _raw_lookups(dsn, schema, seconds)
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
    n = 5 if quick else 20
    await _fill_district(p.url(NAME), token, p.token("coordinator"), DISTRICT, n)
    _, quarter, _ = _quarters()
    common = {"mode": "trivial", "url": p.url(NAME), "path": f"/v1/summary?area={DISTRICT}&quarter={quarter}"}
    service = Summary.of(
        await run_load({**common, "token": token, "concurrency": CLIENTS, "duration": seconds}), warmup=0.5
    )
    report.add(
        Figure(
            SECTION,
            f"GET /v1/summary p50 ({n}+{n} in a WK), {CLIENTS} clients",
            service.p50,
            "ms",
            concurrency=CLIENTS,
            p99=service.p99,
            notes=f"{service.rate:.0f} summaries/s; {service.failed} failed; the service's part of"
            " neighbourhoodSummary",
        )
    )
    await _gateway_summary(report, p, token, n, seconds)


async def _gateway_summary(report: Report, p: Platform, token: str, n: int, seconds: float) -> None:
    """`neighbourhoodSummary` through the gateway beside the same calls sent to the services directly."""
    _, quarter, _ = _quarters()
    body = {"query": SUMMARY, "variables": {"area": DISTRICT, "quarter": quarter}}
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(f"{p.url('gateway')}/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
        answer = r.json()
    shown = (answer.get("data") or {}).get("neighbourhoodSummary") or {}
    if answer.get("errors") or len(shown.get("initiatives") or []) < n or len(shown.get("messages") or []) < n:
        raise RuntimeError(f"neighbourhoodSummary: {str(answer)[:500]}")
    spec = {"mode": "post", "url": p.url("gateway"), "path": "/graphql", "body": body, "token": token}
    await run_load({**spec, "concurrency": 2, "duration": 1})
    gateway = Summary.of(await run_load({**spec, "concurrency": CLIENTS, "duration": seconds}), warmup=0.5)
    wave = direct_calls({s: p.url(s) for s in ("neighbourhoods", "goals")}, DISTRICT, "GM0479")
    direct = Summary.of(
        await run_load({"mode": "waves", "waves": [wave], "token": token, "concurrency": CLIENTS, "duration": seconds}),
        warmup=0.5,
    )
    report.add(
        Figure(
            SECTION,
            f"neighbourhoodSummary p50 ({n}+{n} in a WK), {CLIENTS} clients",
            gateway.p50,
            "ms",
            baseline_name=f"the same {len(wave)} GETs sent to the services directly (one wave), p50",
            baseline=direct.p50,
            concurrency=CLIENTS,
            p99=gateway.p99,
            notes=f"{gateway.rate:.0f} queries/s, {gateway.failed} failed; direct p99 {direct.p99:.1f} ms,"
            f" {direct.rate:.0f}/s, {direct.failed} failed; ratio = gateway overhead",
        )
    )
