"""The benchmark's own tools, without servers: what the load generator's lines count as, the
findings' totals, and the PNG writer."""

from __future__ import annotations

import struct
from pathlib import Path
from uuid import uuid4

import matplotlib.image

from bench.load import is_acute, signal_fields
from bench.plots import Panel, Series, plot
from bench.reconcile import Accepted, Findings


def test_reports_of_a_run_never_share_area_and_category_so_none_merges() -> None:
    seen = {
        tuple(signal_fields(i, ["GM0479", "GM0453"], False)[k] for k in ("municipality", "area", "category"))
        for i in range(0, 160_000, 7)
    }
    assert len(seen) == len(range(0, 160_000, 7))
    assert all(signal_fields(i, ["GM0479"], False)["area"].startswith("BU0479") for i in range(100))


def test_half_acute_means_every_second_report() -> None:
    assert [is_acute(i, 0.5) for i in range(6)] == [False, True, False, True, False, True]
    assert not any(is_acute(i, 0.0) for i in range(10))
    assert all(is_acute(i, 1.0) for i in range(10))


def test_accepted_counts_only_answered_requests_and_knows_which_were_escalated() -> None:
    acute, normal = uuid4(), uuid4()
    accepted = Accepted()
    for line in (
        {"k": "r", "op": "report", "i": 0, "t": 10.0, "ms": 5.0, "ok": True, "id": str(acute), "acute": True},
        {"k": "r", "op": "report", "i": 1, "t": 11.0, "ms": 5.0, "ok": True, "id": str(normal), "acute": False},
        {"k": "r", "op": "escalate", "i": 1, "t": 11.1, "ms": 5.0, "ok": True, "id": str(normal), "acute": False},
        {"k": "r", "op": "report", "i": 2, "t": 12.0, "ms": 5.0, "ok": False, "id": None, "acute": True},
        {"k": "done", "sent": 3},
    ):
        accepted.add(line)
    assert accepted.reports == {0: acute, 1: normal}
    assert set(accepted.escalations) == {acute, normal}
    assert accepted.escalations[acute] == 10.005
    assert accepted.failed == 1


def test_findings_add_every_kind_of_loss_and_duplicate() -> None:
    f = Findings(
        lost_reports=1,
        webhooks_missing=2,
        unpublished={"signals": 3},
        skipped={"goals.statistics": 4},
        waiting={"notifications.deliveries": 6},  # taken from Kafka (offset committed), never applied
        dlq_records=5,
        merged=1,
        webhook_ids_duplicated=2,
    )
    assert f.lost == 21
    assert f.duplicated == 3


def test_plot_is_a_png_of_the_asked_size(tmp_path: Path) -> None:
    path = plot(
        tmp_path / "p.png",
        [Panel("latency ms", [Series([(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)])])],
        width=300,
        panel_height=120,
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (300, 120)
    pixels = (matplotlib.image.imread(path)[:, :, :3] * 255).round().astype(int).tolist()
    assert any(p == [31, 119, 180] for row in pixels for p in row)  # the series' colour (tab:blue) is drawn
