"""Issue 14, item 8: SIGTERM to a real service process ends it within its shutdown budget, also
while a consumer is stuck retrying a batch through a PostgreSQL outage, and loses nothing.

The goals service runs as its own process (uvicorn, as in k8s) on a PostgreSQL of the test's own;
the database is stopped under a partner event in flight. The batch is left uncommitted, so after
a restart the event is applied.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import asyncpg
import httpx

from shared.db import asyncpg_dsn
from shared.events.catalog import PartnerRegistered
from shared.events.codes import Category, PartnerKind
from shared.events.envelope import envelope, to_json
from shared.kafka import catalog_topics, create_topics, delete_topics
from tests.shared.tally import producer
from tests.support import Infra, eventually

SHUTDOWN_SECONDS = 6.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def goals_process(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "services.goals.app:create_app", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{url}/readyz", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


def logged(log: Path, what: bytes) -> int:
    """How often the service's log says `what` (a small file, read at once)."""
    return log.read_bytes().count(what)


async def exited_within(process: subprocess.Popen[bytes], seconds: float, log: Path) -> float:
    """SIGTERM, then how long the process took to exit after a clean shutdown (fails past `seconds`)."""
    stopped_before = logged(log, b"service_stopped")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, seconds)
    # uvicorn re-raises the signal it handled once its shutdown is done: -15 is a clean exit too
    assert code in (0, -signal.SIGTERM), f"exit code {code}"
    assert logged(log, b"service_stopped") == stopped_before + 1, "no clean shutdown"
    return time.monotonic() - started


async def test_sigterm_ends_a_service_within_its_budget_while_a_batch_waits_out_an_outage(
    infra: Infra, own_pg: object, tmp_path: Path
) -> None:
    from stack.pg import PgServer

    assert isinstance(own_pg, PgServer)
    prefix = f"shut{uuid4().hex[:8]}."
    schema = f"goals_{uuid4().hex[:6]}"
    await create_topics(infra.kafka, catalog_topics(prefix), 1)
    env = {
        "GOALS_DATABASE_URL": own_pg.admin_url,
        "GOALS_DB_SCHEMA": schema,
        "GOALS_KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "GOALS_TOPIC_PREFIX": prefix,
        "GOALS_CONSUMER_GROUP_PREFIX": prefix,
        "GOALS_RETRY_MAX_SECONDS": "1",
        "GOALS_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
        "GOALS_LOG_REQUESTS": "false",
    }
    log = tmp_path / "goals.log"
    partner_id = uuid4()
    event = envelope(
        PartnerRegistered(
            partner_id=partner_id,
            name="Wijkteam",
            kind=PartnerKind.MUNICIPALITY,
            municipalities=["GM0479"],
            areas=["GM0479"],
            categories=[Category.LITTER_DUMPING],
            acknowledge_within_minutes=60,
            registered_at=datetime.now(UTC),
            version=1,
        ),
        source="urn:nld:wijkaanpak:partners",
        sequence=1,
        municipality="GM0479",
        time=datetime.now(UTC),
    )
    try:
        with goals_process(env, log) as (process, url):
            await eventually(lambda: ready(url), timeout=60)
            await asyncio.to_thread(own_pg.stop)
            async with producer(infra.kafka) as p:
                await p.send_and_wait(prefix + "partner.registered", value=to_json(event), key=str(partner_id).encode())

            async def retrying() -> bool:
                return logged(log, b"consumer_retry") > 0

            await eventually(retrying, timeout=60)
            took = await exited_within(process, SHUTDOWN_SECONDS + 4, log)
            assert took <= SHUTDOWN_SECONDS + 4
        await asyncio.to_thread(own_pg.start)

        async def applied() -> bool:
            conn = await asyncpg.connect(asyncpg_dsn(own_pg.admin_url))
            try:
                found = await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}".inbox WHERE event_id = $1 AND consumer = $2',
                    event.id,
                    "goals.partners",
                )
                return bool(found)
            finally:
                await conn.close()

        with goals_process(env, log) as (process, url):
            await eventually(applied, timeout=60)  # the batch was left uncommitted: redelivered, applied
            await exited_within(process, SHUTDOWN_SECONDS + 4, log)
    finally:
        if not own_pg.is_running():
            await asyncio.to_thread(own_pg.start)
        await delete_topics(infra.kafka, prefix)
