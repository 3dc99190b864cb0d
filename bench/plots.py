"""Line plots of a benchmark run as PNG, drawn with matplotlib (headless, Agg): one panel per
measure stacked over a shared time axis in seconds, each with its series as lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt

LINE = "tab:blue"
SECOND = "tab:red"
DPI = 100


@dataclass(frozen=True)
class Series:
    points: Sequence[tuple[float, float]]
    color: str = LINE


@dataclass(frozen=True)
class Panel:
    title: str
    series: Sequence[Series]


def plot(path: Path, panels: Sequence[Panel], width: int = 900, panel_height: int = 260) -> Path:
    """The panels, stacked, as a PNG of width x (panel_height x panels) pixels."""
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(width / DPI, panel_height * len(panels) / DPI), dpi=DPI, squeeze=False
    )
    try:
        for ax, panel in zip(axes[:, 0], panels, strict=True):
            for series in panel.series:
                ordered = sorted(series.points)
                ax.plot([x for x, _ in ordered], [y for _, y in ordered], color=series.color, linewidth=1.2)
            ax.set_title(panel.title, fontsize=9, loc="left")
            ax.set_xlabel("s", fontsize=8)
            values = [y for s in panel.series for _, y in s.points] or [0.0, 1.0]
            ax.set_ylim(min(0.0, *values), max(values) * 1.08 or 1.0)  # from 0; below when clocks are apart
            ax.grid(True, color="0.9")
            ax.tick_params(labelsize=8)
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=DPI)
    finally:
        plt.close(figure)
    return path
