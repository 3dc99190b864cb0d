"""Figures with their conditions: medians, p99, the machine, and the raw baseline beside each."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Figure:
    section: str
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    concurrency: int | None = None
    p99: float | None = None
    aim: str = ""
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.baseline is None:
            return None
        return self.value / self.baseline


@dataclass
class Report:
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(f"[bench] {figure.section}: {figure.name} = {figure.value:,.1f} {figure.unit}", flush=True)

    def machine(self) -> dict[str, Any]:
        load = os.getloadavg()
        return {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": [round(x, 2) for x in load],
            "date": self.started,
        }

    def table(self) -> str:
        head = f"{'section':<14} {'figure':<44} {'value':>12} {'unit':<8} {'p99':>9} {'baseline':>12} {'ratio':>6}  aim"
        lines = [head, "-" * len(head)]
        for f in self.figures:
            p99 = f"{f.p99:,.1f}" if f.p99 is not None else ""
            base = f"{f.baseline:,.1f}" if f.baseline is not None else ""
            ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
            lines.append(
                f"{f.section:<14} {f.name:<44} {f.value:>12,.1f} {f.unit:<8} {p99:>9} {base:>12} {ratio:>6}  {f.aim}"
            )
        m = self.machine()
        lines.append(f"machine: {m['cores']} cores, load {m['load_average']}, {m['platform']}, {m['date']}")
        return "\n".join(lines)

    def write(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
        body = {"machine": self.machine(), "figures": [asdict(f) | {"ratio": f.ratio} for f in self.figures]}
        path.write_text(json.dumps(body, indent=2))
        return path
