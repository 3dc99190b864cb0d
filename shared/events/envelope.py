"""The CloudEvents 1.0 envelope, structured JSON mode, NL GOV profile.

Record key = aggregate id (`subject`), so one aggregate's events keep their order; `sequence`
is the aggregate version zero-padded so it sorts as text; `municipality` is an extension
attribute; the W3C `traceparent` travels in a Kafka header, not in the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import orjson
from pydantic import BaseModel, ConfigDict

from shared.events.catalog import CATALOG, SCHEMA_VERSION, EventData

TYPE_PREFIX = "nl.wijkaanpak."
SEQUENCE_DIGITS = 12


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: UUID
    source: str
    type: str
    time: datetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    sequence: str
    municipality: str
    data: dict[str, Any]

    @property
    def event_type(self) -> str:
        return self.type.removeprefix(TYPE_PREFIX)


class UnknownEventType(ValueError):
    pass


def dataschema_for(event_type: str) -> str:
    return f"urn:nld:wijkaanpak:schema:{event_type}:v{SCHEMA_VERSION}"


def format_sequence(version: int) -> str:
    return str(version).zfill(SEQUENCE_DIGITS)


def envelope(
    data: EventData,
    *,
    source: str,
    sequence: int,
    municipality: str,
    time: datetime | None = None,
    event_id: UUID | None = None,
) -> CloudEvent:
    return CloudEvent(
        id=event_id or uuid4(),
        source=source,
        type=TYPE_PREFIX + data.event_type,
        time=time or datetime.now(UTC),
        subject=data.aggregate_id(),
        dataschema=dataschema_for(data.event_type),
        sequence=format_sequence(sequence),
        municipality=municipality,
        data=data.model_dump(mode="json", by_alias=True),
    )


def to_json(event: CloudEvent) -> bytes:
    return orjson.dumps(event.model_dump(mode="json", exclude_none=True))


def parse(raw: bytes | str) -> tuple[CloudEvent, EventData]:
    """Envelope and typed data, or a ValueError (ValidationError, UnknownEventType, JSON error)."""
    event = CloudEvent.model_validate_json(raw)
    model = CATALOG.get(event.event_type)
    if model is None:
        raise UnknownEventType(f"unknown event type {event.type!r}")
    return event, model.model_validate(event.data)
