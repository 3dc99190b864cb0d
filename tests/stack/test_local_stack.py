"""The local stack's building blocks: dev tokens, the SMTP sink, and servers of our own.

The PostgreSQL and Kafka tests start their own instances on free ports in a temp folder (as
restart tests elsewhere do) and leave the local stack alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.auth import Authenticator
from stack import REPO_ROOT
from stack.kafka import KAFKA_VERSION, POM
from stack.keys import AUDIENCE, ISSUER, generate_keypair, issue_token
from stack.pg import PgServer
from stack.services import all_specs, service_env
from stack.smtp import MailSink
from stack.testing import free_ports, own_kafka_async
from stack.topics import create_topics, finished_test_topics


def test_pom_pins_the_same_kafka_version() -> None:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match is not None
    assert match.group(1) == KAFKA_VERSION


def test_dev_token_verifies_against_jwks(tmp_path: Path) -> None:
    keys = generate_keypair(tmp_path)
    assert generate_keypair(tmp_path) == keys  # once: a second call keeps the pair
    token = issue_token(
        keys.private_pem.read_bytes(),
        keys.kid,
        role="integration",
        municipalities=["GM0479", "GM0453"],
        partner_id="p1",
    )
    assert jwt.get_unverified_header(token)["kid"] == keys.kid
    jwk = jwt.PyJWKSet.from_json(keys.jwks_json.read_text())[keys.kid]
    claims = jwt.decode(token, jwk.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "client-p1"
    assert claims["roles"] == ["integration"]
    assert claims["municipalities"] == ["GM0479", "GM0453"]
    assert claims["partner_id"] == "p1"
    assert claims["exp"] - claims["iat"] == 12 * 3600

    # What the services use to check bearer tokens accepts it too.
    principal = Authenticator(issuer=ISSUER, audience=AUDIENCE, jwks_path=str(keys.jwks_json)).verify(token)
    assert principal.partner_id == "p1"
    assert principal.municipalities == frozenset({"GM0479", "GM0453"})

    plain = issue_token(keys.private_pem.read_bytes(), keys.kid, role="coordinator", municipalities=["GM0479"])
    claims = jwt.decode(plain, jwk.key, algorithms=["RS256"], audience=AUDIENCE)
    assert claims["sub"] == "dev-coordinator"
    assert "partner_id" not in claims


def test_token_command_prints_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stack", "token", "--role", "coordinator", "--municipalities", "GM0479,GM0453"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    ).stdout
    lines = out.splitlines()
    assert len(lines) == 1
    assert jwt.decode(lines[0], options={"verify_signature": False})["municipalities"] == ["GM0479", "GM0453"]


def test_service_env_points_at_the_local_stack() -> None:
    specs = {s.name: s for s in all_specs()}
    env = service_env(specs["signals"])
    assert env["SIGNALS_DATABASE_URL"].startswith("postgresql+asyncpg://signals:signals-dev@127.0.0.1:")
    assert env["SERVICE_URLS_PARTNERS"].startswith("http://127.0.0.1:")
    assert Path(env["AUTH_JWKS_PATH"]).is_file()
    assert Path(env["SERVICE_TOKEN_KEY_PATH"]).is_file()
    assert env["WK_ENV"] == "local"
    assert env["SECRETS_KEY"]
    assert "GATEWAY_DATABASE_URL" not in service_env(specs["gateway"])


async def test_smtp_sink_stores_every_message(tmp_path: Path) -> None:
    with MailSink(tmp_path / "mail") as sink:
        message = EmailMessage()
        message["From"] = "noreply@wijkaanpak.test"
        message["To"] = "wijkagent@example.test"
        message["Subject"] = "Signaal SIG-2026-000001"
        message.set_content("Er is een signaal voor u.")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port)
        stored = sink.messages()
    assert len(stored) == 1
    assert stored[0]["Subject"] == "Signaal SIG-2026-000001"
    assert stored[0]["X-Envelope-To"] == "wijkagent@example.test"


@pytest.mark.slow
async def test_own_postgres_starts_restarts_and_keeps_data(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    server = PgServer(tmp_path / "pg", port, quiet=True)
    try:
        server.ensure_installed()
        started = time.monotonic()
        server.start()
        assert time.monotonic() - started < 20
        server.ensure_service_roles(["signals", "partners"])
        conn = await asyncpg.connect(server.service_url("signals").replace("+asyncpg", ""))
        try:
            await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE partners.intruder (x int)")
        finally:
            await conn.close()
        server.restart()
        assert server.is_running()
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            assert await conn.fetchval("SELECT x FROM signals.kept") == 42
            assert await conn.fetchval("SHOW max_connections") == "300"
        finally:
            await conn.close()
    finally:
        server.remove()
    assert not server.is_running()


@pytest.mark.slow
async def test_own_kafka_broker_accepts_a_record_and_stops(tmp_path: Path) -> None:
    started = time.monotonic()
    async with own_kafka_async(tmp_path / "kafka") as broker:
        assert time.monotonic() - started < 45
        assert await create_topics(broker.bootstrap, ["stack.test"], partitions=6) == ["stack.test"]
        assert await create_topics(broker.bootstrap, ["stack.test"], partitions=6) == []
        marker = uuid.uuid4().hex.encode()
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait("stack.test", marker, key=b"aggregate-1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            "stack.test", bootstrap_servers=broker.bootstrap, group_id="stack-test", auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            values: list[bytes] = []
            deadline = time.monotonic() + 20
            while marker not in values and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                values += [record.value for records in batch.values() for record in records]
        finally:
            await consumer.stop()
        assert marker in values
        await asyncio.to_thread(broker.kill)
        assert not broker.is_running()
        await asyncio.to_thread(broker.start)  # recovers after a crash
        assert broker.is_ready()
        await asyncio.to_thread(broker.stop)
        assert not broker.is_running()
    assert not (tmp_path / "kafka").exists()


def test_only_finished_test_sessions_topics_are_pruned() -> None:
    topics = ["signal.received", "t0123abcd.signal.received", "t0123abcd.signal.received.dlq", "tfeedbeef.goal.set"]
    stale = finished_test_topics(topics, {"wk_test_tfeedbeef"})
    assert stale == ["t0123abcd.signal.received", "t0123abcd.signal.received.dlq"]
