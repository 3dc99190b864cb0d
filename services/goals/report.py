"""The printable review of an area and quarter: one self-contained Dutch HTML page (charts drawn
inline as SVG, no script, no further request), readable on A4 and on a screen; and its figures as
CSV. Drawn from the review as `review_handlers` shows it (frozen once held)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html import escape
from typing import Any
from uuid import UUID

import pygal

from services.goals.chart import STYLE, trend_svg, with_legend_room
from services.goals.domain import Goal, Indicator, Quarter
from shared.events import labels
from shared.events.codes import Category

_XML_DECLARATION = re.compile(r"^<\?xml[^>]*\?>\s*")
_SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)  # pygal's config for its (unused) interactivity


def _inline(svg: str) -> str:
    """An SVG fit to inline in the page: no XML declaration, no script."""
    return _SCRIPT.sub("", _XML_DECLARATION.sub("", svg))


ASSESSMENT = {"on_track": "Op koers", "at_risk": "Risico", "off_track": "Niet op koers"}
DECISION = {"continue": "Doorgaan", "adjust": "Bijstellen", "replace": "Vervangen", "achieved": "Behaald"}
AGREEMENT = {"open": "Open", "done": "Afgerond", "dropped": "Vervallen"}
GOAL_STATUS = {"active": "Actief", "achieved": "Behaald", "dropped": "Vervallen"}


@dataclass(frozen=True)
class Report:
    review: dict[str, Any]
    names: dict[str, str]  # partner id -> name
    goals: list[tuple[Goal, list[tuple[Indicator, list[float | None]]]]]

    def name(self, partner_id: str) -> str:
        return self.names.get(partner_id) or "Onbekende partner"


def _quarter_label(text: str) -> str:
    return Quarter.parse(text).label


def area_chart(review: dict[str, Any]) -> str:
    """Signals per category over the last six quarters (rejected and merged ones not counted)."""
    history = review.get("history") or []
    chart = pygal.Line(
        width=800,
        height=400,
        style=STYLE,
        js=[],
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        dots_size=4,
        include_x_axis=True,
        no_data_text="Geen meldingen",
        x_title="Kwartaal",
        y_title="Aantal meldingen",
    )
    chart.title = f"Meldingen per categorie, {review['area']}"
    chart.x_labels = [_quarter_label(h["quarter"]) for h in history]
    totals = [sum(h["counts"].values()) for h in history]
    chart.add("Totaal", totals, stroke_style={"width": 3})
    for category in Category:
        values = [h["counts"].get(category.value, 0) for h in history]
        if any(values):
            chart.add(labels.label(category), values)
    return _inline(with_legend_room(str(chart.render(is_unicode=True))))


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="leeg">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


_CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: sans-serif; color: #222; max-width: 190mm; margin: 0 auto; padding: 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #1f5fa8; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; }
.meta { color: #555; }
.status { display: inline-block; padding: 0.1em 0.6em; border-radius: 0.3em; background: #e8eef7; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.n, th.n { text-align: right; }
.grafiek > svg { width: 100%; height: auto; }
.leeg { color: #777; font-style: italic; }
section { page-break-inside: avoid; }
.doel { page-break-inside: avoid; }
@media print { body { padding: 0; } h2 { page-break-after: avoid; } }
"""


def render_html(report: Report) -> str:
    r = report.review
    quarter = _quarter_label(r["quarter"])
    status = f"Gehouden op {r['heldAt'][:10]}" if r["status"] == "held" else "Nog niet gehouden"
    if r.get("partial"):
        status += " · het kwartaal loopt nog: cijfers zijn voorlopig"
    trends = [
        [labels.label(t["category"]), str(t["count"]), str(t["previous"]), str(last["count"])]
        for t, last in zip(r["trends"], r["sameQuarterLastYear"], strict=True)
        if t["count"] or t["previous"] or last["count"]
    ]
    partners = [
        [
            report.name(p["partnerId"]),
            str(p["escalated"]),
            f"{p['acknowledgedInTime']} ({_share(p['acknowledgedInTime'], p['escalated'])})",
            _number(p["medianAcknowledgeMinutes"]),
            str(p["resolved"]),
            str(p["withFeedback"]),
            str(p["rated"]),
            f"{p['satisfied']} ({_share(p['satisfied'], p['rated'])})",
        ]
        for p in r["partners"]
    ]
    cooperation = [
        [report.name(c["fromPartnerId"]), report.name(c["toPartnerId"]), f"{c['score']} / 5", c.get("comment") or ""]
        for c in r["cooperation"]
    ]
    agreements = [
        [
            a["text"],
            report.name(a["ownerPartnerId"]),
            _quarter_label(a["madeIn"]),
            _quarter_label(a["dueQuarter"]),
            AGREEMENT.get(a["status"], a["status"]),
        ]
        for a in r["agreements"]
    ]
    reviews = {g["goalId"]: g for g in r["goalReviews"]}
    goal_parts = []
    for goal, series in report.goals:
        review = reviews.get(str(goal.id))
        verdict = (
            f"<p>Beoordeling {escape(quarter)}: <strong>{escape(ASSESSMENT.get(review['assessment'], ''))}</strong>,"
            f" besluit: <strong>{escape(DECISION.get(review['decision'], ''))}</strong>."
            + (f" {escape(review['notes'])}" if review.get("notes") else "")
            + "</p>"
            if review
            else '<p class="leeg">Dit kwartaal nog niet beoordeeld.</p>'
        )
        goal_parts.append(
            f'<div class="doel"><h3>{escape(goal.title)} ({escape(goal.area)},'
            f" {escape(GOAL_STATUS.get(goal.status.value, goal.status.value))})</h3>{verdict}"
            f'<div class="grafiek">{_inline(trend_svg(goal, series))}</div></div>'
        )
    notes = f"<p>{escape(r['notes'])}</p>" if r.get("notes") else ""
    return f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kwartaaloverleg {escape(r["area"])} {escape(quarter)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>Kwartaaloverleg {escape(r["area"])}, {escape(quarter)}</h1>
<p class="meta"><span class="status">{escape(status)}</span></p>
{notes}
</header>
<section id="trends">
<h2>Trends</h2>
<div class="grafiek">{area_chart(r)}</div>
{
        _table(
            ["Categorie", f"Meldingen {quarter}", "Kwartaal ervoor", "Zelfde kwartaal vorig jaar"],
            trends,
            "Geen meldingen in deze periode.",
        )
    }
</section>
<section id="partners">
<h2>Aansluiten per partner</h2>
{
        _table(
            [
                "Partner",
                "Doorgezet",
                "Op tijd bevestigd",
                "Mediaan minuten",
                "Opgelost",
                "Met terugkoppeling",
                "Beoordeeld",
                "Tevreden",
            ],
            partners,
            "Geen meldingen doorgezet in dit kwartaal.",
        )
    }
</section>
<section id="samenwerking">
<h2>Samenwerking</h2>
{_table(["Van", "Over", "Score", "Toelichting"], cooperation, "Nog geen scores gegeven.")}
</section>
<section id="afspraken">
<h2>Afspraken</h2>
{_table(["Afspraak", "Eigenaar", "Gemaakt", "Klaar in", "Status"], agreements, "Geen afspraken.")}
</section>
<section id="doelen">
<h2>Doelen</h2>
{"".join(goal_parts) or '<p class="leeg">Geen doelen voor dit gebied.</p>'}
</section>
</body>
</html>
"""


class _SafeWriter:
    """Cells a spreadsheet would run as a formula (=, +, -, @ first) are written as text."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: list[object]) -> None:
        self.writer.writerow([f"'{c}" if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row])


def render_csv(report: Report) -> str:
    """The figures in long form: section, subject, measure, value (one row each)."""
    r = report.review
    out = io.StringIO()
    writer = _SafeWriter(csv.writer(out, lineterminator="\r\n"))
    writer.writerow(["onderdeel", "onderwerp", "kenmerk", "waarde"])
    writer.writerow(["overleg", r["area"], "kwartaal", r["quarter"]])
    writer.writerow(["overleg", r["area"], "status", r["status"]])
    for name, rows in (("trend", r["trends"]), ("zelfde kwartaal vorig jaar", r["sameQuarterLastYear"])):
        for t in rows:
            writer.writerow([name, t["category"], "aantal", t["count"]])
            writer.writerow([name, t["category"], "kwartaal ervoor", t["previous"]])
    fields = (
        "escalated",
        "acknowledgedInTime",
        "medianAcknowledgeMinutes",
        "resolved",
        "withFeedback",
        "rated",
        "satisfied",
    )
    for p in r["partners"]:
        for field in fields:
            value = p[field]
            writer.writerow(["partner", report.name(p["partnerId"]), field, "" if value is None else value])
    for c in r["cooperation"]:
        subject = f"{report.name(c['fromPartnerId'])} -> {report.name(c['toPartnerId'])}"
        writer.writerow(["samenwerking", subject, "score", c["score"]])
    for a in r["agreements"]:
        writer.writerow(["afspraak", a["id"], "status", a["status"]])
        writer.writerow(["afspraak", a["id"], "eigenaar", report.name(a["ownerPartnerId"])])
        writer.writerow(["afspraak", a["id"], "klaar in", a["dueQuarter"]])
    for g in r["goalReviews"]:
        writer.writerow(["doelbeoordeling", g["goalId"], "beoordeling", g["assessment"]])
        writer.writerow(["doelbeoordeling", g["goalId"], "besluit", g["decision"]])
    return out.getvalue()


def partner_ids(review: dict[str, Any]) -> list[UUID]:
    """Every partner the review names."""
    found: set[str] = {p["partnerId"] for p in review["partners"]}
    for c in review["cooperation"]:
        found.update((c["fromPartnerId"], c["toPartnerId"]))
    found.update(a["ownerPartnerId"] for a in review["agreements"])
    return [UUID(p) for p in sorted(found)]
