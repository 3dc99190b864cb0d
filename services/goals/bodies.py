"""Request bodies, parsed leniently (codes as strings, ids as text) so that authorisation comes
before validation and the domain reports every field error at once; OpenAPI still lists the codes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from services.goals import domain
from shared.bodies import CamelBody
from shared.events.codes import Assessment, Category, Decision, Direction, GoalStatus, IndicatorKind


def codes(enum: type[Any]) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "enum": [c.value for c in enum]})


CategoryCode = Annotated[str, codes(Category)]


class IndicatorIn(CamelBody):
    kind: Annotated[str, codes(IndicatorKind)]
    category: CategoryCode | None = None
    baseline: float | None = None
    target: float
    direction: Annotated[str, codes(Direction)]

    def to_domain(self) -> domain.IndicatorInput:
        return domain.IndicatorInput(self.kind, self.target, self.direction, self.category, self.baseline)


class GoalIn(CamelBody):
    municipality: str
    area: str = Field(description="a WK or BU code of the municipality")
    year: int
    title: str
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] = []
    indicators: list[IndicatorIn] = []
    partner_ids: list[str] = []

    def to_domain(self) -> domain.GoalInput:
        indicators = [i.to_domain() for i in self.indicators]
        return domain.GoalInput(
            self.municipality,
            self.area,
            self.year,
            self.title,
            self.description,
            self.theme,
            self.categories,
            indicators,
            self.partner_ids,
        )


class AdoptionIn(CamelBody):
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


class GoalPatch(CamelBody):
    title: str | None = None
    description: str | None = None
    theme: str | None = None
    categories: list[CategoryCode] | None = None
    indicators: list[IndicatorIn] | None = None
    partner_ids: list[str] | None = None
    status: Annotated[str, codes(GoalStatus)] | None = None


class CooperationIn(CamelBody):
    partner_id: str
    score: int


class ReviewIn(CamelBody):
    quarter: str = Field(description="YYYY-Qn, Europe/Amsterdam", examples=["2026-Q4"])
    assessment: Annotated[str, codes(Assessment)]
    decision: Annotated[str, codes(Decision)]
    cooperation: list[CooperationIn] = []
    notes: str | None = None


class ProposalIn(CamelBody):
    municipality: str
    area: str
    year: int
    title: str
    description: str | None = None
    categories: list[CategoryCode] = []
    contact_email: str | None = Field(
        default=None, description="where the proposer hears the decision; sealed, never shown or in an event"
    )


class ContinuationIn(CamelBody):
    year: int = Field(description="the year after the goal's year")


class DeclineIn(CamelBody):
    reason: str


class ManualMeasurementIn(CamelBody):
    indicator: int = Field(description="the position in the goal's indicators (a `manual` one)")
    quarter: str = Field(description="YYYY-Qn", examples=["2026-Q4"])
    value: float
    source: str = Field(description="where the value comes from, e.g. CBS Veiligheidsmonitor 2026")
