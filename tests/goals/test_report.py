"""The printable review is drawn from the review alone (pure): its texts escaped, no script, the
area's chart from its history, and a CSV no spreadsheet runs as formulas."""

from __future__ import annotations

import csv
import io
from typing import Any

from services.goals.report import Report, render_csv, render_html

EVIL = "<script>alert(1)</script>"


def review() -> dict[str, Any]:
    counts = {"category": "youth_nuisance", "count": 3, "previous": 1}
    return {
        "area": "WK047912",
        "quarter": "2026-Q4",
        "status": "held",
        "partial": False,
        "notes": EVIL,
        "heldAt": "2026-12-20T10:00:00Z",
        "trends": [counts],
        "sameQuarterLastYear": [{**counts, "count": 5}],
        "history": [
            {"quarter": "2026-Q3", "counts": {"youth_nuisance": 1}},
            {"quarter": "2026-Q4", "counts": {"youth_nuisance": 3}},
        ],
        "partners": [
            {
                "partnerId": "p",
                "escalated": 4,
                "acknowledgedInTime": 3,
                "medianAcknowledgeMinutes": 12.5,
                "resolved": 2,
                "withFeedback": 1,
                "rated": 2,
                "satisfied": 1,
            }
        ],
        "cooperation": [{"fromPartnerId": "g", "toPartnerId": "p", "score": 2, "comment": EVIL}],
        "agreements": [
            {
                "id": "a",
                "area": "WK047912",
                "text": EVIL,
                "ownerPartnerId": "p",
                "madeIn": "2026-Q4",
                "dueQuarter": "2027-Q1",
                "status": "open",
            }
        ],
        "goalReviews": [],
    }


def test_the_page_escapes_every_text_and_carries_no_script() -> None:
    page = render_html(Report(review(), {"p": "Politie", "g": "=cmd|' /C calc'!A0"}, []))
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Kwartaaloverleg WK047912, K4 2026" in page and "Gehouden op 2026-12-20" in page
    assert "3 (75%)" in page and "12,5" in page and "1 (50%)" in page
    assert page.count("<svg") == 1 and "Overlast door jongeren" in page


def test_the_csv_has_the_figures_and_no_formulas() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(Report(review(), {"p": "Politie", "g": "=cmd"}, [])))))
    assert ["trend", "youth_nuisance", "aantal", "3"] in rows
    assert ["zelfde kwartaal vorig jaar", "youth_nuisance", "aantal", "5"] in rows
    assert ["partner", "Politie", "medianAcknowledgeMinutes", "12.5"] in rows
    assert ["samenwerking", "'=cmd -> Politie", "score", "2"] in rows
    assert EVIL not in str(rows)  # free texts (comments, agreements' texts, notes) stay on the page
