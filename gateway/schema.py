"""The one GraphQL schema (CONTRACT.md "GraphQL"): queries, mutations and the signal feed.

Resolvers parse nothing themselves: they call the services' REST APIs with the caller's token,
and the services authorise, validate and answer; the gateway shapes the answer.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.add_validation_rules import AddValidationRules
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import Info

from gateway import inputs as gi
from gateway import loopback, reviews
from gateway.domain import (
    BAD_USER_INPUT,
    NOT_FOUND,
    RATE_LIMITED,
    UNAUTHENTICATED,
    RateLimiter,
    area_problem,
    area_within,
)
from gateway.enums import DeliveryStatus, SignalCategory, SignalSource, SignalStatus, Urgency
from gateway.errors import ErrorCodes, log_unexpected
from gateway.inputs import to_rest
from gateway.limits import Limits, RateLimit, VariableCost, complexity_rule
from gateway.neighbourhoods import NeighbourhoodMutation, NeighbourhoodQuery, place_report
from gateway.settings import Settings
from gateway.types import (
    Advice,
    CategoryInfo,
    Delivery,
    DeliveryConnection,
    Goal,
    GoalProposal,
    GoalReview,
    Partner,
    RegisterPartnerResult,
    ReportSignalResult,
    Signal,
    SignalConnection,
    SignalEventMessage,
    ctx,
)
from gateway.upstream import UpstreamError
from shared.errors import DomainError
from shared.events import labels
from shared.events.codes import Category

UNSET: Any = strawberry.UNSET
GROUP_MESSAGE = "a text to share in the reporting group; in no webhook and no event"


def given(value: Any) -> Any:
    """None for an argument the caller left out."""
    return None if value is UNSET else value


def code(value: Any) -> Any:
    value = given(value)
    return value.value if value is not None else None


@strawberry.type
class Query:
    """Lookups by id answer null with a NOT_FOUND error for what does not exist for the caller."""

    @strawberry.field
    async def signal(self, info: Info, id: strawberry.ID) -> Signal | None:
        return Signal.from_rest(await ctx(info).get("signals", f"/v1/signals/{id}"))

    @strawberry.field
    async def signals(
        self,
        info: Info,
        municipality: str,
        area: str | None = UNSET,
        status: list[SignalStatus] | None = UNSET,
        category: SignalCategory | None = UNSET,
        partner_id: strawberry.ID | None = UNSET,
        overdue: bool | None = UNSET,
        unrouted: bool | None = UNSET,
        first: int | None = 50,
        after: str | None = UNSET,
        bbox: list[float] | None = UNSET,  # [minLon, minLat, maxLon, maxLat], WGS84, edges inclusive
    ) -> SignalConnection:
        statuses = given(status)
        box = given(bbox)
        body = await ctx(info).get(
            "signals",
            "/v1/signals",
            municipality=municipality,
            area=given(area),
            status=",".join(s.value for s in statuses) if statuses else None,
            category=code(category),
            partnerId=given(partner_id),
            overdue=given(overdue),
            unrouted=given(unrouted),
            first=first if first is not None else 50,
            after=given(after),
            bbox=",".join(str(v) for v in box) if box is not None else None,
        )
        return SignalConnection.from_rest(body)

    @strawberry.field
    async def my_signals(self, info: Info, first: int | None = 50, after: str | None = UNSET) -> SignalConnection:
        body = await ctx(info).get("signals", "/v1/signals/mine", first=first or 50, after=given(after))
        return SignalConnection.from_rest(body)

    @strawberry.field
    async def partner(self, info: Info, id: strawberry.ID) -> Partner | None:
        return Partner.from_rest(await ctx(info).get("partners", f"/v1/partners/{id}"))

    @strawberry.field
    async def partners(
        self,
        info: Info,
        municipality: str,
        area: str | None = UNSET,
        category: SignalCategory | None = UNSET,
    ) -> list[Partner]:
        c = ctx(info)
        rows: list[dict[str, Any]] = []
        after: str | None = None
        while True:  # every page: the contract's list is not paginated
            body = await c.get(
                "partners",
                "/v1/partners",
                municipality=municipality,
                area=given(area),
                category=code(category),
                first=200,
                after=after,
            )
            rows.extend(body.get("results") or [])
            after = body.get("next")
            if not after:
                return [Partner.from_rest(r) for r in rows]

    @strawberry.field
    async def goal(self, info: Info, id: strawberry.ID) -> Goal | None:
        return Goal.from_rest(await ctx(info).get("goals", f"/v1/goals/{id}"))

    @strawberry.field
    async def goals(self, info: Info, area: str, year: int) -> list[Goal]:
        body = await ctx(info).get("goals", "/v1/goals", area=area, year=year, first=200)
        return [Goal.from_rest(r) for r in body.get("results") or []]

    @strawberry.field
    async def goal_proposals(self, info: Info, area: str, year: int) -> list[GoalProposal]:
        body = await ctx(info).get("goals", "/v1/goal-proposals", area=area, year=year, first=200)
        return [GoalProposal.from_rest(r) for r in body.get("results") or []]

    @strawberry.field
    async def deliveries(
        self,
        info: Info,
        signal_id: strawberry.ID | None = UNSET,
        partner_id: strawberry.ID | None = UNSET,
        status: DeliveryStatus | None = UNSET,
        first: int | None = 50,
        after: str | None = UNSET,
    ) -> DeliveryConnection:
        body = await ctx(info).get(
            "notifications",
            "/v1/deliveries",
            signalId=given(signal_id),
            partnerId=given(partner_id),
            status=code(status),
            first=first or 50,
            after=given(after),
        )
        return DeliveryConnection.from_rest(body)

    @strawberry.field
    async def advice(
        self, info: Info, category: SignalCategory, urgency: Urgency, source: SignalSource | None = UNSET
    ) -> Advice:
        """The advice for a report before it is written, from the signals service's policy; any role."""
        body = await ctx(info).get(
            "signals", "/v1/advice", category=category.value, urgency=urgency.value, source=code(source)
        )
        return Advice.from_rest(body)

    area_review: reviews.AreaReview = strawberry.field(resolver=reviews.area_review)

    @strawberry.field
    def categories(self, info: Info) -> list[CategoryInfo]:
        ctx(info).principal  # noqa: B018 (every operation needs a valid token)
        return [CategoryInfo(code=SignalCategory(c.value), label=labels.label(c)) for c in Category]


async def _signal_action(info: Info, signal_id: str, action: str, body: dict[str, Any]) -> Signal:
    """POST /v1/signals/{id}/<action>; the signal as it is afterwards."""
    row = await ctx(info).post("signals", f"/v1/signals/{signal_id}/{action}", body)
    return Signal.from_rest(row["signal"] if "signal" in row and "reference" not in row else row)


def _partner_result(row: dict[str, Any]) -> RegisterPartnerResult:
    partner = row.get("partner", row)
    return RegisterPartnerResult(partner=Partner.from_rest(partner), webhook_secret=row.get("webhookSecret"))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def report_signal(self, info: Info, input: gi.ReportSignalInput) -> ReportSignalResult:
        row = await place_report(ctx(info), to_rest(input))  # clientRequestId: idempotent intake; area from lat/lon
        return ReportSignalResult(
            signal=Signal.from_rest(row["signal"]), duplicate=bool(row.get("duplicate")), advice=row.get("advice")
        )

    @strawberry.mutation
    async def escalate_signal(
        self, info: Info, id: strawberry.ID, partner_id: strawberry.ID | None = UNSET, reason: str | None = UNSET
    ) -> Signal:
        return await _signal_action(info, id, "escalation", _present(partnerId=partner_id, reason=reason))

    @strawberry.mutation
    async def acknowledge_signal(
        self,
        info: Info,
        id: strawberry.ID,
        message: str | None = UNSET,
        group_message: Annotated[str | None, strawberry.argument(description=GROUP_MESSAGE)] = UNSET,
    ) -> Signal:
        body = _present(message=message, groupMessage=group_message)
        return await _signal_action(info, id, "acknowledgement", body)

    @strawberry.mutation
    async def resolve_signal(
        self,
        info: Info,
        id: strawberry.ID,
        feedback: str,
        group_message: Annotated[str | None, strawberry.argument(description=GROUP_MESSAGE)] = UNSET,
    ) -> Signal:
        return await _signal_action(info, id, "resolution", _present(feedback=feedback, groupMessage=group_message))

    @strawberry.mutation
    async def reject_signal(self, info: Info, id: strawberry.ID, reason: str) -> Signal:
        return await _signal_action(info, id, "rejection", {"reason": reason})

    @strawberry.mutation
    async def merge_signal(self, info: Info, id: strawberry.ID, into_id: strawberry.ID) -> Signal:
        return await _signal_action(info, id, "merge", {"intoId": into_id})

    @strawberry.mutation
    async def reclassify_signal(
        self, info: Info, id: strawberry.ID, category: SignalCategory | None = UNSET, area: str | None = UNSET
    ) -> Signal:
        return await _signal_action(
            info, id, "reclassification", _present(category=code(category) if category else UNSET, area=area)
        )

    @strawberry.mutation
    async def reopen_signal(self, info: Info, id: strawberry.ID, reason: str) -> Signal:
        return await _signal_action(info, id, "reopening", {"reason": reason})

    @strawberry.mutation
    async def ask_reporter(self, info: Info, id: strawberry.ID, question: str) -> Signal:
        """The partner it is escalated to asks the reporters: ESCALATED/ACKNOWLEDGED -> REACTION_REQUESTED,
        the acknowledge-by clock pausing until the answer (or 7 days)."""
        return await _signal_action(info, id, "question", {"question": question})

    @strawberry.mutation
    async def answer_reporter_question(self, info: Info, id: strawberry.ID, answer: str) -> Signal:
        """A reporter of the signal answers the open question; back to the status it had."""
        return await _signal_action(info, id, "answer", {"answer": answer})

    @strawberry.mutation
    async def transfer_signal(self, info: Info, id: strawberry.ID, partner_id: strawberry.ID, reason: str) -> Signal:
        """The partner it is escalated to, or a coordinator: ESCALATED/ACKNOWLEDGED/REACTION_REQUESTED ->
        ESCALATED to the other partner, with a new acknowledge-by; the reason is the history note."""
        return await _signal_action(info, id, "transfer", {"partnerId": partner_id, "reason": reason})

    @strawberry.mutation
    async def involve_partner(
        self, info: Info, id: strawberry.ID, partner_id: strawberry.ID, reason: str | None = UNSET
    ) -> Signal:
        """The partner it is escalated to, or a coordinator: a co-handler who reads the description and
        may add feedback; involving twice answers the current state."""
        return await _signal_action(info, id, "involvement", _present(partnerId=partner_id, reason=reason))

    @strawberry.mutation
    async def rate_signal(self, info: Info, id: strawberry.ID, satisfied: bool, comment: str | None = UNSET) -> Signal:
        """A reporter rates the resolution (RESOLVED or CLOSED, within 14 days of it); rating again replaces."""
        return await _signal_action(info, id, "rating", _present(satisfied=satisfied, comment=comment))

    add_feedback: Signal = strawberry.mutation(resolver=loopback.add_feedback)
    set_external_reference: Signal = strawberry.mutation(resolver=loopback.set_external_reference)

    @strawberry.mutation
    async def register_partner(self, info: Info, input: gi.RegisterPartnerInput) -> RegisterPartnerResult:
        return _partner_result(await loopback.register_partner(info, to_rest(input)))

    @strawberry.mutation
    async def update_partner(self, info: Info, id: strawberry.ID, input: gi.UpdatePartnerInput) -> Partner:
        return Partner.from_rest(await loopback.update_partner(info, id, to_rest(input)))

    @strawberry.mutation
    async def rotate_webhook_secret(self, info: Info, partner_id: strawberry.ID) -> RegisterPartnerResult:
        c = ctx(info)
        row = await c.post("partners", f"/v1/partners/{partner_id}/webhook-secret")
        if "partner" not in row and "id" not in row:
            row = {"partner": await c.get("partners", f"/v1/partners/{partner_id}"), **row}
        return _partner_result(row)

    @strawberry.mutation
    async def ping_webhook(self, info: Info, partner_id: strawberry.ID) -> Delivery:
        return Delivery.from_rest(await ctx(info).post("notifications", f"/v1/partners/{partner_id}/ping"))

    @strawberry.mutation
    async def resend_delivery(self, info: Info, id: strawberry.ID) -> Delivery:
        return Delivery.from_rest(await ctx(info).post("notifications", f"/v1/deliveries/{id}/resend"))

    @strawberry.mutation
    async def propose_goal(self, info: Info, input: gi.ProposeGoalInput) -> GoalProposal:
        return GoalProposal.from_rest(await ctx(info).post("goals", "/v1/goal-proposals", to_rest(input)))

    @strawberry.mutation
    async def support_goal_proposal(self, info: Info, id: strawberry.ID) -> GoalProposal:
        return GoalProposal.from_rest(await ctx(info).post("goals", f"/v1/goal-proposals/{id}/support"))

    @strawberry.mutation
    async def adopt_goal_proposal(self, info: Info, id: strawberry.ID, input: gi.SetGoalInput) -> Goal:
        row = await ctx(info).post("goals", f"/v1/goal-proposals/{id}/adoption", to_rest(input))
        return Goal.from_rest(row.get("goal", row))

    @strawberry.mutation
    async def decline_goal_proposal(self, info: Info, id: strawberry.ID, reason: str) -> GoalProposal:
        row = await ctx(info).post("goals", f"/v1/goal-proposals/{id}/decline", {"reason": reason})
        return GoalProposal.from_rest(row)

    @strawberry.mutation
    async def set_goal(self, info: Info, input: gi.SetGoalInput) -> Goal:
        return Goal.from_rest(await ctx(info).post("goals", "/v1/goals", to_rest(input)))

    @strawberry.mutation
    async def update_goal(self, info: Info, id: strawberry.ID, input: gi.UpdateGoalInput) -> Goal:
        return Goal.from_rest(await ctx(info).patch("goals", f"/v1/goals/{id}", to_rest(input)))

    @strawberry.mutation
    async def review_goal(self, info: Info, input: gi.ReviewGoalInput) -> GoalReview:
        body = to_rest(input)
        goal_id = body.pop("goalId")
        return GoalReview.from_rest(await ctx(info).post("goals", f"/v1/goals/{goal_id}/reviews", body))

    continue_goal: Goal = strawberry.mutation(resolver=reviews.continue_goal)
    record_measurement: Goal = strawberry.mutation(resolver=reviews.record_measurement)
    rate_cooperation: reviews.AreaReview = strawberry.mutation(resolver=reviews.rate_cooperation)
    add_agreement: reviews.Agreement = strawberry.mutation(resolver=reviews.add_agreement)
    update_agreement: reviews.Agreement = strawberry.mutation(resolver=reviews.update_agreement)
    hold_area_review: reviews.AreaReview = strawberry.mutation(resolver=reviews.hold_area_review)


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not UNSET}


def _refusal(code_: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code_})


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def signal_events(
        self, info: Info, municipality: str, area: str | None = UNSET
    ) -> AsyncGenerator[SignalEventMessage, None]:
        c = ctx(info)
        try:
            principal = c.principal
        except DomainError as exc:
            raise _refusal(UNAUTHENTICATED, exc.detail) from exc
        if not principal.acts_in(municipality):
            raise _refusal(NOT_FOUND, "Not found")
        problem = area_problem(given(area), municipality) if given(area) else None
        if problem is not None:
            raise GraphQLError(
                f"area: {problem}",
                extensions={"code": BAD_USER_INPUT, "fields": [{"field": "area", "message": problem}]},
            )
        if c.feed is None:
            raise _refusal("INTERNAL", "Subscriptions are not available")
        if not c.feed.admits(principal.sub):
            raise _refusal(RATE_LIMITED, "Too many subscriptions at a time")
        wanted_area = given(area)
        async with c.feed.subscribe(principal.sub) as queue:
            while True:
                notice = await queue.get()
                if notice.municipality != municipality:
                    continue
                if wanted_area and not area_within(notice.area, wanted_area):
                    continue
                c.forget_loaded()
                try:
                    row = await c.get("signals", f"/v1/signals/{notice.signal_id}")
                except UpstreamError as exc:
                    if exc.problem.code in (NOT_FOUND, "FORBIDDEN"):
                        continue  # not this subscriber's to see
                    raise
                yield SignalEventMessage(type=notice.event_type, signal=Signal.from_rest(row))


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        log_unexpected(errors, execution_context)


def build_schema(settings: Settings | None = None) -> GatewaySchema:
    """The schema with its limits; `settings=None` gives the plain schema (SDL export)."""
    extensions: list[Any] = []
    local = settings is None or settings.is_local
    if settings is not None:
        limits = Limits(settings.max_depth, settings.max_aliases, settings.max_cost)
        limiter = RateLimiter(
            settings.rate_limit_per_second, settings.rate_limit_burst, settings.rate_limit_max_clients
        )
        rule = complexity_rule(limits)  # one class for the process: the validation cache keys on it
        max_tokens, parser_size, validation_size = (
            settings.max_tokens,
            settings.parser_cache_size,
            settings.validation_cache_size,
        )
        # factories, not instances: extensions hold per-request state
        codes = type("LocalErrorCodes", (ErrorCodes,), {"suggestions": True}) if local else ErrorCodes
        extensions = [
            codes,
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: ParserCache(maxsize=parser_size),
            lambda: ValidationCache(maxsize=validation_size),
            lambda: AddValidationRules([rule]),
            lambda: RateLimit(limiter),
            lambda: VariableCost(limits),
        ]
        if not local:
            extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=merge_types("Query", (Query, NeighbourhoodQuery)),
        mutation=merge_types("Mutation", (Mutation, NeighbourhoodMutation)),
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not local),
    )
