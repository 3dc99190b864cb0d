"""The signal repository: loading and saving the aggregate with its history and escalations."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.domain import (
    Escalation,
    Feedback,
    HistoryEntry,
    Original,
    Question,
    Rating,
    Signal,
)
from shared.db import UnitOfWork
from shared.events.codes import Category, SignalSource, Urgency
from shared.events.codes import SignalStatus as Status

COLUMNS = (
    "s.id, s.reference, s.municipality, s.area, s.category, s.urgency, s.description, s.status, s.source,"
    " s.reporter, s.group_id, s.reported_at, s.observed_at, s.lat, s.lon, s.bag_id, s.has_contact,"
    " s.report_count, s.duplicate_of, s.routed_partner_id, s.overdue_notified, s.feedback::text AS feedback,"
    " s.resolved_at, s.ended_at, s.version, s.group_message, s.questions::text AS questions,"
    " s.ratings::text AS ratings, s.involved_partners, s.external_reference"
)
AGGREGATES = (
    "(SELECT coalesce(json_agg(json_build_object('action', h.action, 'at', h.at, 'actor', h.actor,"
    " 'from', h.from_status, 'to', h.to_status, 'note', h.note) ORDER BY h.seq), '[]'::json)::text"
    " FROM signal_history h WHERE h.signal_id = s.id) AS history,"
    " (SELECT coalesce(json_agg(json_build_object('partner', e.partner_id, 'reason', e.reason, 'at', e.at,"
    " 'by', e.acknowledge_by, 'acked', e.acknowledged_at, 'automatic', e.automatic, 'transfer', e.transfer)"
    " ORDER BY e.seq), '[]'::json)::text"
    " FROM signal_escalations e WHERE e.signal_id = s.id) AS escalations,"
    " (SELECT json_build_object('id', o.id, 'reference', o.reference, 'municipality', o.municipality,"
    " 'area', o.area, 'category', o.category, 'urgency', o.urgency, 'source', o.source, 'at', o.reported_at,"
    " 'status', o.status, 'count', o.report_count, 'feedback', o.feedback)::text"
    " FROM signals o WHERE o.id = s.duplicate_of) AS original,"
    # the names of the partners it was escalated to and of those whose staff acted on it
    " (SELECT coalesce(json_object_agg(p.partner_id, p.name), '{}'::json)::text FROM partners p"
    " WHERE p.partner_id = ANY(s.involved_partners)"
    " OR p.partner_id IN (SELECT e.partner_id FROM signal_escalations e WHERE e.signal_id = s.id"
    " UNION SELECT CAST(substr(h.actor, 9) AS uuid) FROM signal_history h WHERE h.signal_id = s.id"
    " AND h.actor ~ '^partner:[0-9a-f-]{36}$')) AS partner_names,"
    " (SELECT o.group_message FROM signals o WHERE o.id = s.duplicate_of) AS original_group_message,"
    " (SELECT o.ratings::text FROM signals o WHERE o.id = s.duplicate_of) AS original_ratings,"
    " ARRAY(SELECT DISTINCT d.group_id FROM signals d WHERE d.duplicate_of = s.id AND d.group_id IS NOT NULL"
    " ORDER BY d.group_id) AS duplicate_group_ids"
)
SELECT_SIGNALS = f"SELECT {COLUMNS}, {AGGREGATES} FROM signals s"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _feedback(raw: str | None) -> list[Feedback]:
    return _feedback_items(orjson.loads(raw or "[]"))


def _feedback_items(items: list[dict[str, Any]]) -> list[Feedback]:
    return [
        Feedback(UUID(f["partnerId"]) if f.get("partnerId") else None, f["message"], parse_time(f["at"]) or never())
        for f in items
    ]


def _original(raw: str | None) -> Original | None:
    if raw is None:
        return None
    o = orjson.loads(raw)
    return Original(
        id=UUID(o["id"]),
        reference=o["reference"],
        municipality=o["municipality"],
        area=o["area"],
        category=Category(o["category"]),
        urgency=Urgency(o["urgency"]),
        source=SignalSource(o["source"]),
        reported_at=parse_time(o["at"]) or never(),
        status=Status(o["status"]),
        report_count=int(o["count"]),
        feedback=tuple(_feedback_items(o["feedback"])),
    )


def never() -> datetime:
    return datetime.min.replace(tzinfo=UTC)


def feedback_json(feedback: Iterable[Feedback]) -> str:
    return orjson.dumps(
        [
            {"partnerId": str(f.partner_id) if f.partner_id else None, "message": f.message, "at": f.at.isoformat()}
            for f in feedback
        ]
    ).decode()


def _questions(raw: str | None) -> list[Question]:
    return [
        Question(
            q["question"],
            parse_time(q["askedAt"]) or never(),
            Status(q["returnsTo"]),
            q.get("answer"),
            parse_time(q.get("answeredAt")),
            parse_time(q.get("endedAt")),
        )
        for q in orjson.loads(raw or "[]")
    ]


def _ratings(raw: str | None) -> dict[str, Rating]:
    return {
        rater: Rating(bool(r["satisfied"]), r.get("comment"), parse_time(r["at"]) or never())
        for rater, r in orjson.loads(raw or "{}").items()
    }


def ratings_json(ratings: dict[str, Rating]) -> str:
    return orjson.dumps(
        {
            rater: {"satisfied": r.satisfied, "comment": r.comment, "at": r.at.isoformat()}
            for rater, r in ratings.items()
        }
    ).decode()


def questions_json(questions: Iterable[Question]) -> str:
    return orjson.dumps(
        [
            {
                "question": q.question,
                "askedAt": q.asked_at.isoformat(),
                "returnsTo": q.returns_to.value,
                "answer": q.answer,
                "answeredAt": q.answered_at.isoformat() if q.answered_at else None,
                "endedAt": q.ended_at.isoformat() if q.ended_at else None,
            }
            for q in questions
        ]
    ).decode()


@dataclass(frozen=True)
class Loaded:
    """What was stored, to write back only what changed."""

    history: int
    escalations: tuple[tuple[datetime | None, datetime], ...]  # (acknowledged at, acknowledge by) of each


def _loaded(signal: Signal) -> Loaded:
    return Loaded(len(signal.history), tuple((e.acknowledged_at, e.acknowledge_by) for e in signal.escalations))


def signal_from_row(row: Any) -> tuple[Signal, Loaded]:
    history = [
        HistoryEntry(
            h["action"],
            parse_time(h["at"]) or never(),
            h["actor"],
            Status(h["from"]) if h["from"] else None,
            Status(h["to"]) if h["to"] else None,
            h["note"],
        )
        for h in orjson.loads(row.history)
    ]
    escalations = [
        Escalation(
            UUID(e["partner"]),
            parse_time(e["at"]) or never(),
            parse_time(e["by"]) or never(),
            e["reason"],
            bool(e["automatic"]),
            parse_time(e["acked"]),
            bool(e.get("transfer")),
        )
        for e in orjson.loads(row.escalations)
    ]
    signal = Signal(
        id=row.id,
        reference=row.reference,
        municipality=row.municipality,
        area=row.area,
        category=Category(row.category),
        urgency=Urgency(row.urgency),
        description=row.description,
        source=SignalSource(row.source),
        reporter=row.reporter,
        reported_at=row.reported_at,
        status=Status(row.status),
        group_id=row.group_id,
        observed_at=row.observed_at,
        lat=row.lat,
        lon=row.lon,
        bag_id=row.bag_id,
        has_contact=row.has_contact,
        report_count=row.report_count,
        duplicate_of=row.duplicate_of,
        routed_partner_id=row.routed_partner_id,
        escalations=escalations,
        feedback=_feedback(row.feedback),
        history=history,
        resolved_at=row.resolved_at,
        ended_at=row.ended_at,
        overdue_notified=row.overdue_notified,
        version=row.version,
        original=_original(row.original),
        partner_names={UUID(k): str(v) for k, v in orjson.loads(row.partner_names).items()},
        group_message=row.group_message,
        original_group_message=row.original_group_message,
        duplicate_group_ids=tuple(row.duplicate_group_ids or ()),
        questions=_questions(row.questions),
        ratings=_ratings(row.ratings),
        involved=list(row.involved_partners or ()),
        original_ratings=_ratings(row.original_ratings),
        external_reference=row.external_reference,
    )
    return signal, _loaded(signal)


def _history_rows(signal: Signal, start: int) -> str:
    return orjson.dumps(
        [
            {
                "seq": i + 1,
                "action": h.action,
                "at": h.at.isoformat(),
                "actor": h.actor,
                "from_status": h.from_status.value if h.from_status else None,
                "to_status": h.to_status.value if h.to_status else None,
                "note": h.note,
            }
            for i, h in enumerate(signal.history)
            if i >= start
        ]
    ).decode()


def _escalation_rows(signal: Signal, start: int) -> str:
    return orjson.dumps(
        [
            {
                "seq": i + 1,
                "partner_id": str(e.partner_id),
                "reason": e.reason,
                "at": e.at.isoformat(),
                "acknowledge_by": e.acknowledge_by.isoformat(),
                "acknowledged_at": e.acknowledged_at.isoformat() if e.acknowledged_at else None,
                "automatic": e.automatic,
                "transfer": e.transfer,
            }
            for i, e in enumerate(signal.escalations)
            if i >= start
        ]
    ).decode()


_INSERT_CHILDREN = (
    " h AS (INSERT INTO signal_history (signal_id, seq, action, at, actor, from_status, to_status, note)"
    " SELECT CAST(:id AS uuid), x.seq, x.action, x.at, x.actor, x.from_status, x.to_status, x.note"
    " FROM json_to_recordset(CAST(:history AS json)) AS x(seq int, action text, at timestamptz, actor text,"
    " from_status text, to_status text, note text)),"
    " e AS (INSERT INTO signal_escalations (signal_id, seq, partner_id, reason, at, acknowledge_by,"
    " acknowledged_at, automatic, transfer)"
    " SELECT CAST(:id AS uuid), x.seq, x.partner_id, x.reason, x.at, x.acknowledge_by, x.acknowledged_at, x.automatic,"
    " coalesce(x.transfer, false)"
    " FROM json_to_recordset(CAST(:escalations AS json)) AS x(seq int, partner_id uuid, reason text,"
    " at timestamptz, acknowledge_by timestamptz, acknowledged_at timestamptz, automatic boolean, transfer boolean))"
)

_INSERT = (
    "WITH s AS (INSERT INTO signals (id, reference, municipality, area, category, urgency, description, status,"
    " source, reporter, group_id, reported_at, observed_at, lat, lon, bag_id, contact, has_contact, report_count,"
    " duplicate_of, routed_partner_id, escalated_to, acknowledge_by, feedback, ended_at, version)"
    " VALUES (:id, :reference, :municipality, :area, :category, :urgency, :description, :status, :source,"
    " :reporter, :group_id, :reported_at, :observed_at, :lat, :lon, :bag_id, :contact, :has_contact, 1,"
    " :duplicate_of, :routed_partner_id, CAST(:escalated_to AS uuid[]), :acknowledge_by, '[]', :ended_at,"
    " :version) RETURNING id),"
    " k AS (UPDATE idempotency_keys SET status_code = 201, response = CAST(:answer AS jsonb)"
    " WHERE scope = :scope AND key = ANY(CAST(:keys AS text[])))," + _INSERT_CHILDREN + " SELECT count(*) FROM s"
)

_UPDATE = (
    "WITH u AS (UPDATE signals SET area = :area, category = :category, urgency = :urgency, status = :status,"
    " report_count = :report_count, duplicate_of = :duplicate_of, routed_partner_id = :routed_partner_id,"
    " escalated_to = CAST(:escalated_to AS uuid[]), acknowledge_by = :acknowledge_by,"
    " overdue_notified = :overdue_notified, feedback = CAST(:feedback AS jsonb), resolved_at = :resolved_at,"
    " group_message = :group_message, questions = CAST(:questions AS jsonb),"
    " question_asked_at = :question_asked_at, ratings = CAST(:ratings AS jsonb),"
    " involved_partners = CAST(:involved AS uuid[]), external_reference = :external_reference,"
    " ended_at = :ended_at, version = :version WHERE id = :id RETURNING id),"
    # escalations stored before whose acknowledgement or deadline (paused by a question) changed
    " a AS (UPDATE signal_escalations c SET acknowledged_at = x.acknowledged_at, acknowledge_by = x.acknowledge_by"
    " FROM json_to_recordset(CAST(:changed AS json)) AS x(seq int, acknowledged_at timestamptz,"
    " acknowledge_by timestamptz) WHERE c.signal_id = :id AND c.seq = x.seq),"
    + _INSERT_CHILDREN
    + " SELECT count(*) FROM u"
)


_NAMED = re.compile(r"(?<!:):([a-z_]+)")


@functools.cache
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters as asyncpg's `$n`, and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, inside its transaction (begun by an earlier
    statement): the intake's hot statements skip SQLAlchemy's per-statement work."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    return driver


async def fetchrow(session: AsyncSession, sql: str, params: dict[str, Any]) -> asyncpg.Record | None:
    numbered, names = _numbered(sql)
    return await (await _driver(session)).fetchrow(numbered, *(params[n] for n in names))


def uuid_array(values: Iterable[UUID]) -> list[UUID]:
    return list(dict.fromkeys(values))


class SignalStore:
    """The repository of signals within one unit of work, which writes the events of every signal
    loaded or added here when it commits."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        self._loaded: dict[UUID, Loaded] = {}

    async def get(self, signal_id: UUID, *, for_update: bool = False) -> Signal | None:
        sql = SELECT_SIGNALS + " WHERE s.id = :id" + (" FOR UPDATE OF s" if for_update else "")
        row = (await self.session.execute(text(sql), {"id": signal_id})).first()
        if row is None:
            return None
        signal, loaded = signal_from_row(row)
        self._loaded[signal.id] = loaded
        self.uow.track(signal)
        return signal

    async def claim_due(self, condition: str, params: dict[str, Any], limit: int) -> list[Signal]:
        """Signals matching `condition` (on `s`), locked in this transaction; rows another
        instance holds are skipped, so replicas share the work. One statement."""
        locked = f"SELECT s.id FROM signals s WHERE {condition} ORDER BY s.id LIMIT :limit FOR UPDATE SKIP LOCKED"
        rows = await self.session.execute(
            text(f"{SELECT_SIGNALS} WHERE s.id IN ({locked}) ORDER BY s.id"), {**params, "limit": limit}
        )
        found = []
        for row in rows:
            signal, loaded = signal_from_row(row)
            self._loaded[signal.id] = loaded
            self.uow.track(signal)
            found.append(signal)
        return found

    async def add(
        self,
        signal: Signal,
        contact: bytes | None,
        *,
        answer: Any = None,
        scope: str = "",
        keys: Sequence[str] = (),
    ) -> None:
        """Insert a new signal; with `keys`, its `answer` completes those idempotency keys (same statement)."""
        self.uow.track(signal)
        e = signal.escalation
        await fetchrow(
            self.session,
            _INSERT,
            {
                "id": signal.id,
                "reference": signal.reference,
                "municipality": signal.municipality,
                "area": signal.area,
                "category": signal.category.value,
                "urgency": signal.urgency.value,
                "description": signal.description,
                "status": signal.status.value,
                "source": signal.source.value,
                "reporter": signal.reporter,
                "group_id": signal.group_id,
                "reported_at": signal.reported_at,
                "observed_at": signal.observed_at,
                "lat": signal.lat,
                "lon": signal.lon,
                "bag_id": signal.bag_id,
                "contact": contact,
                "has_contact": contact is not None,
                "duplicate_of": signal.duplicate_of,
                "routed_partner_id": signal.routed_partner_id,
                "escalated_to": uuid_array(x.partner_id for x in signal.escalations),
                "acknowledge_by": e.acknowledge_by if e else None,
                "ended_at": signal.ended_at,
                "version": signal.version,
                "history": _history_rows(signal, 0),
                "escalations": _escalation_rows(signal, 0),
                "answer": orjson.dumps(answer).decode(),
                "scope": scope,
                "keys": list(keys),
            },
        )
        self._loaded[signal.id] = _loaded(signal)

    async def save(self, signal: Signal) -> None:
        loaded = self._loaded[signal.id]
        changed = [
            {
                "seq": i + 1,
                "acknowledged_at": x.acknowledged_at.isoformat() if x.acknowledged_at else None,
                "acknowledge_by": x.acknowledge_by.isoformat(),
            }
            for i, (before, x) in enumerate(zip(loaded.escalations, signal.escalations, strict=False))
            if before != (x.acknowledged_at, x.acknowledge_by)
        ]
        e = signal.escalation
        question = signal.open_question
        await self.session.execute(
            text(_UPDATE),
            {
                "id": signal.id,
                "area": signal.area,
                "category": signal.category.value,
                "urgency": signal.urgency.value,
                "status": signal.status.value,
                "report_count": signal.report_count,
                "duplicate_of": signal.duplicate_of,
                "routed_partner_id": signal.routed_partner_id,
                "escalated_to": uuid_array(x.partner_id for x in signal.escalations),
                "acknowledge_by": e.acknowledge_by if e else None,
                "overdue_notified": signal.overdue_notified,
                "feedback": feedback_json(signal.feedback),
                "group_message": signal.group_message,
                "resolved_at": signal.resolved_at,
                "ended_at": signal.ended_at,
                "version": signal.version,
                "changed": orjson.dumps(changed).decode(),
                "questions": questions_json(signal.questions),
                "ratings": ratings_json(signal.ratings),
                "involved": uuid_array(signal.involved),
                "external_reference": signal.external_reference,
                "question_asked_at": question.asked_at if question else None,
                "history": _history_rows(signal, loaded.history),
                "escalations": _escalation_rows(signal, len(loaded.escalations)),
            },
        )
        self._loaded[signal.id] = _loaded(signal)

    async def repoint_duplicates(self, old: UUID, new: UUID) -> None:
        """Duplicates of a signal merged into another now belong to that one."""
        await self.session.execute(
            text("UPDATE signals SET duplicate_of = :new WHERE duplicate_of = :old"), {"old": old, "new": new}
        )

    async def contacts(self, signal_id: UUID) -> list[tuple[UUID, str, bytes]]:
        """(signal id, reporter, sealed contact) of the signal and its merged duplicates."""
        rows = await self.session.execute(
            text(
                "SELECT id, reporter, contact FROM signals WHERE (id = :id OR duplicate_of = :id)"
                " AND contact IS NOT NULL ORDER BY reported_at, id"
            ),
            {"id": signal_id},
        )
        return [(r.id, r.reporter, bytes(r.contact)) for r in rows]

    async def audit_contact_read(self, signal_id: UUID, reader: str, contacts: int) -> None:
        await self.session.execute(
            text("INSERT INTO contact_reads (signal_id, reader, contacts) VALUES (:id, :reader, :n)"),
            {"id": signal_id, "reader": reader, "n": contacts},
        )


def text_array(values: Iterable[str]) -> list[str]:
    return list(values)
