"""The lifecycle through the REST API: escalation, acknowledgement, resolution, reopening,
rejection, merging, reclassification; visibility, lists and the audited contacts read."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from shared.events.codes import Category, PartnerKind
from tests.signals.conftest import SignalsApp, fresh_area, fresh_district
from tests.support import TopicReader


async def _escalated(app: SignalsApp, bu: str, **report: Any) -> tuple[dict[str, Any], UUID, dict[str, str]]:
    partner = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE)
    reporter = app.headers("resident")
    signal = (await app.report(reporter, area=bu, **report)).json()["signal"]
    r = await app.client.post(
        f"/v1/signals/{signal['id']}/escalation", json={"reason": "graag snel"}, headers=app.headers("coordinator")
    )
    assert r.status_code == 200, r.text
    return r.json(), partner, reporter


async def test_the_whole_lifecycle_with_events_in_order(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    signal, partner, reporter = await _escalated(app, bu)
    sid = signal["id"]
    assert signal["status"] == "escalated" and signal["escalations"][0]["reason"] == "graag snel"
    agent = app.headers("partner_agent", partner_id=str(partner))
    ack = await app.client.post(
        f"/v1/signals/{sid}/acknowledgement", json={"message": "We komen kijken"}, headers=agent
    )
    assert ack.json()["status"] == "acknowledged"
    again = await app.client.post(f"/v1/signals/{sid}/acknowledgement", json={"message": "nogmaals"}, headers=agent)
    assert again.status_code == 200 and again.json()["history"] == ack.json()["history"]
    integration = app.headers("integration", partner_id=str(partner))
    done = await app.client.post(f"/v1/signals/{sid}/resolution", json={"feedback": "Opgelost"}, headers=integration)
    assert done.json()["status"] == "resolved"
    assert [f["message"] for f in done.json()["feedback"]] == ["We komen kijken", "Opgelost"]
    repeat = await app.client.post(f"/v1/signals/{sid}/resolution", json={"feedback": "Opgelost"}, headers=agent)
    assert repeat.status_code == 200 and repeat.json()["feedback"] == done.json()["feedback"]
    reopened = await app.client.post(f"/v1/signals/{sid}/reopening", json={"reason": "Weer kapot"}, headers=reporter)
    body = reopened.json()  # the reporter's reopening goes straight back to the partner
    assert body["status"] == "escalated" and [e["partnerId"] for e in body["escalations"]] == [str(partner)] * 2
    assert (body["history"][-1]["actor"], body["history"][-1]["note"]) == ("system", "heropend door melder")
    assert [h["toStatus"] for h in body["history"]] == [
        "received",
        "escalated",
        "acknowledged",
        "resolved",
        "reopened",
        "escalated",
    ]
    types = ["signal.escalated", "signal.acknowledged", "signal.resolved", "signal.reopened"]
    async with TopicReader(app.infra, "signal.received", *types) as reader:
        seen = await reader.until(lambda s: len([e for e, _, _ in s if e.subject == sid]) >= 6)
    mine = sorted((e for e, _, _ in seen if e.subject == sid), key=lambda e: e.sequence)
    assert [e.event_type for e in mine] == [
        "signal.received",
        "signal.escalated",
        "signal.acknowledged",
        "signal.resolved",
        "signal.reopened",
        "signal.escalated",
    ]
    assert [int(e.sequence) for e in mine] == [1, 2, 3, 4, 5, 6]


async def test_an_invalid_transition_is_a_conflict_naming_the_current_status(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    signal, _, _ = await _escalated(app, bu)
    r = await app.client.post(
        f"/v1/signals/{signal['id']}/rejection", json={"reason": "dubbel"}, headers=app.headers("coordinator")
    )
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "CONFLICT" and "escalated" in r.json()["detail"]


async def test_only_the_partner_it_was_escalated_to_acknowledges(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    signal, _, _ = await _escalated(app, bu)
    other = await app.partners.publish(areas=[bu], kind=PartnerKind.YOUTH_WORK, categories=[Category.VANDALISM])
    stranger = app.headers("partner_agent", partner_id=str(other))
    r = await app.client.post(f"/v1/signals/{signal['id']}/acknowledgement", json={}, headers=stranger)
    assert r.status_code == 404  # neither routed nor escalated to them: invisible
    coordinator = await app.client.post(
        f"/v1/signals/{signal['id']}/acknowledgement", json={}, headers=app.headers("coordinator")
    )
    assert coordinator.status_code == 403


async def test_reject_merge_and_reclassify_by_a_coordinator(app: SignalsApp, area: tuple[str, str]) -> None:
    wk, bu = area
    coordinator = app.headers("coordinator")
    noise_team = await app.partners.publish(areas=[wk], categories=[Category.NOISE_NUISANCE])
    first = (await app.report(app.headers("resident"), area=bu)).json()["signal"]
    rejected = await app.client.post(
        f"/v1/signals/{first['id']}/rejection", json={"reason": "geen signaal"}, headers=coordinator
    )
    assert rejected.json()["status"] == "rejected"
    _, other_bu = fresh_area()
    a = (await app.report(app.headers("resident"), area=bu, category="drugs_nuisance")).json()["signal"]
    b = (await app.report(app.headers("resident"), area=other_bu, category="drugs_nuisance")).json()["signal"]
    merged = await app.client.post(f"/v1/signals/{b['id']}/merge", json={"intoId": a["id"]}, headers=coordinator)
    assert merged.json()["status"] == "merged" and merged.json()["duplicateOf"] == a["id"]
    into = (await app.client.get(f"/v1/signals/{a['id']}", headers=coordinator)).json()
    assert into["reportCount"] == 2
    self_merge = await app.client.post(f"/v1/signals/{a['id']}/merge", json={"intoId": a["id"]}, headers=coordinator)
    assert self_merge.status_code == 400
    moved = await app.client.post(
        f"/v1/signals/{a['id']}/reclassification", json={"category": "noise_nuisance"}, headers=coordinator
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["category"] == "noise_nuisance" and moved.json()["routedPartnerId"] == str(noise_team)
    assert moved.json()["history"][-1]["action"] == "reclassified" and moved.json()["history"][-1]["toStatus"] is None
    async with TopicReader(app.infra, "signal.reclassified") as reader:
        await reader.until(
            lambda s: any(e.subject == a["id"] and d.previous_category == Category.DRUGS_NUISANCE for e, d, _ in s)
        )


async def test_the_description_is_only_for_reporter_escalated_partner_and_coordinator(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    routed = await app.partners.publish(areas=[bu], kind=PartnerKind.MUNICIPALITY)
    reporter = app.headers("resident")
    sid = (await app.report(reporter, area=bu)).json()["signal"]["id"]

    async def description(headers: dict[str, str]) -> object:
        r = await app.client.get(f"/v1/signals/{sid}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["description"]

    routed_agent = app.headers("partner_agent", partner_id=str(routed))
    assert await description(reporter) == "kapot"
    assert await description(app.headers("coordinator")) == "kapot"
    assert await description(routed_agent) is None
    assert await description(app.headers("region_admin")) is None
    await app.client.post(f"/v1/signals/{sid}/escalation", json={}, headers=app.headers("coordinator"))
    assert await description(routed_agent) == "kapot"


async def test_lists_filter_page_and_feed_a_partner_oldest_first(app: SignalsApp) -> None:
    wk = fresh_district()
    partner = await app.partners.publish(areas=[wk], categories=[Category.TRAFFIC_SAFETY])
    coordinator = app.headers("coordinator")
    reporter = app.headers("resident")
    ids = []
    for i in range(5):
        _, b = fresh_area()
        code = f"BU{wk[2:]}{i:02d}" if i < 4 else b
        r = await app.report(reporter, area=code, category="traffic_safety")
        ids.append(r.json()["signal"]["id"])
    for sid in ids[:3]:
        await app.client.post(f"/v1/signals/{sid}/escalation", json={"partnerId": str(partner)}, headers=coordinator)
    page = (await app.client.get(f"/v1/signals?area={wk}&first=2", headers=coordinator)).json()
    assert page["totalCount"] == 4 and len(page["results"]) == 2 and page["next"]
    rest = (await app.client.get(f"/v1/signals?area={wk}&first=2&after={page['next']}", headers=coordinator)).json()
    assert [s["id"] for s in page["results"] + rest["results"]] == list(reversed(ids[:4]))
    assert rest["next"] is None
    feed_headers = app.headers("integration", partner_id=str(partner))
    feed = (await app.client.get(f"/v1/signals?partnerId={partner}&first=2", headers=feed_headers)).json()
    more = (await app.client.get(f"/v1/signals?partnerId={partner}&after={feed['next']}", headers=feed_headers)).json()
    assert [s["id"] for s in feed["results"] + more["results"]] == ids[:3]
    escalated = (
        await app.client.get(f"/v1/signals?area={wk}&status=escalated,acknowledged", headers=coordinator)
    ).json()
    assert {s["id"] for s in escalated["results"]} == set(ids[:3])
    batch = (await app.client.get(f"/v1/signals?ids={ids[0]},{ids[4]}", headers=coordinator)).json()
    assert {s["id"] for s in batch["results"]} == {ids[0], ids[4]}
    mine = (await app.client.get("/v1/signals/mine", headers=reporter)).json()
    assert {s["id"] for s in mine["results"]} == set(ids)
    visible = (await app.client.get(f"/v1/signals?area={wk}", headers=feed_headers)).json()
    assert {s["id"] for s in visible["results"]} == set(ids[:4])  # routed to it, or escalated
    bad = await app.client.get("/v1/signals?status=lost&category=graffiti", headers=coordinator)
    assert bad.status_code == 400 and {p["name"] for p in bad.json()["invalidParams"]} == {"status", "category"}


async def test_a_batch_read_by_ids_answers_all_of_them(app: SignalsApp) -> None:
    reporter = app.headers("resident")
    answers = await asyncio.gather(*(app.report(reporter, area=fresh_area()[1]) for _ in range(60)))
    ids = [r.json()["signal"]["id"] for r in answers]
    batch = await app.client.get(f"/v1/signals?ids={','.join(ids)}", headers=app.headers("coordinator"))
    assert {s["id"] for s in batch.json()["results"]} == set(ids) and batch.json()["next"] is None


async def test_unrouted_signals_are_listed_for_coordinators(app: SignalsApp) -> None:
    _, bu = fresh_area()
    sid = (await app.report(app.headers("resident"), area=bu, category="other")).json()["signal"]["id"]
    listed = (await app.client.get(f"/v1/signals?unrouted=true&area={bu}", headers=app.headers("coordinator"))).json()
    assert [s["id"] for s in listed["results"]] == [sid]


async def test_contacts_only_for_the_notifications_service_and_every_read_is_audited(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    first = (await app.report(app.headers("resident", sub="r-1"), area=bu, contactEmail="een@example.nl")).json()
    dup = (await app.report(app.headers("resident", sub="r-2"), area=bu, contactEmail="twee@example.nl")).json()
    await app.report(app.headers("resident", sub="r-3"), area=bu)
    assert dup["duplicate"] is True
    sid = first["signal"]["id"]
    path = f"/internal/v1/signals/{sid}/contacts"
    notifications = app.headers("service", [], sub="notifications")
    r = await app.client.get(path, headers=notifications)
    assert r.status_code == 200
    assert r.json() == {
        "contacts": [
            {"reporter": "r-1", "email": "een@example.nl", "duplicate": False},
            {"reporter": "r-2", "email": "twee@example.nl", "duplicate": True},
        ]
    }
    # the duplicate's own read names its reporter as its own
    own = await app.client.get(f"/internal/v1/signals/{dup['signal']['id']}/contacts", headers=notifications)
    assert own.json() == {"contacts": [{"reporter": "r-2", "email": "twee@example.nl", "duplicate": False}]}
    assert (await app.client.get(path, headers=app.headers("service", [], sub="goals"))).status_code == 403
    assert (await app.client.get(path, headers=app.headers("coordinator"))).status_code == 403
    audit = await app.sql("SELECT reader, contacts FROM contact_reads WHERE signal_id = $1", UUID(sid))
    assert [(a["reader"], a["contacts"]) for a in audit] == [("notifications", 2)]
    stored = await app.sql("SELECT contact FROM signals WHERE id = $1", UUID(sid))
    assert b"een@example.nl" not in bytes(stored[0]["contact"])
