"""Where intake time goes: the signals app in this process (its real lifespan, the run's PostgreSQL
and Kafka, an ASGI client), `POST /v1/signals` under cProfile, CPU time summed per library.
Also the resident set size of each service process at the end of the run.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import time
from collections import defaultdict
from uuid import UUID

from bench import system
from bench.load import signal_fields
from bench.platform import MUNICIPALITIES, PROCESSES
from bench.report import Figure, Report
from services.signals.app import Settings, create_app
from tests.support import ISSUER, serve

SECTION = "profile"
BUCKETS = (  # first match wins: (part of the file path, bucket)
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/asyncpg/", "asyncpg (driver)"),
    ("/pydantic", "pydantic"),
    ("/jwt/", "JWT verification"),
    ("/cryptography/", "JWT verification"),
    ("/fastapi/", "FastAPI + Starlette"),
    ("/starlette/", "FastAPI + Starlette"),
    ("/httpx/", "ASGI test client (not in production)"),
    ("/httpcore/", "ASGI test client (not in production)"),
    ("/asgi_lifespan/", "ASGI test client (not in production)"),
    ("/structlog/", "logging"),
    ("/logging/", "logging"),
    ("/prometheus_client/", "metrics"),
    ("/opentelemetry/", "tracing"),
    ("/services/signals/", "signals service code"),
    ("/shared/", "shared/ (auth, UoW, outbox, idempotency)"),
    ("/asyncio/", "asyncio event loop"),
    ("uvloop", "asyncio event loop"),
)
IDLE = ("method 'poll' of 'select.epoll'", "method 'control' of 'select.kqueue'", "select.select")


def bucket(filename: str, function: str) -> str | None:
    if any(idle in function for idle in IDLE):
        return None
    for part, name in BUCKETS:
        if part in filename:
            return name
    if filename == "~":
        return "C built-ins (json, hashing, sockets)"
    return "other Python"


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    p = s.platform
    n = 300 if quick else 1000
    settings = Settings(
        database_url=p.database_url,
        db_schema=p.schema("profile"),
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=p.prefix,
        consumer_group_prefix=f"{p.run}.profile.",
        auth_jwks_path=str(p.keys.jwks_path),
        auth_issuer=ISSUER,
        service_token_key_path=str(p.keys.private_path),
        secrets_key=p.secrets_key,
        log_requests=False,
        log_level="WARNING",
    )
    police = UUID(p.partners["Politie"]["partner"]["id"])
    headers = p.headers("coordinator")
    async with serve(create_app(settings)) as client:
        await p.until_known(police, "profile", "partners", "partner_id")
        for i in range(50):  # warm-up: pools, caches, first-use code paths
            await client.post("/v1/signals", json=signal_fields(800_000 + i, MUNICIPALITIES, False), headers=headers)
        gate = asyncio.Semaphore(8)
        statuses: list[int] = []

        async def one(i: int) -> None:
            async with gate:
                r = await client.post("/v1/signals", json=signal_fields(i, MUNICIPALITIES, False), headers=headers)
                statuses.append(r.status_code)

        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        await asyncio.gather(*(one(810_000 + i) for i in range(n)))
        profiler.disable()
        wall = time.perf_counter() - started
    totals: dict[str, float] = defaultdict(float)
    functions: list[tuple[float, str]] = []
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    jwt_seconds = 0.0
    for (filename, line, function), (_, _, own, cumulative, _) in stats.items():
        if filename.endswith("jwt/api_jwt.py") and function == "decode_complete":
            jwt_seconds += cumulative
        name = bucket(filename, function)
        if name is None:
            continue
        totals[name] += own
        functions.append((own, f"{filename.rsplit('/', 1)[-1]}:{line}({function})"))
    cpu = sum(totals.values())
    ok = sum(1 for c in statuses if c == 201)
    top = ", ".join(f"{name} {own / cpu:.0%}" for own, name in sorted(functions, reverse=True)[:6])
    report.add(
        Figure(
            SECTION,
            "intake CPU per accepted signal (in-process, profiled)",
            cpu / max(ok, 1) * 1000,
            "ms",
            notes=f"{ok} of {n} accepted at concurrency 8 in {wall:.1f} s wall; profiler overhead"
            f" included; token verification (RS256) {jwt_seconds / cpu:.0%} of CPU (one token for all: shared.auth"
            f" caches it verified); top functions: {top}",
        )
    )
    for name, own in sorted(totals.items(), key=lambda kv: -kv[1]):
        report.add(Figure(SECTION, f"  {name}", own / cpu * 100, "% CPU"))


async def rss(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    for name in PROCESSES:
        value = s.platform.rss_mb(name)
        if value is not None:
            report.add(Figure("rss", f"{name} resident set size at the end", value, "MB", notes="one uvicorn worker"))
