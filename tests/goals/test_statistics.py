"""Statistics built from signal events on the real wire: out of order, duplicated, replayed."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.goals.consumers import SIGNAL_EVENTS
from shared.events.catalog import (
    SignalAcknowledged,
    SignalEscalated,
    SignalMerged,
    SignalReceived,
    SignalReclassified,
    SignalResolved,
)
from shared.events.codes import Category, SignalSource, SignalStatus, Urgency
from shared.events.envelope import CloudEvent
from tests.goals.conftest import Goals, Wire
from tests.support import Infra, eventually

LITTER, VANDALISM = Category.LITTER_DUMPING, Category.VANDALISM
PARTNER = uuid4()
SVG = "{http://www.w3.org/2000/svg}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class SignalStory:
    """The events the signals service would publish about one signal, with its version as sequence."""

    def __init__(self, wire: Wire, municipality: str, area: str, category: Category) -> None:
        self.wire = wire
        self.id = uuid4()
        self.municipality = municipality
        self.area = area
        self.category = category
        self.events: list[CloudEvent] = []
        self.escalated_at: datetime | None = None

    def _facts(self, status: SignalStatus) -> dict[str, Any]:
        return {
            "signal_id": self.id,
            "reference": f"SIG-2026-{secrets.randbelow(10**6):06d}",
            "municipality": self.municipality,
            "area": self.area,
            "category": self.category,
            "urgency": Urgency.NORMAL,
            "status": status,
        }

    def _add(self, data: Any) -> SignalStory:
        self.events.append(self.wire.envelope(data, sequence=len(self.events) + 1))
        return self

    def received(self, when: str) -> SignalStory:
        return self._add(
            SignalReceived(**self._facts(SignalStatus.RECEIVED), source=SignalSource.APP, received_at=at(when))
        )

    def escalated(self, minutes_later: float = 10) -> SignalStory:
        self.escalated_at = at("2026-10-01T00:00:00+00:00") + timedelta(minutes=minutes_later)
        return self._add(
            SignalEscalated(
                **self._facts(SignalStatus.ESCALATED),
                partner_id=PARTNER,
                escalated_at=self.escalated_at,
                acknowledge_by=self.escalated_at + timedelta(hours=4),
            )
        )

    def acknowledged(self, after_minutes: float, *, carries_escalation: bool = True) -> SignalStory:
        assert self.escalated_at is not None
        return self._add(
            SignalAcknowledged(
                **self._facts(SignalStatus.ACKNOWLEDGED),
                partner_id=PARTNER,
                escalated_at=self.escalated_at if carries_escalation else None,
                acknowledged_at=self.escalated_at + timedelta(minutes=after_minutes),
            )
        )

    def resolved(self, implied_after_minutes: float | None = None) -> SignalStory:
        assert self.escalated_at is not None
        resolved_at = self.escalated_at + timedelta(minutes=implied_after_minutes or 600)
        return self._add(
            SignalResolved(
                **self._facts(SignalStatus.RESOLVED),
                partner_id=PARTNER,
                resolved_at=resolved_at,
                escalated_at=self.escalated_at,
                acknowledgement_implied=implied_after_minutes is not None,
            )
        )

    def merged_into(self, original: SignalStory) -> SignalStory:
        return self._add(
            SignalMerged(
                **self._facts(SignalStatus.MERGED), duplicate_of=original.id, merged_at=at("2026-10-05T09:00Z")
            )
        )

    def reclassified(self, area: str, category: Category) -> SignalStory:
        previous_area, previous_category = self.area, self.category
        self.area, self.category = area, category
        return self._add(
            SignalReclassified(
                **self._facts(SignalStatus.RECEIVED),
                previous_category=previous_category,
                previous_area=previous_area,
                reclassified_at=at("2026-10-07T09:00Z"),
            )
        )


async def drained(infra: Infra, group: str) -> None:
    """Every signal event on the wire so far is applied and its offset committed by `group`."""
    topics = [infra.topic(t) for t in SIGNAL_EVENTS]
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka)
    await consumer.start()
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
        assert len(partitions) >= len(topics)
        ends = await consumer.end_offsets(partitions)

        async def caught_up() -> bool:
            committed = await admin.list_consumer_group_offsets(group)
            return all(end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items())

        await eventually(caught_up, timeout=30, interval=0.2)
    finally:
        await admin.close()
        await consumer.stop()


async def test_statistics_count_each_signal_once_whatever_the_order_and_replays(
    goals: Goals, wire: Wire, infra: Infra
) -> None:
    digits = f"9{secrets.randbelow(900) + 100}"  # a municipality of its own: no other test's signals
    gm, wk = f"GM{digits}", f"WK{digits}01"
    bu, bu2 = f"{wk.replace('WK', 'BU')}01", f"{wk.replace('WK', 'BU')}02"
    s1 = SignalStory(wire, gm, bu, LITTER).received("2026-10-05T08:00Z").escalated().acknowledged(30).resolved()
    s2 = SignalStory(wire, gm, bu, LITTER).received("2026-10-06T08:00Z").escalated().acknowledged(90)
    s3 = SignalStory(wire, gm, bu, LITTER).received("2026-10-05T08:30Z").merged_into(s1)  # a duplicate
    s4 = SignalStory(wire, gm, wk, LITTER).received("2026-11-01T12:00Z").escalated().resolved(implied_after_minutes=60)
    s5 = SignalStory(wire, gm, bu2, VANDALISM).received("2026-11-02T12:00Z")
    s6 = SignalStory(wire, gm, bu, LITTER).received("2026-12-31T23:30Z")  # 00:30 on 1 January: 2027-Q1
    s7 = SignalStory(wire, gm, bu, LITTER).received("2026-09-10T12:00Z")  # the previous quarter
    s8 = SignalStory(wire, gm, bu, VANDALISM).received("2026-10-07T08:00Z").reclassified(bu2, LITTER)
    s9 = SignalStory(wire, gm, bu2, VANDALISM).received("2026-11-03T12:00Z").escalated(20)
    s9.acknowledged(45, carries_escalation=False)  # the escalation time comes from signal.escalated
    stories = [s1, s2, s3, s4, s5, s6, s7, s8, s9]
    events = [e for s in stories for e in s.events]

    # Latest first, so acknowledgements, merges and reclassifications overtake what they follow;
    # and every event twice (a redelivery after a crash before the offset commit).
    for event in [*reversed(events), *events]:
        await wire.send(event)
    await drained(infra, goals.settings.consumer_group("statistics"))

    coordinator = infra.headers("coordinator", [gm])

    async def stats(area: str, quarter: str = "2026-Q4", category: str | None = None) -> dict[str, Any]:
        query = f"/v1/area-statistics?area={area}&quarter={quarter}" + (f"&category={category}" if category else "")
        r = await goals.client.get(query, headers=coordinator)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def expected_statistics() -> None:
        neighbourhood = await stats(bu)
        assert (neighbourhood["signalCount"], neighbourhood["resolvedCount"]) == (2, 1)  # s1, s2; s3 merged
        assert neighbourhood["medianAcknowledgeMinutes"] == 60 and neighbourhood["p90AcknowledgeMinutes"] == 90
        district = await stats(wk)
        assert (district["signalCount"], district["resolvedCount"], district["acknowledgedCount"]) == (6, 2, 4)
        assert district["medianAcknowledgeMinutes"] == 52.5  # 30, 45, 60 (implied by the resolution), 90
        assert district["p90AcknowledgeMinutes"] == 90
        assert district["resolvedShare"] == 2 / 6
        assert (await stats(wk, category="litter_dumping"))["signalCount"] == 4  # s8 was reclassified to litter
        assert (await stats(bu2, category="vandalism"))["signalCount"] == 2
        assert (await stats(gm))["signalCount"] == 6
        assert (await stats(bu, quarter="2027-Q1"))["signalCount"] == 1
        assert (await stats(gm, quarter="2026-Q3"))["signalCount"] == 1
        await expected_breakdown()

    async def breakdown(area: str, category: str | None = None) -> dict[str, Any]:
        query = f"/v1/area-statistics?area={area}&quarter=2026-Q4&byCategory=true"
        r = await goals.client.get(query + (f"&category={category}" if category else ""), headers=coordinator)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def expected_breakdown() -> None:
        # One answer per area: every category of the catalogue in its order, counted as above (s3
        # merged left out, s8 reclassified to litter), beside the same overall figures.
        district = await breakdown(wk)
        assert [c["category"] for c in district["byCategory"]] == [c.value for c in Category]
        counts = {c["category"]: c["signalCount"] for c in district["byCategory"]}
        assert {k: n for k, n in counts.items() if n} == {"litter_dumping": 4, "vandalism": 2}
        assert district["signalCount"] == sum(counts.values()) == 6
        assert district["resolvedCount"] == 2
        for category in Category:  # the same as asking per category
            assert counts[category.value] == (await stats(wk, category=category.value))["signalCount"]
        only = await breakdown(bu2, category="vandalism")
        assert only["byCategory"] == [{"category": "vandalism", "signalCount": 2}]
        assert "byCategory" not in await stats(wk)  # only when asked

    await expected_statistics()

    # The goal's indicators read the same statistics, against the previous quarter.
    goal = {
        "municipality": gm,
        "area": wk,
        "year": 2026,
        "title": "Een schone wijk",
        "categories": ["litter_dumping"],
        "indicators": [
            {"kind": "signal_count", "category": "litter_dumping", "baseline": 6, "target": 3, "direction": "decrease"},
            {"kind": "median_acknowledge_minutes", "target": 45, "direction": "decrease"},
            {"kind": "resolved_share", "baseline": 0.2, "target": 0.5, "direction": "increase"},
        ],
    }
    created = await goals.client.post("/v1/goals", json=goal, headers=coordinator)
    assert created.status_code == 201, created.text
    r = await goals.client.get(f"/v1/goals/{created.json()['id']}/measurements?quarter=2026-Q4", headers=coordinator)
    assert [(m["value"], m["previous"], m["onTrack"]) for m in r.json()] == [
        (4.0, 1.0, False),
        (60.0, None, False),
        (0.5, 0.0, True),
    ]
    bad = await goals.client.get(f"/v1/goals/{created.json()['id']}/measurements?quarter=Q4", headers=coordinator)
    assert bad.status_code == 400
    chart = await goals.client.get(f"/v1/goals/{created.json()['id']}/trend.svg", headers=coordinator)
    values = [t.text for t in ET.fromstring(chart.text).iter(SVG + "text") if "value" in t.get("class", "").split()]
    assert {"1", "4", "60", "50"} <= set(values)  # Q3 and Q4 counts, the median, the resolved share in %

    # A replay of the whole history (e.g. a consumer reset), also republished with new event ids,
    # changes nothing.
    for event in events:
        await wire.send(event)
        await wire.send(event.model_copy(update={"id": uuid4()}))
    await drained(infra, goals.settings.consumer_group("statistics"))
    await expected_statistics()


async def test_statistics_of_another_municipality_are_not_found(goals: Goals, infra: Infra) -> None:
    r = await goals.client.get(
        "/v1/area-statistics?area=WK036301&quarter=2026-Q4", headers=infra.headers("coordinator")
    )
    assert r.status_code == 404
