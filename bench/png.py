"""Line plots as PNG without matplotlib: a raster drawn in pure Python, written with zlib + struct.

matplotlib is not installed (and no package may be added); pygal writes SVG only and cairosvg
is not there to turn it into PNG. A stall shows as well in a plain raster: each panel has its
series as a line, a light grid, and its axis ranges written with a 3x5 pixel font.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
GRID: Color = (225, 225, 225)
AXIS: Color = (60, 60, 60)
LINE: Color = (31, 119, 180)
SECOND: Color = (214, 39, 40)

_FONT = {  # 3x5 glyphs, rows top to bottom, 3 bits each
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0),
    " ": (0, 0, 0, 0, 0), "m": (0, 0, 7, 7, 5), "s": (0, 3, 6, 3, 6), "/": (1, 1, 2, 4, 4),
    "p": (0, 7, 5, 7, 4), "t": (2, 7, 2, 2, 3), "x": (0, 5, 2, 2, 5), "r": (0, 6, 5, 4, 4),
    "e": (0, 7, 7, 4, 7), "q": (0, 7, 5, 7, 1), "a": (0, 7, 1, 7, 7), "l": (4, 4, 4, 4, 6),
    "y": (5, 5, 7, 1, 7), "c": (0, 7, 4, 4, 7), "n": (0, 6, 5, 5, 5), "i": (2, 0, 2, 2, 2),
    "h": (4, 4, 7, 5, 5), "o": (0, 7, 5, 5, 7), "u": (0, 5, 5, 5, 7), "g": (0, 7, 5, 7, 7),
    "k": (4, 5, 6, 5, 5), "w": (0, 5, 5, 7, 7), "d": (1, 1, 7, 5, 7), "b": (4, 4, 7, 5, 7),
    "f": (3, 4, 6, 4, 4), "v": (0, 5, 5, 5, 2), "(": (1, 2, 2, 2, 1),
    ")": (4, 2, 2, 2, 4), ",": (0, 0, 0, 2, 4), ":": (0, 2, 0, 2, 0), "%": (5, 1, 2, 4, 5),
}  # fmt: skip


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(WHITE * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Bresenham."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.set(x0, y0, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, value: str, color: Color = AXIS, scale: int = 2) -> None:
        for n, char in enumerate(value.lower()):
            rows = _FONT.get(char, _FONT[" "])
            for r, bits in enumerate(rows):
                for c in range(3):
                    if bits & (4 >> c):
                        for a in range(scale):
                            for b in range(scale):
                                self.set(x + n * 4 * scale + c * scale + a, y + r * scale + b, color)

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * self.width * 3 : (y + 1) * self.width * 3]) for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
        )


@dataclass(frozen=True)
class Series:
    points: Sequence[tuple[float, float]]
    color: Color = LINE


@dataclass(frozen=True)
class Panel:
    title: str
    series: Sequence[Series]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def draw(canvas: Canvas, panel: Panel, top: int, height: int, left: int = 70, right: int = 20) -> None:
    points = [p for s in panel.series for p in s.points]
    x_min = min((x for x, _ in points), default=0.0)
    x_max = max((x for x, _ in points), default=1.0)
    y_min = min(0.0, min((y for _, y in points), default=0.0))  # below 0 shows (e.g. clocks apart)
    y_max = max((y for _, y in points), default=1.0) or 1.0
    x_max = x_max if x_max > x_min else x_min + 1
    plot_top, plot_bottom = top + 24, top + height - 22
    plot_right = canvas.width - right

    def px(x: float) -> int:
        return left + round((x - x_min) / (x_max - x_min) * (plot_right - left))

    def py(y: float) -> int:
        return plot_bottom - round((y - y_min) / (y_max - y_min) * (plot_bottom - plot_top))

    for k in range(5):
        y = plot_top + k * (plot_bottom - plot_top) // 4
        canvas.line(left, y, plot_right, y, GRID)
        canvas.text(4, y - 5, _fmt(y_min + (y_max - y_min) * (4 - k) / 4))
    canvas.line(left, plot_top, left, plot_bottom, AXIS)
    canvas.line(left, plot_bottom, plot_right, plot_bottom, AXIS)
    canvas.text(left, top + 4, panel.title)
    canvas.text(left, plot_bottom + 6, _fmt(x_min) + " s")
    canvas.text(plot_right - 60, plot_bottom + 6, _fmt(x_max) + " s")
    for series in panel.series:
        ordered = sorted(series.points)
        for (xa, ya), (xb, yb) in itertools.pairwise(ordered):
            canvas.line(px(xa), py(ya), px(xb), py(yb), series.color)
        if len(ordered) == 1:
            canvas.set(px(ordered[0][0]), py(ordered[0][1]), series.color)


def plot(path: Path, panels: Sequence[Panel], width: int = 900, panel_height: int = 260) -> Path:
    canvas = Canvas(width, panel_height * len(panels))
    for n, panel in enumerate(panels):
        draw(canvas, panel, n * panel_height, panel_height)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canvas.png())
    return path
