"""Only a group's admins attach a group to a report, and a group's admin escalates only to a partner
that takes the signal (issue 18, item 6)."""

from __future__ import annotations

from shared.events.codes import Category, PartnerKind
from tests.signals.conftest import SignalsApp


async def test_a_resident_cannot_attach_a_group_whose_admin_would_then_read_the_report(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP)
    resident = app.headers("resident")
    r = await app.report(resident, area=bu, groupId=str(group), description="mijn buurman op 3 ...")
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    admin = app.headers("group_admin", partner_id=str(group))
    listed = (await app.client.get("/v1/signals", params={"area": bu}, headers=admin)).json()
    assert listed["results"] == []
    other_partner = await app.partners.publish(areas=[bu], kind=PartnerKind.POLICE)
    agent = app.headers("partner_agent", partner_id=str(other_partner))
    r = await app.report(agent, area=bu, groupId=str(group))
    assert r.status_code == 403
    assert (await app.report(admin, area=bu, groupId=str(group))).status_code == 201
    assert (await app.report(app.headers("coordinator"), area=bu, groupId=str(group))).status_code == 201


async def test_a_group_admin_escalates_only_to_a_partner_that_takes_the_signal(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    wk, bu = area
    group = await app.partners.publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP)
    takes = await app.partners.publish(areas=[wk], kind=PartnerKind.YOUTH_WORK, categories=[Category.YOUTH_NUISANCE])
    other_category = await app.partners.publish(
        areas=[wk], kind=PartnerKind.HOUSING_CORPORATION, categories=[Category.LITTER_DUMPING]
    )
    elsewhere = await app.partners.publish(
        areas=["WK047999"], kind=PartnerKind.POLICE, categories=[Category.YOUTH_NUISANCE]
    )
    admin = app.headers("group_admin", partner_id=str(group))
    r = await app.report(admin, area=bu, category="youth_nuisance")
    assert r.status_code == 201, r.text
    sid = r.json()["signal"]["id"]
    for refused in (other_category, elsewhere):
        answer = await app.client.post(f"/v1/signals/{sid}/escalation", json={"partnerId": str(refused)}, headers=admin)
        assert answer.status_code == 400 and [p["name"] for p in answer.json()["invalidParams"]] == ["partnerId"]
    ok = await app.client.post(f"/v1/signals/{sid}/escalation", json={"partnerId": str(takes)}, headers=admin)
    assert ok.status_code == 200, ok.text
