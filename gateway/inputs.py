"""The contract's input types, and how they become the services' camelCase JSON bodies."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from pydantic.alias_generators import to_camel
from strawberry.types.base import has_object_definition

from gateway.enums import (
    Assessment,
    Decision,
    Direction,
    GoalStatus,
    IndicatorKind,
    PartnerKind,
    SignalCategory,
    SignalSource,
    Urgency,
)

UNSET: Any = strawberry.UNSET
CHAIN = "a signal escalated to this partner and not acknowledged in time goes to the step's next partner"


@strawberry.input
class ChainStepInput:
    category: SignalCategory | None = strawberry.field(default=UNSET, description="null: any category")
    next_partner_id: strawberry.ID
    after_minutes: int = strawberry.field(
        description="not acknowledged this long after the escalation (time waiting for a reporter not counted)"
    )


@strawberry.input
class ReportSignalInput:
    municipality: str
    area: str | None = strawberry.field(
        default=UNSET,
        description="may be left out when lat/lon lie in a loaded neighbourhood: the report gets that neighbourhood",
    )
    category: SignalCategory
    urgency: Urgency
    description: str
    observed_at: datetime | None = UNSET
    lat: float | None = UNSET
    lon: float | None = UNSET
    source: SignalSource | None = SignalSource.APP
    group_id: strawberry.ID | None = UNSET
    contact_email: str | None = UNSET
    client_request_id: str | None = strawberry.field(
        default=UNSET, description="a retry with the same id answers the first result, never a duplicate"
    )
    forward: bool | None = strawberry.field(
        default=UNSET,
        description="a group admin (or a coordinator) reports and escalates to the routed partner in one step",
    )


@strawberry.input
class AvailabilityInput:
    weekday: int = strawberry.field(description="1 = Monday")
    from_: str = strawberry.field(name="from", description='local time, "15:00"')
    until: str = strawberry.field(description="before `from` means the window crosses midnight")


@strawberry.input
class RegisterPartnerInput:
    name: str
    kind: PartnerKind
    municipalities: list[str]
    areas: list[str]
    categories: list[SignalCategory] = strawberry.field(description="may be empty for the groups (WhatsApp, resident)")
    acknowledge_within_minutes: int | None = strawberry.field(
        default=UNSET, description="required, except for WHATSAPP_GROUP and RESIDENT_GROUP (never escalated to)"
    )
    auto_escalate: list[SignalCategory] | None = strawberry.field(default_factory=list)
    availability: list[AvailabilityInput] | None = strawberry.field(default_factory=list)
    priority: int | None = 0
    webhook_url: str | None = UNSET
    email: str | None = UNSET
    chain: list[ChainStepInput] | None = strawberry.field(default=UNSET, description=CHAIN)


@strawberry.input
class UpdatePartnerInput:
    name: str | None = UNSET
    areas: list[str] | None = UNSET
    categories: list[SignalCategory] | None = UNSET
    auto_escalate: list[SignalCategory] | None = UNSET
    acknowledge_within_minutes: int | None = UNSET
    availability: list[AvailabilityInput] | None = UNSET
    priority: int | None = UNSET
    webhook_url: str | None = UNSET
    email: str | None = UNSET
    active: bool | None = UNSET
    chain: list[ChainStepInput] | None = strawberry.field(default=UNSET, description=CHAIN + "; empty removes it")


@strawberry.input
class IndicatorInput:
    kind: IndicatorKind
    target: float
    direction: Direction
    category: SignalCategory | None = UNSET
    baseline: float | None = UNSET


@strawberry.input
class SetGoalInput:
    municipality: str
    area: str
    year: int
    title: str
    categories: list[SignalCategory]
    indicators: list[IndicatorInput]
    partner_ids: list[strawberry.ID]
    description: str | None = UNSET
    theme: str | None = UNSET


@strawberry.input
class UpdateGoalInput:
    title: str | None = UNSET
    description: str | None = UNSET
    theme: str | None = UNSET
    categories: list[SignalCategory] | None = UNSET
    indicators: list[IndicatorInput] | None = UNSET
    partner_ids: list[strawberry.ID] | None = UNSET
    status: GoalStatus | None = UNSET


@strawberry.input
class ProposeGoalInput:
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = UNSET
    categories: list[SignalCategory] | None = UNSET
    contact_email: str | None = strawberry.field(
        default=UNSET, description="where the proposer hears the decision (sealed; never shown or in an event)"
    )


@strawberry.input
class CooperationInput:
    partner_id: strawberry.ID
    score: int


@strawberry.input
class ReviewGoalInput:
    goal_id: strawberry.ID
    quarter: str = strawberry.field(description='"2026-Q4"')
    assessment: Assessment
    decision: Decision
    cooperation: list[CooperationInput]
    notes: str | None = UNSET


def to_rest(value: Any) -> Any:
    """An input (or a value inside one) as JSON for a service: camelCase names, lower-case codes, unset left out."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [to_rest(v) for v in value]
    if has_object_definition(value) and dataclasses.is_dataclass(value):
        body: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is UNSET:
                continue
            name = "from" if f.name == "from_" else to_camel(f.name)
            body[name] = to_rest(item)
        return body
    return value
