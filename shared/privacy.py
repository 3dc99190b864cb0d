"""AVG self-service, the part every service shares: the audit of personal-data reads and changes,
pseudonyms on erasure, and who may erase.

Each service answers `GET /v1/me/data` and `DELETE /v1/me` for its own data; the gateway joins them.
An erasure replaces the caller's subject by a random pseudonym of the service's own (never one the
caller chooses: that could take over someone else's data), in its tables, in the idempotency
scopes (`<operation>:<subject>`) and in the audit's `data_subject` column (never `actor`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import CurrentPrincipal, Principal
from shared.clock import rfc3339
from shared.errors import Forbidden
from shared.events.codes import Role
from shared.runtime import RuntimeDep

ERASURE_ROLES = (Role.RESIDENT, Role.GROUP_ADMIN)
ERASURE_MAX_AUTH_AGE_SECONDS = 300  # CONTRACT.md Rule 16: a token issued at most 5 minutes earlier
DATA_SUBJECT = "data_subject"  # the audit's actor when the data subject acts on their own data


def new_pseudonym() -> str:
    return f"erased-{secrets.token_hex(16)}"


def demand_person(principal: Principal) -> None:
    """A person's own data: any token of a person, never a service's."""
    if principal.is_service:
        raise Forbidden("a person's token is required")


def demand_erasure(principal: Principal, now: float | None = None) -> None:
    """Resident and group admin tokens, authenticated at most 5 minutes before (`auth_time`)."""
    if principal.is_service or not principal.has(*ERASURE_ROLES):
        raise Forbidden("erasure is for residents and group admins")
    at = time.time() if now is None else now
    if principal.auth_time is None or at - principal.auth_time > ERASURE_MAX_AUTH_AGE_SECONDS:
        raise Forbidden("sign in again: erasure needs a token authenticated in the last 5 minutes")


async def record(
    session: AsyncSession, *, object_id: str, data_subject: str | None, actor: str, action: str, at: datetime
) -> None:
    await session.execute(
        text(
            "INSERT INTO personal_data_audit (object_id, data_subject, actor, action, at)"
            " VALUES (:object_id, :subject, :actor, :action, :at)"
        ),
        {"object_id": object_id, "subject": data_subject, "actor": actor, "action": action, "at": at},
    )


def _entry(row: Any) -> dict[str, Any]:
    return {"objectId": row.object_id, "actor": row.actor, "action": row.action, "at": rfc3339(row.at)}


async def entries_for_object(session: AsyncSession, object_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        text("SELECT object_id, actor, action, at FROM personal_data_audit WHERE object_id = :o ORDER BY at, id"),
        {"o": object_id},
    )
    return [_entry(r) for r in rows]


async def entries_about(session: AsyncSession, subject: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        text("SELECT object_id, actor, action, at FROM personal_data_audit WHERE data_subject = :s ORDER BY at, id"),
        {"s": subject},
    )
    return [_entry(r) for r in rows]


async def pseudonymise_shared(session: AsyncSession, subject: str, pseudonym: str) -> None:
    """The subject in the tables every service has: idempotency scopes and the audit's data subject."""
    await session.execute(
        text(
            "UPDATE idempotency_keys"
            " SET scope = left(scope, length(scope) - length(CAST(:s AS text))) || CAST(:p AS text)"
            " WHERE right(scope, length(CAST(:s AS text)) + 1) = ':' || CAST(:s AS text)"
        ),
        {"s": subject, "p": pseudonym},
    )
    await session.execute(
        text("UPDATE personal_data_audit SET data_subject = :p WHERE data_subject = :s"),
        {"s": subject, "p": pseudonym},
    )


async def finish_erasure(
    session: AsyncSession, subject: str, pseudonym: str, erased: Iterable[object], at: datetime
) -> None:
    """The last steps of a service's erasure, once its own tables carry the pseudonym: the tables
    every service has (`pseudonymise_shared`) and an `erasure` audit entry for each erased object."""
    await pseudonymise_shared(session, subject, pseudonym)
    for object_id in erased:
        await record(
            session, object_id=str(object_id), data_subject=pseudonym, actor=DATA_SUBJECT, action="erasure", at=at
        )


def shared_tables_router() -> APIRouter:
    """`/v1/me/data` and `DELETE /v1/me` for a service that keeps nothing about a person under
    their subject but the tables every service has (partners, notifications)."""
    router = APIRouter(tags=["privacy"])

    @router.get("/v1/me/data", summary="What this service holds about the caller (AVG access)")
    async def me_data(principal: CurrentPrincipal, runtime: RuntimeDep) -> dict[str, Any]:
        """The audit entries about the caller's data (this service keeps nothing else under their subject)."""
        demand_person(principal)
        async with runtime.uow() as uow:
            return {"audit": await entries_about(uow.session, principal.sub)}

    @router.delete("/v1/me", status_code=202, summary="Erase the caller's subject in this service (AVG erasure)")
    async def erase_me(principal: CurrentPrincipal, runtime: RuntimeDep) -> JSONResponse:
        """Replaces the caller's subject by a random pseudonym (a token signed in at most 5 minutes ago)."""
        demand_erasure(principal)
        async with runtime.uow() as uow:
            await pseudonymise_shared(uow.session, principal.sub, new_pseudonym())
            await uow.commit()
        return JSONResponse({}, status_code=202)

    return router
