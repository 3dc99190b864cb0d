"""The load generator, a process of its own: `python -m bench.load '<spec as JSON>'`.

Prints one JSON line per request on stdout (`{"k": "r", "op", "i", "t", "ms", "s", "ok", "id",
"tries", "acute"}`, `t` the wall-clock time the request was sent, `ms` until its answer) and a
last line `{"k": "done", "sent": n, "seconds": s}`. Modes:

- `report`: `POST /v1/signals` at the signals service (coordinator token), each with its own
  `Idempotency-Key`; with `escalate`, a non-acute signal is then escalated by the coordinator;
- `graphql`: the same report through the gateway's `reportSignal` mutation;
- `trivial`: `GET <path>` on a trivial FastAPI app;
- `post`: `POST <path>` with `body` (e.g. a GraphQL query), answered 200 without `errors`;
- `waves`: per request, each wave of `[base url, path]` GETs at once, the waves one after the other
  (a client fetching directly from the services what one GraphQL query gives);
- `asyncpg`: one-row insert-and-commit per request on a plain asyncpg connection.

Closed loop with `concurrency` workers, or open loop at `rate` requests/s. With `retry`, a
request that failed (connection refused, 5xx) is sent again with the same key until it is
answered or `give_up_seconds` after the run's end: what a mobile app does, and what lets the
fault-injection runs tell an accepted signal from a lost one.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.client import HttpError, Pool

CATEGORIES = (
    "suspicious_situation",
    "burglary",
    "youth_nuisance",
    "drugs_nuisance",
    "noise_nuisance",
    "vandalism",
    "litter_dumping",
    "traffic_safety",
    "other",
)
REPORT_MUTATION = (
    "mutation($input: ReportSignalInput!) { reportSignal(input: $input) { duplicate advice signal { id status } } }"
)


def signal_fields(i: int, municipalities: list[str], acute: bool) -> dict[str, Any]:
    """Report number i: a (municipality, area, category) no other report of the run shares, so none merges."""
    municipality = municipalities[i % len(municipalities)]
    j = i // len(municipalities)
    return {
        "municipality": municipality,
        "area": f"BU{municipality[2:]}{j % 10000:04d}",
        "category": CATEGORIES[(j // 10000) % len(CATEGORIES)],
        "urgency": "acute" if acute else "normal",
        "description": f"Bench-melding {i}",
    }


def is_acute(i: int, share: float) -> bool:
    """Spread the acute reports evenly: share 0.5 makes every second one acute."""
    return share > 0 and int((i + 1) * share) != int(i * share)


@dataclass
class Spec:
    mode: str
    url: str = ""
    path: str = "/ping"
    token: str = ""
    concurrency: int = 16
    rate: float | None = None
    duration: float = 10.0
    start: int = 0
    acute_share: float = 0.0
    escalate: bool = False
    retry: bool = False
    give_up_seconds: float = 120.0
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    municipalities: list[str] = field(default_factory=lambda: ["GM0479"])
    dsn: str = ""
    table: str = ""
    max_inflight: int = 512
    count: int | None = None  # closed loop: stop after this many requests
    body: Any = None
    waves: list[list[list[str]]] = field(default_factory=list)


class Load:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.pool = Pool(spec.url, timeout=30.0) if spec.url else None
        self._pools = {url: Pool(url) for wave in spec.waves for url, _ in wave}
        self.headers = {"Authorization": f"Bearer {spec.token}"} if spec.token else {}
        self.sent = 0
        self.end = 0.0
        self._out = sys.stdout

    def emit(self, line: dict[str, Any]) -> None:
        self._out.write(orjson.dumps(line).decode() + "\n")

    async def call(self, method: str, path: str, body: Any, key: str | None) -> tuple[int, Any, int]:
        """(status, parsed answer, tries); retried with the same key when `retry` is on."""
        assert self.pool is not None
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        payload = orjson.dumps(body) if body is not None else None
        tries, delay = 0, 0.05
        while True:
            tries += 1
            try:
                status, raw = await self.pool.request(method, path, payload, headers)
            except HttpError:
                status, raw = 0, b""
            if not self.spec.retry or (0 < status < 500 and status != 429):
                break
            if time.monotonic() > self.end + self.spec.give_up_seconds:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        try:
            answer = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            answer = None
        return status, answer, tries

    async def one(self, i: int) -> None:
        mode = self.spec.mode
        if mode == "trivial":
            await self.timed(i, "get", lambda: self.call("GET", self.spec.path, None, None), acute=False)
        elif mode == "post":
            await self.timed(i, "post", lambda: self.call("POST", self.spec.path, self.spec.body, None), acute=False)
        elif mode == "waves":
            await self.timed(i, "waves", self.waves, acute=False)
        elif mode in ("report", "graphql"):
            await self.report(i)
        else:
            raise ValueError(f"unknown mode {mode}")

    async def timed(
        self,
        i: int,
        op: str,
        request: Callable[[], Awaitable[tuple[int, Any, int]]],
        *,
        acute: bool,
        signal_id: str | None = None,
    ) -> tuple[int, Any]:
        sent = time.time()
        started = time.perf_counter()
        status, answer, tries = await request()
        ms = (time.perf_counter() - started) * 1000
        found, ok = _outcome(op, status, answer)
        signal_id = found or signal_id
        self.emit(
            {
                "k": "r",
                "op": op,
                "i": i,
                "t": sent,
                "ms": round(ms, 3),
                "s": status,
                "ok": ok,
                "id": signal_id,
                "tries": tries,
                "acute": acute,
            }
        )
        return status, answer

    async def waves(self) -> tuple[int, Any, int]:
        worst = 200
        for wave in self.spec.waves:
            try:
                answers = await asyncio.gather(
                    *(self._pools[url].request("GET", path, None, self.headers) for url, path in wave)
                )
            except HttpError:
                return 0, None, 1
            worst = max([worst, *(status for status, _ in answers)])
        return worst, None, 1

    async def report(self, i: int) -> None:
        acute = is_acute(i, self.spec.acute_share)
        fields = signal_fields(i, self.spec.municipalities, acute)
        key = f"{self.spec.run}-{i}"
        if self.spec.mode == "graphql":
            body: dict[str, Any] = {
                "query": REPORT_MUTATION,
                "variables": {
                    "input": {
                        **fields,
                        "category": fields["category"].upper(),
                        "urgency": fields["urgency"].upper(),
                        "clientRequestId": key,
                    }
                },
            }
            await self.timed(i, "graphql", lambda: self.call("POST", "/graphql", body, None), acute=acute)
            return
        status, answer = await self.timed(
            i, "report", lambda: self.call("POST", "/v1/signals", fields, key), acute=acute
        )
        if self.spec.escalate and not acute and status == 201 and answer:
            signal_id = answer["signal"]["id"]
            await self.timed(
                i,
                "escalate",
                lambda: self.call("POST", f"/v1/signals/{signal_id}/escalation", {}, None),
                acute=False,
                signal_id=signal_id,
            )

    async def closed_loop(self, work: Callable[[int], Awaitable[None]]) -> None:
        counter = iter(range(self.spec.start, 1 << 62))

        last = self.spec.start + self.spec.count if self.spec.count is not None else 1 << 62

        async def worker() -> None:
            while time.monotonic() < self.end:
                i = next(counter)
                if i >= last:
                    return
                self.sent += 1
                await work(i)

        await asyncio.gather(*(worker() for _ in range(self.spec.concurrency)))

    async def open_loop(self, work: Callable[[int], Awaitable[None]], rate: float) -> None:
        gate = asyncio.Semaphore(self.spec.max_inflight)
        tasks: set[asyncio.Task[None]] = set()
        begin = time.monotonic()
        n = 0
        while True:
            due = begin + n / rate
            if due >= self.end:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            i = self.spec.start + n

            async def run(i: int = i) -> None:
                try:
                    await work(i)
                finally:
                    gate.release()

            task = asyncio.create_task(run())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            self.sent += 1
            if n % 200 == 0:
                self._out.flush()
        await asyncio.gather(*tasks)

    def _end_when_stdin_closes(self, loop: asyncio.AbstractEventLoop) -> None:
        """With duration 0 the run lasts until the caller closes our stdin."""
        self.end = float("inf")

        def wait() -> None:
            sys.stdin.buffer.read()
            loop.call_soon_threadsafe(setattr, self, "end", time.monotonic())

        threading.Thread(target=wait, daemon=True).start()

    async def main(self) -> None:
        if self.spec.duration > 0:
            self.end = time.monotonic() + self.spec.duration
        else:
            self._end_when_stdin_closes(asyncio.get_running_loop())
        started = time.perf_counter()
        work: Callable[[int], Awaitable[None]] = self.one
        if self.spec.mode == "asyncpg":
            work = await self._asyncpg_work()
        if self.spec.rate:
            await self.open_loop(work, self.spec.rate)
        else:
            await self.closed_loop(work)
        self.emit({"k": "done", "sent": self.sent, "seconds": time.perf_counter() - started})
        self._out.flush()
        if self.pool is not None:
            self.pool.close()

    async def _asyncpg_work(self) -> Callable[[int], Awaitable[None]]:
        import asyncpg

        pool = await asyncpg.create_pool(self.spec.dsn, min_size=self.spec.concurrency, max_size=self.spec.concurrency)
        statement = f"INSERT INTO {self.spec.table} (id, payload) VALUES ($1, $2)"

        async def insert(i: int) -> None:
            sent, started = time.time(), time.perf_counter()
            async with pool.acquire() as conn:
                await conn.execute(statement, uuid.uuid4(), orjson.dumps(signal_fields(i, ["GM0479"], False)).decode())
            ms = (time.perf_counter() - started) * 1000
            self.emit(
                {
                    "k": "r",
                    "op": "insert",
                    "i": i,
                    "t": sent,
                    "ms": round(ms, 3),
                    "s": 0,
                    "ok": True,
                    "id": None,
                    "tries": 1,
                    "acute": False,
                }
            )

        return insert


def _outcome(op: str, status: int, answer: Any) -> tuple[str | None, bool]:
    if op == "graphql":
        data = answer.get("data") if isinstance(answer, dict) else None
        if status == 200 and data and data.get("reportSignal") and not answer.get("errors"):
            return str(data["reportSignal"]["signal"]["id"]), True
        return None, False
    if op == "report":
        if status == 201 and isinstance(answer, dict):
            return str(answer["signal"]["id"]), True
        return None, False
    if op == "post":
        return None, status == 200 and isinstance(answer, dict) and not answer.get("errors")
    if op == "escalate":
        # a retried escalation whose first attempt committed finds the signal escalated: accepted
        return None, status == 200 or (status == 409 and "escalated" in orjson.dumps(answer).decode())
    return None, 200 <= status < 300


def main(argv: list[str]) -> None:
    spec = Spec(**orjson.loads(argv[0]))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover (uvloop is in requirements.lock)
        pass
    asyncio.run(Load(spec).main())


if __name__ == "__main__":
    main(sys.argv[1:])
