"""Routing table: most specific coverage, category, availability (Europe/Amsterdam, across
midnight and on daylight-saving days), priority, earliest registered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from services.partners import domain as partners_domain
from services.partners.seed import DEMO_PARTNERS
from services.signals.domain import Partner, Window, police_for, route
from shared.events.catalog import PartnerRegistered
from shared.events.codes import Category, PartnerKind

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BU, WK, GM = "BU04790101", "WK047901", "GM0479"


def partner(
    n: int,
    areas: tuple[str, ...],
    *,
    categories: tuple[Category, ...] = (Category.VANDALISM,),
    windows: tuple[tuple[int, str, str], ...] = (),
    priority: int = 0,
    registered: int = 0,
    kind: PartnerKind = PartnerKind.MUNICIPALITY,
    active: bool = True,
) -> Partner:
    return Partner(
        id=UUID(int=n),
        kind=kind,
        municipalities=frozenset({GM}),
        areas=frozenset(areas),
        categories=frozenset(categories),
        acknowledge_within_minutes=60,
        registered_at=T0 + timedelta(days=registered),
        availability=tuple(Window(d, f, u) for d, f, u in windows),
        priority=priority,
        active=active,
    )


# A Tuesday at noon in Amsterdam (CET, UTC+1).
NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)

ROUTING_CASES = [
    (
        "neighbourhood over district over municipality",
        [partner(1, (GM,)), partner(2, (WK,)), partner(3, (BU,))],
        NOON,
        3,
    ),
    ("district over municipality", [partner(1, (GM,)), partner(2, (WK,))], NOON, 2),
    ("municipality when nothing more specific", [partner(1, (GM,)), partner(2, ("WK047902",))], NOON, 1),
    ("other neighbourhood does not cover", [partner(1, ("BU04790102",))], NOON, None),
    (
        "specificity beats priority",
        [partner(1, (GM,), priority=100), partner(2, (BU,), priority=0)],
        NOON,
        2,
    ),
    ("must handle the category", [partner(1, (BU,), categories=(Category.BURGLARY,)), partner(2, (GM,))], NOON, 2),
    ("inactive partners are skipped", [partner(1, (BU,), active=False), partner(2, (WK,))], NOON, 2),
    ("higher priority wins a tie", [partner(1, (WK,), priority=1), partner(2, (WK,), priority=5)], NOON, 2),
    (
        "earliest registered wins an equal priority",
        [partner(1, (WK,), registered=3), partner(2, (WK,), registered=1), partner(3, (WK,), registered=2)],
        NOON,
        2,
    ),
    ("no windows means always", [partner(1, (BU,))], datetime(2026, 12, 1, 2, 0, tzinfo=UTC), 1),
    (
        "inside a Tuesday window (local time)",
        [partner(1, (BU,), windows=((2, "09:00", "17:00"),)), partner(2, (GM,))],
        NOON,
        1,
    ),
    (
        "window end is exclusive (17:00 local = 16:00 UTC in winter)",
        [partner(1, (BU,), windows=((2, "09:00", "17:00"),)), partner(2, (GM,))],
        datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
        2,
    ),
    (
        "window start is inclusive (09:00 local)",
        [partner(1, (BU,), windows=((2, "09:00", "17:00"),)), partner(2, (GM,))],
        datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        1,
    ),
    (
        "a UTC time that is still Monday is outside a Tuesday window",
        [partner(1, (BU,), windows=((2, "00:00", "06:00"),)), partner(2, (GM,))],
        datetime(2026, 11, 30, 22, 30, tzinfo=UTC),
        2,
    ),
    (
        "local Tuesday 00:30 (Monday 23:30 UTC) is inside a Tuesday night window",
        [partner(1, (BU,), windows=((2, "00:00", "06:00"),)), partner(2, (GM,))],
        datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
        1,
    ),
    (
        "window across midnight: Tuesday 23:00 local",
        [partner(1, (BU,), windows=((2, "22:00", "06:00"),)), partner(2, (GM,))],
        datetime(2026, 12, 1, 22, 0, tzinfo=UTC),
        1,
    ),
    (
        "window across midnight: Wednesday 05:59 local belongs to Tuesday's window",
        [partner(1, (BU,), windows=((2, "22:00", "06:00"),)), partner(2, (GM,))],
        datetime(2026, 12, 2, 4, 59, tzinfo=UTC),
        1,
    ),
    (
        "window across midnight: Wednesday 06:00 local is over",
        [partner(1, (BU,), windows=((2, "22:00", "06:00"),)), partner(2, (GM,))],
        datetime(2026, 12, 2, 5, 0, tzinfo=UTC),
        2,
    ),
    (
        "Sunday night window runs into Monday",
        [partner(1, (BU,), windows=((7, "20:00", "02:00"),)), partner(2, (GM,))],
        datetime(2026, 11, 30, 0, 30, tzinfo=UTC),
        1,
    ),
    (
        "until 24:00 runs to the end of the day",
        [partner(1, (BU,), windows=((2, "18:00", "24:00"),)), partner(2, (GM,))],
        datetime(2026, 12, 1, 22, 59, tzinfo=UTC),
        1,
    ),
    # Summer time (CEST, UTC+2) starts Sunday 29 March 2026 at 02:00 local.
    (
        "DST start: 09:00 local on the Sunday is 07:00 UTC",
        [partner(1, (BU,), windows=((7, "09:00", "17:00"),)), partner(2, (GM,))],
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        1,
    ),
    (
        "DST start: 08:30 UTC the day before is 09:30 local (CET), inside",
        [partner(1, (BU,), windows=((6, "09:00", "10:00"),)), partner(2, (GM,))],
        datetime(2026, 3, 28, 8, 30, tzinfo=UTC),
        1,
    ),
    (
        "DST start: 08:30 UTC on the Sunday is 10:30 local (CEST), outside",
        [partner(1, (BU,), windows=((7, "09:00", "10:00"),)), partner(2, (GM,))],
        datetime(2026, 3, 29, 8, 30, tzinfo=UTC),
        2,
    ),
    (
        "DST start: night window across the skipped hour still covers 03:30 local",
        [partner(1, (BU,), windows=((6, "22:00", "06:00"),)), partner(2, (GM,))],
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        1,
    ),
    # Winter time returns Sunday 25 October 2026 at 03:00 local (back to 02:00).
    (
        "DST end: 01:30 UTC is 02:30 local (CET, the second time), inside 02:00-03:00",
        [partner(1, (BU,), windows=((7, "02:00", "03:00"),)), partner(2, (GM,))],
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        1,
    ),
    (
        "DST end: 02:30 UTC is 03:30 local, outside 02:00-03:00",
        [partner(1, (BU,), windows=((7, "02:00", "03:00"),)), partner(2, (GM,))],
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
        2,
    ),
    (
        "DST end: 16:30 UTC is 17:30 local (CET), outside 09:00-17:00",
        [partner(1, (BU,), windows=((7, "09:00", "17:00"),)), partner(2, (GM,))],
        datetime(2026, 10, 25, 16, 30, tzinfo=UTC),
        2,
    ),
    (
        "unavailable more specific partner falls back to the less specific one",
        [partner(1, (BU,), windows=((1, "09:00", "17:00"),)), partner(2, (WK,))],
        NOON,
        2,
    ),
    ("nobody: unrouted", [], NOON, None),
]


@pytest.mark.parametrize(("case", "partners", "at", "expected"), ROUTING_CASES, ids=[c[0] for c in ROUTING_CASES])
def test_routing_picks_the_responsible_partner(
    case: str, partners: list[Partner], at: datetime, expected: int | None
) -> None:
    chosen = route(partners, municipality=GM, area=BU, category=Category.VANDALISM, at=at)
    assert (chosen.id.int if chosen else None) == expected, case


def test_routing_a_district_signal_ignores_neighbourhood_coverage() -> None:
    partners = [partner(1, (BU,)), partner(2, (GM,))]
    chosen = route(partners, municipality=GM, area=WK, category=Category.VANDALISM, at=NOON)
    assert chosen is not None and chosen.id.int == 2


def test_routing_needs_the_partner_in_the_signals_municipality() -> None:
    other = Partner(
        id=UUID(int=9),
        kind=PartnerKind.POLICE,
        municipalities=frozenset({"GM0453"}),
        areas=frozenset({GM}),
        categories=frozenset(Category),
        acknowledge_within_minutes=5,
        registered_at=T0,
    )
    assert route([other], municipality=GM, area=BU, category=Category.VANDALISM, at=NOON) is None


def test_acute_goes_to_the_most_specific_police_partner_whatever_it_handles() -> None:
    partners = [
        partner(1, (GM,), kind=PartnerKind.POLICE, categories=(Category.BURGLARY,)),
        partner(2, (WK,), kind=PartnerKind.POLICE, categories=(Category.BURGLARY,)),
        partner(3, (BU,), kind=PartnerKind.YOUTH_WORK),
    ]
    chosen = police_for(partners, municipality=GM, area=BU, at=NOON)
    assert chosen is not None and chosen.id.int == 2


def test_acute_prefers_an_available_police_partner_but_takes_an_unavailable_one_over_none() -> None:
    closed = partner(1, (BU,), kind=PartnerKind.POLICE, windows=((1, "09:00", "10:00"),))
    open_ = partner(2, (GM,), kind=PartnerKind.POLICE)
    assert police_for([closed, open_], municipality=GM, area=BU, at=NOON) == open_
    assert police_for([closed], municipality=GM, area=BU, at=NOON) == closed


@pytest.mark.parametrize("kind", [PartnerKind.WHATSAPP_GROUP, PartnerKind.RESIDENT_GROUP])
def test_a_group_is_never_routed_to_however_specific_and_whatever_it_names(kind: PartnerKind) -> None:
    group = partner(1, (BU,), kind=kind, categories=tuple(Category), priority=100)
    police = partner(2, (GM,), kind=PartnerKind.POLICE, categories=(Category.VANDALISM,))
    assert route([group, police], municipality=GM, area=BU, category=Category.VANDALISM, at=NOON) == police
    assert route([group], municipality=GM, area=BU, category=Category.VANDALISM, at=NOON) is None


def test_the_seeded_demo_region_routes_burglaries_in_peldersveld_to_the_police() -> None:
    """The demo's WhatsApp group covers Peldersveld (BU04791310) most specifically; it no longer out-ranks
    the police."""
    seeded = []
    for n, draft in enumerate(DEMO_PARTNERS):
        facts = partners_domain.facts(
            partners_domain.check_registration(
                draft, partner_id=UUID(int=n + 1), at=T0 + timedelta(minutes=n), rules=partners_domain.UrlRules()
            ),
            PartnerRegistered,
        )
        seeded.append((facts.name, facts))
    group = next(f for _, f in seeded if f.kind is PartnerKind.WHATSAPP_GROUP)
    assert group.areas == ["BU04791310"] and group.categories == []
    routing = [
        Partner(
            id=f.partner_id,
            kind=f.kind,
            municipalities=frozenset(f.municipalities),
            areas=frozenset(f.areas),
            categories=frozenset(f.categories),
            acknowledge_within_minutes=f.acknowledge_within_minutes,
            registered_at=f.registered_at,
            priority=f.priority,
        )
        for _, f in seeded
    ]
    for category in (Category.BURGLARY, Category.SUSPICIOUS_SITUATION):
        chosen = route(routing, municipality=GM, area="BU04791310", category=category, at=NOON)
        assert chosen is not None and chosen.kind is PartnerKind.POLICE
