"""The neighbourhood's GraphQL types (CONTRACT.md "The neighbourhood: areas, residents, messages,
initiatives"), built from the neighbourhoods service's camelCase REST answers.

Partners and goals resolve through the request's DataLoaders (`gateway.context`): a list of
initiatives with their pledges costs one batch read of partners and one of goals.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from gateway.connection import Connection
from gateway.context import Row
from gateway.enums import SignalCategory, register
from gateway.types import Goal, Partner, load_goal, load_partner, must_when, opt_str, when
from shared.events import codes

AreaLevel = codes.AreaLevel
MessageKind = codes.MessageKind
InitiativeKind = codes.InitiativeKind
InitiativeStatus = codes.InitiativeStatus
SupportKind = codes.SupportKind

# The neighbourhood's code lists under the contract's names (`gateway.enums.register`).
register(
    (
        (codes.AreaLevel, "AreaLevel"),
        (codes.MessageKind, "MessageKind"),
        (codes.InitiativeKind, "InitiativeKind"),
        (codes.InitiativeStatus, "InitiativeStatus"),
        (codes.SupportKind, "SupportKind"),
    )
)

UNSET: Any = strawberry.UNSET
TEXT = "1..2000 characters"


def listed(body: object) -> list[Row]:
    """The rows of a service's list answer (`shared.pagination.listing`: `{"results": [...], ...}`)."""
    if isinstance(body, Mapping):
        return list(body.get("results") or [])
    return []


@strawberry.type(description="A CBS area: GM (municipality), WK (district) or BU (neighbourhood)")
class Area:
    code: str
    level: AreaLevel
    name: str | None = strawberry.field(description="null where no name is loaded")
    municipality: str
    parent: str | None = strawberry.field(description="the enclosing WK or GM; null for a GM")
    year: int | None = strawberry.field(description="the year of the CBS kaart the name comes from")

    @classmethod
    def from_rest(cls, row: Row) -> Area:
        year = row.get("year")
        return cls(
            code=str(row["code"]),
            level=AreaLevel(row["level"]),
            name=opt_str(row.get("name")),
            municipality=str(row["municipality"]),
            parent=opt_str(row.get("parent")),
            year=None if year is None else int(year),
        )


@strawberry.type
class NeighbourhoodMessage:
    id: strawberry.ID
    area: str
    kind: MessageKind
    title: str
    body: str
    posted_at: datetime
    valid_until: datetime | None
    partner_id: strawberry.Private[str | None]

    @strawberry.field
    async def partner(self, info: Info) -> Partner | None:
        """The partner it is posted for; null for a coordinator's own message."""
        return await load_partner(info, self.partner_id)

    @classmethod
    def from_rest(cls, row: Row) -> NeighbourhoodMessage:
        return cls(
            id=strawberry.ID(str(row["id"])),
            area=str(row["area"]),
            kind=MessageKind(row["kind"]),
            title=str(row["title"]),
            body=str(row["body"]),
            posted_at=must_when(row.get("postedAt")),
            valid_until=when(row.get("validUntil")),
            partner_id=opt_str(row.get("partnerId")),
        )


@strawberry.type
class NeighbourhoodMessageConnection(Connection[NeighbourhoodMessage]):
    @classmethod
    def from_rest(cls, body: Row) -> NeighbourhoodMessageConnection:
        return cls.page(body, NeighbourhoodMessage.from_rest)


@strawberry.type
class SupportAsk:
    kind: SupportKind
    note: str | None


@strawberry.type
class Pledge:
    id: strawberry.ID
    kind: SupportKind
    note: str | None
    at: datetime
    partner_id: strawberry.Private[str]

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        partner = await load_partner(info, self.partner_id)
        if partner is None:
            raise LookupError("the pledging partner could not be read")
        return partner

    @classmethod
    def from_rest(cls, row: Row) -> Pledge:
        return cls(
            id=strawberry.ID(str(row["id"])),
            kind=SupportKind(row["kind"]),
            note=opt_str(row.get("note")),
            at=must_when(row.get("at")),
            partner_id=str(row["partnerId"]),
        )


@strawberry.type(description="Started by a resident or group admin; neighbours join (counted, never named)")
class Initiative:
    id: strawberry.ID
    municipality: str
    area: str
    title: str
    description: str | None
    kind: InitiativeKind
    status: InitiativeStatus
    starts_at: datetime | None
    ends_at: datetime | None
    place: str | None
    participant_count: int = strawberry.field(description="the leader and every resident who joined, each once")
    joined_by_me: bool
    led_by_me: bool
    asks: list[SupportAsk]
    pledges: list[Pledge]
    outcome: str | None
    created_at: datetime
    goal_id: strawberry.Private[str | None]

    @strawberry.field
    async def goal(self, info: Info) -> Goal | None:
        """The goal it contributes to, where the starter named one."""
        return await load_goal(info, self.goal_id)

    @classmethod
    def from_rest(cls, row: Row) -> Initiative:
        return cls(
            id=strawberry.ID(str(row["id"])),
            municipality=str(row["municipality"]),
            area=str(row["area"]),
            title=str(row["title"]),
            description=opt_str(row.get("description")),
            kind=InitiativeKind(row["kind"]),
            status=InitiativeStatus(row["status"]),
            starts_at=when(row.get("startsAt")),
            ends_at=when(row.get("endsAt")),
            place=opt_str(row.get("place")),
            participant_count=int(row.get("participantCount") or 0),
            joined_by_me=bool(row.get("joinedByMe", False)),
            led_by_me=bool(row.get("ledByMe", False)),
            asks=[SupportAsk(kind=SupportKind(a["kind"]), note=opt_str(a.get("note"))) for a in row.get("asks") or []],
            pledges=[Pledge.from_rest(p) for p in row.get("pledges") or []],
            outcome=opt_str(row.get("outcome")),
            created_at=must_when(row.get("createdAt")),
            goal_id=opt_str(row.get("goalId")),
        )


@strawberry.type
class CategoryCount:
    category: SignalCategory
    count: int
    previous: int = strawberry.field(description="the quarter before")


@strawberry.type(
    description="\"je meldde, wij deden\": the residents' view of an area's quarter (a WK with its BUs);"
    " no description, feedback text or reporter"
)
class NeighbourhoodSummary:
    area: Area
    quarter: str
    reported: list[CategoryCount] = strawberry.field(
        description="signals reported per category (duplicates and rejected ones not counted); categories"
        " with none in both quarters left out"
    )
    resolved_share: float | None = strawberry.field(description="resolved of reported; null when none was reported")
    median_acknowledge_minutes: float | None
    goals: list[Goal] = strawberry.field(description="the goals of the area (a WK's BUs included) in the year")
    initiatives: list[Initiative] = strawberry.field(description="active or done in the quarter")
    messages: list[NeighbourhoodMessage] = strawberry.field(description="posted in the quarter")


@strawberry.input
class PostMessageInput:
    area: str
    kind: MessageKind
    title: str = strawberry.field(description="1..120 characters")
    body: str = strawberry.field(description=TEXT)
    valid_until: datetime | None = strawberry.field(default=UNSET, description="left out of lists after this time")
    partner_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="the partner it is posted for (a coordinator: one of theirs, or none)"
    )


@strawberry.input
class SupportAskInput:
    kind: SupportKind
    note: str | None = strawberry.field(default=UNSET, description=TEXT)


@strawberry.input
class StartInitiativeInput:
    municipality: str
    area: str
    title: str = strawberry.field(description="1..120 characters")
    description: str | None = strawberry.field(default=UNSET, description=TEXT)
    kind: InitiativeKind
    starts_at: datetime | None = UNSET
    ends_at: datetime | None = UNSET
    place: str | None = UNSET
    asks: list[SupportAskInput] | None = UNSET
    goal_id: strawberry.ID | None = UNSET
    contact_email: str | None = strawberry.field(
        default=UNSET, description="where the leader hears of pledges; sealed, never shown again"
    )
