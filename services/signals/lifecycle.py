"""Periodic work: overdue deadlines, closing resolved signals, retention of personal data.

Each tick takes due signals `FOR UPDATE SKIP LOCKED` and changes them with their events in
one transaction, so several replicas share the work and none repeats what another did.
"""

from __future__ import annotations

from datetime import timedelta

from services.signals import store
from services.signals.domain import Signal
from shared.db import UnitOfWork
from shared.observability import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)
BATCH = 200


def _publish(uow: UnitOfWork, signal: Signal) -> None:
    for version, event in signal.pending:
        uow.emit(event, sequence=version, municipality=signal.municipality)
    signal.pending.clear()


async def report_overdue(runtime: ServiceRuntime) -> int:
    """`signal.overdue` once per missed acknowledgement deadline."""
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        signals = store.SignalStore(uow.session)
        due = await signals.claim_due(
            "s.status = 'escalated' AND NOT s.overdue_notified AND s.acknowledge_by < :now", {"now": now}, BATCH
        )
        marked = 0
        for signal in due:
            if signal.mark_overdue(at=now):
                await signals.save(signal)
                _publish(uow, signal)
                marked += 1
        await uow.commit()
    if marked:
        log.info("signals_overdue", count=marked)
    return marked


async def close_resolved(runtime: ServiceRuntime, after: timedelta) -> int:
    """Resolved signals close automatically `after` their resolution (14 days)."""
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        signals = store.SignalStore(uow.session)
        due = await signals.claim_due(
            "s.status = 'resolved' AND s.resolved_at < :before", {"before": now - after}, BATCH
        )
        for signal in due:
            signal.close(at=now)
            await signals.save(signal)
            _publish(uow, signal)
        await uow.commit()
    if due:
        log.info("signals_closed", count=len(due))
    return len(due)


async def apply_retention(runtime: ServiceRuntime, contact_after: timedelta, description_after: timedelta) -> int:
    """Erase contacts `contact_after` close (30 days) and descriptions `description_after` (a year)."""
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        contacts = await store.erase_contacts(uow.session, now - contact_after)
        descriptions = await store.remove_descriptions(uow.session, now - description_after)
        await uow.commit()
    if contacts or descriptions:
        log.info("retention_applied", contacts_erased=contacts, descriptions_removed=descriptions)
    return contacts + descriptions
