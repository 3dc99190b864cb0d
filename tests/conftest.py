from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.kafka import delete_topics, ensure_topics
from tests.support import LOCAL_DATABASE_URL, LOCAL_KAFKA, Infra, Keys, create_database, docker_available, drop_database


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(admin database URL, Kafka bootstrap) of real servers."""
    url, kafka = os.environ.get("DATABASE_URL"), os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if url or kafka or not docker_available():
        yield url or LOCAL_DATABASE_URL, kafka or LOCAL_KAFKA
        return
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver="asyncpg") as pg, KafkaContainer().with_kraft() as kafka_c:
        yield pg.get_connection_url(), kafka_c.get_bootstrap_server()


@pytest.fixture(scope="session")
async def session_infra(servers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Infra]:
    """This session's database, keys and topics (for fixtures that serve the whole session)."""
    admin_url, kafka = servers
    run_id = f"t{secrets.token_hex(4)}"
    database_url = await create_database(admin_url, f"wk_test_{run_id}")
    prefix = f"{run_id}."
    await ensure_topics(kafka, prefix, partitions=3)
    keys = Keys.generate(Path(tmp_path_factory.mktemp("keys")))
    try:
        yield Infra(admin_url, database_url, kafka, prefix, keys, run_id)
    finally:
        await drop_database(admin_url, f"wk_test_{run_id}")
        await delete_topics(kafka, prefix)


_modules = itertools.count(1)


@pytest.fixture(scope="module")
async def infra(session_infra: Infra) -> AsyncIterator[Infra]:
    """The session's database and keys, with topics and consumer groups of this test module alone.

    Services started in one module never read what another module published (the demo seed,
    other modules' partners), whatever order the modules run in.
    """
    own = session_infra.module(f"m{next(_modules)}")
    await ensure_topics(own.kafka, own.topic_prefix, partitions=3)
    try:
        yield own
    finally:
        await delete_topics(own.kafka, own.topic_prefix)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def own_kafka(tmp_path: Path) -> AsyncIterator[object]:
    """A Kafka broker of this test's own, free to stop and restart."""
    import asyncio

    from stack.kafka import KafkaBroker

    broker = KafkaBroker(tmp_path / "kafka", free_port(), free_port(), heap="384m", quiet=True)
    await asyncio.to_thread(broker.start)
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.remove)


@pytest.fixture
async def own_pg(tmp_path: Path) -> AsyncIterator[object]:
    """A PostgreSQL server of this test's own, free to stop and restart."""
    import asyncio

    from stack.pg import PgServer

    server = PgServer(tmp_path / "pg", free_port(), quiet=True)
    await asyncio.to_thread(server.ensure_installed)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.remove)
