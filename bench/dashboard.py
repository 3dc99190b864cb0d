"""The gateway's neighbourhood dashboard query (an area's 3 goals with measurements, 20 partners, 50
signals with routed partner and escalations) at 8 concurrent clients, beside the same data
fetched directly from the services (two waves of parallel GETs, as a client knowing the ids
would) at the same concurrency, in this run.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench import system
from bench.platform import Platform
from bench.report import Figure, Report
from bench.system import Summary, run_load

SECTION = "dashboard"
CLIENTS = 8
GM = "GM0479"
AREA = "WK047998"
QUERY = """
query Dashboard($m: String!, $area: String!, $year: Int!, $q: String!) {
  goals(area: $area, year: $year) {
    id title status indicators { kind target direction }
    measurements(quarter: $q) { value previous onTrack indicator { kind } }
    partners { id name }
  }
  partners(municipality: $m, area: $area) { id name kind }
  signals(municipality: $m, area: $area, first: 50) {
    totalCount
    nodes {
      id reference status category urgency reportedAt
      routedTo { id name kind }
      escalations { at acknowledgeBy partner { id name } }
    }
  }
}
"""
CATEGORIES = ["youth_nuisance", "vandalism", "litter_dumping", "noise_nuisance", "drugs_nuisance"]


def quarter_now() -> tuple[int, str]:
    local = datetime.now(UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    return local.year, f"{local.year}-Q{(local.month - 1) // 3 + 1}"


async def seed(p: Platform) -> tuple[list[str], list[str]]:
    """20 partners covering the area, 3 goals, 50 signals (half acute: escalated); (goal ids, partner ids)."""
    kinds = ["youth_work", "housing_corporation", "care", "resident_group", "municipality", "other"]
    answers = await asyncio.gather(
        *(
            p.register_partner(
                f"Wijkpartner {n}",
                kind=kinds[n % len(kinds)],
                municipalities=[GM],
                areas=[AREA],
                categories=CATEGORIES,
                priority=n,
            )
            for n in range(20)
        )
    )
    partner_ids = [a["partner"]["id"] for a in answers]
    from uuid import UUID

    for pid in partner_ids[:9]:
        await p.until_known(UUID(pid), "goals", "partners", "partner_id")
    year, _ = quarter_now()
    coordinator = p.headers("coordinator")
    goal_ids = []
    async with httpx.AsyncClient(timeout=30) as client:
        for n in range(3):
            body = {
                "municipality": GM,
                "area": AREA,
                "year": year,
                "title": f"Doel {n + 1}",
                "categories": [CATEGORIES[n]],
                "indicators": [
                    {
                        "kind": "signal_count",
                        "category": CATEGORIES[n],
                        "baseline": 20,
                        "target": 10,
                        "direction": "decrease",
                    },
                    {"kind": "resolved_share", "target": 0.8, "direction": "increase"},
                ],
                "partnerIds": partner_ids[n * 3 : n * 3 + 3],
            }
            r = await client.post(f"{p.url('goals')}/v1/goals", json=body, headers=coordinator)
            if r.status_code != 201:
                raise RuntimeError(f"setting a goal: {r.status_code} {r.text}")
            goal_ids.append(r.json()["id"])
        for n in range(50):
            body = {
                "municipality": GM,
                "area": AREA,
                "category": CATEGORIES[n % len(CATEGORIES)],
                "urgency": "acute" if n % 2 else "normal",
                "description": f"Dashboard-melding {n}",
                "lat": 52.30 + n * 0.005,
                "lon": 4.80,  # 550 m apart: no two merge
            }
            r = await client.post(f"{p.url('signals')}/v1/signals", json=body, headers=coordinator)
            if r.status_code != 201 or r.json()["duplicate"]:
                raise RuntimeError(f"reporting a dashboard signal: {r.status_code} {r.text}")
    return goal_ids, partner_ids


async def run(report: Report, database_url: str, bootstrap: str, *, quick: bool = False) -> None:
    s = await system.system(database_url, bootstrap)
    p = s.platform
    goal_ids, partner_ids = await seed(p)
    year, quarter = quarter_now()
    token = p.token("coordinator")
    seconds = 5.0 if quick else 15.0
    variables: dict[str, Any] = {"m": GM, "area": AREA, "year": year, "q": quarter}
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(
            f"{p.url('gateway')}/graphql",
            json={"query": QUERY, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer = r.json()
    if answer.get("errors") or len(answer["data"]["signals"]["nodes"]) != 50 or len(answer["data"]["goals"]) != 3:
        raise RuntimeError(f"dashboard query: {str(answer)[:500]}")
    shown = answer["data"]
    ids = {partner_ids[0]}
    for node in shown["signals"]["nodes"]:
        if node["routedTo"]:
            ids.add(node["routedTo"]["id"])
        ids.update(e["partner"]["id"] for e in node["escalations"])
    gateway = Summary.of(
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
    waves = [
        [
            [p.url("goals"), f"/v1/goals?area={AREA}&year={year}"],
            [p.url("partners"), f"/v1/partners?municipality={GM}&area={AREA}"],
            [p.url("signals"), f"/v1/signals?municipality={GM}&area={AREA}&first=50"],
        ],
        [
            *([p.url("goals"), f"/v1/goals/{g}/measurements?quarter={quarter}"] for g in goal_ids),
            [p.url("partners"), f"/v1/partners?ids={','.join(sorted(ids))}"],
        ],
    ]
    direct = Summary.of(
        await run_load({"mode": "waves", "waves": waves, "token": token, "concurrency": CLIENTS, "duration": seconds}),
        1.0,
    )
    report.add(
        Figure(
            SECTION,
            "dashboard query p50 (3 goals, 20 partners, 50 signals)",
            gateway.p50,
            "ms",
            "direct service calls p50",
            direct.p50,
            concurrency=CLIENTS,
            p99=gateway.p99,
            aim="p50 <= 50 ms",
            notes=f"{gateway.rate:.0f} queries/s, {gateway.failed} failed; direct p99 {direct.p99:.1f} ms,"
            f" {direct.rate:.0f}/s; ratio = gateway overhead",
        )
    )
