"""The trend chart of a goal: each indicator per quarter against its target and baseline.

pygal (well kept, pure Python, SVG out) draws one line chart per indicator, since a count, a
number of minutes and a share do not share an axis; the charts are stacked in one SVG document.
"""

from __future__ import annotations

import re

import pygal
from pygal.style import Style

from services.goals.domain import Goal, Indicator, Quarter
from services.goals.domain.indicators import SHARES
from shared.events import labels
from shared.events.codes import IndicatorKind

WIDTH, HEIGHT = 800, 420
# pygal places a bottom legend at the very edge of its viewBox: give it room below, or it is cut
LEGEND_ROOM = 48

STYLE = Style(
    background="white",
    plot_background="white",
    colors=("#1f5fa8", "#2e8b57", "#888888"),
    font_family="sans-serif",
    title_font_size=18,
    legend_font_size=14,
    label_font_size=13,
    major_label_font_size=13,
)
_XML_DECLARATION = re.compile(r"^<\?xml[^>]*\?>\s*")
_VIEW_BOX = re.compile(r'viewBox="0 0 (\d+) (\d+)"')


def with_legend_room(svg: str) -> str:
    """The chart's viewBox (its first) grown by LEGEND_ROOM, so the bottom legend shows whole."""
    return _VIEW_BOX.sub(lambda m: f'viewBox="0 0 {m.group(1)} {int(m.group(2)) + LEGEND_ROOM}"', svg, count=1)


# What residents and coordinators do, not what is reported: no categories to name.
UNSCOPED = frozenset({IndicatorKind.INITIATIVES, IndicatorKind.PARTICIPANTS, IndicatorKind.MANUAL})


def indicator_title(indicator: Indicator, goal: Goal) -> str:
    if indicator.kind in UNSCOPED:
        return labels.label(indicator.kind)
    categories = indicator.categories(goal.categories)
    scope = ", ".join(labels.in_sentence(c) for c in categories) if categories else "alle categorieën"
    return f"{labels.label(indicator.kind)}: {scope}"


def _scaled(indicator: Indicator, value: float | None) -> float | None:
    if value is None:
        return None
    return round(value * 100, 1) if indicator.kind in SHARES else round(value, 1)


def _chart(goal: Goal, indicator: Indicator | None, values: list[float | None]) -> str:
    chart = pygal.Line(
        width=WIDTH,
        height=HEIGHT,
        style=STYLE,
        js=[],
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        show_minor_x_labels=True,
        dots_size=4,
        print_values=True,
        allow_interruptions=True,
        include_x_axis=True,
        no_data_text="Nog geen indicatoren",
        x_title=f"Kwartaal ({goal.year})",
    )
    quarters = Quarter.of_year(goal.year)
    chart.x_labels = [q.label for q in quarters]
    if indicator is None:
        chart.title = f"{goal.title} ({goal.area}, {goal.year})"
        return str(chart.render(is_unicode=True))
    chart.title = f"{goal.title}\n{indicator_title(indicator, goal)}"
    chart.y_title = labels.label(indicator.kind)
    chart.add("Gemeten", [_scaled(indicator, v) for v in values])
    chart.add(
        "Doel",
        [_scaled(indicator, indicator.target)] * 4,
        stroke_style={"width": 2, "dasharray": "8, 4"},
        print_values=False,
    )
    if indicator.baseline is not None:
        chart.add(
            "Nulmeting",
            [_scaled(indicator, indicator.baseline)] * 4,
            stroke_style={"width": 2, "dasharray": "2, 4"},
            print_values=False,
        )
    return str(chart.render(is_unicode=True))


def trend_svg(goal: Goal, series: list[tuple[Indicator, list[float | None]]]) -> str:
    charts = [_chart(goal, indicator, values) for indicator, values in series] or [_chart(goal, None, [])]
    slot = HEIGHT + LEGEND_ROOM
    height = slot * len(charts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}" role="img">',
        f"<title>Trend van het doel {_escape(goal.title)}</title>",
    ]
    for i, svg in enumerate(charts):
        parts.append(f'<svg x="0" y="{i * slot}" width="{WIDTH}" height="{slot}">')
        parts.append(with_legend_room(_XML_DECLARATION.sub("", svg)))
        parts.append("</svg>")
    parts.append("</svg>")
    return "\n".join(parts)


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
