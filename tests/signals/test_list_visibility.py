"""Who may see which signal in lists: the SQL form of the rule (permissions.visibility_clauses)
must answer what the Python form (permissions.can_see, asked by a single read) answers, for
every role, and descriptions stay with the reporter, the partners escalated to and the
coordinator."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from shared.events.codes import Category, PartnerKind
from tests.signals.conftest import SignalsApp, fresh_area

OTHER_MUNICIPALITY = "GM0453"


@dataclass(frozen=True)
class Viewer:
    role: str
    municipalities: tuple[str, ...] = ("GM0479",)
    acts_for: str | None = None  # "partner", "other_partner", "group" or "other_group"
    sub: str | None = None  # a reporter's name in World.subs; None: a subject of its own


# Who looks, what they must find in a list of all the world's signals, and whose descriptions
# they may read there.
VIEWERS: dict[str, tuple[Viewer, set[str], set[str]]] = {
    "reporter": (Viewer("resident", sub="a"), {"a"}, {"a"}),
    "neighbour": (Viewer("resident", sub="b"), {"b"}, {"b"}),
    "merged_reporter": (Viewer("resident", sub="a_dup"), {"a_dup"}, {"a_dup"}),
    "resident_without_reports": (Viewer("resident"), set(), set()),
    "group_admin": (Viewer("group_admin", acts_for="group", sub="g1"), {"g1", "c"}, {"g1"}),
    "fellow_group_admin": (Viewer("group_admin", acts_for="group"), {"g1", "c"}, set()),
    "other_group_admin": (Viewer("group_admin", acts_for="other_group", sub="g2"), {"g2"}, {"g2"}),
    "partner_agent": (Viewer("partner_agent", acts_for="partner"), {"a", "a_dup", "b", "d"}, {"b"}),
    "integration": (Viewer("integration", acts_for="partner"), {"a", "a_dup", "b", "d"}, {"b"}),
    "other_partner_agent": (Viewer("partner_agent", acts_for="other_partner"), {"d"}, {"d"}),
    "coordinator": (
        Viewer("coordinator"),
        {"a", "a_dup", "b", "g1", "c", "g2", "d", "e"},
        {"a", "a_dup", "b", "g1", "c", "g2", "d", "e"},
    ),
    "region_admin": (
        Viewer("region_admin", ("GM0479", OTHER_MUNICIPALITY)),
        {"a", "a_dup", "b", "g1", "c", "g2", "d", "e", "x"},
        set(),
    ),
    "other_municipality_coordinator": (Viewer("coordinator", (OTHER_MUNICIPALITY,)), {"x"}, {"x"}),
}


@dataclass
class World:
    """Signals in one fresh neighbourhood of GM0479 (and one in GM0453), each reported and
    handled so that a different set of viewers may see it."""

    area: str
    partners: dict[str, UUID]
    subs: dict[str, str]
    ids: dict[str, str]
    descriptions: dict[str, str]

    def name_of(self, signal_id: str) -> str:
        return next(name for name, sid in self.ids.items() if sid == signal_id)


def headers_for(app: SignalsApp, world: World, viewer: Viewer) -> dict[str, str]:
    partner = str(world.partners[viewer.acts_for]) if viewer.acts_for else None
    sub = world.subs[viewer.sub] if viewer.sub else None
    return app.headers(viewer.role, list(viewer.municipalities), partner_id=partner, sub=sub)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(app: SignalsApp) -> AsyncIterator[World]:
    _, bu = fresh_area()
    elsewhere = f"BU{OTHER_MUNICIPALITY[2:]}{secrets.randbelow(10_000):04d}"
    run = secrets.token_hex(4)
    publish = app.partners.publish
    partners = {
        "partner": await publish(
            areas=[bu],
            kind=PartnerKind.POLICE,
            categories=[Category.VANDALISM, Category.LITTER_DUMPING, Category.OTHER],
        ),
        "other_partner": await publish(areas=[bu], kind=PartnerKind.YOUTH_WORK, categories=[]),
        "group": await publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=[]),
        "other_group": await publish(areas=[bu], kind=PartnerKind.WHATSAPP_GROUP, categories=[]),
    }
    subs = {name: f"resident-{name}-{run}" for name in ("a", "a_dup", "b", "c", "d", "e", "x")}
    subs.update(g1=f"group-admin-1-{run}", g2=f"group-admin-2-{run}")
    # name: (role, acts for, fields); every description is unique, to look for it in answers.
    reports: dict[str, tuple[str, str | None, dict[str, Any]]] = {
        "a": ("resident", None, {"category": "vandalism"}),  # routed to the partner
        "a_dup": ("resident", None, {"category": "vandalism"}),  # merged into a
        "b": ("resident", None, {"category": "litter_dumping"}),  # routed and escalated to the partner
        "g1": ("group_admin", "group", {"category": "youth_nuisance"}),  # the group admin's own, for the group
        # for the group by its admin: only a group's admins may name it (issue 18, item 6)
        "c": ("group_admin", "group", {"category": "noise_nuisance", "groupId": str(partners["group"])}),
        "g2": ("group_admin", "other_group", {"category": "drugs_nuisance"}),
        "d": ("resident", None, {"category": "other"}),  # routed to the partner, escalated to the other
        "e": ("resident", None, {"category": "burglary"}),  # unrouted: no partner handles it
        "x": ("resident", None, {"category": "vandalism", "municipality": OTHER_MUNICIPALITY, "area": elsewhere}),
    }
    ids: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for name, (role, acts_for, fields) in reports.items():
        descriptions[name] = f"omschrijving {name} {run}"
        municipalities = [fields.get("municipality", "GM0479")]
        partner_id = str(partners[acts_for]) if acts_for else None
        headers = app.headers(role, municipalities, partner_id=partner_id, sub=subs[name])
        r = await app.report(headers, **{"area": bu, "description": descriptions[name], **fields})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["signal"]["id"]
    coordinator = app.headers("coordinator")
    dup = (await app.client.get(f"/v1/signals/{ids['a_dup']}", headers=coordinator)).json()
    assert dup["duplicateOf"] == ids["a"]
    routed = {n: (await app.client.get(f"/v1/signals/{ids[n]}", headers=coordinator)).json() for n in ("a", "b", "d")}
    assert {n: s["routedPartnerId"] for n, s in routed.items()} == dict.fromkeys("abd", str(partners["partner"]))
    r = await app.client.post(f"/v1/signals/{ids['b']}/escalation", json={}, headers=coordinator)
    assert r.status_code == 200, r.text
    r = await app.client.post(
        f"/v1/signals/{ids['d']}/escalation", json={"partnerId": str(partners["other_partner"])}, headers=coordinator
    )
    assert r.status_code == 200, r.text
    yield World(bu, partners, subs, ids, descriptions)


async def list_all(app: SignalsApp, headers: dict[str, str], **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every page of GET /v1/signals with `params`; also the raw text of all pages."""
    found: list[dict[str, Any]] = []
    raw: list[str] = []
    after: str | None = None
    while True:
        query = {**params, **({"after": after} if after else {})}
        r = await app.client.get("/v1/signals", params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        raw.append(r.text)
        found.extend(page["results"])
        after = page["next"]
        if after is None:
            return found, "\n".join(raw)


async def single_reads(app: SignalsApp, world: World, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What GET /v1/signals/{id} answers this caller for each of the world's signals (404: absent)."""
    seen: dict[str, dict[str, Any]] = {}
    for name, sid in world.ids.items():
        r = await app.client.get(f"/v1/signals/{sid}", headers=headers)
        assert r.status_code in (200, 404), r.text
        if r.status_code == 200:
            seen[name] = r.json()
    return seen


@pytest.mark.parametrize("viewer_name", list(VIEWERS))
async def test_lists_show_exactly_the_signals_a_single_read_shows(
    app: SignalsApp, world: World, viewer_name: str
) -> None:
    viewer, visible, _ = VIEWERS[viewer_name]
    headers = headers_for(app, world, viewer)
    singles = await single_reads(app, world, headers)
    assert set(singles) == visible, f"single reads (can_see) for {viewer_name}"
    ids = ",".join(world.ids.values())
    listed, _ = await list_all(app, headers, ids=ids)
    by_name = {world.name_of(s["id"]): s for s in listed}
    assert len(by_name) == len(listed), "a signal was listed twice"
    assert set(by_name) == set(singles), f"the list (SQL) and single reads (Python) disagree for {viewer_name}"
    for name, signal in by_name.items():
        assert signal == singles[name], f"{name} listed differently than read alone for {viewer_name}"
    paged, _ = await list_all(app, headers, ids=ids, first=2)
    assert [s["id"] for s in paged] == [s["id"] for s in listed], "pages of two differ from the whole list"
    if "GM0479" in viewer.municipalities:  # for the others the area is no code of theirs (see below)
        in_area, _ = await list_all(app, headers, area=world.area)
        assert {world.name_of(s["id"]) for s in in_area} == set(singles) - {"x"}, f"area list for {viewer_name}"


@pytest.mark.parametrize("viewer_name", list(VIEWERS))
async def test_a_description_shows_only_to_the_reporter_the_partners_escalated_to_and_the_coordinator(
    app: SignalsApp, world: World, viewer_name: str
) -> None:
    viewer, visible, readable = VIEWERS[viewer_name]
    headers = headers_for(app, world, viewer)
    listed, raw = await list_all(app, headers, ids=",".join(world.ids.values()))
    shown = {world.name_of(s["id"]) for s in listed if s["description"] is not None}
    assert shown == readable
    for name in shown:
        assert next(s for s in listed if s["id"] == world.ids[name])["description"] == world.descriptions[name]
    leaked = [name for name, text in world.descriptions.items() if name not in readable and text in raw]
    assert leaked == [], f"{viewer_name} got the descriptions of {leaked}"
    assert readable <= visible


async def test_a_resident_lists_their_own_signal_but_not_a_neighbours_in_the_same_area(
    app: SignalsApp, world: World
) -> None:
    reporter = app.headers("resident", sub=world.subs["a"])
    listed, raw = await list_all(app, reporter, area=world.area)
    assert [s["id"] for s in listed] == [world.ids["a"]]
    assert listed[0]["description"] == world.descriptions["a"]
    assert world.descriptions["b"] not in raw and world.ids["b"] not in raw
    r = await app.client.get("/v1/signals", params={"ids": world.ids["b"]}, headers=reporter)
    assert r.json() == {"results": [], "totalCount": 0, "next": None}


async def test_a_group_admin_lists_the_groups_signals_but_not_another_groups_or_residents_own(
    app: SignalsApp, world: World
) -> None:
    admin = app.headers("group_admin", partner_id=str(world.partners["group"]))
    listed, raw = await list_all(app, admin, area=world.area)
    assert {s["id"] for s in listed} == {world.ids["g1"], world.ids["c"]}
    assert {s["groupId"] for s in listed} == {str(world.partners["group"])}
    assert all(s["description"] is None for s in listed), "a group admin read a description not their own"
    for name in ("a", "b", "d", "e", "g2"):
        assert world.ids[name] not in raw and world.descriptions[name] not in raw


# Who asks for their own reports, and which of the world's signals are theirs.
MINE: dict[str, tuple[Viewer, set[str]]] = {
    "reporter": (Viewer("resident", sub="a"), {"a"}),
    "merged_reporter": (Viewer("resident", sub="a_dup"), {"a_dup"}),
    "group_member": (Viewer("resident", sub="c"), {"c"}),
    "group_admin": (Viewer("group_admin", acts_for="group", sub="g1"), {"g1"}),
    "fellow_group_admin": (Viewer("group_admin", acts_for="group"), set()),
    "partner_agent": (Viewer("partner_agent", acts_for="partner"), set()),
    "coordinator": (Viewer("coordinator"), set()),
}


@pytest.mark.parametrize("viewer_name", list(MINE))
async def test_my_signals_are_the_callers_own_reports_as_a_single_read_shows_them(
    app: SignalsApp, world: World, viewer_name: str
) -> None:
    viewer, own = MINE[viewer_name]
    headers = headers_for(app, world, viewer)
    r = await app.client.get("/v1/signals/mine", headers=headers)
    assert r.status_code == 200, r.text
    listed = r.json()["results"]
    assert {world.name_of(s["id"]) for s in listed} == own
    singles = await single_reads(app, world, headers)
    for signal in listed:
        assert signal == singles[world.name_of(signal["id"])]
        assert signal["description"] == world.descriptions[world.name_of(signal["id"])]


async def test_another_municipalitys_coordinator_finds_nothing_of_ours(app: SignalsApp, world: World) -> None:
    stranger = app.headers("coordinator", [OTHER_MUNICIPALITY])
    ours = [sid for name, sid in world.ids.items() if name != "x"]
    r = await app.client.get("/v1/signals", params={"ids": ",".join(ours)}, headers=stranger)
    assert r.status_code == 200 and r.json() == {"results": [], "totalCount": 0, "next": None}
    r = await app.client.get("/v1/signals", params={"municipality": "GM0479"}, headers=stranger)
    assert r.status_code == 404
    r = await app.client.get("/v1/signals", params={"area": world.area}, headers=stranger)
    assert r.status_code == 400 and world.ids["a"] not in r.text
    for sid in ours:
        assert (await app.client.get(f"/v1/signals/{sid}", headers=stranger)).status_code == 404
