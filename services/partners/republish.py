"""`python -m services.partners.republish`: `partner.updated` for every partner, to rebuild read models.

Each carries the partner's current state with its version as `sequence`, so consumers that
apply by sequence ignore what they already have. The rows go through the outbox; the running
service's relay publishes them.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from services.partners import handlers
from services.partners.app import Settings, run_command, unit_of_work
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database


async def republish_all(settings: Settings, db: Database, *, batch: int = 200, clock: Clock = SYSTEM_CLOCK) -> int:
    """Every partner, `batch` to a transaction; how many were republished."""
    count = 0
    last: UUID | None = None
    while True:
        async with unit_of_work(settings, db, clock) as uow:
            done, last = await handlers.republish(uow, clock, last, batch)
        if last is None:
            return count
        count += done


async def main() -> None:
    count = await run_command("partners-republish", republish_all)
    print(f"republished {count} partner(s) as partner.updated")


if __name__ == "__main__":
    asyncio.run(main())
