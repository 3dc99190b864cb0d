"""Residents' proposals: proposed (`goal.proposed`), supported, then adopted into a goal or declined."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from services.goals.domain.checks import (
    MAX_REASON,
    blank_is_none,
    check_place_and_texts,
    check_text,
    parse_categories,
)
from shared.errors import Conflict, FieldErrors
from shared.events.catalog import EventData, GoalProposalDecided, GoalProposed
from shared.events.codes import ProposalDecision

OPEN, ADOPTED, DECLINED = "open", "adopted", "declined"
MAX_EMAIL = 254


class ProposalDecided(Conflict):
    """A proposal is supported, adopted or declined only while it is open."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the proposal is already {status}")


@dataclass(frozen=True)
class ProposalInput:
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = None
    categories: Sequence[str] = ()
    contact_email: str | None = None


def check_contact_email(errors: FieldErrors, value: str | None) -> None:
    if value is None:
        return
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or "." not in domain or len(value) > MAX_EMAIL or " " in value.strip():
        errors.add("contactEmail", "not an e-mail address")


@dataclass
class Proposal:
    id: UUID
    municipality: str
    area: str
    year: int
    title: str
    description: str | None
    categories: list[str]
    proposer: str
    group_id: UUID | None
    status: str
    decline_reason: str | None
    goal_id: UUID | None
    proposed_at: datetime
    support_count: int = 0
    support_from_area: int = 0  # supports from residents who joined the area (a WK: one of its BUs)
    supported_by_me: bool = False
    decided_at: datetime | None = None
    pending: list[tuple[int, EventData]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def propose(
        cls, raw: ProposalInput, *, proposal_id: UUID, proposer: str, group_id: UUID | None, now: datetime
    ) -> Proposal:
        """An open proposal raising `goal.proposed`; every invalid field reported at once."""
        errors = FieldErrors()
        check_place_and_texts(errors, raw, now)
        categories = parse_categories(errors, "categories", raw.categories)
        check_contact_email(errors, raw.contact_email)
        errors.raise_if_any()
        proposal = cls(
            id=proposal_id,
            municipality=raw.municipality,
            area=raw.area,
            year=raw.year,
            title=raw.title.strip(),
            description=blank_is_none(raw.description),
            categories=[c.value for c in categories],
            proposer=proposer,
            group_id=group_id,
            status=OPEN,
            decline_reason=None,
            goal_id=None,
            proposed_at=now,
        )
        event = GoalProposed(
            proposal_id=proposal.id,
            municipality=proposal.municipality,
            area=proposal.area,
            year=proposal.year,
            categories=categories,
            proposed_at=now,
        )
        proposal.pending.append((1, event))
        return proposal

    def check_open(self) -> None:
        if self.status != OPEN:
            raise ProposalDecided(self.status)

    def check_adoption(self, municipality: str | None, area: str | None, year: int | None) -> None:
        """A proposal is adopted for its own municipality, area and year."""
        errors = FieldErrors()
        for name, given, own in (("municipality", municipality, self.municipality), ("area", area, self.area)):
            if given is not None and given != own:
                errors.add(name, f"must be the proposal's {name} {own}")
        if year is not None and year != self.year:
            errors.add("year", f"must be the proposal's year {self.year}")
        errors.raise_if_any()

    def adopt(self, goal_id: UUID, at: datetime) -> None:
        self.check_open()
        self.status, self.goal_id, self.decline_reason, self.decided_at = ADOPTED, goal_id, None, at
        self._decided(ProposalDecision.ADOPTED, at)

    def decline(self, reason: str, at: datetime) -> None:
        """Declined with a reason the proposer sees."""
        errors = FieldErrors()
        check_text(errors, "reason", reason, MAX_REASON, required=True)
        errors.raise_if_any()
        self.check_open()
        self.status, self.goal_id, self.decline_reason, self.decided_at = DECLINED, None, reason.strip(), at
        self._decided(ProposalDecision.DECLINED, at)

    def _decided(self, decision: ProposalDecision, at: datetime) -> None:
        """`goal.proposal_decided`: the second and last event of a proposal (no text: the reason stays here)."""
        event = GoalProposalDecided(
            proposal_id=self.id,
            goal_id=self.goal_id,
            municipality=self.municipality,
            area=self.area,
            year=self.year,
            decision=decision,
            decided_at=at,
        )
        self.pending.append((2, event))
