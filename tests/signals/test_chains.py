"""Chains, added feedback and the partner's own reference through the signals service's REST API,
on a pinned clock (CONTRACT.md "The loop back to reporters", "Partners connect to each other",
rule 6). Nothing sleeps: the chain's transfer is awaited as its event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.events.codes import PartnerKind
from tests.signals import test_pinned_clock as pinned_clock
from tests.signals.conftest import MUNICIPALITY, fresh_area
from tests.signals.test_pinned_clock import Ground, escalate, get, local, pinned, report, z
from tests.support import TopicReader

CHAINS = {"chain_interval_seconds": 0.1}
ground = pinned_clock.ground  # the module's servers and schema, as the pinned-clock tests have them


def fields(r: Any) -> list[str]:
    return [p["name"] for p in r.json()["invalidParams"]]


async def test_a_signal_youth_work_does_not_acknowledge_in_time_goes_to_the_police(ground: Ground) -> None:
    _, bu = fresh_area()
    escalated_at = local("2026-12-04T22:00+01:00")
    async with pinned(ground, escalated_at, **CHAINS) as (app, clock):
        youth = await app.partners.publish(areas=[bu], kind=PartnerKind.YOUTH_WORK, priority=10, minutes=120)
        police = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE, minutes=30)
        coordinator = app.headers("coordinator")
        chain = {"steps": [{"category": "youth_nuisance", "nextPartnerId": str(police), "afterMinutes": 45}]}
        r = await app.client.put(f"/v1/partners/{youth}/chain", json=chain, headers=coordinator)
        assert r.status_code == 200, r.text
        read = await app.client.get(f"/v1/partner-chains?ids={youth},{police}", headers=app.headers("resident"))
        assert read.json()["results"] == [
            {
                "partnerId": str(youth),
                "steps": [{"category": "youth_nuisance", "nextPartnerId": str(police), "afterMinutes": 45}],
            },
            {"partnerId": str(police), "steps": []},
        ]

        resident = app.headers("resident")
        signal = await escalate(app, (await report(app, resident, area=bu, category="youth_nuisance"))["id"])
        assert signal["escalations"][0]["partnerId"] == str(youth)
        async with TopicReader(app.infra, "signal.transferred") as reader:
            passed_at = clock.advance(timedelta(minutes=45))
            await reader.until(lambda _: any(e.subject == signal["id"] for e, _, _ in reader.seen))
        event = next(e for e, _, _ in reader.seen if e.subject == signal["id"])
        assert (event.data["partnerId"], event.data["previousPartnerId"], event.data["automatic"]) == (
            str(police),
            str(youth),
            True,
        )
        after = await get(app, signal["id"])
        entry = after["history"][-1]
        assert (entry["action"], entry["actor"], entry["toStatus"], entry["note"]) == (
            "transferred",
            "system",
            "escalated",
            "keten",
        )
        current = after["escalations"][-1]
        assert (current["partnerId"], current["at"], current["acknowledgeBy"]) == (
            str(police),
            z(passed_at),
            z(passed_at + timedelta(minutes=30)),
        )
        youth_agent = app.headers("partner_agent", partner_id=str(youth))
        gone = await app.client.get(f"/v1/signals/{signal['id']}", headers=youth_agent)
        assert gone.json()["description"] is None, "the partner it was passed on from no longer reads it"


async def test_a_chain_is_set_by_who_manages_the_partner_with_every_problem_at_once(ground: Ground) -> None:
    _, bu = fresh_area()
    async with pinned(ground, local("2026-12-04T10:00+01:00"), **CHAINS) as (app, _):
        youth = await app.partners.publish(areas=[bu], kind=PartnerKind.YOUTH_WORK)
        group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP)
        other = await app.partners.publish(areas=["BU03630101"], municipalities=["GM0363"])
        steps = {
            "steps": [
                {"nextPartnerId": str(group), "afterMinutes": 30},
                {"category": "burglary", "nextPartnerId": str(other), "afterMinutes": 0},
                {"category": "noise_nuisance", "nextPartnerId": str(youth), "afterMinutes": 30},
            ]
        }
        url = f"/v1/partners/{youth}/chain"
        bad = await app.client.put(url, json=steps, headers=app.headers("coordinator"))
        assert (bad.status_code, fields(bad)) == (
            400,
            [
                "chain[0].nextPartnerId",
                "chain[1].nextPartnerId",
                "chain[1].afterMinutes",
                "chain[2].nextPartnerId",
            ],
        )
        agent = await app.client.put(
            url, json={"steps": []}, headers=app.headers("partner_agent", partner_id=str(youth))
        )
        elsewhere = await app.client.put(url, json={"steps": []}, headers=app.headers("coordinator", ["GM0363"]))
        assert (agent.status_code, elsewhere.status_code) == (403, 404)

        unknown_yet = {"municipalities": [MUNICIPALITY], "steps": [{"nextPartnerId": str(youth), "afterMinutes": 5}]}
        checked = await app.client.post(
            "/v1/partner-chains/validation", json=unknown_yet, headers=app.headers("coordinator")
        )
        assert checked.status_code == 200, checked.text
        assert checked.json()["steps"] == [{"category": None, "nextPartnerId": str(youth), "afterMinutes": 5}]
        as_group = await app.client.post(
            "/v1/partner-chains/validation",
            json={**unknown_yet, "kind": "whatsapp_group"},
            headers=app.headers("coordinator"),
        )
        assert (as_group.status_code, fields(as_group)) == (400, ["chain"]), "a group is never escalated to"


async def test_the_escalated_and_an_involved_partner_add_feedback_and_only_the_escalated_one_sets_its_reference(
    ground: Ground,
) -> None:
    _, bu = fresh_area()
    async with pinned(ground, local("2026-12-04T10:00+01:00"), **CHAINS) as (app, clock):
        police = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE, priority=10)
        housing = await app.partners.publish(areas=[bu], kind=PartnerKind.HOUSING_CORPORATION)
        resident = app.headers("resident")
        sid = (await escalate(app, (await report(app, resident, area=bu, category="drugs_nuisance"))["id"]))["id"]
        cop = app.headers("partner_agent", partner_id=str(police))
        corporation = app.headers("partner_agent", partner_id=str(housing))

        early = await app.client.post(
            f"/v1/signals/{sid}/feedback", json={"message": "Wij kijken"}, headers=corporation
        )
        assert early.status_code == 404, "a partner not involved does not know of the signal"
        involved = await app.client.post(
            f"/v1/signals/{sid}/involvement", json={"partnerId": str(housing)}, headers=cop
        )
        assert involved.status_code == 200, involved.text
        clock.advance(timedelta(minutes=5))
        r = await app.client.post(
            f"/v1/signals/{sid}/feedback", json={"message": "Wij spreken de huurder aan"}, headers=corporation
        )
        assert r.status_code == 200, r.text
        empty = await app.client.post(f"/v1/signals/{sid}/feedback", json={"message": " "}, headers=cop)
        coordinator = await app.client.post(
            f"/v1/signals/{sid}/feedback", json={"message": "x"}, headers=app.headers("coordinator")
        )
        assert (empty.status_code, fields(empty), coordinator.status_code) == (400, ["message"], 403)

        by_housing = await app.client.put(
            f"/v1/signals/{sid}/external-reference", json={"reference": "W-1"}, headers=corporation
        )
        blank = await app.client.put(f"/v1/signals/{sid}/external-reference", json={"reference": ""}, headers=cop)
        assert (by_housing.status_code, blank.status_code, fields(blank)) == (403, 400, ["reference"])
        ok = await app.client.put(
            f"/v1/signals/{sid}/external-reference", json={"reference": "PL1300-2026-4711"}, headers=cop
        )
        assert (ok.status_code, ok.json()["externalReference"]) == (200, "PL1300-2026-4711")

        seen_by_reporter = await get(app, sid, resident)
        assert [f["message"] for f in seen_by_reporter["feedback"]] == ["Wij spreken de huurder aan"]
        assert seen_by_reporter["externalReference"] == "PL1300-2026-4711", "the reporter reads the case number"
        resolved = await app.client.post(f"/v1/signals/{sid}/resolution", json={"feedback": "Opgelost"}, headers=cop)
        assert resolved.status_code == 200
        late = await app.client.post(f"/v1/signals/{sid}/feedback", json={"message": "Nog iets"}, headers=cop)
        assert late.status_code == 409
        assert [h["action"] for h in resolved.json()["history"]].count("feedback_added") == 1


async def test_time_waiting_for_the_reporters_answer_does_not_count_towards_the_chain(ground: Ground) -> None:
    (_, asked_area), (_, witness_area), (_, late_area) = fresh_area(), fresh_area(), fresh_area()
    start = local("2026-12-05T20:00+01:00")
    async with pinned(ground, start, **CHAINS) as (app, clock):
        police = await app.partners.publish(areas=[asked_area, witness_area, late_area], kind=PartnerKind.POLICE)
        youth = await app.partners.publish(
            areas=[asked_area, witness_area, late_area], kind=PartnerKind.YOUTH_WORK, priority=10
        )
        chain = {"steps": [{"nextPartnerId": str(police), "afterMinutes": 30}]}
        r = await app.client.put(f"/v1/partners/{youth}/chain", json=chain, headers=app.headers("coordinator"))
        assert r.status_code == 200, r.text
        resident = app.headers("resident")

        async def escalated(area: str) -> str:
            signal = await escalate(app, (await report(app, resident, area=area, category="youth_nuisance"))["id"])
            assert signal["escalations"][0]["partnerId"] == str(youth)
            sid: str = signal["id"]
            return sid

        asked, witness = await escalated(asked_area), await escalated(witness_area)
        youth_agent = app.headers("partner_agent", partner_id=str(youth))
        clock.advance(timedelta(minutes=10))
        q = await app.client.post(f"/v1/signals/{asked}/question", json={"question": "Hoeveel?"}, headers=youth_agent)
        assert q.status_code == 200, q.text
        clock.advance(timedelta(minutes=10))
        late = await escalated(late_area)  # due 50 minutes after the start

        def passed(reader: TopicReader, sid: str) -> bool:
            return any(e.subject == sid for e, _, _ in reader.seen)

        async with TopicReader(app.infra, "signal.transferred") as reader:
            clock.set(start + timedelta(minutes=30))
            await reader.until(lambda _: passed(reader, witness))
            assert not passed(reader, asked), "not while the question is open"
            clock.set(start + timedelta(minutes=40))
            a = await app.client.post(f"/v1/signals/{asked}/answer", json={"answer": "Vijf"}, headers=resident)
            assert (a.status_code, a.json()["status"]) == (200, "escalated")
            clock.set(start + timedelta(minutes=50))
            await reader.until(lambda _: passed(reader, late))
            assert not passed(reader, asked), "30 minutes of waiting do not count: due at 60"
            clock.set(start + timedelta(minutes=60))
            await reader.until(lambda _: passed(reader, asked))
        moved = await get(app, asked)
        assert moved["escalations"][-1]["at"] == z(start + timedelta(minutes=60))
