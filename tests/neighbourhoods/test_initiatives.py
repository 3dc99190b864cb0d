"""Initiatives: a resident starts one asking for support, a neighbour joins (counted, never named),
the municipality pledges, the leader completes it; the events say so without any text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from shared.crypto import resident_ref
from shared.events.codes import PartnerKind
from tests.neighbourhoods.conftest import RESIDENT_REF_KEY, NeighbourhoodsApp, bu, fresh_district, invalid
from tests.support import TopicReader


def _start(area: str, **extra: Any) -> dict[str, Any]:
    return {"municipality": "GM0479", "area": area, "title": "Zwerfafval prikken", "kind": "cleanup", **extra}


async def test_start_join_pledge_complete_end_to_end_with_its_events(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    area = bu(district, 1)
    municipality_partner = await app.partners.publish(areas=["GM0479"], kind=PartnerKind.MUNICIPALITY)
    leader = app.headers("resident", sub="leader-" + district)
    neighbour = app.headers("resident", sub="neighbour-" + district)
    types = [
        "initiative.started",
        "initiative.participants_changed",
        "initiative.support_pledged",
        "initiative.completed",
    ]
    async with TopicReader(app.infra, *types) as reader:
        started = await app.client.post(
            "/v1/initiatives",
            json=_start(
                area, asks=[{"kind": "material", "note": "grijpers en zakken"}], contactEmail="trekker@example.test"
            ),
            headers=leader,
        )
        assert started.status_code == 201, started.text
        initiative = started.json()
        assert (initiative["status"], initiative["participantCount"], initiative["ledByMe"]) == ("active", 1, True)
        assert initiative["asks"] == [{"kind": "material", "note": "grijpers en zakken"}]
        assert "contactEmail" not in initiative and "trekker@example.test" not in started.text
        url = f"/v1/initiatives/{initiative['id']}"

        joined = await app.client.post(f"{url}/join", headers=neighbour)
        assert (joined.json()["participantCount"], joined.json()["joinedByMe"], joined.json()["ledByMe"]) == (
            2,
            True,
            False,
        )
        again = await app.client.post(f"{url}/join", headers=neighbour)
        assert again.json()["participantCount"] == 2

        pledged = await app.client.post(
            f"{url}/pledges",
            json={"kind": "material", "note": "wij brengen grijpers"},
            headers=app.headers("partner_agent", partner_id=municipality_partner),
        )
        assert pledged.status_code == 200, pledged.text
        [pledge] = pledged.json()["pledges"]
        assert (pledge["partnerId"], pledge["kind"], pledge["note"]) == (
            str(municipality_partner),
            "material",
            "wij brengen grijpers",
        )

        done = await app.client.post(f"{url}/complete", json={"outcome": "12 zakken vol"}, headers=leader)
        assert (done.json()["status"], done.json()["outcome"]) == ("done", "12 zakken vol")
        seen = await reader.until(lambda s: sum(e.subject == initiative["id"] for e, _, _ in s) >= 4)
    mine = sorted(((e, d) for e, d, _ in seen if e.subject == initiative["id"]), key=lambda p: int(p[0].sequence))
    assert [e.event_type for e, _ in mine] == types
    started_event = mine[0][1]
    assert (started_event.area, [a.value for a in started_event.asks]) == (area, ["material"])
    assert mine[1][1].participant_count == 2
    assert mine[2][1].partner_id == municipality_partner
    assert mine[3][1].pledging_partner_ids == [municipality_partner]
    assert all("Zwerfafval" not in e.model_dump_json() and "zakken" not in e.model_dump_json() for e, _ in mine)

    twice = await app.client.post(f"{url}/complete", json={"outcome": "nog eens"}, headers=leader)
    assert twice.status_code == 409
    late = await app.client.post(f"{url}/leave", headers=neighbour)
    assert late.status_code == 409


async def test_only_the_notifications_service_reads_the_leaders_address_and_each_read_is_audited(
    app: NeighbourhoodsApp,
) -> None:
    district = fresh_district()
    started = await app.client.post(
        "/v1/initiatives", json=_start(district, contactEmail="trekker@example.test"), headers=app.headers("resident")
    )
    url = f"/v1/initiatives/{started.json()['id']}/leader-contact"
    read = await app.client.get(url, headers=app.headers("service", [], sub="notifications"))
    assert read.json() == {"email": "trekker@example.test"}
    for headers in (app.headers("service", [], sub="gateway"), app.headers("coordinator")):
        assert (await app.client.get(url, headers=headers)).status_code == 403
    audited = await app.sql(
        "SELECT reader, found FROM contact_reads WHERE initiative_id = $1", UUID(started.json()["id"])
    )
    assert [(r["reader"], r["found"]) for r in audited] == [("notifications", True)]
    none_given = await app.client.post("/v1/initiatives", json=_start(district), headers=app.headers("resident"))
    empty = await app.client.get(
        f"/v1/initiatives/{none_given.json()['id']}/leader-contact",
        headers=app.headers("service", [], sub="notifications"),
    )
    assert empty.json() == {"email": None}


async def test_the_leader_or_a_coordinator_stops_it_and_the_leader_cannot_leave(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    leader = app.headers("resident")
    initiative = (await app.client.post("/v1/initiatives", json=_start(district), headers=leader)).json()
    url = f"/v1/initiatives/{initiative['id']}"
    assert (await app.client.post(f"{url}/leave", headers=leader)).status_code == 409
    other = await app.client.post(f"{url}/stop", json={"reason": "geen zin"}, headers=app.headers("resident"))
    assert other.status_code == 403
    empty = await app.client.post(f"{url}/stop", json={"reason": ""}, headers=app.headers("coordinator"))
    assert invalid(empty) == {"reason"}
    stopped = await app.client.post(
        f"{url}/stop", json={"reason": "te weinig mensen"}, headers=app.headers("coordinator")
    )
    assert stopped.json()["status"] == "stopped"


async def test_a_group_admin_starts_one_for_their_group(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    group = await app.partners.publish(areas=[bu(district, 1)], kind=PartnerKind.WHATSAPP_GROUP)
    async with TopicReader(app.infra, "initiative.started") as reader:
        r = await app.client.post(
            "/v1/initiatives", json=_start(bu(district, 1)), headers=app.headers("group_admin", partner_id=group)
        )
        assert r.status_code == 201
        seen = await reader.until(lambda s: any(e.subject == r.json()["id"] for e, _, _ in s))
    assert next(d for e, d, _ in seen if e.subject == r.json()["id"]).group_id == group
    partner = await app.client.post("/v1/initiatives", json=_start(district), headers=app.headers("partner_agent"))
    assert partner.status_code == 403


async def test_pledging_needs_a_partner_covering_the_area(app: NeighbourhoodsApp) -> None:
    district, elsewhere = fresh_district(), fresh_district()
    far = await app.partners.publish(areas=[elsewhere], kind=PartnerKind.HOUSING_CORPORATION)
    near = await app.partners.publish(areas=[district], kind=PartnerKind.YOUTH_WORK)
    initiative = (
        await app.client.post("/v1/initiatives", json=_start(bu(district, 3)), headers=app.headers("resident"))
    ).json()
    url = f"/v1/initiatives/{initiative['id']}/pledges"
    refused = await app.client.post(
        url, json={"kind": "presence"}, headers=app.headers("partner_agent", partner_id=far)
    )
    assert refused.status_code == 403
    coordinator = app.headers("coordinator")
    assert invalid(await app.client.post(url, json={"kind": "presence"}, headers=coordinator)) == {"partnerId"}
    wrong = await app.client.post(url, json={"kind": "presence", "partnerId": str(far)}, headers=coordinator)
    assert invalid(wrong) == {"partnerId"}
    ok = await app.client.post(url, json={"kind": "presence", "partnerId": str(near)}, headers=coordinator)
    assert [p["partnerId"] for p in ok.json()["pledges"]] == [str(near)]
    bad = await app.client.post(
        url, json={"kind": "money", "note": "x" * 2001}, headers=app.headers("partner_agent", partner_id=near)
    )
    assert invalid(bad) == {"kind", "note"}


async def test_every_invalid_field_of_a_start_is_reported_at_once(app: NeighbourhoodsApp) -> None:
    body = {
        "municipality": "GM0479",
        "area": "WK036301",
        "title": "",
        "description": "x" * 2001,
        "kind": "party",
        "startsAt": "2026-12-10T10:00:00Z",
        "endsAt": "2026-12-09T10:00:00Z",
        "asks": [{"kind": "money"}],
        "goalId": "nope",
        "contactEmail": "geen-adres",
    }
    r = await app.client.post("/v1/initiatives", json=body, headers=app.headers("resident"))
    assert invalid(r) == {"area", "title", "description", "kind", "endsAt", "asks.0.kind", "goalId", "contactEmail"}
    elsewhere = await app.client.post(
        "/v1/initiatives", json=_start("WK036301", municipality="GM0363"), headers=app.headers("resident")
    )
    assert elsewhere.status_code == 404


async def test_a_district_lists_its_neighbourhoods_initiatives_by_status(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    h = app.headers("resident")
    first = (await app.client.post("/v1/initiatives", json=_start(bu(district, 1)), headers=h)).json()
    second = (await app.client.post("/v1/initiatives", json=_start(district, kind="meeting"), headers=h)).json()
    await app.client.post(f"/v1/initiatives/{first['id']}/complete", json={"outcome": "klaar"}, headers=h)
    everything = await app.client.get(f"/v1/initiatives?area={district}", headers=app.headers("partner_agent"))
    assert {i["id"] for i in everything.json()["results"]} == {first["id"], second["id"]}
    done = await app.client.get(f"/v1/initiatives?area={district}&status=done", headers=h)
    assert [i["id"] for i in done.json()["results"]] == [first["id"]]
    in_bu = await app.client.get(f"/v1/initiatives?area={bu(district, 1)}&status=active,done", headers=h)
    assert [i["id"] for i in in_bu.json()["results"]] == [first["id"]]
    assert invalid(await app.client.get(f"/v1/initiatives?area={district}&status=gone", headers=h)) == {"status"}


async def test_initiatives_page_newest_first_with_a_cursor(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    h = app.headers("resident")
    started = []
    for n in range(3):
        app.clock.advance(timedelta(seconds=10))
        r = await app.client.post("/v1/initiatives", json=_start(bu(district, 1), title=f"nr {n}"), headers=h)
        started.append(r.json()["id"])
    first = (await app.client.get(f"/v1/initiatives?area={district}&first=2", headers=h)).json()
    assert set(first) == {"results", "totalCount", "next"}
    assert ([i["title"] for i in first["results"]], first["totalCount"]) == (["nr 2", "nr 1"], 3) and first["next"]
    rest = (await app.client.get(f"/v1/initiatives?area={district}&first=2&after={first['next']}", headers=h)).json()
    assert ([i["title"] for i in rest["results"]], rest["totalCount"], rest["next"]) == (["nr 0"], 3, None)
    batch = (await app.client.get(f"/v1/initiatives?ids={started[0]},{started[2]}", headers=h)).json()
    assert ([i["id"] for i in batch["results"]], batch["next"]) == ([started[2], started[0]], None)
    bad = await app.client.get(f"/v1/initiatives?area={district}&first=201&after=x&ids=nope", headers=h)
    assert invalid(bad) == {"first", "after", "ids"}


async def test_participants_are_counted_by_pseudonym_never_by_subject(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    initiative = (
        await app.client.post("/v1/initiatives", json=_start(district), headers=app.headers("resident"))
    ).json()
    await app.client.post(
        f"/v1/initiatives/{initiative['id']}/join", headers=app.headers("resident", sub="buurvrouw-7")
    )
    rows = await app.sql("SELECT resident FROM participants WHERE initiative_id = $1", UUID(initiative["id"]))
    assert [r["resident"] for r in rows] == [resident_ref(RESIDENT_REF_KEY, "buurvrouw-7")]


async def test_the_summary_shows_the_quarters_initiatives_and_messages_of_a_district_and_its_bus(
    app: NeighbourhoodsApp,
) -> None:
    district = fresh_district()
    initiative = (
        await app.client.post("/v1/initiatives", json=_start(bu(district, 2)), headers=app.headers("resident"))
    ).json()
    message = (
        await app.client.post(
            "/v1/messages",
            json={"area": bu(district, 2), "kind": "result", "title": "Opgeruimd", "body": "Dank!"},
            headers=app.headers("coordinator"),
        )
    ).json()
    quarter = f"{app.clock.now().year}-Q{(app.clock.now().month - 1) // 3 + 1}"
    r = await app.client.get(f"/v1/summary?area={district}&quarter={quarter}", headers=app.headers("resident"))
    assert r.status_code == 200, r.text
    summary = r.json()
    assert (summary["area"]["code"], summary["quarter"]) == (district, quarter)
    assert [i["id"] for i in summary["initiatives"]] == [initiative["id"]]
    assert [m["id"] for m in summary["messages"]] == [message["id"]]
    earlier = await app.client.get(f"/v1/summary?area={district}&quarter=2020-Q1", headers=app.headers("resident"))
    assert (earlier.json()["initiatives"], earlier.json()["messages"]) == ([], [])
    bad = await app.client.get("/v1/summary?area=WK1&quarter=Q4", headers=app.headers("resident"))
    assert invalid(bad) == {"area", "quarter"}
