"""`python -m shared.dlq list|show|replay`: look into dead-letter topics and replay their records.

    python -m shared.dlq list signal.escalated.dlq [--limit 20]
    python -m shared.dlq show signal.escalated.dlq 2 17          # partition, offset
    python -m shared.dlq replay signal.escalated.dlq [--partition 2 --offset 17]

Replay sends a record back to the topic it came from (`original_topic` header), where the
consumers' inbox makes a record that had been applied after all a no-op.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import header, idempotent_producer

DEFAULT_BOOTSTRAP = "127.0.0.1:59092"


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


async def read(
    bootstrap: str, topic: str, partition: int | None = None, offset: int | None = None
) -> AsyncIterator[DeadLetter]:
    """The topic's records from the beginning (or just the one at partition/offset)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()  # a topic's first metadata
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions) if partition is None or p == partition]
        if not tps:
            return
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            if offset is not None:
                consumer.seek(tp, offset)
            else:
                await consumer.seek_to_beginning(tp)
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        break
                    yield DeadLetter(r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    if offset is not None:
                        return
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()


def describe(letter: DeadLetter) -> str:
    origin = (
        f"{letter.header('original_topic')}[{letter.header('original_partition')}]@{letter.header('original_offset')}"
    )
    return (
        f"{letter.partition}:{letter.offset}  from {origin}  by {letter.header('consumer')}"
        f"  {letter.header('error_type')}: {(letter.header('error') or '')[:160]}"
    )


async def replay(bootstrap: str, topic: str, partition: int | None, offset: int | None) -> int:
    producer = idempotent_producer(bootstrap, client_id="dlq-replay")
    await producer.start()
    sent = 0
    try:
        async for letter in read(bootstrap, topic, partition, offset):
            target = letter.header("original_topic")
            if not target or letter.value is None:
                continue
            await producer.send_and_wait(
                target, value=letter.value, key=letter.key, headers=[("replayed_from", topic.encode())]
            )
            sent += 1
    finally:
        await producer.stop()
    return sent


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP))
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="one line per dead letter")
    listing.add_argument("topic")
    listing.add_argument("--limit", type=int, default=50)
    show = sub.add_parser("show", help="one dead letter with headers and body")
    show.add_argument("topic")
    show.add_argument("partition", type=int)
    show.add_argument("offset", type=int)
    again = sub.add_parser("replay", help="send dead letters back to their original topic")
    again.add_argument("topic")
    again.add_argument("--partition", type=int)
    again.add_argument("--offset", type=int)
    args = parser.parse_args(argv)
    if args.command == "list":
        count = 0
        async for letter in read(args.bootstrap, args.topic):
            print(describe(letter))
            count += 1
            if count >= args.limit:
                break
        print(f"{count} dead letter(s) shown")
    elif args.command == "show":
        async for letter in read(args.bootstrap, args.topic, args.partition, args.offset):
            for key, value in letter.headers:
                print(f"{key}: {value.decode(errors='replace')}")
            print()
            print((letter.value or b"").decode(errors="replace"))
            return 0
        print("no such record", file=sys.stderr)
        return 1
    else:
        sent = await replay(args.bootstrap, args.topic, args.partition, args.offset)
        print(f"replayed {sent} record(s)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
