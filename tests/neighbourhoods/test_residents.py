"""Residents name the neighbourhoods they live in: at most three, BU only, events with a pseudonym."""

from __future__ import annotations

import secrets

from shared.crypto import resident_ref
from tests.neighbourhoods.conftest import RESIDENT_REF_KEY, NeighbourhoodsApp, invalid
from tests.support import TopicReader


def _resident() -> str:
    return f"resident-{secrets.token_hex(4)}"


async def test_a_fourth_neighbourhood_is_a_conflict_in_dutch_and_rejoining_changes_nothing(
    app: NeighbourhoodsApp,
) -> None:
    h = app.headers("resident", sub=_resident())
    for code in ("BU04791310", "BU04791320", "BU04791210"):
        r = await app.client.put(f"/v1/me/neighbourhoods/{code}", headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["code"] == code
    again = await app.client.put("/v1/me/neighbourhoods/BU04791310", headers=h)
    assert again.status_code == 200
    fourth = await app.client.put("/v1/me/neighbourhoods/BU04791110", headers=h)
    assert fourth.status_code == 409
    assert fourth.json()["code"] == "CONFLICT"
    assert "hoogstens 3 buurten" in fourth.json()["detail"]
    mine = await app.client.get("/v1/me/neighbourhoods", headers=h)
    assert sorted(a["code"] for a in mine.json()["results"]) == ["BU04791210", "BU04791310", "BU04791320"]


async def test_leaving_frees_a_place_and_leaving_twice_says_so(app: NeighbourhoodsApp) -> None:
    h = app.headers("resident", sub=_resident())
    await app.client.put("/v1/me/neighbourhoods/BU04791310", headers=h)
    left = await app.client.delete("/v1/me/neighbourhoods/BU04791310", headers=h)
    assert left.json() == {"left": True}
    twice = await app.client.delete("/v1/me/neighbourhoods/BU04791310", headers=h)
    assert twice.json() == {"left": False}
    mine = await app.client.get("/v1/me/neighbourhoods", headers=h)
    assert mine.json() == {"results": [], "totalCount": 0, "next": None}


async def test_only_residents_name_neighbourhoods_of_their_municipality_and_only_a_bu(app: NeighbourhoodsApp) -> None:
    partner = await app.client.put("/v1/me/neighbourhoods/BU04791310", headers=app.headers("partner_agent"))
    assert partner.status_code == 403
    h = app.headers("resident", sub=_resident())
    district = await app.client.put("/v1/me/neighbourhoods/WK047913", headers=h)
    assert invalid(district) == {"area"}
    elsewhere = await app.client.put("/v1/me/neighbourhoods/BU03630000", headers=h)
    assert elsewhere.status_code == 404


async def test_joining_and_leaving_are_published_with_the_residents_pseudonym(app: NeighbourhoodsApp) -> None:
    sub = _resident()
    ref = resident_ref(RESIDENT_REF_KEY, sub)
    h = app.headers("resident", sub=sub)
    async with TopicReader(app.infra, "neighbourhood.resident_joined", "neighbourhood.resident_left") as reader:
        await app.client.put("/v1/me/neighbourhoods/BU04791310", headers=h)
        await app.client.put("/v1/me/neighbourhoods/BU04791310", headers=h)  # idempotent: no second event
        await app.client.delete("/v1/me/neighbourhoods/BU04791310", headers=h)
        seen = await reader.until(lambda s: sum(e.subject == ref for e, _, _ in s) >= 2)
    mine = sorted(((e, d) for e, d, _ in seen if e.subject == ref), key=lambda pair: int(pair[0].sequence))
    assert [e.event_type for e, _ in mine] == ["neighbourhood.resident_joined", "neighbourhood.resident_left"]
    joined = mine[0][1]
    assert (joined.resident, joined.area, joined.municipality) == (ref, "BU04791310", "GM0479")
    assert joined.joined_at == app.clock.now()
    assert all(sub not in e.model_dump_json() for e, _ in mine)
