"""Intake: accepted signals per second through `POST /v1/signals` (auth, validation, duplicate
check, routing, a durable commit with its outbox row) and through the gateway's `reportSignal`,
beside plain asyncpg single-row insert-and-commit and a trivial FastAPI endpoint at the same
concurrency, all in this run; and the latency at a steady 300 signals/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator

import asyncpg

from bench import system
from bench.platform import MUNICIPALITIES
from bench.report import Figure, Report
from bench.system import Summary, run_load
from shared.db import asyncpg_dsn
from stack import REPO_ROOT
from stack.testing import free_ports

SECTION = "intake"
CONCURRENCY = 32


@contextlib.contextmanager
def trivial_server() -> Iterator[str]:
    port = free_ports(1)[0]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bench.trivial:create_app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def _wait_up(url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/ping")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError("trivial server did not start")


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    p = s.platform
    seconds = 5.0 if quick else 15.0
    warmup = 1.0
    token = p.token("coordinator")
    common = {"token": token, "municipalities": MUNICIPALITIES, "duration": seconds}
    await run_load(
        {**common, "mode": "report", "url": p.url("signals"), "concurrency": 8, "duration": 2, "start": 900_000}
    )
    direct = Summary.of(
        await run_load({**common, "mode": "report", "url": p.url("signals"), "concurrency": CONCURRENCY, "start": 0}),
        warmup,
    )
    gateway = Summary.of(
        await run_load(
            {**common, "mode": "graphql", "url": p.url("gateway"), "concurrency": CONCURRENCY, "start": 100_000}
        ),
        warmup,
    )
    steady = Summary.of(
        await run_load({**common, "mode": "report", "url": p.url("signals"), "rate": 300.0, "start": 200_000}), warmup
    )
    table = f'"{p.run}_baseline".inserts'
    conn = await asyncpg.connect(asyncpg_dsn(p.database_url))
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{p.run}_baseline"')
        await conn.execute(
            f"CREATE TABLE {table} (id uuid PRIMARY KEY, payload jsonb NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        )
    finally:
        await conn.close()
    pg = {"mode": "asyncpg", "dsn": asyncpg_dsn(p.database_url), "table": table, "duration": seconds}
    raw = Summary.of(await run_load({**pg, "concurrency": CONCURRENCY}), warmup)
    raw_steady = Summary.of(await run_load({**pg, "concurrency": CONCURRENCY, "rate": 300.0}), warmup)
    with trivial_server() as url:
        await _wait_up(url)
        trivial = Summary.of(
            await run_load({"mode": "trivial", "url": url, "concurrency": CONCURRENCY, "duration": seconds}), warmup
        )
    c = CONCURRENCY
    report.add(
        Figure(
            SECTION,
            "signals POST /v1/signals, accepted",
            direct.rate,
            "req/s",
            "asyncpg insert+commit",
            raw.rate,
            concurrency=c,
            p99=direct.p99,
            aim=">= 1,000/s",
            notes=f"p50 {direct.p50:.1f} ms, p99 {direct.p99:.1f} ms; {direct.failed} failed; "
            f"baseline p50 {raw.p50:.1f} ms",
        )
    )
    report.add(
        Figure(
            SECTION,
            "signals POST /v1/signals vs trivial FastAPI",
            direct.rate,
            "req/s",
            "trivial FastAPI GET",
            trivial.rate,
            concurrency=c,
            p99=trivial.p99,
            notes=f"trivial p50 {trivial.p50:.1f} ms, p99 {trivial.p99:.1f} ms",
        )
    )
    report.add(
        Figure(
            SECTION,
            "gateway reportSignal, accepted",
            gateway.rate,
            "req/s",
            "signals POST direct",
            direct.rate,
            concurrency=c,
            p99=gateway.p99,
            notes=f"p50 {gateway.p50:.1f} ms, p99 {gateway.p99:.1f} ms; {gateway.failed} failed",
        )
    )
    report.add(
        Figure(
            SECTION,
            "signals latency p50 at a steady 300/s",
            steady.p50,
            "ms",
            "asyncpg insert+commit p50 at 300/s",
            raw_steady.p50,
            p99=steady.p99,
            aim="p99 <= 100 ms",
            notes=f"held {steady.rate:.0f}/s; p99.9 {steady.p999:.1f} ms; baseline p99 "
            f"{raw_steady.p99:.1f} ms; open loop, up to 512 in flight",
        )
    )
