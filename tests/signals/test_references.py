"""`reference` is `SIG-<year>-` + at least 6 digits: it keeps working after the millionth signal
of a year (it used to be cut to 6 digits, repeating an earlier reference)."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from services.signals.app import create_app
from shared.clock import FixedClock
from tests.signals.conftest import Partners, SignalsApp, fresh_area, signals_settings
from tests.support import Infra, serve

YEAR = 2031  # a year of its own: this module's sequence is no other test's


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pinned(infra: Infra, producer: AIOKafkaProducer) -> AsyncIterator[SignalsApp]:
    schema = f"signals_{secrets.token_hex(3)}"
    settings = signals_settings(infra, schema)
    clock = FixedClock(datetime(YEAR, 3, 1, 12, 0, tzinfo=UTC))
    async with serve(create_app(settings, clock=clock)) as client:
        yield SignalsApp(client, settings, Partners(infra, schema, producer), infra)


async def test_references_after_the_millionth_signal_keep_every_digit(pinned: SignalsApp) -> None:
    resident = pinned.headers("resident")
    first = await pinned.report(resident, area=fresh_area()[1])
    assert first.status_code == 201, first.text
    assert first.json()["signal"]["reference"] == f"SIG-{YEAR}-000001"

    await pinned.sql(f"SELECT setval('signal_reference_{YEAR}', 999999)")
    references = []
    for _ in range(2):
        r = await pinned.report(resident, area=fresh_area()[1])
        assert r.status_code == 201, r.text
        references.append(r.json()["signal"]["reference"])

    assert references == [f"SIG-{YEAR}-1000000", f"SIG-{YEAR}-1000001"]
    assert all(re.fullmatch(rf"SIG-{YEAR}-\d{{6,}}", ref) for ref in references)
    for ref in references:
        mine = await pinned.client.get("/v1/signals/mine", headers=resident)
        assert ref in {s["reference"] for s in mine.json()["results"]}
