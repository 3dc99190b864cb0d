"""Intake against the real PostgreSQL and Kafka: events on the wire, idempotency, duplicates,
acute signals, validation, routing from partner events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

from shared.events.catalog import PartnerRegistered
from shared.events.codes import Category, PartnerKind, Urgency
from shared.events.envelope import envelope, to_json
from tests.signals.conftest import MUNICIPALITY, SignalsApp, fresh_area
from tests.support import TopicReader, eventually


async def test_a_report_is_answered_and_published_as_signal_received(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    partner = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY)
    resident = app.headers("resident", sub="resident-intake")
    r = await app.report(resident, area=bu, lat=52.44, lon=4.82, contactEmail="bewoner@example.nl")
    assert r.status_code == 201, r.text
    answer = r.json()
    signal = answer["signal"]
    assert answer["duplicate"] is False and answer["advice"] is None
    assert signal["reference"].startswith(f"SIG-{datetime.now(UTC).year}-") and len(signal["reference"]) == 15
    assert signal["status"] == "received" and signal["routedPartnerId"] == str(partner)
    assert signal["description"] == "kapot" and "contactEmail" not in signal
    assert signal["history"] == [
        {
            "action": "reported",
            "at": signal["reportedAt"],
            "actor": "reporter",  # never the reporter's subject
            "fromStatus": None,
            "toStatus": "received",
            "note": None,
        }
    ]
    async with TopicReader(app.infra, "signal.received") as reader:
        seen = await reader.until(lambda s: any(e.subject == signal["id"] for e, _, _ in s))
    event, data, _ = next(x for x in seen if x[0].subject == signal["id"])
    assert event.type == "nl.wijkaanpak.signal.received" and event.municipality == MUNICIPALITY
    assert event.sequence == "000000000001"
    assert data.routed_partner_id == partner and data.has_contact and data.has_location
    raw = event.model_dump_json()
    assert "kapot" not in raw and "bewoner@example.nl" not in raw


async def test_references_are_unique_under_concurrent_intake(app: SignalsApp) -> None:
    resident = app.headers("resident")
    answers = await asyncio.gather(*(app.report(resident, area=fresh_area()[1]) for _ in range(20)))
    references = [r.json()["signal"]["reference"] for r in answers]
    assert all(r.status_code == 201 for r in answers)
    assert len(set(references)) == 20


async def test_concurrent_retries_with_one_idempotency_key_create_one_signal(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    resident = {**app.headers("resident"), "Idempotency-Key": "retry-1"}
    answers = await asyncio.gather(*(app.report(resident, area=bu) for _ in range(8)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["signal"]["id"] for r in answers}) == 1
    assert all(r.json()["duplicate"] is False for r in answers)
    rows = await app.sql("SELECT count(*) AS n FROM signals WHERE area = $1", bu)
    assert rows[0]["n"] == 1
    other = await app.report(resident, area=bu, description="iets anders")
    assert other.status_code == 422 and other.json()["code"] == "BAD_USER_INPUT"


async def test_a_retry_with_the_same_client_request_id_never_merges_into_its_own_report(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    resident = app.headers("resident")
    first = await app.report(resident, area=bu, clientRequestId="app-123")
    again = await app.report(resident, area=bu, clientRequestId="app-123")
    assert first.json() == again.json() and again.json()["duplicate"] is False
    someone_else = await app.report(app.headers("resident"), area=bu, clientRequestId="app-123")
    assert someone_else.json()["duplicate"] is True


async def test_a_second_report_nearby_is_merged_and_shares_the_feedback(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    partner = await app.partners.publish(areas=[bu])
    first_reporter, second_reporter = app.headers("resident"), app.headers("resident")
    original = (await app.report(first_reporter, area=bu, lat=52.4400, lon=4.8200)).json()["signal"]
    far = await app.report(second_reporter, area=bu, lat=52.4500, lon=4.8200)
    assert far.json()["duplicate"] is False  # 1.1 km away: a signal of its own
    near = (await app.report(second_reporter, area=bu, lat=52.4401, lon=4.8201)).json()
    assert near["duplicate"] is True
    dup = near["signal"]
    assert dup["status"] == "merged" and dup["duplicateOf"] == original["id"]
    assert [h["toStatus"] for h in dup["history"]] == ["received", "merged"]
    coordinator = app.headers("coordinator")
    got = (await app.client.get(f"/v1/signals/{original['id']}", headers=coordinator)).json()
    assert got["reportCount"] == 2
    await app.client.post(f"/v1/signals/{original['id']}/escalation", json={}, headers=coordinator)
    agent = app.headers("partner_agent", partner_id=str(partner))
    done = await app.client.post(
        f"/v1/signals/{original['id']}/resolution", json={"feedback": "Bushokje gerepareerd"}, headers=agent
    )
    assert done.status_code == 200, done.text
    seen_by_second = (await app.client.get(f"/v1/signals/{dup['id']}", headers=second_reporter)).json()
    assert [f["message"] for f in seen_by_second["feedback"]] == ["Bushokje gerepareerd"]
    async with TopicReader(app.infra, "signal.merged") as reader:
        await reader.until(
            lambda s: any(e.subject == dup["id"] and d.duplicate_of == UUID(original["id"]) for e, d, _ in s)
        )


async def test_an_acute_signal_advises_112_and_is_escalated_to_the_police_at_once(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    wk, bu = area
    youth = await app.partners.publish(areas=[bu], kind=PartnerKind.YOUTH_WORK)
    police = await app.partners.publish(
        areas=[wk], kind=PartnerKind.POLICE, categories=[Category.BURGLARY], by_urgency={Urgency.ACUTE: 10}
    )
    before = datetime.now(UTC)
    r = await app.report(app.headers("resident"), area=bu, urgency="acute", category="youth_nuisance")
    answer = r.json()
    assert answer["advice"].startswith("Bel nu 112")
    signal = answer["signal"]
    assert signal["routedPartnerId"] == str(youth)
    assert signal["status"] == "escalated"
    [escalation] = signal["escalations"]
    assert escalation["partnerId"] == str(police) and escalation["automatic"] is True
    deadline = datetime.fromisoformat(signal["acknowledgeBy"])
    assert before + timedelta(minutes=10) <= deadline <= datetime.now(UTC) + timedelta(minutes=10)
    async with TopicReader(app.infra, "signal.escalated") as reader:
        await reader.until(lambda s: any(e.subject == signal["id"] and d.partner_id == police for e, d, _ in s))


async def test_a_category_the_routed_partner_wants_automatically_is_escalated(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    partner = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY, auto_escalate=[Category.VANDALISM])
    signal = (await app.report(app.headers("resident"), area=bu)).json()["signal"]
    assert signal["status"] == "escalated" and signal["escalations"][0]["partnerId"] == str(partner)


async def test_every_invalid_field_is_listed_at_once(app: SignalsApp) -> None:
    r = await app.client.post(
        "/v1/signals",
        json={
            "municipality": MUNICIPALITY,
            "area": "BU03630101",
            "category": "graffiti",
            "urgency": "normal",
            "description": "x" * 2001,
            "lat": 95,
            "lon": 4.8,
            "observedAt": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        },
        headers=app.headers("resident"),
    )
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    names = {p["name"] for p in r.json()["invalidParams"]}
    assert names == {"area", "category", "description", "lat", "observedAt"}


async def test_a_group_must_be_a_whatsapp_group_of_the_municipality(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP)
    police = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE)
    admin = app.headers("group_admin", partner_id=str(group))
    ok = await app.report(admin, area=bu)
    assert ok.status_code == 201, ok.text
    assert ok.json()["signal"]["groupId"] == str(group) and ok.json()["signal"]["source"] == "whatsapp_group"
    not_a_group = await app.report(app.headers("coordinator"), area=bu, groupId=str(police), category="burglary")
    assert not_a_group.status_code == 400
    assert [p["name"] for p in not_a_group.json()["invalidParams"]] == ["groupId"]
    someone_elses = await app.report(admin, area=bu, groupId=str(police))
    assert someone_elses.status_code == 403


async def test_reporting_in_another_municipality_is_not_found(app: SignalsApp) -> None:
    r = await app.report(app.headers("resident"), municipality="GM0453", area="BU04530101")
    assert r.status_code == 404


async def publish_stale_registration(
    app: SignalsApp, partner_id: UUID, *, areas: list[str], categories: list[Category]
) -> UUID:
    """A `partner.registered` at version 1 of a partner already at a later version; returns its event id."""
    data = PartnerRegistered(
        partner_id=partner_id,
        name=f"partner {partner_id.hex[:6]}",
        kind=PartnerKind.MUNICIPALITY,
        municipalities=[MUNICIPALITY],
        areas=areas,
        categories=categories,
        acknowledge_within_minutes=60,
        registered_at=datetime.now(UTC),
        version=1,
    )
    event = envelope(data, source="urn:nld:wijkaanpak:partners", sequence=1, municipality=MUNICIPALITY)
    topic = app.infra.topic("partner.registered")
    await app.partners.producer.send_and_wait(topic, to_json(event), key=str(partner_id).encode())
    return event.id


async def test_partner_events_change_routing_and_older_versions_are_ignored(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    wk, bu = area
    resident = app.headers("resident")
    district = await app.partners.publish(areas=[wk], categories=[Category.LITTER_DUMPING])
    r1 = (await app.report(resident, area=bu, category="litter_dumping")).json()["signal"]
    assert r1["routedPartnerId"] == str(district)
    local = await app.partners.publish(areas=[bu], categories=[Category.LITTER_DUMPING], kind=PartnerKind.MUNICIPALITY)
    r2 = (await app.report(resident, area=bu, category="litter_dumping", lat=52.0, lon=4.0)).json()
    assert r2["duplicate"] is True  # same place and category within two hours
    r3 = (await app.report(resident, area=wk, category="litter_dumping")).json()["signal"]
    assert r3["routedPartnerId"] == str(district)
    await app.partners.publish(partner_id=local, areas=[bu], categories=[], kind=PartnerKind.MUNICIPALITY, version=2)
    stale = await publish_stale_registration(app, local, areas=[bu], categories=[Category.LITTER_DUMPING])
    await app.partners.publish(partner_id=district, areas=[wk], categories=[Category.NOISE_NUISANCE], version=2)

    async def stale_handled() -> bool:
        return bool(await app.sql("SELECT 1 FROM inbox WHERE event_id = $1", stale))

    # barrier: signals' consumer handled the stale event (its inbox row commits with its effect, if any)
    await eventually(stale_handled)
    rows = await app.sql("SELECT version, categories FROM partners WHERE partner_id = $1", local)
    assert rows[0]["version"] == 2 and list(rows[0]["categories"]) == []
    unrouted = (await app.report(resident, area=bu, category="litter_dumping", description="afval 2")).json()
    # The first report is still open: merged. A report in another category shows routing.
    assert unrouted["duplicate"] is True
    noise = (await app.report(resident, area=bu, category="noise_nuisance")).json()["signal"]
    assert noise["routedPartnerId"] == str(district)
    await app.partners.publish(
        partner_id=district,
        areas=[wk],
        categories=[Category.NOISE_NUISANCE],
        version=3,
        event_type="partner.deactivated",
    )
    gone = (await app.report(resident, area=wk, category="noise_nuisance")).json()["signal"]
    assert gone["routedPartnerId"] is None
