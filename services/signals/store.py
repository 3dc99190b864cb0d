"""Signals' tables: loading and saving the aggregate, the intake queries, lists, the partners
read model. Plain SQL on the service's own schema, few round trips on the intake path."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.domain import (
    AMSTERDAM,
    Escalation,
    Feedback,
    HistoryEntry,
    OpenReport,
    Partner,
    Signal,
    Window,
    enclosing_areas,
)
from shared import areas
from shared.db import UnitOfWork, lock_key
from shared.events.catalog import PartnerFacts
from shared.events.codes import Category, PartnerKind, SignalSource, Urgency
from shared.events.codes import SignalStatus as Status
from shared.pagination import Keyset

_COLUMNS = (
    "s.id, s.reference, s.municipality, s.area, s.category, s.urgency, s.description, s.status, s.source,"
    " s.reporter, s.group_id, s.reported_at, s.observed_at, s.lat, s.lon, s.bag_id, s.has_contact,"
    " s.report_count, s.duplicate_of, s.routed_partner_id, s.overdue_notified, s.feedback::text AS feedback,"
    " s.resolved_at, s.ended_at, s.version"
)
_AGGREGATES = (
    "(SELECT coalesce(json_agg(json_build_object('action', h.action, 'at', h.at, 'actor', h.actor,"
    " 'from', h.from_status, 'to', h.to_status, 'note', h.note) ORDER BY h.seq), '[]'::json)::text"
    " FROM signal_history h WHERE h.signal_id = s.id) AS history,"
    " (SELECT coalesce(json_agg(json_build_object('partner', e.partner_id, 'reason', e.reason, 'at', e.at,"
    " 'by', e.acknowledge_by, 'acked', e.acknowledged_at, 'automatic', e.automatic) ORDER BY e.seq), '[]'::json)::text"
    " FROM signal_escalations e WHERE e.signal_id = s.id) AS escalations,"
    " (SELECT o.feedback::text FROM signals o WHERE o.id = s.duplicate_of) AS original_feedback"
)
SELECT_SIGNALS = f"SELECT {_COLUMNS}, {_AGGREGATES} FROM signals s"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _feedback(raw: str | None) -> list[Feedback]:
    return [
        Feedback(UUID(f["partnerId"]) if f.get("partnerId") else None, f["message"], _time(f["at"]) or _never())
        for f in orjson.loads(raw or "[]")
    ]


def _never() -> datetime:
    return datetime.min.replace(tzinfo=UTC)


def feedback_json(feedback: Iterable[Feedback]) -> str:
    return orjson.dumps(
        [
            {"partnerId": str(f.partner_id) if f.partner_id else None, "message": f.message, "at": f.at.isoformat()}
            for f in feedback
        ]
    ).decode()


@dataclass(frozen=True)
class Loaded:
    """What was stored, to write back only what changed."""

    history: int
    escalations: tuple[datetime | None, ...]


def signal_from_row(row: Any) -> tuple[Signal, Loaded]:
    history = [
        HistoryEntry(
            h["action"],
            _time(h["at"]) or _never(),
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
            _time(e["at"]) or _never(),
            _time(e["by"]) or _never(),
            e["reason"],
            bool(e["automatic"]),
            _time(e["acked"]),
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
        original_feedback=_feedback(row.original_feedback) if row.original_feedback is not None else None,
    )
    return signal, Loaded(len(history), tuple(e.acknowledged_at for e in escalations))


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
    " acknowledged_at, automatic)"
    " SELECT CAST(:id AS uuid), x.seq, x.partner_id, x.reason, x.at, x.acknowledge_by, x.acknowledged_at, x.automatic"
    " FROM json_to_recordset(CAST(:escalations AS json)) AS x(seq int, partner_id uuid, reason text,"
    " at timestamptz, acknowledge_by timestamptz, acknowledged_at timestamptz, automatic boolean))"
)

_INSERT = (
    "WITH s AS (INSERT INTO signals (id, reference, municipality, area, category, urgency, description, status,"
    " source, reporter, group_id, reported_at, observed_at, lat, lon, bag_id, contact, has_contact, report_count,"
    " duplicate_of, routed_partner_id, escalated_to, acknowledge_by, feedback, ended_at, version)"
    " VALUES (:id, :reference, :municipality, :area, :category, :urgency, :description, :status, :source,"
    " :reporter, :group_id, :reported_at, :observed_at, :lat, :lon, :bag_id, :contact, :has_contact, 1,"
    " :duplicate_of, :routed_partner_id, CAST(:escalated_to AS uuid[]), :acknowledge_by, '[]', :ended_at,"
    " :version) RETURNING id),"
    " o AS (UPDATE signals SET report_count = report_count + 1 WHERE id = :duplicate_of RETURNING id),"
    " k AS (UPDATE idempotency_keys SET status_code = 201, response = CAST(:answer AS jsonb)"
    " WHERE scope = :scope AND key = ANY(CAST(:keys AS text[])))," + _INSERT_CHILDREN + " SELECT count(*) FROM s"
)

_UPDATE = (
    "WITH u AS (UPDATE signals SET area = :area, category = :category, status = :status,"
    " report_count = :report_count, duplicate_of = :duplicate_of, routed_partner_id = :routed_partner_id,"
    " escalated_to = CAST(:escalated_to AS uuid[]), acknowledge_by = :acknowledge_by,"
    " overdue_notified = :overdue_notified, feedback = CAST(:feedback AS jsonb), resolved_at = :resolved_at,"
    " ended_at = :ended_at, version = :version WHERE id = :id RETURNING id),"
    " a AS (UPDATE signal_escalations SET acknowledged_at = :acked_at WHERE signal_id = :id AND seq = :acked_seq"
    " AND :acked_seq > 0)," + _INSERT_CHILDREN + " SELECT count(*) FROM u"
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


async def _fetchrow(session: AsyncSession, sql: str, params: dict[str, Any]) -> asyncpg.Record | None:
    numbered, names = _numbered(sql)
    return await (await _driver(session)).fetchrow(numbered, *(params[n] for n in names))


def _uuid_array(values: Iterable[UUID]) -> list[UUID]:
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
        await _fetchrow(
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
                "escalated_to": _uuid_array(x.partner_id for x in signal.escalations),
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
        self._loaded[signal.id] = Loaded(len(signal.history), tuple(x.acknowledged_at for x in signal.escalations))

    async def save(self, signal: Signal) -> None:
        loaded = self._loaded[signal.id]
        acked_seq = 0
        acked_at: datetime | None = None
        for i, before in enumerate(loaded.escalations):
            now = signal.escalations[i].acknowledged_at
            if now != before:
                acked_seq, acked_at = i + 1, now
        e = signal.escalation
        await self.session.execute(
            text(_UPDATE),
            {
                "id": signal.id,
                "area": signal.area,
                "category": signal.category.value,
                "status": signal.status.value,
                "report_count": signal.report_count,
                "duplicate_of": signal.duplicate_of,
                "routed_partner_id": signal.routed_partner_id,
                "escalated_to": _uuid_array(x.partner_id for x in signal.escalations),
                "acknowledge_by": e.acknowledge_by if e else None,
                "overdue_notified": signal.overdue_notified,
                "feedback": feedback_json(signal.feedback),
                "resolved_at": signal.resolved_at,
                "ended_at": signal.ended_at,
                "version": signal.version,
                "acked_seq": acked_seq,
                "acked_at": acked_at,
                "history": _history_rows(signal, loaded.history),
                "escalations": _escalation_rows(signal, len(loaded.escalations)),
            },
        )
        self._loaded[signal.id] = Loaded(len(signal.history), tuple(x.acknowledged_at for x in signal.escalations))

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


# --- intake --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeContext:
    reference: str
    claimed: bool
    open_reports: list[OpenReport]
    partners: list[Partner]
    group: Partner | None


_CONTEXT = (
    "SELECT"
    " (SELECT coalesce(json_agg(json_build_object('id', s.id, 'at', s.reported_at, 'status', s.status,"
    " 'lat', s.lat, 'lon', s.lon)), '[]'::json)::text FROM signals s"
    " WHERE s.municipality = :municipality AND s.area = :area AND s.category = :category"
    " AND s.status IN ('received', 'escalated', 'acknowledged', 'reopened') AND s.duplicate_of IS NULL"
    " AND s.reported_at >= :since) AS open_reports,"
    " (SELECT coalesce(json_agg(row_to_json(p)), '[]'::json)::text FROM partners p"
    " WHERE p.active AND :municipality = ANY(p.municipalities) AND p.areas && CAST(:codes AS text[])"
    " AND (:category = ANY(p.categories) OR p.kind = 'police')) AS partners,"
    " (SELECT row_to_json(g)::text FROM partners g WHERE g.partner_id = :group_id) AS grp"
)


def partner_from_json(p: dict[str, Any]) -> Partner:
    return Partner(
        id=UUID(str(p["partner_id"])),
        kind=PartnerKind(p["kind"]),
        municipalities=frozenset(p["municipalities"]),
        areas=frozenset(p["areas"]),
        categories=frozenset(Category(c) for c in p["categories"] if c in Category._value2member_map_),
        acknowledge_within_minutes=int(p["acknowledge_within_minutes"]),
        registered_at=_time(str(p["registered_at"])) or _never(),
        auto_escalate=frozenset(Category(c) for c in p["auto_escalate"] if c in Category._value2member_map_),
        acknowledge_within_by_urgency={
            Urgency(k): int(v)
            for k, v in (p["acknowledge_by_urgency"] or {}).items()
            if k in Urgency._value2member_map_
        },
        availability=tuple(Window(int(w["weekday"]), w["from"], w["until"]) for w in p["availability"] or []),
        priority=int(p["priority"]),
        active=bool(p["active"]),
    )


async def intake_context(
    session: AsyncSession,
    *,
    municipality: str,
    area: str,
    category: str,
    at: datetime,
    since: datetime,
    group_id: UUID | None,
    claim: tuple[str, str, str] | None = None,
) -> IntakeContext:
    """The reference, the open signals it may duplicate and the partners that may take it.

    Reports for the same place and category take turns (a transaction lock), so two identical
    reports arriving together still merge.
    """
    params: dict[str, Any] = {
        "lock": lock_key(f"intake:{municipality}:{area}:{category}"),
        "year": at.astimezone(AMSTERDAM).year,
    }
    if claim is None:
        sql = "SELECT true AS claimed, pg_advisory_xact_lock(:lock), next_signal_reference(:year) AS reference"
    else:
        # `shared.idempotency.claim`'s insert, in this round trip; when it claims nothing the
        # caller asks `claim` for the stored answer.
        sql = (
            "WITH c AS (INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response)"
            " VALUES (:scope, :idem_key, :hash, 0, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT EXISTS (SELECT 1 FROM c) AS claimed, pg_advisory_xact_lock(:lock),"
            " next_signal_reference(:year) AS reference"
        )
        params.update(scope=claim[0], idem_key=claim[1], hash=claim[2])
    first = (await session.execute(text(sql), params)).one()
    reference, claimed = first.reference, bool(first.claimed)
    row = await _fetchrow(
        session,
        _CONTEXT,
        {
            "municipality": municipality,
            "area": area,
            "category": category,
            "since": since,
            "codes": list(enclosing_areas(area)),
            "group_id": group_id,
        },
    )
    assert row is not None
    reports = [
        OpenReport(
            id=UUID(r["id"]),
            municipality=municipality,
            area=area,
            category=Category(category),
            status=Status(r["status"]),
            reported_at=_time(r["at"]) or _never(),
            lat=r["lat"],
            lon=r["lon"],
        )
        for r in orjson.loads(row["open_reports"])
    ]
    partners = [partner_from_json(p) for p in orjson.loads(row["partners"])]
    group = partner_from_json(orjson.loads(row["grp"])) if row["grp"] else None
    return IntakeContext(reference, claimed, reports, partners, group)


async def partners_for(session: AsyncSession, municipality: str, area: str) -> list[Partner]:
    """Active partners covering the area (for routing again after a reclassification)."""
    raw = (
        await session.execute(
            text(
                "SELECT coalesce(json_agg(row_to_json(p)), '[]'::json)::text FROM partners p"
                " WHERE p.active AND :municipality = ANY(p.municipalities) AND p.areas && CAST(:codes AS text[])"
            ),
            {"municipality": municipality, "codes": list(enclosing_areas(area))},
        )
    ).scalar_one()
    return [partner_from_json(p) for p in orjson.loads(raw)]


async def partner(session: AsyncSession, partner_id: UUID) -> Partner | None:
    raw = (
        await session.execute(
            text("SELECT row_to_json(p)::text FROM partners p WHERE p.partner_id = :id"), {"id": partner_id}
        )
    ).scalar()
    return partner_from_json(orjson.loads(raw)) if raw else None


# --- the partners read model ---------------------------------------------------------------------

_UPSERT_PARTNER = (
    "INSERT INTO partners (partner_id, version, name, kind, municipalities, areas, categories, auto_escalate,"
    " acknowledge_within_minutes, acknowledge_by_urgency, availability, priority, active, registered_at)"
    " VALUES (:id, :version, :name, :kind, CAST(:municipalities AS text[]), CAST(:areas AS text[]),"
    " CAST(:categories AS text[]), CAST(:auto_escalate AS text[]), :minutes, CAST(:by_urgency AS jsonb),"
    " CAST(:availability AS jsonb), :priority, :active, :registered_at)"
    " ON CONFLICT (partner_id) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name,"
    " kind = EXCLUDED.kind, municipalities = EXCLUDED.municipalities, areas = EXCLUDED.areas,"
    " categories = EXCLUDED.categories, auto_escalate = EXCLUDED.auto_escalate,"
    " acknowledge_within_minutes = EXCLUDED.acknowledge_within_minutes,"
    " acknowledge_by_urgency = EXCLUDED.acknowledge_by_urgency, availability = EXCLUDED.availability,"
    " priority = EXCLUDED.priority, active = EXCLUDED.active, registered_at = EXCLUDED.registered_at,"
    " applied_at = now()"
    " WHERE partners.version < EXCLUDED.version"
)


def _text_array(values: Iterable[str]) -> list[str]:
    return list(values)


async def apply_partner(session: AsyncSession, facts: PartnerFacts, *, active: bool) -> bool:
    """Keep the newest version of a partner's facts; an older or repeated one changes nothing."""
    result = await session.execute(
        text(_UPSERT_PARTNER + " RETURNING 1"),
        {
            "id": facts.partner_id,
            "version": facts.version,
            "name": facts.name,
            "kind": facts.kind.value,
            "municipalities": _text_array(facts.municipalities),
            "areas": _text_array(facts.areas),
            "categories": _text_array(c.value for c in facts.categories),
            "auto_escalate": _text_array(c.value for c in facts.auto_escalate),
            "minutes": facts.acknowledge_within_minutes,
            "by_urgency": orjson.dumps(
                {k.value: v for k, v in facts.acknowledge_within_minutes_by_urgency.items()}
            ).decode(),
            "availability": orjson.dumps(
                [{"weekday": w.weekday, "from": w.from_, "until": w.until} for w in facts.availability]
            ).decode(),
            "priority": facts.priority,
            "active": active,
            "registered_at": facts.registered_at,
        },
    )
    return result.scalar() is not None


# --- lists ---------------------------------------------------------------------------------------


@dataclass
class Query:
    """A list request after authorisation: filters plus who may see what."""

    municipalities: list[str]
    area: str | None = None
    statuses: list[str] = field(default_factory=list)
    category: str | None = None
    partner_id: UUID | None = None
    overdue: bool | None = None
    unrouted: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: list[UUID] | None = None
    reporter: str | None = None
    visibility: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


async def list_signals(
    session: AsyncSession, q: Query, *, first: int, after: Keyset | None, now: datetime
) -> tuple[list[Signal], int, Keyset | None]:
    """A page of signals, the total count, and the keyset of the last one when there is more.

    With a partner filter the order is oldest escalation first (a catch-up feed); else newest first.
    """
    where = ["s.municipality = ANY(CAST(:municipalities AS text[]))"]
    params: dict[str, Any] = {"municipalities": _text_array(q.municipalities), "now": now, **q.params}
    if q.visibility:
        where.append("(" + " OR ".join(q.visibility) + ")")
    if q.area:
        where.append("(s.area = :area OR s.area LIKE :area_prefix)")
        params["area"], params["area_prefix"] = q.area, areas.parse(q.area).neighbourhoods_like()
    if q.statuses:
        where.append("s.status = ANY(CAST(:statuses AS text[]))")
        params["statuses"] = _text_array(q.statuses)
    if q.category:
        where.append("s.category = :category")
        params["category"] = q.category
    if q.overdue is not None:
        clause = "(s.status = 'escalated' AND s.acknowledge_by < :now)"
        where.append(clause if q.overdue else f"NOT {clause}")
    if q.unrouted is not None:
        where.append(
            "(s.routed_partner_id IS NULL AND s.status IN ('received', 'reopened'))"
            if q.unrouted
            else "s.routed_partner_id IS NOT NULL"
        )
    if q.since:
        where.append("s.reported_at >= :since")
        params["since"] = q.since
    if q.until:
        where.append("s.reported_at < :until")
        params["until"] = q.until
    if q.ids is not None:
        where.append("s.id = ANY(CAST(:ids AS uuid[]))")
        params["ids"] = _uuid_array(q.ids)
    if q.reporter is not None:
        where.append("s.reporter = :reporter")
        params["reporter"] = q.reporter
    if q.partner_id is not None:
        params["feed_partner"] = q.partner_id
        source = (
            f"SELECT {_COLUMNS}, {_AGGREGATES}, x.key_at FROM signals s"
            " JOIN LATERAL (SELECT max(e.at) AS key_at FROM signal_escalations e"
            " WHERE e.signal_id = s.id AND e.partner_id = :feed_partner) x ON x.key_at IS NOT NULL"
        )
        count_source = "SELECT count(*) FROM signals s WHERE :feed_partner = ANY(s.escalated_to) AND " + " AND ".join(
            where
        )
        order, cmp = "x.key_at, s.id", ">"
        key_expr = "x.key_at"
    else:
        source = f"SELECT {_COLUMNS}, {_AGGREGATES}, s.reported_at AS key_at FROM signals s"
        count_source = "SELECT count(*) FROM signals s WHERE " + " AND ".join(where)
        order, cmp = "s.reported_at DESC, s.id DESC", "<"
        key_expr = "s.reported_at"
    page_where = list(where)
    if after:
        page_where.append(f"({key_expr}, s.id) {cmp} (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))")
        params["after_at"], params["after_id"] = after
    sql = f"{source} WHERE {' AND '.join(page_where)} ORDER BY {order} LIMIT :limit"
    params["limit"] = first + 1
    rows = list(await session.execute(text(sql), params))
    total = (await session.execute(text(count_source), params)).scalar_one()
    signals = [signal_from_row(r)[0] for r in rows[:first]]
    last = rows[first - 1] if len(rows) > first else None
    cursor = (last.key_at, last.id) if last is not None else None
    return signals, int(total), cursor


# --- periodic work -------------------------------------------------------------------------------


async def erase_contacts(session: AsyncSession, before: datetime) -> int:
    """Contacts of signals ended before `before`; a merged report's contact lives as long as its original's."""
    result = await session.execute(
        text(
            "UPDATE signals s SET contact = NULL WHERE s.contact IS NOT NULL AND ("
            " (s.duplicate_of IS NULL AND s.ended_at < :before AND s.status IN ('closed', 'rejected'))"
            " OR (s.duplicate_of IS NOT NULL AND EXISTS (SELECT 1 FROM signals o WHERE o.id = s.duplicate_of"
            " AND o.ended_at < :before AND o.status IN ('closed', 'rejected'))))"
        ),
        {"before": before},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def remove_descriptions(session: AsyncSession, before: datetime) -> int:
    """Descriptions of signals closed (or rejected, merged) before `before`; codes and times stay."""
    result = await session.execute(
        text(
            "UPDATE signals SET description = NULL WHERE description IS NOT NULL"
            " AND status IN ('closed', 'rejected', 'merged') AND ended_at < :before"
        ),
        {"before": before},
    )
    return int(getattr(result, "rowcount", 0) or 0)
