"""Messages to a neighbourhood: who posts where, newest first, a WK with its BUs, expiry on the
pinned clock, withdrawal, and every invalid field at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import rfc3339
from shared.events.codes import PartnerKind
from tests.neighbourhoods.conftest import NeighbourhoodsApp, bu, fresh_district, invalid
from tests.support import TopicReader


def _message(area: str, **extra: Any) -> dict[str, Any]:
    return {"area": area, "kind": "warning", "title": "Inbraakgolf", "body": "Sluit ramen en deuren.", **extra}


async def test_a_partner_posts_in_an_area_it_covers_and_the_event_carries_no_text(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    police = await app.partners.publish(areas=[district])
    h = app.headers("partner_agent", partner_id=police)
    async with TopicReader(app.infra, "neighbourhood.message_posted") as reader:
        r = await app.client.post("/v1/messages", json=_message(bu(district, 1)), headers=h)
        assert r.status_code == 201, r.text
        posted = r.json()
        seen = await reader.until(lambda s: any(e.subject == posted["id"] for e, _, _ in s))
    assert posted == {
        "id": posted["id"],
        "municipality": "GM0479",
        "area": bu(district, 1),
        "kind": "warning",
        "title": "Inbraakgolf",
        "body": "Sluit ramen en deuren.",
        "partnerId": str(police),
        "postedAt": rfc3339(app.clock.now()),
        "validUntil": None,
        "withdrawnAt": None,
    }
    event, data = next((e, d) for e, d, _ in seen if e.subject == posted["id"])
    assert (data.area, data.kind.value, data.partner_id) == (bu(district, 1), "warning", police)
    assert "Inbraakgolf" not in event.model_dump_json()


async def test_a_partner_may_not_post_where_it_does_not_work_nor_for_another_partner(app: NeighbourhoodsApp) -> None:
    district, elsewhere = fresh_district(), fresh_district()
    police = await app.partners.publish(areas=[district])
    other = await app.partners.publish(areas=[district], kind=PartnerKind.YOUTH_WORK)
    h = app.headers("partner_agent", partner_id=police)
    outside = await app.client.post("/v1/messages", json=_message(elsewhere), headers=h)
    assert outside.status_code == 403
    for_other = await app.client.post("/v1/messages", json=_message(district, partnerId=str(other)), headers=h)
    assert for_other.status_code == 403
    resident = await app.client.post("/v1/messages", json=_message(district), headers=app.headers("resident"))
    assert resident.status_code == 403
    other_town = await app.client.post("/v1/messages", json=_message("WK036300"), headers=h)
    assert other_town.status_code == 404


async def test_coordinators_post_for_a_partner_of_theirs_or_none(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    youth = await app.partners.publish(areas=[district], kind=PartnerKind.YOUTH_WORK)
    h = app.headers("coordinator")
    own = await app.client.post("/v1/messages", json=_message(district), headers=h)
    assert own.status_code == 201 and own.json()["partnerId"] is None
    for_youth = await app.client.post("/v1/messages", json=_message(district, partnerId=str(youth)), headers=h)
    assert for_youth.json()["partnerId"] == str(youth)
    unknown = await app.client.post(
        "/v1/messages", json=_message(district, partnerId="00000000-0000-0000-0000-000000000001"), headers=h
    )
    assert invalid(unknown) == {"partnerId"}


async def test_a_district_lists_its_neighbourhoods_messages_newest_first_and_a_bu_those_above_it(
    app: NeighbourhoodsApp,
) -> None:
    district = fresh_district()
    police = await app.partners.publish(areas=[district])
    h = app.headers("partner_agent", partner_id=police)
    posted = []
    for area in (district, bu(district, 1), bu(district, 2)):
        app.clock.advance(timedelta(minutes=1))
        r = await app.client.post("/v1/messages", json=_message(area, title=f"voor {area}"), headers=h)
        posted.append(r.json()["id"])
    app.clock.advance(timedelta(minutes=1))
    city = await app.client.post("/v1/messages", json=_message("GM0479"), headers=app.headers("coordinator"))
    reader = app.headers("resident")
    in_district = await app.client.get(f"/v1/messages?area={district}", headers=reader)
    assert [m["id"] for m in in_district.json()["results"]][:4] == [city.json()["id"], *reversed(posted)]
    in_bu = await app.client.get(f"/v1/messages?area={bu(district, 1)}", headers=reader)
    ids = [m["id"] for m in in_bu.json()["results"]]
    assert ids[:3] == [city.json()["id"], posted[1], posted[0]]
    assert posted[2] not in ids


async def test_pages_follow_each_other_with_a_cursor(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    police = await app.partners.publish(areas=[district])
    h = app.headers("partner_agent", partner_id=police)
    for n in range(3):
        app.clock.advance(timedelta(seconds=10))
        await app.client.post("/v1/messages", json=_message(bu(district, 1), title=f"nr {n}"), headers=h)
    area = bu(district, 1)
    first = (await app.client.get(f"/v1/messages?area={area}&first=2", headers=h)).json()
    assert set(first) == {"results", "totalCount", "next"}  # shared.pagination.listing, as every service
    assert [m["title"] for m in first["results"]] == ["nr 2", "nr 1"]
    assert first["next"] is not None and first["totalCount"] >= 3
    rest = (await app.client.get(f"/v1/messages?area={area}&first=2&after={first['next']}", headers=h)).json()
    assert [m["title"] for m in rest["results"]][:1] == ["nr 0"]
    assert rest["totalCount"] == first["totalCount"]
    seen: list[str] = []
    after: str | None = None  # walk every page: it ends with `next` null, each message once
    while True:
        query = f"/v1/messages?area={area}&first=2" + (f"&after={after}" if after else "")
        page = (await app.client.get(query, headers=h)).json()
        seen.extend(m["id"] for m in page["results"])
        after = page["next"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == page["totalCount"]


async def test_a_batch_read_by_ids_pages_and_ends_with_next_null(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    h = app.headers("coordinator")
    posted = []
    for n in range(2):
        app.clock.advance(timedelta(seconds=10))
        r = await app.client.post("/v1/messages", json=_message(district, title=f"nr {n}"), headers=h)
        posted.append(r.json()["id"])
    ids = ",".join(posted)
    whole = (await app.client.get(f"/v1/messages?ids={ids}&first=2", headers=h)).json()
    assert ([m["title"] for m in whole["results"]], whole["totalCount"], whole["next"]) == (["nr 1", "nr 0"], 2, None)
    one = (await app.client.get(f"/v1/messages?ids={ids}&first=1", headers=h)).json()
    assert ([m["title"] for m in one["results"]], one["totalCount"]) == (["nr 1"], 2) and one["next"]
    rest = (await app.client.get(f"/v1/messages?ids={ids}&first=1&after={one['next']}", headers=h)).json()
    assert ([m["title"] for m in rest["results"]], rest["next"]) == (["nr 0"], None)


async def test_bad_paging_is_reported_field_by_field_at_once(app: NeighbourhoodsApp) -> None:
    r = await app.client.get(
        "/v1/messages?area=WK047912&first=0&after=nonsense&ids=not-an-id", headers=app.headers("resident")
    )
    assert r.headers["content-type"].startswith("application/problem+json")
    assert invalid(r) == {"first", "after", "ids"}


async def test_an_expired_message_leaves_the_list_but_can_still_be_read(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    h = app.headers("coordinator")
    until = app.clock.now() + timedelta(hours=1)
    r = await app.client.post("/v1/messages", json=_message(district, validUntil=rfc3339(until)), headers=h)
    message = r.json()
    assert message["validUntil"] == rfc3339(until)
    listed = await app.client.get(f"/v1/messages?area={district}", headers=h)
    assert message["id"] in [m["id"] for m in listed.json()["results"]]
    app.clock.advance(timedelta(hours=2))
    later = await app.client.get(f"/v1/messages?area={district}", headers=h)
    assert message["id"] not in [m["id"] for m in later.json()["results"]]
    read = await app.client.get(f"/v1/messages/{message['id']}", headers=app.headers("resident"))
    assert read.status_code == 200 and read.json()["id"] == message["id"]


async def test_who_posted_or_a_coordinator_withdraws_and_it_leaves_the_list(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    police = await app.partners.publish(areas=[district])
    youth = await app.partners.publish(areas=[district], kind=PartnerKind.YOUTH_WORK)
    posted = (
        await app.client.post(
            "/v1/messages", json=_message(district), headers=app.headers("partner_agent", partner_id=police)
        )
    ).json()
    stranger = await app.client.post(
        f"/v1/messages/{posted['id']}/withdraw", headers=app.headers("partner_agent", partner_id=youth)
    )
    assert stranger.status_code == 403
    async with TopicReader(app.infra, "neighbourhood.message_withdrawn") as reader:
        withdrawn = await app.client.post(f"/v1/messages/{posted['id']}/withdraw", headers=app.headers("coordinator"))
        assert withdrawn.status_code == 200
        assert withdrawn.json()["withdrawnAt"] == rfc3339(app.clock.now())
        await reader.until(lambda s: any(e.subject == posted["id"] for e, _, _ in s))
    listed = await app.client.get(f"/v1/messages?area={district}", headers=app.headers("resident"))
    assert posted["id"] not in [m["id"] for m in listed.json()["results"]]


async def test_every_invalid_field_is_reported_at_once(app: NeighbourhoodsApp) -> None:
    body = {
        "area": "WK12",
        "kind": "gossip",
        "title": "x" * 121,
        "body": "",
        "validUntil": rfc3339(app.clock.now() - timedelta(days=1)),
        "partnerId": "not-an-id",
    }
    r = await app.client.post("/v1/messages", json=body, headers=app.headers("coordinator"))
    assert invalid(r) == {"area", "kind", "title", "body", "validUntil", "partnerId"}


async def test_another_municipalitys_message_is_not_found(app: NeighbourhoodsApp) -> None:
    district = fresh_district()
    posted = (await app.client.post("/v1/messages", json=_message(district), headers=app.headers("coordinator"))).json()
    r = await app.client.get(f"/v1/messages/{posted['id']}", headers=app.headers("resident", ["GM0363"]))
    assert r.status_code == 404
    listed = await app.client.get(f"/v1/messages?ids={posted['id']}", headers=app.headers("resident", ["GM0363"]))
    assert listed.json()["results"] == []
