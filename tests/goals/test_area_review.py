"""The quarterly review of an area, held together, on the goals service against the real
PostgreSQL and Kafka: the "aansluiten" figures match signals with known escalation and
acknowledgement times (pinned clock), participants rate each other, agreements come back until
done, holding freezes the figures and tells the participants once."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.goals.app import create_app
from shared.clock import FixedClock
from shared.events.catalog import (
    EventData,
    NotificationDelivered,
    PartnerRegistered,
    SignalAcknowledged,
    SignalEscalated,
    SignalRated,
    SignalReactionReceived,
    SignalReceived,
    SignalRejected,
    SignalResolved,
)
from shared.events.codes import Category, PartnerKind, SignalSource, SignalStatus, Urgency
from tests.goals.conftest import NOW, Goals, Wire, goals_settings, new_area
from tests.support import Infra, TopicReader, eventually, serve

Q4_START = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def goals(infra: Infra) -> AsyncIterator[Goals]:
    clock = FixedClock(NOW)
    async with serve(create_app(goals_settings(infra), clock=clock)) as client:
        yield Goals(client, settings=goals_settings(infra), clock=clock)


async def partner(wire: Wire, kind: PartnerKind, areas: list[str], name: str) -> UUID:
    partner_id = uuid4()
    data = PartnerRegistered(
        partner_id=partner_id,
        name=name,
        kind=kind,
        municipalities=["GM0479"],
        areas=areas,
        categories=[] if kind is PartnerKind.WHATSAPP_GROUP else [Category.YOUTH_NUISANCE],
        acknowledge_within_minutes=60,
        registered_at=NOW,
        version=1,
    )
    await wire.send(wire.envelope(data, 1, source="partners"))
    return partner_id


class Story:
    """One signal's events as the signals and notifications services would publish them."""

    def __init__(self, wire: Wire, area: str) -> None:
        self.wire, self.id, self.area, self.sequence = wire, uuid4(), area, 0
        self.reference = f"SIG-2026-{secrets.randbelow(10**6):06d}"

    def facts(self, status: SignalStatus) -> dict[str, Any]:
        return {
            "signal_id": self.id,
            "reference": self.reference,
            "municipality": "GM0479",
            "area": self.area,
            "category": Category.YOUTH_NUISANCE,
            "urgency": Urgency.NORMAL,
            "status": status,
        }

    async def send(self, data: EventData, source: str = "signals") -> Story:
        self.sequence += 1
        await self.wire.send(self.wire.envelope(data, self.sequence, source=source))
        return self

    async def received(self, at: datetime) -> Story:
        return await self.send(
            SignalReceived(**self.facts(SignalStatus.RECEIVED), source=SignalSource.APP, received_at=at)
        )

    async def escalated(self, to: UUID, at: datetime) -> Story:
        return await self.send(
            SignalEscalated(
                **self.facts(SignalStatus.ESCALATED),
                partner_id=to,
                escalated_at=at,
                acknowledge_by=at + timedelta(hours=1),
            )
        )

    async def acknowledged(self, by: UUID, at: datetime) -> Story:
        return await self.send(
            SignalAcknowledged(**self.facts(SignalStatus.ACKNOWLEDGED), partner_id=by, acknowledged_at=at)
        )

    async def question(self, of: UUID, asked: datetime, answered: datetime, moved_by: datetime) -> Story:
        data = SignalReactionReceived(
            **self.facts(SignalStatus.ESCALATED),
            partner_id=of,
            asked_at=asked,
            answered_at=answered,
            acknowledge_by=moved_by,
        )
        return await self.send(data)

    async def resolved(self, by: UUID, at: datetime, *, implied: bool = False, told: bool = False) -> Story:
        await self.send(
            SignalResolved(
                **self.facts(SignalStatus.RESOLVED), partner_id=by, resolved_at=at, acknowledgement_implied=implied
            )
        )
        if told:
            await self.send(
                NotificationDelivered(
                    delivery_id=uuid4(),
                    event_id=uuid4(),
                    event_type_delivered="signal.resolved",
                    channel="email",
                    target="reporter",
                    subject=str(self.id),
                    municipality="GM0479",
                    attempts=1,
                    at=at,
                ),
                source="notifications",
            )
        return self

    async def rated(self, partner_id: UUID, satisfied: bool, resolved_at: datetime) -> Story:
        data = SignalRated(
            **self.facts(SignalStatus.RESOLVED),
            rating_id=uuid4(),
            satisfied=satisfied,
            rated_at=resolved_at + timedelta(hours=1),
            resolved_at=resolved_at,
            partner_id=partner_id,
        )
        return await self.send(data)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def test_a_region_holds_its_review_together(goals: Goals, wire: Wire, infra: Infra) -> None:
    wk = new_area()
    bu = "BU" + wk[2:] + "10"
    police = await partner(wire, PartnerKind.POLICE, ["GM0479"], "Politie Zaanstad")
    youth = await partner(wire, PartnerKind.YOUTH_WORK, [wk], "Jongerenwerk")
    group = await partner(wire, PartnerKind.WHATSAPP_GROUP, [bu], "WhatsApp Peldersveld")
    municipality = await partner(wire, PartnerKind.MUNICIPALITY, ["GM0479"], "Gemeente Zaanstad")
    elsewhere = await partner(wire, PartnerKind.YOUTH_WORK, ["WK047999"], "Jongerenwerk elders")

    # police: 3 signals; acknowledged after 30 min (in time), after 90 min (late), and one after 50
    # minutes of which 40 were a question to the reporter (10 minutes, in time: acknowledge-by moved)
    a = await (await Story(wire, bu).received(Q4_START)).escalated(police, Q4_START + minutes(5))
    await a.acknowledged(police, Q4_START + minutes(35))
    await a.resolved(police, Q4_START + minutes(300), told=True)
    await a.rated(police, True, Q4_START + minutes(300))
    b = await (await Story(wire, wk).received(Q4_START)).escalated(police, Q4_START + minutes(10))
    await b.acknowledged(police, Q4_START + minutes(100))
    await b.resolved(police, Q4_START + minutes(400))
    await b.rated(police, False, Q4_START + minutes(400))
    c = await (await Story(wire, bu).received(Q4_START)).escalated(police, Q4_START)
    await c.question(police, Q4_START + minutes(5), Q4_START + minutes(45), Q4_START + minutes(100))
    await c.acknowledged(police, Q4_START + minutes(50))
    # youth work: resolved without acknowledging (implied at the resolution, 20 minutes)
    d = await (await Story(wire, bu).received(Q4_START)).escalated(youth, Q4_START)
    await d.resolved(youth, Q4_START + minutes(20), implied=True)
    # a rejected signal counts in no trend; a signal of last quarter is the previous count
    rejected = await Story(wire, bu).received(Q4_START)
    await rejected.send(SignalRejected(**rejected.facts(SignalStatus.REJECTED), rejected_at=Q4_START))
    await Story(wire, bu).received(Q4_START - timedelta(days=30))

    coordinator = infra.headers("coordinator")
    police_agent = infra.headers("partner_agent", partner_id=str(police))
    admin = infra.headers("group_admin", partner_id=str(group))
    url = f"/v1/area-reviews/{wk}/2026-Q4"

    async def figures_arrived() -> bool:
        body = (await goals.client.get(url, headers=coordinator)).json()
        by = {p["partnerId"]: p for p in body["partners"]}
        return bool(
            by.get(str(police), {}).get("rated") == 2
            and by.get(str(police), {}).get("withFeedback") == 1
            and by.get(str(police), {}).get("acknowledgedInTime") == 2
            and by.get(str(youth), {}).get("resolved") == 1
            and next(t for t in body["trends"] if t["category"] == "youth_nuisance")
            == {"category": "youth_nuisance", "count": 4, "previous": 1}
        )

    await eventually(figures_arrived, timeout=40, interval=0.3)
    review = (await goals.client.get(url, headers=coordinator)).json()
    assert (review["status"], review["partial"], review["heldAt"]) == ("open", True, None)
    by = {p["partnerId"]: p for p in review["partners"]}
    assert by[str(police)] == {
        "partnerId": str(police),
        "escalated": 3,
        "acknowledgedInTime": 2,
        "medianAcknowledgeMinutes": 30.0,  # 30, 90 and 50 - 40 = 10
        "resolved": 2,
        "withFeedback": 1,
        "rated": 2,
        "satisfied": 1,
    }
    assert by[str(youth)]["medianAcknowledgeMinutes"] == 20.0 and by[str(youth)]["acknowledgedInTime"] == 1
    assert set(by) == {str(police), str(youth)}  # groups are never escalated to

    # readers: the partners and groups of the area; not a partner elsewhere; not another municipality
    assert (await goals.client.get(url, headers=admin)).status_code == 200
    assert (await goals.client.get(url, headers=police_agent)).status_code == 200
    stranger = infra.headers("partner_agent", partner_id=str(elsewhere))
    assert (await goals.client.get(url, headers=stranger)).status_code == 403
    assert (await goals.client.get(url, headers=infra.headers("resident"))).status_code == 403
    assert (await goals.client.get(url, headers=infra.headers("coordinator", ["GM0363"]))).status_code == 404
    future = await goals.client.get(f"/v1/area-reviews/{wk}/2027-Q2", headers=coordinator)
    assert future.status_code == 400 and [p["name"] for p in future.json()["invalidParams"]] == ["quarter"]

    # participants rate each other, both ways, groups included
    async def rate(headers: dict[str, str], to: UUID, score: int, **extra: Any) -> Any:
        body = {"toPartnerId": str(to), "score": score, **extra}
        return await goals.client.post(f"{url}/cooperation", json=body, headers=headers)

    assert (await rate(police_agent, youth, 4, comment="Snel contact")).status_code == 200
    assert (await rate(police_agent, youth, 5)).status_code == 200  # again replaces
    assert (await rate(admin, police, 3, comment="Wij horen weinig terug")).status_code == 200
    assert (await rate(coordinator, group, 4, fromPartnerId=str(municipality))).status_code == 200
    assert (await rate(police_agent, police, 5)).status_code == 400  # not oneself
    assert (await rate(police_agent, youth, 5, fromPartnerId=str(youth))).status_code == 403
    future_as_other = {"toPartnerId": str(youth), "score": 5, "fromPartnerId": str(youth)}
    refused = await goals.client.post(
        f"/v1/area-reviews/{wk}/2027-Q3/cooperation", json=future_as_other, headers=police_agent
    )
    assert refused.status_code == 403  # authorisation before validation
    assert (await rate(stranger, police, 2)).status_code == 403
    wrong = await rate(coordinator, youth, 6, fromPartnerId=str(police))
    assert wrong.status_code == 400 and {p["name"] for p in wrong.json()["invalidParams"]} == {"fromPartnerId", "score"}
    assert (await rate(police_agent, elsewhere, 3)).status_code == 400  # not a partner of this area

    # the coordinator agrees with the police, due next quarter
    agreement_body = {
        "text": "Wijkagent loopt mee met jongerenwerk",
        "ownerPartnerId": str(police),
        "dueQuarter": "2027-Q1",
    }
    agreements = f"{url}/agreements"
    assert (await goals.client.post(agreements, json=agreement_body, headers=police_agent)).status_code == 403
    too_late = await goals.client.post(
        agreements, json={**agreement_body, "dueQuarter": "2029-Q1"}, headers=coordinator
    )
    assert too_late.status_code == 400 and [p["name"] for p in too_late.json()["invalidParams"]] == ["dueQuarter"]
    once = {**coordinator, "Idempotency-Key": "afspraak-1"}
    made = await goals.client.post(agreements, json=agreement_body, headers=once)
    assert made.status_code == 201, made.text
    agreement = made.json()
    again = await goals.client.post(agreements, json=agreement_body, headers=once)  # a retry: the same one
    assert again.status_code == 201 and again.json() == agreement
    assert (agreement["status"], agreement["madeIn"], agreement["dueQuarter"]) == ("open", "2026-Q4", "2027-Q1")

    async with TopicReader(infra, "area.reviewed") as reader:
        held = await goals.client.post(f"{url}/hold", json={"notes": "Goed overleg"}, headers=coordinator)
        assert held.status_code == 200, held.text
        seen = await reader.until(lambda s: any(d.area == wk for _, d, _ in s))
    frozen = held.json()
    assert (frozen["status"], frozen["notes"]) == ("held", "Goed overleg")
    assert {(c["fromPartnerId"], c["toPartnerId"], c["score"]) for c in frozen["cooperation"]} == {
        (str(police), str(youth), 5),
        (str(group), str(police), 3),
        (str(municipality), str(group), 4),
    }
    assert [a["id"] for a in frozen["agreements"]] == [agreement["id"]]
    event = next(d for _, d, _ in seen if d.area == wk)
    assert event.review_id == f"{wk}/2026-Q4" and event.quarter == "2026-Q4"
    assert set(event.partner_ids) == {police, youth, group, municipality}
    assert "Goed overleg" not in str(seen)

    again = await goals.client.post(f"{url}/hold", json={}, headers=coordinator)
    assert again.status_code == 409
    assert (await rate(police_agent, youth, 1)).status_code == 409
    assert (await goals.client.post(agreements, json=agreement_body, headers=coordinator)).status_code == 409
    # frozen: a late signal does not change the held figures
    late = await (await Story(wire, wk).received(Q4_START + timedelta(days=1))).escalated(
        police, Q4_START + minutes(60)
    )
    stats = {"area": wk, "quarter": "2026-Q4"}

    async def late_counted() -> bool:
        r = await goals.client.get("/v1/area-statistics", params=stats, headers=coordinator)
        return bool(r.json()["signalCount"] == 5)

    await eventually(late_counted, timeout=30, interval=0.2)
    assert late.id and (await goals.client.get(url, headers=coordinator)).json() == frozen

    # next quarter: the open agreement comes back until the police mark it done
    goals.clock.set(datetime(2027, 1, 12, 9, 0, tzinfo=UTC))
    try:
        next_url = f"/v1/area-reviews/{wk}/2027-Q1"
        carried = (await goals.client.get(next_url, headers=police_agent)).json()
        assert [(a["id"], a["status"]) for a in carried["agreements"]] == [(agreement["id"], "open")]
        patch = f"/v1/agreements/{agreement['id']}"
        assert (await goals.client.patch(patch, json={"status": "done"}, headers=admin)).status_code == 403
        bad = await goals.client.patch(patch, json={"status": "finished"}, headers=police_agent)
        assert bad.status_code == 400
        done = await goals.client.patch(patch, json={"status": "done"}, headers=police_agent)
        assert done.status_code == 200 and done.json()["status"] == "done"
        shown = (await goals.client.get(next_url, headers=coordinator)).json()["agreements"]
        assert [(a["id"], a["status"]) for a in shown] == [(agreement["id"], "done")]
        goals.clock.set(datetime(2027, 4, 12, 9, 0, tzinfo=UTC))
        later = (await goals.client.get(f"/v1/area-reviews/{wk}/2027-Q2", headers=coordinator)).json()
        assert later["agreements"] == []
        # held mid-quarter: its frozen figures stay those of a partial quarter
        assert (await goals.client.get(url, headers=coordinator)).json()["partial"] is True
        assert later["partial"] is True
        ended = (await goals.client.get(f"/v1/area-reviews/{wk}/2027-Q1", headers=coordinator)).json()
        assert (ended["status"], ended["partial"]) == ("open", False)
    finally:
        goals.clock.set(NOW)
