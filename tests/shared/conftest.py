"""Fixtures of the messaging tests: the tally aggregate on the module's topics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.shared.tally import Tally
from tests.support import Infra


@pytest.fixture
async def tally(infra: Infra) -> AsyncIterator[Tally]:
    t = Tally(infra.database_url, infra.kafka)
    await t.setup()
    try:
        yield t
    finally:
        await t.close()
