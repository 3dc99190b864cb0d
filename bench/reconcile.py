"""After a fault, when the system is quiet: did anything get lost or happen twice?

- every accepted report exists once (each report's description names its number, so two rows
  for one report show; none may be merged, as no two reports of a run share area and category);
- every accepted escalation is in the signals database, and every escalated signal produced
  exactly one distinct `webhook-id` at its partner's receiver (retries reuse it), delivered;
- every outbox row of every service schema was published;
- no consumer holds an event in its waiting room (`consumer_waiting`, shared.waiting): its offset
  is committed when it starts to wait, so an end-of-partition offset alone does not mean applied;
- no consumer skipped an event: every event id on a partition a consumer group committed is in
  that consumer's inbox, and the committed offset is the partition's end; the DLQs are empty.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.platform import PARTITIONS, SERVICES, Platform
from bench.receiver import Receiver


@dataclass
class Findings:
    accepted_reports: int = 0
    accepted_escalations: int = 0
    lost_reports: int = 0
    duplicated_reports: int = 0
    merged: int = 0
    lost_escalations: int = 0
    webhooks_missing: int = 0
    webhook_ids_duplicated: int = 0
    invalid_signatures: int = 0
    unpublished: dict[str, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)  # consumer -> events taken, not applied
    skipped: dict[str, int] = field(default_factory=dict)
    dlq_records: int = 0

    @property
    def lost(self) -> int:
        return (
            self.lost_reports
            + self.lost_escalations
            + self.webhooks_missing
            + sum(self.unpublished.values())
            + sum(self.waiting.values())
            + sum(self.skipped.values())
            + self.dlq_records
        )

    @property
    def duplicated(self) -> int:
        return self.duplicated_reports + self.merged + self.webhook_ids_duplicated

    def details(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class Accepted:
    """What the load generator was told: reports answered 201 and escalations accepted."""

    reports: dict[int, UUID] = field(default_factory=dict)  # report number -> signal id
    escalations: dict[UUID, float] = field(default_factory=dict)  # signal id -> when its escalation was answered
    ok_sent: list[float] = field(default_factory=list)  # when each accepted request was sent
    failed: int = 0

    def add(self, line: dict[str, Any]) -> None:
        if line.get("k") != "r":
            return
        if not line.get("ok"):
            self.failed += 1
            return
        self.ok_sent.append(line["t"])
        answered = line["t"] + line["ms"] / 1000
        if line["op"] == "report":
            self.reports[line["i"]] = UUID(line["id"])
            if line["acute"]:
                self.escalations[UUID(line["id"])] = answered
        elif line["op"] == "escalate":
            self.escalations[UUID(line["id"])] = answered


async def quiet_now(platform: Platform) -> bool:
    """Nothing left in any outbox, no pending delivery, nothing in a consumer's waiting room, every
    consumer group at the end of its partitions (a waiting event's offset is already committed)."""
    for service in SERVICES:
        conn = await platform.connect(service)
        try:
            if await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                return False
            if await conn.fetchval("SELECT count(*) FROM consumer_waiting"):
                return False
            if service == "notifications" and await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'retrying')"
            ):
                return False
        finally:
            await conn.close()
    lag = await consumer_lag(platform)
    return not any(lag.values())


async def _groups(platform: Platform) -> dict[str, str]:
    """inbox consumer name (`signals.routing`) -> its group id, for the consumers that recorded anything."""
    names: dict[str, str] = {}
    for service in SERVICES:
        conn = await platform.connect(service)
        try:
            for row in await conn.fetch("SELECT DISTINCT consumer FROM inbox"):
                names[row["consumer"]] = f"{platform.run}.{row['consumer']}"
        finally:
            await conn.close()
    return names


async def _committed(platform: Platform, groups: dict[str, str]) -> dict[str, dict[TopicPartition, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.kafka, request_timeout_ms=20000)
    await admin.start()
    try:
        found: dict[str, dict[TopicPartition, int]] = {}
        for consumer, group in groups.items():
            offsets = await admin.list_consumer_group_offsets(group)
            found[consumer] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        return found
    finally:
        await admin.close()


async def _all_partitions(platform: Platform, committed: dict[str, dict[TopicPartition, int]]) -> None:
    """A partition of a consumed topic with nothing committed yet counts from offset 0, not as absent."""
    topics = {tp.topic for offsets in committed.values() for tp in offsets}
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.kafka, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = {t: consumer.partitions_for_topic(t) or set() for t in topics}
    finally:
        await consumer.stop()
    for offsets in committed.values():
        for topic in {tp.topic for tp in offsets}:
            for p in partitions[topic]:
                offsets.setdefault(TopicPartition(topic, p), 0)


async def consumer_lag(platform: Platform) -> dict[str, int]:
    """Per consumer: records on its partitions after its committed offsets."""
    committed = await _committed(platform, await _groups(platform))
    await _all_partitions(platform, committed)
    tps = {tp for offsets in committed.values() for tp in offsets}
    ends = await _end_offsets(platform, tps)
    return {c: sum(max(0, ends[tp] - off) for tp, off in offsets.items()) for c, offsets in committed.items()}


async def _end_offsets(platform: Platform, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.kafka, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(tps))
        return ends
    finally:
        await consumer.stop()


async def _event_ids(platform: Platform, tps: set[TopicPartition]) -> dict[TopicPartition, set[UUID]]:
    """Every event id on these partitions, read from the beginning (no group)."""
    ids: dict[TopicPartition, set[UUID]] = defaultdict(set)
    if not tps:
        return ids
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.kafka, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(list(tps))
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    ids[tp].add(UUID(orjson.loads(record.value)["id"]))
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return ids
    finally:
        await consumer.stop()


async def _dlq_records(platform: Platform) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.kafka, request_timeout_ms=20000)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(platform.prefix) and t.endswith(".dlq")]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=platform.kafka, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()  # the metadata of every topic, not only of subscribed ones
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or range(PARTITIONS)]
        begins = await consumer.beginning_offsets(tps) if tps else {}
        ends = await consumer.end_offsets(tps) if tps else {}
        return sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        await consumer.stop()


async def reconcile(platform: Platform, receiver: Receiver, accepted: Accepted, target: str) -> Findings:
    f = Findings(accepted_reports=len(accepted.reports), accepted_escalations=len(accepted.escalations))
    conn = await platform.connect("signals")
    try:
        rows = await conn.fetch(
            "SELECT id, description, status, cardinality(escalated_to) AS escalations FROM signals"
            " WHERE id = ANY($1::uuid[])",
            list(accepted.reports.values()),
        )
        found = {r["id"]: r for r in rows}
        f.lost_reports = len(set(accepted.reports.values()) - set(found))
        f.merged = sum(1 for r in rows if r["status"] == "merged")
        numbers = [f"Bench-melding {i}" for i in accepted.reports]
        f.duplicated_reports = int(
            await conn.fetchval(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM signals"
                " WHERE description = ANY($1::text[]) GROUP BY description) d",
                numbers,
            )
        )
        f.lost_escalations = sum(1 for s in accepted.escalations if s not in found or not found[s]["escalations"])
        escalated = {r["id"] for r in rows if r["escalations"]}
    finally:
        await conn.close()
    ids: dict[UUID, set[str]] = defaultdict(set)
    delivered: set[UUID] = set()
    for arrival in receiver.arrivals:
        if arrival.target != target or arrival.event_type != "signal.escalated" or not arrival.subject:
            continue
        subject = UUID(arrival.subject)
        ids[subject].add(arrival.webhook_id)
        if arrival.valid and arrival.status < 300:
            delivered.add(subject)
    f.webhooks_missing = len(escalated - delivered)
    f.webhook_ids_duplicated = sum(len(ids[s]) - 1 for s in escalated if len(ids[s]) > 1)
    f.invalid_signatures = receiver.invalid()
    for service in SERVICES:
        conn = await platform.connect(service)
        try:
            n = int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
        finally:
            await conn.close()
        if n:
            f.unpublished[service] = n
        for consumer, held in await _waiting(platform, service):
            f.waiting[consumer] = held
    await _consumers(platform, f)
    f.dlq_records = await _dlq_records(platform)
    return f


async def _waiting(platform: Platform, service: str) -> list[tuple[str, int]]:
    """Per consumer of the service: events in its waiting room (taken from Kafka, not applied yet)."""
    conn = await platform.connect(service)
    try:
        rows = await conn.fetch("SELECT consumer, count(*) AS n FROM consumer_waiting GROUP BY consumer")
    finally:
        await conn.close()
    return [(r["consumer"], int(r["n"])) for r in rows]


async def _consumers(platform: Platform, f: Findings) -> None:
    groups = await _groups(platform)
    committed = await _committed(platform, groups)
    await _all_partitions(platform, committed)
    tps = {tp for offsets in committed.values() for tp in offsets}
    ends = await _end_offsets(platform, tps)
    on_wire = await _event_ids(platform, tps)
    for consumer, offsets in committed.items():
        service = consumer.split(".", 1)[0]
        conn = await platform.connect(service)
        try:
            rows = await conn.fetch("SELECT topic, partition, event_id FROM inbox WHERE consumer = $1", consumer)
        finally:
            await conn.close()
        inbox: dict[TopicPartition, set[UUID]] = defaultdict(set)
        for r in rows:
            inbox[TopicPartition(r["topic"], r["partition"])].add(r["event_id"])
        lag = sum(max(0, ends[tp] - off) for tp, off in offsets.items())
        skipped = sum(len(on_wire[tp] - inbox[tp]) for tp in offsets)
        if lag:
            f.lag[consumer] = lag
        if skipped:
            f.skipped[consumer] = skipped
