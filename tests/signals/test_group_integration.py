"""An integration client bound to a group sees what the group's admins see, and acts on nothing
(CONTRACT.md rule 6): the group's signals, their question, notes and group message, never the
description, and it answers no question."""

from __future__ import annotations

from shared.events.codes import PartnerKind
from tests.signals.conftest import MUNICIPALITY, SignalsApp


async def test_a_groups_system_reads_the_groups_signal_as_its_admins_do_and_answers_nothing(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    police = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE)
    group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=[])
    other_group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=[])
    admin = app.headers("group_admin", partner_id=str(group))
    r = await app.report(admin, area=bu, groupId=str(group), source="whatsapp_group", forward=True)
    assert r.status_code == 201, r.text
    sid = r.json()["signal"]["id"]
    cops = app.headers("partner_agent", partner_id=str(police))
    acknowledged = await app.client.post(
        f"/v1/signals/{sid}/acknowledgement", json={"groupMessage": "Wij rijden extra rondes"}, headers=cops
    )
    asked = await app.client.post(f"/v1/signals/{sid}/question", json={"question": "Welk huisnummer?"}, headers=cops)
    assert (acknowledged.status_code, asked.status_code) == (200, 200), asked.text

    system = app.headers("integration", partner_id=str(group))
    seen = await app.client.get(f"/v1/signals/{sid}", headers=system)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["groupMessage"], body["question"], body["description"]) == (
        "Wij rijden extra rondes",
        "Welk huisnummer?",
        None,
    )
    listed = await app.client.get(f"/v1/signals?municipality={MUNICIPALITY}&area={bu}", headers=system)
    assert [s["id"] for s in listed.json()["results"]] == [sid]
    answered = await app.client.post(f"/v1/signals/{sid}/answer", json={"answer": "Nummer 12"}, headers=system)
    assert answered.status_code == 403, "it reads as the admins do; it answers nothing"
    elsewhere = app.headers("integration", partner_id=str(other_group))
    assert (await app.client.get(f"/v1/signals/{sid}", headers=elsewhere)).status_code == 404
