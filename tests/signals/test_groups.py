"""Groups report; they are not case handlers (CONTRACT.md, additions): a group is never routed or
escalated to; its admin forwards in one step; the partner's `groupMessage` reaches the admins of
the signal's group and of its duplicates' groups, and never an event."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from shared.events.codes import Category, PartnerKind
from tests.signals.conftest import SignalsApp
from tests.support import TopicReader


async def _police_and_group(app: SignalsApp, bu: str) -> tuple[UUID, UUID]:
    """A police partner and a WhatsApp group that names every category, for the same neighbourhood
    (the group registered first, with a higher priority): routing must still pick the police.
    (Districts are shared between tests, neighbourhoods are not.)"""
    group = await app.partners.publish(
        areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=list(Category), priority=100
    )
    police = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE, categories=[Category.VANDALISM])
    return police, group


def _fields(r: Any) -> dict[str, str]:
    return {p["name"]: p["reason"] for p in r.json().get("invalidParams", [])}


async def test_a_group_is_never_routed_or_escalated_to(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    police, group = await _police_and_group(app, bu)
    coordinator = app.headers("coordinator")
    signal = (await app.report(app.headers("resident"), area=bu)).json()["signal"]
    assert signal["routedPartnerId"] == str(police)

    named = await app.client.post(
        f"/v1/signals/{signal['id']}/escalation", json={"partnerId": str(group)}, headers=coordinator
    )
    assert named.status_code == 400, named.text
    assert "partnerId" in _fields(named)
    again = await app.client.get(f"/v1/signals/{signal['id']}", headers=coordinator)
    assert again.json()["status"] == "received" and again.json()["escalations"] == []

    routed = await app.client.post(f"/v1/signals/{signal['id']}/escalation", json={}, headers=coordinator)
    assert routed.status_code == 200 and routed.json()["escalations"][0]["partnerId"] == str(police)


async def test_an_acute_report_in_a_groups_neighbourhood_goes_to_the_police(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    police, _ = await _police_and_group(app, bu)
    r = await app.report(app.headers("resident"), area=bu, category="burglary", urgency="acute")
    signal = r.json()["signal"]
    assert signal["status"] == "escalated" and signal["escalations"][0]["partnerId"] == str(police)


async def test_a_group_admin_forwards_in_one_step(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    police, group = await _police_and_group(app, bu)
    admin = app.headers("group_admin", partner_id=str(group))
    r = await app.report(admin, area=bu, source="whatsapp_group", groupId=str(group), forward=True)
    assert r.status_code == 201, r.text
    signal = r.json()["signal"]
    assert signal["status"] == "escalated"
    assert [e["partnerId"] for e in signal["escalations"]] == [str(police)]
    assert [h["toStatus"] for h in signal["history"]] == ["received", "escalated"]
    seen = await app.client.get(
        f"/v1/signals/{signal['id']}", headers=app.headers("partner_agent", partner_id=str(police))
    )
    assert seen.json()["description"] == "kapot"  # escalated to the police: they read it


async def test_forward_without_a_responsible_partner_keeps_the_report_unrouted(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    r = await app.report(app.headers("coordinator"), area=bu, category="traffic_safety", forward=True)
    assert r.status_code == 201, r.text
    assert r.json()["signal"]["status"] == "received" and r.json()["signal"]["routedPartnerId"] is None


async def test_only_group_admins_and_coordinators_forward(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    await _police_and_group(app, bu)
    refused = await app.report(app.headers("resident"), area=bu, forward=True)
    assert refused.status_code == 403, refused.text
    plain = await app.report(app.headers("resident"), area=bu, category="other", forward=False)
    assert plain.status_code == 201 and plain.json()["signal"]["status"] == "received"


async def test_a_resident_group_reports_like_a_whatsapp_group(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    police = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE, categories=[Category.VANDALISM])
    group = await app.partners.publish(areas=[bu], kind=PartnerKind.RESIDENT_GROUP, categories=[])
    admin = app.headers("group_admin", partner_id=str(group))
    r = await app.report(admin, area=bu, forward=True)
    assert r.status_code == 201, r.text
    assert r.json()["signal"]["escalations"][0]["partnerId"] == str(police)
    not_a_group = await app.report(app.headers("coordinator"), area=bu, groupId=str(police), category="other")
    assert not_a_group.status_code == 400 and "groupId" in _fields(not_a_group)


async def test_the_group_message_reaches_the_groups_of_the_signal_and_its_duplicates_but_no_event(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    police, group = await _police_and_group(app, bu)
    other_group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=[])
    third_group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=[])
    admin = app.headers("group_admin", partner_id=str(group))
    other_admin = app.headers("group_admin", partner_id=str(other_group))
    signal = (await app.report(admin, area=bu, forward=True)).json()["signal"]
    duplicate = (await app.report(other_admin, area=bu)).json()
    assert duplicate["duplicate"] is True
    sid, did = signal["id"], duplicate["signal"]["id"]

    agent = app.headers("partner_agent", partner_id=str(police))
    text = "De politie is langs geweest en houdt de buurt in de gaten."
    ack = await app.client.post(
        f"/v1/signals/{sid}/acknowledgement", json={"message": "We komen kijken", "groupMessage": text}, headers=agent
    )
    assert ack.status_code == 200, ack.text
    assert ack.json()["groupMessage"] == text

    async def group_message(signal_id: str, headers: dict[str, str]) -> Any:
        r = await app.client.get(f"/v1/signals/{signal_id}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["groupMessage"]

    assert await group_message(sid, admin) == text
    assert await group_message(sid, app.headers("coordinator")) == text
    assert await group_message(did, other_admin) == text  # on its own (merged) report, as with feedback
    third = app.headers("group_admin", partner_id=str(third_group))
    assert (await app.client.get(f"/v1/signals/{sid}", headers=third)).status_code == 404

    later = "Opgelost: de daders zijn aangesproken."
    done = await app.client.post(
        f"/v1/signals/{sid}/resolution", json={"feedback": "Opgelost", "groupMessage": later}, headers=agent
    )
    assert done.status_code == 200 and done.json()["groupMessage"] == later
    assert await group_message(did, other_admin) == later

    async with TopicReader(app.infra, "signal.acknowledged", "signal.resolved") as reader:
        seen = await reader.until(lambda s: len([e for e, _, _ in s if e.subject == sid]) >= 2)
    mine = {e.event_type: e for e, _, _ in seen if e.subject == sid}
    for event in mine.values():
        assert event.data["groupId"] == str(group)
        assert event.data["duplicateGroupIds"] == [str(other_group)]
        raw = orjson.dumps(event.data).decode()
        assert text not in raw and later not in raw and "groupMessage" not in raw


async def test_a_group_message_is_checked_like_the_other_texts(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    police, group = await _police_and_group(app, bu)
    signal = (await app.report(app.headers("group_admin", partner_id=str(group)), area=bu, forward=True)).json()
    agent = app.headers("partner_agent", partner_id=str(police))
    r = await app.client.post(
        f"/v1/signals/{signal['signal']['id']}/resolution",
        json={"feedback": "", "groupMessage": "x" * 2001},
        headers=agent,
    )
    assert r.status_code == 400
    assert set(_fields(r)) == {"feedback", "groupMessage"}
