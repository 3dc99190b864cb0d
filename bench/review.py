"""The gateway's `areaReview` query for an area with 10,000 signals in the quarter, at 8 concurrent
clients. The signals' facts are written straight into the goals service's read models (as its
consumers would have kept them from the events), so the figure measures reading the review, not
the intake; four partners of the area share the escalations, with acknowledgements, questions,
resolutions, delivered feedback and ratings.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx

from bench import system
from bench.platform import Platform
from bench.report import Figure, Report
from bench.system import Summary, run_load

SECTION = "area review"
CLIENTS = 8
GM = "GM0479"
AREA = "WK047996"
SIGNALS = 10_000
CATEGORIES = ["youth_nuisance", "vandalism", "litter_dumping", "noise_nuisance", "drugs_nuisance"]
QUERY = """
query Review($area: String!, $q: String!) {
  areaReview(area: $area, quarter: $q) {
    status partial trends { category count previous } sameQuarterLastYear { category count previous }
    partners { partner { id name } escalated acknowledgedInTime medianAcknowledgeMinutes resolved withFeedback
               rated satisfied }
    cooperation { from { id } to { id } score } agreements { id status owner { name } }
    goalReviews { quarter decision } reportUrl
  }
}
"""


def quarter_now() -> tuple[str, datetime]:
    """The current quarter (Europe/Amsterdam) and its start in UTC."""
    local = datetime.now(UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    first_month = 3 * ((local.month - 1) // 3) + 1
    start = datetime(local.year, first_month, 1, tzinfo=ZoneInfo("Europe/Amsterdam")).astimezone(UTC)
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}", start


async def seed(p: Platform, quarter: str, start: datetime) -> list[str]:
    """Four partners of the area and 10,000 signals of the quarter with their responsiveness facts."""
    kinds = ["police", "youth_work", "municipality", "housing_corporation"]
    answers = [await p.register_partner(f"Reviewpartner {n}", kind=kind, areas=[AREA]) for n, kind in enumerate(kinds)]
    partner_ids = [str(a["partner"]["id"] if "partner" in a else a["id"]) for a in answers]
    for pid in partner_ids:
        await p.until_known(UUID(pid), "goals", "partners", "partner_id")
    rnd = random.Random(17)
    now = datetime.now(UTC)
    span = max((now - start).total_seconds() - 3600, 60.0)
    facts, escalations, ratings, deliveries = [], [], [], []
    for n in range(SIGNALS):
        signal_id = uuid4()
        at = start + timedelta(seconds=rnd.uniform(0, span))
        bu = f"BU{AREA[2:]}{n % 12:02d}"
        category = CATEGORIES[n % len(CATEGORIES)]
        facts.append((signal_id, GM, bu, AREA, category, "resolved", 5, at, quarter))
        partner = UUID(partner_ids[n % len(partner_ids)])
        acknowledged = at + timedelta(minutes=rnd.uniform(2, 120))
        resolved = acknowledged + timedelta(hours=rnd.uniform(1, 48)) if n % 3 else None
        escalations.append((signal_id, partner, at, at + timedelta(hours=1), acknowledged, resolved))
        if resolved is not None and n % 4 == 0:
            ratings.append(
                (uuid4(), signal_id, partner, GM, bu, AREA, category, n % 8 == 0, resolved, quarter, resolved)
            )
        if resolved is not None and n % 2 == 0:
            deliveries.append((signal_id, "reporter", None))
    conn = await p.connect("goals")
    try:
        await conn.copy_records_to_table(
            "signal_facts",
            records=facts,
            columns=[
                "signal_id",
                "municipality",
                "area",
                "district",
                "category",
                "status",
                "sequence",
                "received_at",
                "quarter",
            ],
        )
        await conn.copy_records_to_table(
            "partner_escalations",
            records=escalations,
            columns=["signal_id", "partner_id", "escalated_at", "acknowledge_by", "acknowledged_at", "resolved_at"],
        )
        await conn.copy_records_to_table(
            "signal_ratings",
            records=ratings,
            columns=[
                "rating_id",
                "signal_id",
                "partner_id",
                "municipality",
                "area",
                "district",
                "category",
                "satisfied",
                "resolved_at",
                "quarter",
                "rated_at",
            ],
        )
        await conn.copy_records_to_table(
            "feedback_deliveries", records=deliveries, columns=["signal_id", "target", "partner_id"]
        )
        await conn.execute("ANALYZE signal_facts; ANALYZE partner_escalations; ANALYZE signal_ratings")
    finally:
        await conn.close()
    return partner_ids


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    p = s.platform
    quarter, start = quarter_now()
    partner_ids = await seed(p, quarter, start)
    token = p.token("coordinator")
    seconds = 5.0 if quick else 15.0
    variables: dict[str, Any] = {"area": AREA, "q": quarter}
    async with httpx.AsyncClient(timeout=60) as client:
        r = await client.post(
            f"{p.url('gateway')}/graphql",
            json={"query": QUERY, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer = r.json()
    shown = (answer.get("data") or {}).get("areaReview") or {}
    escalated = sum(x["escalated"] for x in shown.get("partners") or [])
    if answer.get("errors") or escalated != SIGNALS or len(shown["partners"]) != len(partner_ids):
        raise RuntimeError(f"areaReview query: {str(answer)[:500]}")
    load = Summary.of(
        await run_load(
            {
                "mode": "post",
                "url": p.url("gateway"),
                "path": "/graphql",
                "body": {"query": QUERY, "variables": variables},
                "token": token,
                "concurrency": CLIENTS,
                "duration": seconds,
            }
        ),
        1.0,
    )
    report.add(
        Figure(
            SECTION,
            f"areaReview query p50 ({SIGNALS:,} signals in the quarter, {len(partner_ids)} partners)",
            load.p50,
            "ms",
            concurrency=CLIENTS,
            p99=load.p99,
            notes=f"{load.rate:.1f} queries/s, {load.failed} failed; live (not held) review",
        )
    )
