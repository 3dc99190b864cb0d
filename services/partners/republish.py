"""`python -m services.partners.republish`: `partner.updated` for every partner, to rebuild read models.

Each carries the partner's current state with its version as `sequence`, so consumers that
apply by sequence ignore what they already have. The rows go through the outbox; the running
service's relay publishes them.
"""

from __future__ import annotations

import asyncio

from services.partners.app import MIGRATIONS, Settings, directory_for
from shared.db import Database
from shared.observability import configure_logging


async def main() -> None:
    settings = Settings()
    configure_logging("partners-republish", settings.log_level)
    db = Database(settings.database_url, settings.db_schema_name, pool_size=2)
    try:
        await db.migrate(MIGRATIONS)
        count = await directory_for(settings, db).republish()
    finally:
        await db.dispose()
    print(f"republished {count} partner(s) as partner.updated")


if __name__ == "__main__":
    asyncio.run(main())
