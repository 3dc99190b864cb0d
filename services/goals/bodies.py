"""Request bodies, parsed leniently (codes as strings, ids as text) so that authorisation comes
before validation and the domain reports every field error at once; OpenAPI still lists the codes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from services.goals import domain
from shared.events.codes import Assessment, Category, Decision, Direction, GoalStatus, IndicatorKind


def codes(enum: type[Any]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": [c.value for c in enum]})


CategoryCode = Annotated[str, codes(Category)]


class In(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class IndicatorIn(In):
    kind: Annotated[str, codes(IndicatorKind)]
    category: CategoryCode | None = None
    baseline: float | None = None
    target: float
    direction: Annotated[str, codes(Direction)]

    def to_domain(self) -> domain.IndicatorInput:
        return domain.IndicatorInput(self.kind, self.target, self.direction, self.category, self.baseline)


class GoalIn(In):
    municipality: str
    area: str = Field(description="a WK or BU code of the municipality")
    year: int
    title: str
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] = []
    indicators: list[IndicatorIn] = []
    partner_ids: list[str] = []


class AdoptionIn(In):
    """The goal a proposal becomes; what is left out is taken from the proposal."""

    municipality: str | None = None
    area: str | None = None
    year: int | None = None
    title: str | None = None
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] | None = None
    indicators: list[IndicatorIn] = []
    partner_ids: list[str] = []


class GoalPatch(In):
    title: str | None = None
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] | None = None
    indicators: list[IndicatorIn] | None = None
    partner_ids: list[str] | None = None
    status: Annotated[str, codes(GoalStatus)] | None = None


class CooperationIn(In):
    partner_id: str
    score: int


class ReviewIn(In):
    quarter: str = Field(description="YYYY-Qn, Europe/Amsterdam", examples=["2026-Q4"])
    assessment: Annotated[str, codes(Assessment)]
    decision: Annotated[str, codes(Decision)]
    cooperation: list[CooperationIn] = []
    notes: str | None = None


class ProposalIn(In):
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = None
    categories: list[CategoryCode] = []


class DeclineIn(In):
    reason: str
