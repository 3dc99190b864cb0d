"""Initiatives residents start: neighbours join (counted, never named), partners pledge the support
asked for, the leader completes or stops it. Texts stay in the service; events carry ids, area,
kind, status and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from services.neighbourhoods.domain.areas import AreaInfo, check_area
from services.neighbourhoods.domain.texts import (
    PLACE_MAX,
    TEXT_MAX,
    TITLE_MAX,
    check_aware,
    check_code,
    check_email,
    check_id,
    check_text,
)
from shared.areas import Level
from shared.errors import Conflict, FieldErrors
from shared.events.catalog import (
    EventData,
    InitiativeCompleted,
    InitiativeParticipantsChanged,
    InitiativeStarted,
    InitiativeStopped,
    InitiativeSupportPledged,
)
from shared.events.codes import InitiativeKind, InitiativeStatus, SupportKind

MAX_ASKS = 20


class NotActive(Conflict):
    def __init__(self, status: InitiativeStatus) -> None:
        super().__init__(f"Dit initiatief is niet meer actief (status {status.value}).")


class LeaderStays(Conflict):
    def __init__(self) -> None:
        super().__init__("De trekker kan zich niet afmelden; rond het initiatief af of stop het.")


@dataclass(frozen=True)
class Ask:
    kind: SupportKind
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "note": self.note}


@dataclass(frozen=True)
class Pledge:
    id: UUID
    partner_id: UUID
    kind: SupportKind
    note: str | None
    at: datetime


@dataclass(frozen=True)
class StartInput:
    municipality: str | None
    area: str | None
    title: str | None
    description: str | None
    kind: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    place: str | None
    asks: list[tuple[str | None, str | None]]
    goal_id: str | None
    contact_email: str | None


@dataclass(frozen=True)
class CheckedStart:
    municipality: str
    area: str
    title: str
    description: str | None
    kind: InitiativeKind
    starts_at: datetime | None
    ends_at: datetime | None
    place: str | None
    asks: list[Ask]
    goal_id: UUID | None
    contact_email: str | None


def check_start(given: StartInput, errors: FieldErrors) -> CheckedStart | None:
    """Every invalid field into `errors`; the checked input when there was none."""
    municipality = check_area(errors, "municipality", given.municipality, levels=(Level.MUNICIPALITY,))
    area = check_area(errors, "area", given.area)
    if municipality and area and AreaInfo.of(area).municipality != municipality:
        errors.add("area", f"must lie in {municipality}")
    title = check_text(errors, "title", given.title, limit=TITLE_MAX, required=True)
    description = check_text(errors, "description", given.description, limit=TEXT_MAX, required=False)
    kind = check_code(errors, "kind", given.kind, InitiativeKind)
    starts_at = check_aware(errors, "startsAt", given.starts_at)
    ends_at = check_aware(errors, "endsAt", given.ends_at)
    if starts_at and ends_at and ends_at < starts_at:
        errors.add("endsAt", "must not lie before startsAt")
    place = check_text(errors, "place", given.place, limit=PLACE_MAX, required=False)
    asks: list[Ask] = []
    if len(given.asks) > MAX_ASKS:
        errors.add("asks", f"at most {MAX_ASKS}")
    for i, (ask_kind, note) in enumerate(given.asks[:MAX_ASKS]):
        checked_kind = check_code(errors, f"asks.{i}.kind", ask_kind, SupportKind)
        checked_note = check_text(errors, f"asks.{i}.note", note, limit=TEXT_MAX, required=False)
        if checked_kind is not None:
            asks.append(Ask(checked_kind, checked_note))
    goal_id = check_id(errors, "goalId", given.goal_id)
    email = check_email(errors, "contactEmail", given.contact_email)
    if errors or title is None or kind is None:
        return None
    return CheckedStart(municipality, area, title, description, kind, starts_at, ends_at, place, asks, goal_id, email)


@dataclass
class Initiative:
    id: UUID
    municipality: str
    area: str
    title: str
    description: str | None
    kind: InitiativeKind
    status: InitiativeStatus
    starts_at: datetime | None
    ends_at: datetime | None
    place: str | None
    asks: list[Ask]
    goal_id: UUID | None
    leader: str  # the starter's resident pseudonym
    group_id: UUID | None
    created_at: datetime
    participant_count: int = 1  # the leader counts
    pledges: list[Pledge] = field(default_factory=list)
    outcome: str | None = None
    stop_reason: str | None = None
    ended_at: datetime | None = None
    has_contact: bool = False
    version: int = 1
    pending: list[tuple[int, EventData]] = field(default_factory=list)

    @classmethod
    def start(cls, given: CheckedStart, leader: str, group_id: UUID | None, at: datetime) -> Initiative:
        initiative = cls(
            id=uuid4(),
            municipality=given.municipality,
            area=given.area,
            title=given.title,
            description=given.description,
            kind=given.kind,
            status=InitiativeStatus.ACTIVE,
            starts_at=given.starts_at,
            ends_at=given.ends_at,
            place=given.place,
            asks=list(given.asks),
            goal_id=given.goal_id,
            leader=leader,
            group_id=group_id,
            created_at=at,
            has_contact=given.contact_email is not None,
            version=0,
        )
        initiative._raise(
            InitiativeStarted(
                **initiative._facts(),
                asks=[a.kind for a in initiative.asks],
                starts_at=initiative.starts_at,
                ends_at=initiative.ends_at,
                started_at=at,
            )
        )
        return initiative

    @property
    def pledging_partner_ids(self) -> list[UUID]:
        return list(dict.fromkeys(p.partner_id for p in self.pledges))

    def _facts(self) -> dict[str, Any]:
        return {
            "initiative_id": self.id,
            "municipality": self.municipality,
            "area": self.area,
            "kind": self.kind,
            "status": self.status,
            "participant_count": self.participant_count,
            "group_id": self.group_id,
            "goal_id": self.goal_id,
            "pledging_partner_ids": self.pledging_partner_ids,
        }

    def _raise(self, event: EventData) -> None:
        self.version += 1
        self.pending.append((self.version, event))

    def _must_be_active(self) -> None:
        if self.status is not InitiativeStatus.ACTIVE:
            raise NotActive(self.status)

    def joined(self, at: datetime) -> None:
        """A neighbour joined (the caller checked they had not)."""
        self._must_be_active()
        self.participant_count += 1
        self._raise(InitiativeParticipantsChanged(**self._facts(), changed_at=at))

    def left(self, resident: str, at: datetime) -> None:
        """A neighbour who had joined left; the leader cannot."""
        self._must_be_active()
        if resident == self.leader:
            raise LeaderStays()
        self.participant_count -= 1
        self._raise(InitiativeParticipantsChanged(**self._facts(), changed_at=at))

    def pledge(self, partner_id: UUID, kind: SupportKind, note: str | None, at: datetime) -> Pledge:
        self._must_be_active()
        pledge = Pledge(uuid4(), partner_id, kind, note, at)
        self.pledges.append(pledge)
        self._raise(
            InitiativeSupportPledged(
                **self._facts(), pledge_id=pledge.id, partner_id=partner_id, support_kind=kind, pledged_at=at
            )
        )
        return pledge

    def complete(self, outcome: str, at: datetime) -> None:
        self._must_be_active()
        self.status, self.outcome, self.ended_at = InitiativeStatus.DONE, outcome, at
        self._raise(InitiativeCompleted(**self._facts(), completed_at=at))

    def stop(self, reason: str, at: datetime) -> None:
        self._must_be_active()
        self.status, self.stop_reason, self.ended_at = InitiativeStatus.STOPPED, reason, at
        self._raise(InitiativeStopped(**self._facts(), stopped_at=at))
