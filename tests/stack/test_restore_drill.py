"""The restore drill: base backup + archived WAL, restored to a point in time between two reports,
and the signals service comes up on the restored database with exactly the reports before it."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest

from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app as create_signals
from shared.db import asyncpg_dsn
from tests.conftest import free_port
from tests.support import Infra, eventually, serve

pytestmark = pytest.mark.slow

GM = "GM0479"


async def reported_ids(client: object, headers: dict[str, str]) -> set[str]:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    listed = await client.get("/v1/signals", params={"municipality": GM}, headers=headers)
    assert listed.status_code == 200, listed.text
    return {item["id"] for item in listed.json()["results"]}


async def test_a_point_in_time_restore_brings_back_exactly_the_reports_before_that_point(
    infra: Infra, own_pg: object, tmp_path: Path
) -> None:
    from stack import backup
    from stack.pg import PgServer

    assert isinstance(own_pg, PgServer)
    await asyncio.to_thread(backup.enable_archiving, own_pg)
    schema = f"drill_{secrets.token_hex(3)}"

    def settings(server: PgServer) -> SignalsSettings:
        return infra.settings(
            SignalsSettings, database_url=server.admin_url, db_schema=schema, secrets_key="drill-test-key"
        )

    resident = infra.headers("resident", [GM], sub="drill-resident")
    coordinator = infra.headers("coordinator", [GM])
    area = f"BU0479{secrets.randbelow(100):02d}{secrets.randbelow(100):02d}"

    async def report(client: object, n: int) -> list[str]:
        import httpx

        assert isinstance(client, httpx.AsyncClient)
        ids = []
        for i in range(n):
            body = {"municipality": GM, "area": area, "category": "vandalism", "urgency": "normal",
                    "description": f"drill {i} {secrets.token_hex(3)}"}  # fmt: skip
            answer = await client.post("/v1/signals", json={**body, "category": ["vandalism", "litter_dumping"][i % 2]},
                                       headers=resident)  # fmt: skip
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["signal"]["id"])
        return ids

    async with serve(create_signals(settings(own_pg))) as client:
        base = await asyncio.to_thread(backup.base_backup, own_pg)
        before = await report(client, 3)
        conn = await asyncpg.connect(asyncpg_dsn(own_pg.admin_url))
        try:  # the database's own clock: commits after this instant are past the restore point
            target = (await conn.fetchval("SELECT clock_timestamp()")).isoformat()
        finally:
            await conn.close()
        after = await report(client, 2)
        assert await reported_ids(client, coordinator) == set(before) | set(after)

    wal = await asyncio.to_thread(backup.archive_current_wal, own_pg)
    await eventually(lambda: asyncio.to_thread(backup.archived, own_pg, wal), 30)

    restored = PgServer(tmp_path / "restored", free_port(), quiet=True)
    try:
        await asyncio.to_thread(backup.restore, base, backup.archive_dir(own_pg), target, restored)

        async def promoted() -> bool:
            return await asyncio.to_thread(restored.psql, "SELECT pg_is_in_recovery()") == "f"

        await eventually(promoted, 60, interval=0.2)
        async with serve(create_signals(settings(restored))) as client:
            assert await reported_ids(client, coordinator) == set(before)
    finally:
        await asyncio.to_thread(restored.remove)
