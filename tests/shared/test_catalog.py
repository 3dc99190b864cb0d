"""The event catalog and the CloudEvents envelope (pure, no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from shared.events.catalog import CATALOG, EVENT_TYPES, SignalEscalated
from shared.events.envelope import UnknownEventType, envelope, parse, to_json
from shared.events.export import drift


def escalated() -> SignalEscalated:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    return SignalEscalated(
        signal_id=uuid.UUID(int=42), reference="SIG-2026-000042", municipality="GM0479", area="BU04790101",
        category="burglary", urgency="acute", status="escalated", partner_id=uuid.UUID(int=7),
        escalated_at=now, acknowledge_by=now,
    )  # fmt: skip


def test_envelope_follows_the_nl_gov_cloudevents_profile() -> None:
    data = escalated()
    event = envelope(data, source="urn:nld:wijkaanpak:signals", sequence=7, municipality="GM0479")
    wire = orjson.loads(to_json(event))
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "nl.wijkaanpak.signal.escalated"
    assert wire["subject"] == str(data.signal_id)
    assert wire["sequence"] == "000000000007"
    assert wire["municipality"] == "GM0479"
    assert wire["datacontenttype"] == "application/json"
    assert wire["dataschema"].endswith("signal.escalated:v1")
    assert wire["data"]["acknowledgeBy"] == "2026-12-01T12:00:00Z"
    assert "signal_id" not in wire["data"] and "signalId" in wire["data"]


def test_sequences_sort_as_text_in_version_order() -> None:
    data = escalated()
    sequences = [envelope(data, source="s", sequence=v, municipality="GM0479").sequence for v in (9, 10, 100)]
    assert sorted(sequences) == sequences


def test_parse_round_trips_and_refuses_unknown_types_and_bad_data() -> None:
    event = envelope(escalated(), source="urn:nld:wijkaanpak:signals", sequence=1, municipality="GM0479")
    parsed, data = parse(to_json(event))
    assert parsed.id == event.id and data == escalated()
    wire = orjson.loads(to_json(event))
    with pytest.raises(UnknownEventType):
        parse(orjson.dumps(dict(wire, type="nl.wijkaanpak.signal.teleported")))
    with pytest.raises(ValidationError):
        parse(orjson.dumps(dict(wire, data=dict(wire["data"], category="arson"))))
    with pytest.raises(ValueError):
        parse(b"{not json")


def test_unknown_fields_are_ignored_so_schemas_can_grow_additively() -> None:
    wire = orjson.loads(to_json(envelope(escalated(), source="s", sequence=1, municipality="GM0479")))
    wire["data"]["addedInALaterRelease"] = True
    _, data = parse(orjson.dumps(wire))
    assert isinstance(data, SignalEscalated)


def test_signal_events_carry_no_free_text_or_contact_details() -> None:
    forbidden = {"description", "feedback", "message", "email", "contact", "contactEmail", "reason", "notes"}
    for event_type in EVENT_TYPES:
        if event_type.startswith("signal."):
            fields = set(CATALOG[event_type].model_json_schema(by_alias=True)["properties"])
            assert not fields & forbidden, event_type


def test_committed_json_schema_and_asyncapi_match_the_models() -> None:
    assert drift() == [], "run: python -m shared.events.export"


def test_outage_errors_are_transient_and_event_errors_are_not() -> None:
    import asyncpg
    import sqlalchemy.exc

    from shared.consumer import is_transient

    starting_up = asyncpg.CannotConnectNowError("the database system is starting up")
    shutdown = asyncpg.AdminShutdownError("terminating connection due to administrator command")
    wrapped = sqlalchemy.exc.DBAPIError("INSERT ...", {}, Exception("adapter error"))
    wrapped.__cause__ = shutdown
    assert is_transient(starting_up) and is_transient(shutdown) and is_transient(wrapped)
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(ValueError("a tally never counts down"))
    assert not is_transient(asyncpg.UniqueViolationError("duplicate key"))
