"""The fault-injection runs in their short form (what `make chaos` does, with seconds-long faults):
on a PostgreSQL and a Kafka of their own, every fault one at a time under a steady load of reports
and escalations, then reconciled. Nothing accepted may be lost, nothing may happen twice."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import pytest

from bench.chaos import SHORT, TARGET, Chaos, FaultResult, chaos_platform, table
from bench.receiver import Arrival
from bench.reconcile import Accepted, reconcile

pytestmark = pytest.mark.slow


@pytest.mark.timeout(280)
async def test_no_fault_loses_or_duplicates_an_accepted_report_escalation_or_webhook(tmp_path: Path) -> None:
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results: list[FaultResult] = []
    async with chaos_platform(tmp_path) as (platform, receiver, pg, kafka):
        chaos = Chaos(platform, receiver, pg, kafka, SHORT)
        for index, fault in enumerate(SHORT.faults):
            results.append(await chaos.run_fault(index, fault))
        print(table(results, started))

        # the reconciliation can fail: a second webhook-id for an escalated signal, and an
        # accepted report the database does not have, are both counted
        escalated = next(a for a in receiver.delivered() if a.target == TARGET)
        receiver.arrivals.append(
            Arrival("msg_forged", escalated.event_type, escalated.subject, TARGET, time.time(), 204, True)
        )
        phantom = Accepted()
        phantom.add(
            {"k": "r", "op": "report", "i": 1, "t": 0.0, "ms": 1.0, "ok": True, "id": escalated.subject, "acute": True}
        )
        phantom.add(
            {"k": "r", "op": "report", "i": 2, "t": 0.0, "ms": 1.0, "ok": True, "id": str(uuid4()), "acute": False}
        )
        findings = await reconcile(platform, receiver, phantom, TARGET)
        assert findings.webhook_ids_duplicated >= 1 and findings.lost_reports == 1

    assert [r.fault for r in results] == list(SHORT.faults)
    for r in results:
        assert r.accepted > 0, f"{r.fault}: no request accepted"
        assert r.lost == 0, f"{r.fault}: lost {r.details}"
        assert r.duplicated == 0, f"{r.fault}: duplicated {r.details}"
        assert r.recovery_seconds is not None, f"{r.fault}: never recovered {r.details}"
