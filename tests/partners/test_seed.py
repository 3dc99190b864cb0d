"""The demo region's partners, seeded through the directory's own rules and published."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from services.partners.seed import DEMO_PARTNERS, ZAANSTAD, seed_demo_region
from shared.db import Database
from shared.events.catalog import PartnerRegistered
from shared.events.codes import Category, PartnerKind
from tests.partners.conftest import Partners
from tests.support import TopicReader

REPO = Path(__file__).resolve().parents[2]


async def test_seeding_registers_the_demo_region_once_and_publishes_it(partners: Partners) -> None:
    db = Database(partners.settings.database_url, partners.settings.db_schema_name, pool_size=1)
    try:
        created = await seed_demo_region(partners.settings, db)
    finally:
        await db.dispose()
    assert created == [str(d.name) for d in DEMO_PARTNERS]

    s = partners.settings
    env = {
        **os.environ,
        "PARTNERS_DATABASE_URL": s.database_url,
        "PARTNERS_DB_SCHEMA": s.db_schema_name,
        "PARTNERS_TOPIC_PREFIX": s.topic_prefix,
        "PARTNERS_SECRETS_KEY": s.secrets_key,
        "PYTHONPATH": str(REPO),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.partners.seed", env=env, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert f"seeded 0 partner(s) in {ZAANSTAD}, {len(DEMO_PARTNERS)} already there" in out.decode()

    async with TopicReader(partners.infra, "partner.registered") as reader:
        seen = await reader.until(
            lambda s: {d.name for _, d, _ in s if isinstance(d, PartnerRegistered)} >= set(created)
        )
    # other packages' tests publish partners of GM0479 on the same session topic: look at the demo names only
    demo = [d for e, d, _ in seen if isinstance(d, PartnerRegistered) and d.name in created]
    seeded = {d.name: d for d in demo}
    assert set(seeded) == set(created)
    assert len(demo) == len(created), "a demo partner was registered twice"

    kinds = {d.kind for d in seeded.values()}
    assert {PartnerKind.POLICE, PartnerKind.MUNICIPALITY, PartnerKind.YOUTH_WORK, PartnerKind.WHATSAPP_GROUP} <= kinds
    police = next(d for d in seeded.values() if d.kind is PartnerKind.POLICE)
    assert Category.BURGLARY in police.auto_escalate
    assert {Category.SUSPICIOUS_SITUATION, Category.DRUGS_NUISANCE, Category.YOUTH_NUISANCE} <= set(police.categories)
    youth = next(d for d in seeded.values() if d.kind is PartnerKind.YOUTH_WORK)
    assert any(w.until < w.from_ for w in youth.availability)  # a window crossing midnight
    group = next(d for d in seeded.values() if d.kind is PartnerKind.WHATSAPP_GROUP)
    assert all(a.startswith("BU0479") for a in group.areas)
    assert group.categories == [] and group.auto_escalate == []  # a group reports; it handles nothing

    # where they belong on the CBS 2014 map the demo loads: youth work in Poelenburg, the group in Peldersveld
    assert youth.areas == ["WK047912"] and group.areas == ["BU04791310"]
    resident = partners.headers("resident", [ZAANSTAD])
    kinds_covering = {}
    for bu in ("BU04791210", "BU04791310"):  # Poelenburg, Peldersveld
        r = await partners.client.get("/v1/partners", params={"area": bu}, headers=resident)
        kinds_covering[bu] = {p["kind"] for p in r.json()["results"] if p["name"] in created}
    assert kinds_covering == {
        "BU04791210": {"police", "municipality", "youth_work"},
        "BU04791310": {"police", "municipality", "whatsapp_group"},
    }
