"""Request bodies (camelCase on the wire). Fields are loosely typed on purpose: the handlers check
them and report every invalid field at once (problem+json `invalidParams`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.bodies import CamelBody


class MessageIn(CamelBody):
    area: str | None = None
    kind: str | None = Field(default=None, description="info, warning, call_to_action, result, event")
    title: str | None = Field(default=None, description="1..120 characters")
    body: str | None = Field(default=None, description="1..2000 characters")
    valid_until: datetime | None = Field(default=None, description="left out of lists after this instant")
    partner_id: str | None = Field(default=None, description="the partner it is posted for")


class AskIn(CamelBody):
    kind: str | None = Field(default=None, description="budget, material, presence, permit, publicity, advice")
    note: str | None = None


class InitiativeIn(CamelBody):
    municipality: str | None = None
    area: str | None = None
    title: str | None = Field(default=None, description="1..120 characters")
    description: str | None = Field(default=None, description="1..2000 characters")
    kind: str | None = Field(
        default=None, description="cleanup, meeting, neighbourhood_watch, youth_activity, greening, social, other"
    )
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str | None = None
    asks: list[AskIn] | None = None
    goal_id: str | None = None
    contact_email: str | None = Field(default=None, description="sealed; never shown, only e-mailed to")


class PledgeIn(CamelBody):
    kind: str | None = None
    note: str | None = Field(default=None, description="1..2000 characters")
    partner_id: str | None = Field(default=None, description="coordinators: the partner pledging")


class OutcomeIn(CamelBody):
    outcome: str | None = Field(default=None, description="1..2000 characters")


class ReasonIn(CamelBody):
    reason: str | None = Field(default=None, description="1..2000 characters")
