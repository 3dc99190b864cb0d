"""The quarterly review held together, end to end through the gateway (CONTRACT.md "The quarterly
review, held together"), on real PostgreSQL and Kafka with the goals service's clock pinned: two
partners and a WhatsApp group rate each other, the coordinator agrees with the police for next
quarter and holds the review (once), the figures match signals with known escalation and
acknowledgement times, the printable page renders in headless Chromium with its charts, the CSV
carries the figures, and next quarter the police mark the agreement done."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from services.goals.app import Settings as GoalsSettings
from services.goals.app import create_app as create_goals
from services.partners.app import Settings as PartnersSettings
from services.partners.app import create_app as create_partners
from shared.clock import FixedClock
from stack.browser import chromium
from tests.gateway.conftest import GM, free_socket, uvicorn_on
from tests.goals.conftest import Wire
from tests.goals.test_area_review import Story, minutes
from tests.support import Infra, eventually

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # mid 2026-Q4 in Amsterdam
Q4_START = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
REGISTER = "mutation($input: RegisterPartnerInput!) { registerPartner(input: $input) { partner { id } } }"
REVIEW_FIELDS = """
  area quarter status partial notes heldAt reportUrl
  trends { category count previous } sameQuarterLastYear { category count previous }
  partners { partner { id name } escalated acknowledgedInTime medianAcknowledgeMinutes resolved withFeedback
             rated satisfied }
  cooperation { from { id } to { id } score comment }
  agreements { id text owner { id name } madeIn dueQuarter status }
  goalReviews { quarter decision measurements { value partial indicator { kind } } }
"""
AREA_REVIEW = "query($a: String!, $q: String!) { areaReview(area: $a, quarter: $q) {" + REVIEW_FIELDS + "} }"
RATE = (
    "mutation($a: String!, $q: String!, $to: ID!, $s: Int!, $c: String, $from: ID) {"
    " rateCooperation(area: $a, quarter: $q, toPartnerId: $to, score: $s, comment: $c, fromPartnerId: $from)"
    " { cooperation { from { id } to { id } score } } }"
)
AGREE = (
    "mutation($a: String!, $q: String!, $t: String!, $o: ID!, $d: String!) {"
    " addAgreement(area: $a, quarter: $q, text: $t, ownerPartnerId: $o, dueQuarter: $d)"
    " { id text owner { name } madeIn dueQuarter status } }"
)
HOLD = "mutation($a: String!, $q: String!, $n: String) { holdAreaReview(area: $a, quarter: $q, notes: $n) {" + (
    REVIEW_FIELDS + "} }"
)
UPDATE = "mutation($id: ID!, $s: AgreementStatus!) { updateAgreement(id: $id, status: $s) { id status } }"


@dataclass
class Stack:
    infra: Infra
    gateway: httpx.AsyncClient
    url: str
    clock: FixedClock
    wire: Wire

    def headers(self, role: str, municipalities: tuple[str, ...] = (GM,), **kw: Any) -> dict[str, str]:
        return self.infra.headers(role, municipalities, **kw)

    async def graphql(self, headers: dict[str, str], query: str, **variables: Any) -> dict[str, Any]:
        response = await self.gateway.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        body: dict[str, Any] = response.json()
        return body

    async def data(self, headers: dict[str, str], query: str, **variables: Any) -> dict[str, Any]:
        body = await self.graphql(headers, query, **variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest_asyncio.fixture(scope="module")
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    """Partners, goals (clock pinned) and the gateway; signal events are put on the wire as the
    signals and notifications services would publish them."""
    clock = FixedClock(NOW)
    sockets = {name: free_socket() for name in ("partners", "goals", "gateway", "signals", "notifications")}
    urls = {name: f"http://127.0.0.1:{s.getsockname()[1]}" for name, s in sockets.items()}
    tag = secrets.token_hex(3)
    common: dict[str, Any] = {
        "consumer_group_prefix": f"{infra.run_id}.{tag}.",
        "public_base_url": urls["gateway"],
        "secrets_key": secrets.token_urlsafe(32),
    }
    partners = create_partners(infra.settings(PartnersSettings, db_schema=f"rv{tag}_partners", **common))
    goals = create_goals(infra.settings(GoalsSettings, db_schema=f"rv{tag}_goals", **common), clock=clock)
    gateway = create_gateway(
        infra.settings(
            GatewaySettings,
            **common,
            **{f"service_urls_{name}": urls[name] for name in ("partners", "goals", "signals", "notifications")},
            subscriptions_enabled=False,
            rate_limit_per_second=1000.0,
            rate_limit_burst=1000,
        )
    )
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, enable_idempotence=True, acks="all")
    await producer.start()
    async with contextlib.AsyncExitStack() as exits:
        exits.push_async_callback(producer.stop)
        for name, app in (("partners", partners), ("goals", goals)):
            await exits.enter_async_context(uvicorn_on(app, sockets[name]))
        url = await exits.enter_async_context(uvicorn_on(gateway, sockets["gateway"]))
        client = await exits.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        for unused in ("signals", "notifications"):
            sockets[unused].close()
        yield Stack(infra, client, url, clock, Wire(infra, producer))


async def register(stack: Stack, name: str, kind: str, areas: list[str], **fields: Any) -> str:
    values = {"name": name, "kind": kind, "municipalities": [GM], "areas": areas, "categories": [], **fields}
    data = await stack.data(stack.headers("coordinator"), REGISTER, input=values)
    partner_id: str = data["registerPartner"]["partner"]["id"]
    return partner_id


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def chromium_render(html: Path, shot: Path) -> str:
    """The page as headless Chromium renders it (its DOM after layout), with a screenshot."""
    binary = chromium()
    if binary is None:
        pytest.fail("headless Chromium is needed to check the printable review (apt-get install -y chromium)")
    common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1240,3400"]
    for args in ([f"--screenshot={shot}"], ["--dump-dom"]):
        proc = await asyncio.create_subprocess_exec(
            binary, *common, *args, html.as_uri(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0
    return out.decode()


async def test_a_region_holds_its_quarterly_review_through_the_gateway(stack: Stack, tmp_path: Path) -> None:
    wk = f"WK0479{secrets.randbelow(90) + 10:02d}"
    bu = f"BU{wk[2:]}10"
    police = await register(
        stack, "Politie Zaanstad-Noord", "POLICE", [GM], categories=["YOUTH_NUISANCE"], acknowledgeWithinMinutes=60
    )
    youth = await register(
        stack, "Jongerenwerk Poelenburg", "YOUTH_WORK", [wk], categories=["YOUTH_NUISANCE"], acknowledgeWithinMinutes=60
    )
    group = await register(stack, "WhatsApp Peldersveld", "WHATSAPP_GROUP", [bu])
    municipality = await register(
        stack, "Gemeente Zaanstad", "MUNICIPALITY", [GM], categories=["LITTER_DUMPING"], acknowledgeWithinMinutes=240
    )
    coordinator = stack.headers("coordinator")
    police_agent = stack.headers("partner_agent", partner_id=police)
    youth_agent = stack.headers("partner_agent", partner_id=youth)
    admin = stack.headers("group_admin", partner_id=group)

    # signals with known times: police acknowledge after 30 and 90 minutes (one late), youth work
    # resolves without acknowledging after 20 (implied); the reporters rate the police
    a = await (await Story(stack.wire, bu).received(Q4_START)).escalated(UUID(police), Q4_START)
    await a.acknowledged(UUID(police), Q4_START + minutes(30))
    await a.resolved(UUID(police), Q4_START + minutes(240), told=True)
    await a.rated(UUID(police), True, Q4_START + minutes(240))
    b = await (await Story(stack.wire, wk).received(Q4_START)).escalated(UUID(police), Q4_START)
    await b.acknowledged(UUID(police), Q4_START + minutes(90))
    c = await (await Story(stack.wire, bu).received(Q4_START)).escalated(UUID(youth), Q4_START)
    await c.resolved(UUID(youth), Q4_START + minutes(20), implied=True)
    await Story(stack.wire, bu).received(Q4_START - timedelta(days=40))  # last quarter

    goal_input = {
        "municipality": GM,
        "area": wk,
        "year": 2026,
        "title": "Minder overlast bij het winkelcentrum",
        "categories": ["YOUTH_NUISANCE"],
        "partnerIds": [police, youth],
        "indicators": [
            {"kind": "SIGNAL_COUNT", "category": "YOUTH_NUISANCE", "target": 2, "direction": "DECREASE"},
            {"kind": "MANUAL", "baseline": 6.0, "target": 7.0, "direction": "INCREASE"},
        ],
    }
    goal: dict[str, Any] = {}

    async def goal_set() -> bool:  # once goals has heard of both partners (partner.registered)
        body = await stack.graphql(
            coordinator, "mutation($i: SetGoalInput!) { setGoal(input: $i) { id } }", i=goal_input
        )
        goal.update((body.get("data") or {}).get("setGoal") or {})
        return bool(goal)

    await eventually(goal_set, timeout=30, interval=0.2)
    recorded = await stack.graphql(
        coordinator,
        """mutation($g: ID!) { recordMeasurement(goalId: $g, indicator: 1,
        quarter: "2026-Q4", value: 6.5, source: "Buurtpeiling najaar") { id } }""",
        g=goal["id"],
    )
    assert "errors" not in recorded, recorded
    assert codes(
        await stack.graphql(
            police_agent,
            """mutation($g: ID!) { recordMeasurement(goalId: $g, indicator: 0,
        quarter: "2026-Q4", value: 1, source: "x") { id } }""",
            g=goal["id"],
        )
    ) == ["FORBIDDEN"]

    async def figures() -> dict[str, Any]:
        review: dict[str, Any] = (await stack.data(coordinator, AREA_REVIEW, a=wk, q="2026-Q4"))["areaReview"]
        return review

    async def arrived() -> bool:
        review = await figures()
        by = {p["partner"]["id"]: p for p in review["partners"]}
        trend = next(t for t in review["trends"] if t["category"] == "YOUTH_NUISANCE")
        return bool(
            by.get(police, {}).get("rated") == 1
            and by.get(police, {}).get("withFeedback") == 1
            and by.get(police, {}).get("medianAcknowledgeMinutes") == 60.0
            and by.get(youth, {}).get("resolved") == 1
            and (trend["count"], trend["previous"]) == (3, 1)
        )

    await eventually(arrived, timeout=40, interval=0.3)
    # the goal reviewed once its figures are in: the review snapshots them
    await stack.data(
        coordinator,
        """mutation($g: ID!) { reviewGoal(input: {goalId: $g, quarter: "2026-Q4",
        assessment: AT_RISK, decision: CONTINUE, cooperation: []}) { id } }""",
        g=goal["id"],
    )

    review = await figures()
    assert (review["status"], review["partial"], review["heldAt"]) == ("OPEN", True, None)
    assert review["reportUrl"] == f"{stack.url}/v1/reviews/{wk}/2026-Q4"
    by = {p["partner"]["id"]: p for p in review["partners"]}
    assert by[police] == {
        "partner": {"id": police, "name": "Politie Zaanstad-Noord"},
        "escalated": 2,
        "acknowledgedInTime": 1,
        "medianAcknowledgeMinutes": 60.0,
        "resolved": 1,
        "withFeedback": 1,
        "rated": 1,
        "satisfied": 1,
    }
    assert (by[youth]["acknowledgedInTime"], by[youth]["medianAcknowledgeMinutes"]) == (1, 20.0)
    youth_trend = next(t for t in review["trends"] if t["category"] == "YOUTH_NUISANCE")
    assert (youth_trend["count"], youth_trend["previous"]) == (3, 1)
    assert [(g["decision"], [m["partial"] for m in g["measurements"]]) for g in review["goalReviews"]] == [
        ("CONTINUE", [True, True])
    ]
    assert [m["value"] for m in review["goalReviews"][0]["measurements"]] == [3.0, 6.5]

    # who reads: the area's partners and groups; not residents; not another municipality
    assert "errors" not in await stack.graphql(admin, AREA_REVIEW, a=wk, q="2026-Q4")
    assert codes(await stack.graphql(stack.headers("resident"), AREA_REVIEW, a=wk, q="2026-Q4")) == ["FORBIDDEN"]
    assert codes(await stack.graphql(stack.headers("coordinator", ("GM0363",)), AREA_REVIEW, a=wk, q="2026-Q4")) == [
        "NOT_FOUND"
    ]
    assert codes(await stack.graphql(coordinator, AREA_REVIEW, a=wk, q="2027-Q3")) == ["BAD_USER_INPUT"]

    # two partners and the WhatsApp group rate each other, both ways; the municipality through its coordinator
    for headers, to, score, extra in (
        (police_agent, youth, 4, {"c": "Korte lijnen"}),
        (youth_agent, police, 3, {}),
        (admin, police, 2, {"c": "We horen weinig terug"}),
        (youth_agent, group, 5, {}),
        (coordinator, group, 4, {"from": municipality}),
    ):
        assert "errors" not in await stack.graphql(headers, RATE, a=wk, q="2026-Q4", to=to, s=score, **extra)
    assert codes(await stack.graphql(police_agent, RATE, a=wk, q="2026-Q4", to=police, s=5)) == ["BAD_USER_INPUT"]
    assert codes(await stack.graphql(police_agent, RATE, a=wk, q="2026-Q4", to=youth, s=5, **{"from": youth})) == [
        "FORBIDDEN"
    ]
    assert codes(await stack.graphql(stack.headers("resident"), RATE, a=wk, q="2026-Q4", to=youth, s=5)) == [
        "FORBIDDEN"
    ]
    bad = await stack.graphql(coordinator, RATE, a=wk, q="2026-Q4", to=youth, s=9, **{"from": police})
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert {f["field"] for f in bad["errors"][0]["extensions"]["fields"]} == {"fromPartnerId", "score"}

    agreement_args = {
        "a": wk,
        "q": "2026-Q4",
        "t": "Wijkagent schuift aan bij het jongerenoverleg",
        "o": police,
        "d": "2027-Q1",
    }
    assert codes(await stack.graphql(police_agent, AGREE, **agreement_args)) == ["FORBIDDEN"]
    agreement = (await stack.data(coordinator, AGREE, **agreement_args))["addAgreement"]
    assert (agreement["owner"]["name"], agreement["status"], agreement["dueQuarter"]) == (
        "Politie Zaanstad-Noord",
        "OPEN",
        "2027-Q1",
    )

    assert codes(await stack.graphql(police_agent, HOLD, a=wk, q="2026-Q4")) == ["FORBIDDEN"]
    held = (await stack.data(coordinator, HOLD, a=wk, q="2026-Q4", n="Afspraken gemaakt over de zomer"))[
        "holdAreaReview"
    ]
    assert held["status"] == "HELD" and held["heldAt"].startswith("2026-11-16")
    assert len(held["cooperation"]) == 5 and [a["id"] for a in held["agreements"]] == [agreement["id"]]
    assert codes(await stack.graphql(coordinator, HOLD, a=wk, q="2026-Q4")) == ["CONFLICT"]
    assert codes(await stack.graphql(police_agent, RATE, a=wk, q="2026-Q4", to=youth, s=1)) == ["CONFLICT"]
    assert codes(await stack.graphql(coordinator, AGREE, **agreement_args)) == ["CONFLICT"]
    assert await figures() == held  # frozen

    # the printable review and its CSV, with the readers of areaReview
    page_url = f"/v1/reviews/{wk}/2026-Q4"
    assert (await stack.gateway.get(page_url)).status_code == 401
    assert (await stack.gateway.get(page_url, headers=stack.headers("resident"))).status_code == 403
    page = await stack.gateway.get(page_url, headers=admin)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "style-src 'unsafe-inline'" in page.headers["content-security-policy"]
    assert "<script" not in page.text
    assert not re.findall(r"(?:src|href)=", page.text)  # self-contained: nothing more to load
    for text in (
        "Kwartaaloverleg",
        "Aansluiten per partner",
        "Politie Zaanstad-Noord",
        "We horen weinig terug",
        "Wijkagent schuift aan",
        "Minder overlast bij het winkelcentrum",
        "Afspraken gemaakt over de zomer",
    ):
        assert text in page.text
    sheet = await stack.gateway.get(page_url, params={"format": "csv"}, headers=police_agent)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert "attachment" in sheet.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(sheet.text)))
    assert rows[0] == ["onderdeel", "onderwerp", "kenmerk", "waarde"]
    assert ["partner", "Politie Zaanstad-Noord", "medianAcknowledgeMinutes", "60.0"] in rows
    assert ["trend", "youth_nuisance", "aantal", "3"] in rows

    html = tmp_path / "kwartaaloverleg.html"
    html.write_text(page.text, encoding="utf-8")
    shot = tmp_path / "kwartaaloverleg.png"
    dom = await chromium_render(html, shot)
    for section in ('id="trends"', 'id="partners"', 'id="samenwerking"', 'id="afspraken"', 'id="doelen"'):
        assert section in dom
    assert dom.count("<svg") >= 3  # the area's trend and the goal's two indicators
    assert 'class="line reactive' in dom  # the charts drew their lines
    assert shot.stat().st_size > 20_000

    # a resident's proposal, read where goal.proposal_decided's dataref points
    proposal = await stack.data(
        stack.headers("resident"),
        "mutation($i: ProposeGoalInput!) { proposeGoal(input: $i) { id supportFromArea } }",
        i={"municipality": GM, "area": wk, "year": 2026, "title": "Speeltuin opknappen", "contactEmail": "a@b.nl"},
    )
    assert proposal["proposeGoal"]["supportFromArea"] == 0
    read = await stack.gateway.get(f"/v1/goal-proposals/{proposal['proposeGoal']['id']}", headers=police_agent)
    assert read.status_code == 200 and read.json()["title"] == "Speeltuin opknappen" and "a@b.nl" not in read.text
    other = stack.headers("partner_agent", ("GM0363",), partner_id=police)
    assert (
        await stack.gateway.get(f"/v1/goal-proposals/{proposal['proposeGoal']['id']}", headers=other)
    ).status_code == 404

    # next quarter: the open agreement comes back; the police mark it done
    stack.clock.set(datetime(2027, 1, 12, 9, 0, tzinfo=UTC))
    try:
        carried = (await stack.data(police_agent, AREA_REVIEW, a=wk, q="2027-Q1"))["areaReview"]
        assert [(x["id"], x["status"], x["madeIn"]) for x in carried["agreements"]] == [
            (agreement["id"], "OPEN", "2026-Q4")
        ]
        assert codes(await stack.graphql(admin, UPDATE, id=agreement["id"], s="DONE")) == ["FORBIDDEN"]
        done = (await stack.data(police_agent, UPDATE, id=agreement["id"], s="DONE"))["updateAgreement"]
        assert done["status"] == "DONE"
        continued = await stack.data(
            coordinator,
            "mutation($g: ID!) { continueGoal(id: $g, year: 2027) { year status indicators { kind baseline } } }",
            g=goal["id"],
        )
        assert continued["continueGoal"]["year"] == 2027
        assert [i["baseline"] for i in continued["continueGoal"]["indicators"]] == [3.0, 6.5]
    finally:
        stack.clock.set(NOW)
