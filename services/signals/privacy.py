"""AVG self-service for signals (CONTRACT.md "More REST at the gateway", Rule 16): a person's own
data (`me_data`), erasure (`erase_me`, `sweep_erased`) and the audit of one signal (`audit_of`).

Erasure, at once: contact details, rating comments and answers to questions of the caller's
signals; the caller's subject becomes a random pseudonym (signals, ratings, idempotency scopes,
the audit's data subject). Descriptions of the caller's final signals (rejected, merged, closed)
are removed at once; those of open signals when they become final (`sweep_erased`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import text

from services.signals import permissions, store
from services.signals.domain import Signal
from services.signals.views import signal_json
from shared import privacy
from shared.auth import Principal, visible_in
from shared.clock import Clock, rfc3339
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.errors import Forbidden, NotFound
from shared.events.codes import Role

_BLANK_FINAL = (
    "UPDATE signals SET description = NULL WHERE erased AND description IS NOT NULL"
    " AND status IN ('rejected', 'merged', 'closed')"
    " AND (CAST(:only AS uuid[]) IS NULL OR id = ANY(CAST(:only AS uuid[])))"
)


async def me_data(uow: UnitOfWork, principal: Principal, clock: Clock, box: SecretBox | None) -> dict[str, Any]:
    """Everything signals holds about the caller: their signals as they read them, the contact
    details they gave, the partners each went to, their ratings, and the audit about their data."""
    privacy.demand_person(principal)
    now = clock.now()
    session = uow.session
    rows = await session.execute(
        text("SELECT id, contact FROM signals WHERE reporter = :s ORDER BY reported_at, id"), {"s": principal.sub}
    )
    signals_store = store.SignalStore(uow)
    found: list[dict[str, Any]] = []
    for row in rows.all():
        signal = await signals_store.get(row.id)
        if signal is None:
            continue
        contact = box.open(bytes(row.contact), str(row.id)) if box is not None and row.contact else None
        found.append(
            {
                **signal_json(signal, principal, now),
                "contactEmail": contact,
                "partnersReceived": list(dict.fromkeys(str(e.partner_id) for e in signal.escalations)),
            }
        )
        await privacy.record(
            session, object_id=str(signal.id), data_subject=principal.sub, actor=privacy.DATA_SUBJECT,
            action="export", at=now,
        )  # fmt: skip
    rated = await session.execute(
        text("SELECT id, ratings -> :s AS rating FROM signals WHERE ratings ? :s AND reporter <> :s"),
        {"s": principal.sub},
    )
    audit = await privacy.entries_about(session, principal.sub)
    await uow.commit()
    return {
        "signals": found,
        "ratingsOfOthers": [{"signalId": str(r.id), **dict(r.rating)} for r in rated],
        "audit": audit,
    }


async def erase_me(uow: UnitOfWork, principal: Principal, clock: Clock) -> dict[str, Any]:
    privacy.demand_erasure(principal)
    now = clock.now()
    session = uow.session
    pseudonym = privacy.new_pseudonym()
    ids = [
        r.id
        for r in await session.execute(
            text("SELECT id FROM signals WHERE reporter = :s FOR UPDATE"), {"s": principal.sub}
        )
    ]
    await session.execute(
        text(
            "UPDATE signals SET contact = NULL, has_contact = false, reporter = :p, erased = true,"
            " questions = (SELECT coalesce(jsonb_agg(q || '{\"answer\": null}'::jsonb), '[]'::jsonb)"
            "   FROM jsonb_array_elements(questions) q)"
            " WHERE reporter = :s"
        ),
        {"s": principal.sub, "p": pseudonym},
    )
    # ratings are kept by the rater's subject, on their own signals and on originals they rated
    await session.execute(
        text(
            "UPDATE signals SET ratings = (ratings - CAST(:s AS text))"
            " || jsonb_build_object(CAST(:p AS text), (ratings -> CAST(:s AS text)) || '{\"comment\": null}'::jsonb)"
            " WHERE ratings ? :s"
        ),
        {"s": principal.sub, "p": pseudonym},
    )
    await session.execute(text(_BLANK_FINAL), {"only": ids})
    await privacy.finish_erasure(session, principal.sub, pseudonym, ids, now)
    await uow.commit()
    return {"signals": len(ids)}


async def audit_description_read(uow: UnitOfWork, signal: Signal, principal: Principal, clock: Clock) -> None:
    """A partner's staff member or system read a reporter's description (one signal read by id)."""
    partner = principal.partner_id
    if partner is None or not principal.has(*permissions.PARTNER_ROLES) or principal.sub == signal.reporter:
        return
    if signal.description is None or not permissions.may_read_description(principal, signal):
        return
    await privacy.record(
        uow.session, object_id=str(signal.id), data_subject=signal.reporter,
        actor=f"partner:{partner}/{principal.sub}", action="description_read", at=clock.now(),
    )  # fmt: skip
    await uow.commit()


async def sweep_erased(uow: UnitOfWork, clock: Clock) -> None:
    """Descriptions of erased reporters' signals that became final since (periodic task)."""
    await uow.session.execute(text(_BLANK_FINAL), {"only": None})
    await uow.commit()


def demand_auditor(principal: Principal) -> None:
    if not principal.has(Role.COORDINATOR) or principal.is_service:
        raise Forbidden("the audit is for coordinators")


async def audit_of(uow: UnitOfWork, signal_id: UUID, principal: Principal) -> list[dict[str, Any]]:
    """Who read or changed personal data of this signal: contact reads, exports, erasures."""
    demand_auditor(principal)
    signal = await store.SignalStore(uow).get(signal_id)
    if signal is None:
        raise NotFound()
    visible_in(principal, [signal.municipality])
    session = uow.session
    entries = await privacy.entries_for_object(session, str(signal_id))
    reads = await session.execute(
        text("SELECT reader, contacts, read_at FROM contact_reads WHERE signal_id = :id ORDER BY read_at, id"),
        {"id": signal_id},
    )
    entries += [
        {"objectId": str(signal_id), "actor": r.reader, "action": "contact_read", "at": rfc3339(r.read_at)}
        for r in reads
    ]
    return sorted(entries, key=lambda e: str(e["at"]))
