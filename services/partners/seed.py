"""`python -m services.partners.seed`: the demo region's partners in GM0479 (Zaanstad).

Through the registering use case (`handlers.seed`), acting as a coordinator of GM0479, so each
one is checked by the same rules and emits `partner.registered` for the other services' read
models (the running service's relay publishes). Idempotent: a partner whose name exists in
GM0479 is skipped.
"""

from __future__ import annotations

import asyncio

from services.partners import handlers
from services.partners.app import Settings, config_for, run_command, unit_of_work
from services.partners.domain import Registration
from shared.auth import Principal
from shared.clock import SYSTEM_CLOCK, Clock
from shared.db import Database
from shared.events.codes import Role

ZAANSTAD = "GM0479"
SEEDER = Principal(sub="partners-seed", roles=frozenset({Role.COORDINATOR.value}), municipalities=frozenset({ZAANSTAD}))
DEMO_PARTNERS = [
    Registration(
        name="Politie Zaanstad-Noord, wijkagenten",
        kind="police",
        municipalities=[ZAANSTAD],
        areas=[ZAANSTAD],
        categories=["burglary", "suspicious_situation", "drugs_nuisance", "youth_nuisance", "traffic_safety"],
        auto_escalate=["burglary"],
        acknowledge_within_minutes=240,
        acknowledge_within_minutes_by_urgency={"acute": 15, "high": 60},
        priority=10,
        email="wijkagenten.zaanstad@politie.example.nl",
    ),
    Registration(
        name="Gemeente Zaanstad, wijkregie",
        kind="municipality",
        municipalities=[ZAANSTAD],
        areas=[ZAANSTAD],
        categories=["litter_dumping", "vandalism", "noise_nuisance", "other"],
        acknowledge_within_minutes=1440,
        availability=[(day, "08:30", "17:00") for day in range(1, 6)],
        email="wijkregie@zaanstad.example.nl",
    ),
    Registration(
        name="Jongerenwerk Poelenburg",
        kind="youth_work",
        municipalities=[ZAANSTAD],
        areas=["WK047912"],  # Poelenburg (CBS 2014)
        categories=["youth_nuisance"],
        acknowledge_within_minutes=120,
        availability=[
            *[(day, "15:00", "23:00") for day in range(1, 5)],
            (5, "20:00", "02:00"),
            (6, "20:00", "02:00"),
        ],
        priority=20,
        email="jongerenwerk.poelenburg@example.nl",
    ),
    Registration(
        name="Buurtapp Peldersveld",
        kind="whatsapp_group",
        municipalities=[ZAANSTAD],
        areas=["BU04791310"],  # Peldersveld (CBS 2014)
        categories=[],  # a group reports and hears back: it handles nothing and is never routed to
        email="buurtapp.peldersveld@example.nl",
    ),
]


async def seed_demo_region(settings: Settings, db: Database, clock: Clock = SYSTEM_CLOCK) -> list[str]:
    """Names of the partners registered now (the ones already there are skipped)."""
    config = config_for(settings)
    created = []
    for draft in DEMO_PARTNERS:
        async with unit_of_work(settings, db, clock) as uow:
            if await handlers.seed(uow, draft, SEEDER, clock, config=config):
                created.append(str(draft.name))
    return created


async def main() -> None:
    created = await run_command("partners-seed", seed_demo_region)
    skipped = len(DEMO_PARTNERS) - len(created)
    print(f"seeded {len(created)} partner(s) in {ZAANSTAD}, {skipped} already there")


if __name__ == "__main__":
    asyncio.run(main())
