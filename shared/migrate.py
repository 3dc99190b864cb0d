"""`python -m shared.migrate <service>`: apply a service's migrations (the k8s migration Job)."""

from __future__ import annotations

import asyncio
import importlib
import sys

from shared.db import Database
from shared.settings import ServiceSettings


async def run(service: str) -> list[str]:
    module = importlib.import_module(f"services.{service}.app")
    settings: ServiceSettings = module.Settings()
    db = Database(settings.database_url, settings.db_schema_name)
    try:
        return await db.migrate(module.MIGRATIONS)
    finally:
        await db.dispose()


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m shared.migrate <service>")
    applied = asyncio.run(run(sys.argv[1]))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


if __name__ == "__main__":
    main()
