"""Per-request state of a GraphQL operation: the caller, the upstream clients and the DataLoaders.

DataLoaders live per request, so one caller's batch never serves another caller's data; each
cross-service field (a signal's partner, a goal's partners, a review's partners, a merged
signal's original, a signal's deliveries) goes through one, and a list of 50 signals costs one
batch read per service, not 50 reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway.limits import UpstreamBudget
from gateway.settings import Settings
from gateway.upstream import Upstream, UpstreamError
from shared.auth import Authenticator, Principal
from shared.errors import DomainError, Unauthenticated
from shared.pagination import MAX_PAGE

if TYPE_CHECKING:
    from gateway.feed import SignalFeed

Row = dict[str, Any]


class GatewayContext(BaseContext):
    def __init__(
        self,
        *,
        settings: Settings,
        upstream: Upstream,
        authenticator: Authenticator,
        authorization: str | None,
        feed: SignalFeed | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.upstream = upstream
        self.feed: SignalFeed | None = feed
        self._authenticator = authenticator
        self._authorization = authorization
        self._principal: Principal | None = None
        self._auth_error: DomainError | None = None
        self._checked = False
        self.budget = UpstreamBudget(settings.max_upstream_calls, settings.max_upstream_rows)
        self.partners: DataLoader[str, Row | None] = DataLoader(self._load_partners)
        self.signals: DataLoader[str, Row | None] = DataLoader(self._load_signals)
        self.goals: DataLoader[str, Row | None] = DataLoader(self._load_goals)
        self.deliveries: DataLoader[str, list[Row]] = DataLoader(self._load_deliveries)
        self.reviews: DataLoader[str, list[Row]] = DataLoader(self._load_reviews)
        self.chains: DataLoader[str, list[Row]] = DataLoader(self._load_chains)

    async def authorize(self, authorization: str | None) -> Principal:
        """Verify `authorization` (a subscription's `connection_init`) as this context's caller."""
        self._authorization = authorization
        self._checked = False
        self._principal = None
        await self.authenticate()
        return self.principal

    async def authenticate(self) -> None:
        """Verify the caller once, before resolving (fetching new signing keys without blocking)."""
        token = self._bearer()
        if token is None:
            return
        try:
            self._principal = await self._authenticator.authenticate(token)
        except DomainError as exc:
            self._auth_error = exc

    def _authenticate(self) -> None:
        """Without `authenticate` first (tests building a context by hand): keys at hand only."""
        token = self._bearer()
        if token is None:
            return
        try:
            self._principal = self._authenticator.verify(token)
        except DomainError as exc:
            self._auth_error = exc

    def _bearer(self) -> str | None:
        """The request's bearer token; None (and the 401 kept for later) where there is none."""
        self._checked = True
        scheme, _, token = (self._authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self._auth_error = Unauthenticated("bearer token required")
            return None
        return token.strip()

    @property
    def principal(self) -> Principal:
        """The verified caller; UNAUTHENTICATED before anything else when there is none."""
        if not self._checked:
            self._authenticate()
        if self._principal is None:
            raise self._auth_error or Unauthenticated()
        return self._principal

    @property
    def rate_key(self) -> str | None:
        """Whom the rate limit counts: the token's subject (anonymous calls are refused anyway)."""
        if not self._checked:
            self._authenticate()
        return self._principal.sub if self._principal is not None else None

    @property
    def token(self) -> str:
        return self.principal.token

    async def get(self, service: str, path: str, **params: Any) -> Any:
        token = self.token
        self.budget.call()
        answer = await self.upstream.get(service, path, token=token, params=params)
        self.budget.fetched(answer)
        return answer

    async def post(self, service: str, path: str, json: object = None, headers: dict[str, str] | None = None) -> Any:
        token = self.token
        self.budget.call()
        return await self.upstream.post(service, path, token=token, json=json, headers=headers)

    async def patch(self, service: str, path: str, json: object) -> Any:
        token = self.token
        self.budget.call()
        return await self.upstream.patch(service, path, token=token, json=json)

    async def _batch(self, service: str, path: str, keys: Sequence[str]) -> list[Row | None]:
        """`GET path?ids=a,b,c` in pages of at most MAX_PAGE; ids the caller may not see come back as None."""
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i : i + MAX_PAGE] for i in range(0, len(unique), MAX_PAGE)]
        answers = await asyncio.gather(
            *(self.get(service, path, ids=",".join(chunk), first=len(chunk)) for chunk in chunks)
        )
        found: dict[str, Row] = {}
        for answer in answers:
            for row in answer.get("results") or []:
                found[str(row["id"])] = row
        return [found.get(key) for key in keys]

    async def _load_partners(self, keys: list[str]) -> list[Row | None]:
        return await self._batch("partners", "/v1/partners", keys)

    async def _load_signals(self, keys: list[str]) -> list[Row | None]:
        return await self._batch("signals", "/v1/signals", keys)

    async def _load_goals(self, keys: list[str]) -> list[Row | None]:
        return await self._batch("goals", "/v1/goals", keys)

    async def _load_reviews(self, keys: list[str]) -> list[list[Row]]:
        """Every review of these goals in one call (`/v1/goal-reviews?goalIds=`)."""
        answer = await self.get("goals", "/v1/goal-reviews", goalIds=",".join(dict.fromkeys(keys)))
        by_goal: dict[str, list[Row]] = {key: [] for key in keys}
        for row in answer.get("results") or []:
            by_goal.setdefault(str(row["goalId"]), []).append(row)
        return [by_goal[key] for key in keys]

    async def _load_chains(self, keys: list[str]) -> list[list[Row]]:
        """Partners' chain steps, kept by signals (`/v1/partner-chains?ids=`)."""
        unique = list(dict.fromkeys(keys))
        chunks = [unique[i : i + MAX_PAGE] for i in range(0, len(unique), MAX_PAGE)]
        answers = await asyncio.gather(*(self.get("signals", "/v1/partner-chains", ids=",".join(c)) for c in chunks))
        steps = {str(r["partnerId"]): list(r.get("steps") or []) for a in answers for r in a.get("results") or []}
        return [steps.get(key, []) for key in keys]

    async def _load_deliveries(self, keys: list[str]) -> list[list[Row]]:
        """Deliveries per signal (notifications reads them by one signal id at a time)."""
        answers = await asyncio.gather(*(self._deliveries_of(key) for key in keys), return_exceptions=True)
        result: list[list[Row]] = []
        for answer in answers:
            if isinstance(answer, UpstreamError) and answer.problem.code in ("FORBIDDEN", "NOT_FOUND"):
                result.append([])  # who may not see deliveries sees none
            elif isinstance(answer, BaseException):
                raise answer
            else:
                result.append(answer)
        return result

    async def _deliveries_of(self, signal_id: str) -> list[Row]:
        answer = await self.get("notifications", "/v1/deliveries", signalId=signal_id, first=MAX_PAGE)
        return list(answer.get("results") or [])

    def forget_loaded(self) -> None:
        """A long-lived subscription reads afresh for every event."""
        for loader in (self.partners, self.signals, self.goals, self.deliveries, self.reviews, self.chains):
            loader.clear_all()
        self.budget.reset()  # each event is read within the budget of one operation
