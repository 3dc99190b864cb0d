"""Retention reaches every free text that may name a third party, and a final signal's point is
kept to about 50 m (issue 18): on the service's pinned clock, through its retention task."""

from __future__ import annotations

import secrets
from datetime import timedelta

import asyncpg
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from shared.db import asyncpg_dsn
from shared.events.codes import PartnerKind
from tests.signals.conftest import Partners, fresh_area
from tests.signals.test_pinned_clock import Ground, escalate, get, local, pinned, report, resolve
from tests.support import Infra, eventually


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def texts(infra: Infra, producer: AIOKafkaProducer) -> Ground:
    schema = f"signals_{secrets.token_hex(3)}"
    return Ground(infra, schema, Partners(infra, schema, producer))


async def test_free_texts_go_a_year_after_close_and_points_are_coarsened_once_final(texts: Ground) -> None:
    _, bu = fresh_area()
    start = local("2026-06-01T10:00+02:00")
    async with pinned(texts, start) as (app, clock):
        partner = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY)
        resident = app.headers("resident")
        signal = await report(app, resident, area=bu, category="noise_nuisance", lat=52.081234, lon=4.301234)
        await escalate(app, signal["id"])
        await resolve(app, signal["id"], partner)
        rated = await app.client.post(
            f"/v1/signals/{signal['id']}/rating",
            json={"satisfied": False, "comment": "buurman nr 3 weer"},
            headers=resident,
        )
        assert rated.status_code == 200, rated.text
        clock.set(start + timedelta(days=14, seconds=1))

        async def coarse() -> bool:
            shown = await get(app, signal["id"])
            return bool(shown["status"] == "closed" and shown["lat"] == 52.081 and round(shown["lon"], 4) == 4.301)

        await eventually(coarse, timeout=20)  # closed, and its point on a ~50 m grid
        assert (await get(app, signal["id"]))["description"] == "kapot"  # texts stay for a year

        clock.set(start + timedelta(days=14 + 365, seconds=2))

        async def texts_gone() -> bool:
            conn = await asyncpg.connect(
                asyncpg_dsn(texts.infra.database_url), server_settings={"search_path": texts.schema}
            )
            try:
                row = await conn.fetchrow(
                    "SELECT description, feedback::text AS f, ratings::text AS r FROM signals WHERE id = $1",
                    signal["id"],
                )
            finally:
                await conn.close()
            assert row is not None
            return row["description"] is None and "Opgelost" not in row["f"] and "buurman" not in row["r"]

        await eventually(texts_gone, timeout=20)
