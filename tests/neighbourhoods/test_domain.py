"""The neighbourhood's domain without I/O: memberships, initiatives' states, messages' expiry,
coverage by code, quarters, and reading kaart files."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.neighbourhoods import kaart
from services.neighbourhoods.domain.coverage import covers, shown_in
from services.neighbourhoods.domain.initiatives import CheckedStart, Initiative, LeaderStays, NotActive
from services.neighbourhoods.domain.messages import CheckedPost, Message, PostInput, check_post
from services.neighbourhoods.domain.quarters import Quarter
from services.neighbourhoods.domain.residents import Residence, TooManyNeighbourhoods
from shared.errors import FieldErrors
from shared.events.catalog import InitiativeCompleted, InitiativeParticipantsChanged, ResidentJoined
from shared.events.codes import InitiativeKind, InitiativeStatus, MessageKind, SupportKind

AT = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def test_a_residence_holds_three_neighbourhoods_and_raises_one_event_per_change() -> None:
    r = Residence("r_x", [])
    assert [r.join(code, AT) for code in ("BU04791310", "BU04791320", "BU04791310")] == [True, True, False]
    r.join("BU03630000", AT)
    with pytest.raises(TooManyNeighbourhoods):
        r.join("BU04791210", AT)
    assert r.leave("BU04791310", AT) and not r.leave("BU04791310", AT)
    assert [v for v, _ in r.pending] == [1, 2, 3, 4]
    _, event = r.pending[2]
    assert isinstance(event, ResidentJoined) and event.municipality == "GM0363"


def _initiative() -> Initiative:
    given = CheckedStart(
        "GM0479", "BU04791310", "Opruimen", None, InitiativeKind.CLEANUP, None, None, None, [], None, None
    )
    return Initiative.start(given, "r_leader", None, AT)


def test_an_initiative_counts_its_leader_and_neighbours_and_ends_once() -> None:
    i = _initiative()
    assert i.participant_count == 1
    i.joined(AT)
    assert i.participant_count == 2
    with pytest.raises(LeaderStays):
        i.left("r_leader", AT)
    i.pledge(i.id, SupportKind.MATERIAL, None, AT)
    i.pledge(i.id, SupportKind.BUDGET, None, AT)
    assert i.pledging_partner_ids == [i.id]
    i.complete("Gelukt", AT)
    assert i.status is InitiativeStatus.DONE
    with pytest.raises(NotActive):
        i.stop("toch niet", AT)
    with pytest.raises(NotActive):
        i.joined(AT)
    events = [e for _, e in i.pending]
    assert isinstance(events[1], InitiativeParticipantsChanged) and events[1].participant_count == 2
    assert isinstance(events[-1], InitiativeCompleted) and events[-1].status is InitiativeStatus.DONE
    assert [v for v, _ in i.pending] == list(range(1, len(events) + 1))


def test_a_message_is_shown_until_it_expires_or_is_withdrawn() -> None:
    post = CheckedPost("WK047913", MessageKind.WARNING, "t", "b", AT + timedelta(hours=1), None)
    m = Message.post(post, "GM0479", None, "coordinator-1", AT)
    assert m.shown_at(AT + timedelta(hours=1)) and not m.shown_at(AT + timedelta(hours=1, seconds=1))
    assert m.withdraw(AT) and not m.withdraw(AT)
    assert not m.shown_at(AT)
    assert [v for v, _ in m.pending] == [1, 2]


def test_a_post_reports_every_invalid_field() -> None:
    errors = FieldErrors()
    given = PostInput("BU1", "rumour", "", "x" * 2001, AT - timedelta(seconds=1), "x")
    assert check_post(given, AT, errors) is None
    assert {e.field for e in errors.items} == {"area", "kind", "title", "body", "validUntil", "partnerId"}


def test_a_partner_covers_by_code_and_lists_show_what_encloses_and_lies_in() -> None:
    assert covers(["GM0479"], "BU04791310")
    assert covers(["WK047913"], "BU04791310")
    assert not covers(["BU04791310"], "WK047913")
    assert not covers(["WK047912"], "BU04791310")
    assert shown_in("BU04791310") == (["BU04791310", "WK047913", "GM0479"], "04791310%")
    assert shown_in("WK047913")[1] == "047913%"


def test_quarters_are_amsterdam_quarters() -> None:
    q = Quarter.parse("2026-Q4")
    assert q is not None
    assert q.starts_at == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
    assert q.ends_at == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert Quarter.parse("2026-Q5") is None and Quarter.parse("26-Q1") is None


def test_a_geopackage_blob_gives_its_wkb_and_srid() -> None:
    wkb = struct.pack("<BIdd", 1, 1, 4.8, 52.4)
    envelope = struct.pack("<dddd", 4.8, 4.8, 52.4, 52.4)
    blob = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i", 28992) + envelope + wkb
    g = kaart.geopackage_geometry(blob, 4326)
    assert g is not None and (g.srid, g.wkb) == (28992, wkb)
    empty = b"GP" + bytes([0, 0b00010001]) + struct.pack("<i", 4326)
    assert kaart.geopackage_geometry(empty, 4326) is None


def test_a_geojson_kaart_with_cbs_columns_names_parents_and_takes_the_year_from_its_name(tmp_path: Path) -> None:
    path = tmp_path / "wijkenbuurten-2023.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}},'
        ' "features": [{"type": "Feature", "geometry": null, "properties": {"buurtcode": "BU04791310",'
        ' "buurtnaam": "Peldersveld", "wijkcode": "WK047913", "wijknaam": "Pelders- en Hoornseveld",'
        ' "gemeentecode": "GM0479", "gemeentenaam": "Zaanstad"}},'
        ' {"type": "Feature", "geometry": null, "properties": {"naam": "zonder code"}}]}'
    )
    found = kaart.read(path)
    assert [(r.code, r.name, r.year) for r in found.records] == [
        ("BU04791310", "Peldersveld", 2023),
        ("GM0479", "Zaanstad", 2023),
        ("WK047913", "Pelders- en Hoornseveld", 2023),
    ]
    assert found.skipped == 1
    assert kaart._geojson_srid({"crs": {"properties": {"name": "urn:ogc:def:crs:EPSG::28992"}}}) == 28992
    assert kaart._geojson_srid({}) == 4326


def test_the_demo_kaart_holds_zaanstads_wijken_and_buurten() -> None:
    from services.neighbourhoods.areas import DEMO_FILE

    found = kaart.read(DEMO_FILE)
    levels = [r.code[:2] for r in found.records]
    assert (levels.count("GM"), levels.count("WK"), levels.count("BU")) == (1, 19, 50)
    assert all(r.year == 2014 for r in found.records)
