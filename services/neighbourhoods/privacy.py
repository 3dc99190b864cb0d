"""AVG self-service for neighbourhoods (CONTRACT.md Rule 16): what the service holds about the
caller (`me_data`) and erasure (`erase_me`, `sweep_erased`).

A resident is known here only by their keyed pseudonym (`shared.crypto.resident_ref`), never by
their token subject: the caller's data is found by computing it, and the audit's `data_subject`
is that pseudonym too.

Erasure: the caller's memberships end (`neighbourhood.resident_left`, so goals' `supportFromArea`
follows), they leave the active initiatives they joined (`initiative.participants_changed`), and
their place in ended ones is taken by a random pseudonym (the count of a finished initiative stays
true). The initiatives they lead lose the contact address at once and are led by a random
pseudonym; their texts (title, description, place, notes of the asks, outcome, reason to stop)
are replaced at once when done or stopped, those of active ones once they end (`sweep_erased`).

Messages and pledges are the partners' posts: the staff subject in `posted_by`/`pledged_by`
records who acted for the partner (the partner's own administration, under its responsibility as
employer); it is not a resident's data, not in `me_data`, and erasure (residents and group admins,
who never post or pledge) does not touch it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import text

from services.neighbourhoods.store.initiatives import Initiatives
from services.neighbourhoods.store.residents import Residences
from shared import privacy
from shared.auth import Principal
from shared.clock import Clock, rfc3339_or_none
from shared.crypto import SecretBox
from shared.db import UnitOfWork
from shared.events.codes import InitiativeStatus

ERASED_TITLE = "verwijderd op verzoek van de trekker"

_BLANK_ENDED = (
    "UPDATE initiatives SET title = :title, description = NULL, place = NULL, outcome = NULL, stop_reason = NULL,"
    " asks = COALESCE((SELECT jsonb_agg(a - 'note') FROM jsonb_array_elements(asks) a), '[]'::jsonb)"
    " WHERE erased AND status <> 'active'"
    " AND (title <> :title OR description IS NOT NULL OR place IS NOT NULL OR outcome IS NOT NULL"
    " OR stop_reason IS NOT NULL)"
)


def _open(box: SecretBox | None, sealed: Any, initiative_id: UUID) -> str | None:
    if sealed is None:
        return None
    if box is None:
        raise RuntimeError("the contact is sealed but no SECRETS_KEY is configured")
    return box.open(bytes(sealed), str(initiative_id))


async def me_data(
    uow: UnitOfWork, principal: Principal, me: str, clock: Clock, box: SecretBox | None
) -> dict[str, Any]:
    """The caller's memberships, the initiatives they lead (with their texts and contact address)
    and those they joined; each led initiative's export audited."""
    privacy.demand_person(principal)
    session, now = uow.session, clock.now()
    memberships = (
        await session.execute(
            text(
                "SELECT m.area, m.municipality, a.name, m.joined_at FROM memberships m"
                " LEFT JOIN areas a ON a.code = m.area WHERE m.resident = :r ORDER BY m.joined_at, m.area"
            ),
            {"r": me},
        )
    ).all()
    led = (
        await session.execute(
            text(
                "SELECT id, municipality, area, title, description, kind, status, place, asks, outcome, stop_reason,"
                " contact, created_at, ended_at FROM initiatives WHERE leader = :r ORDER BY created_at, id"
            ),
            {"r": me},
        )
    ).all()
    joined = (
        await session.execute(
            text(
                "SELECT i.id, i.municipality, i.area, i.title, i.status, p.joined_at FROM participants p"
                " JOIN initiatives i ON i.id = p.initiative_id WHERE p.resident = :r ORDER BY p.joined_at, i.id"
            ),
            {"r": me},
        )
    ).all()
    for i in led:
        await privacy.record(
            session, object_id=str(i.id), data_subject=me, actor=privacy.DATA_SUBJECT, action="export", at=now
        )
    audit = await privacy.entries_about(session, me)
    await uow.commit()
    return {
        "memberships": [
            {"area": m.area, "name": m.name, "municipality": m.municipality, "joinedAt": rfc3339_or_none(m.joined_at)}
            for m in memberships
        ],
        "initiativesLed": [
            {
                "id": str(i.id),
                "municipality": i.municipality,
                "area": i.area,
                "title": i.title,
                "description": i.description,
                "kind": i.kind,
                "status": i.status,
                "place": i.place,
                "asks": i.asks,
                "outcome": i.outcome,
                "stopReason": i.stop_reason,
                "contactEmail": _open(box, i.contact, i.id),
                "createdAt": rfc3339_or_none(i.created_at),
                "endedAt": rfc3339_or_none(i.ended_at),
            }
            for i in led
        ],
        "initiativesJoined": [
            {
                "id": str(j.id),
                "municipality": j.municipality,
                "area": j.area,
                "title": j.title,
                "status": j.status,
                "joinedAt": rfc3339_or_none(j.joined_at),
            }
            for j in joined
        ],
        "audit": audit,
    }


async def erase_me(uow: UnitOfWork, principal: Principal, me: str, clock: Clock) -> dict[str, Any]:
    privacy.demand_erasure(principal)
    session, now = uow.session, clock.now()
    pseudonym = privacy.new_pseudonym()

    residences = Residences(uow)
    residence = await residences.get(me, for_update=True)
    memberships = list(residence.areas)
    for area in memberships:
        residence.leave(area, now)  # resident_left, so goals' supportFromArea follows
    if memberships:
        await residences.save(residence, now)

    store = Initiatives(uow)
    participations = [
        r.initiative_id
        for r in await session.execute(
            text("SELECT initiative_id FROM participants WHERE resident = :r ORDER BY initiative_id"), {"r": me}
        )
    ]
    for initiative_id in participations:
        initiative = await store.get(initiative_id, for_update=True)
        if initiative is not None and initiative.status is InitiativeStatus.ACTIVE:
            initiative.left(me, now)
            await store.remove_participant(initiative_id, me)
            await store.save(initiative)
        else:
            await session.execute(
                text("UPDATE participants SET resident = :p WHERE initiative_id = :id AND resident = :r"),
                {"id": initiative_id, "r": me, "p": pseudonym},
            )

    led = [
        r.id
        for r in await session.execute(
            text("UPDATE initiatives SET leader = :p, contact = NULL, erased = true WHERE leader = :r RETURNING id"),
            {"r": me, "p": pseudonym},
        )
    ]
    await session.execute(text(_BLANK_ENDED), {"title": ERASED_TITLE})
    # The stored answers of the caller's starts hold the texts they wrote: gone, not renamed.
    await session.execute(text("DELETE FROM idempotency_keys WHERE scope = :s"), {"s": f"initiatives:{me}"})
    await privacy.finish_erasure(session, me, pseudonym, led, now)
    await uow.commit()
    return {"memberships": len(memberships), "initiativesLed": len(led), "participations": len(participations)}


async def sweep_erased(uow: UnitOfWork, clock: Clock) -> None:
    """Texts of erased leaders' initiatives that ended since (periodic task)."""
    await uow.session.execute(text(_BLANK_ENDED), {"title": ERASED_TITLE})
    await uow.commit()
