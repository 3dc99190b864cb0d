"""A stored idempotent answer keeps ids only: no description, location, contact or reporter
(issue 18, item 2). A replay shows the signal as it is now, to whom may see it."""

from __future__ import annotations

import json

from tests.signals.conftest import SignalsApp


async def test_the_stored_answer_of_a_report_keeps_no_personal_data(app: SignalsApp, area: tuple[str, str]) -> None:
    _, bu = area
    sub = "resident-idem-privacy"
    resident = {**app.headers("resident", sub=sub), "Idempotency-Key": "privacy-1"}
    fields = {
        "area": bu,
        "description": "De buurman op nummer 12 zet zijn brommer op de stoep",
        "lat": 52.0812,
        "lon": 4.3012,
        "contactEmail": "melder@example.nl",
        "clientRequestId": "privacy-app-1",
    }
    first = await app.report(resident, **fields)
    assert first.status_code == 201
    signal_id = first.json()["signal"]["id"]

    rows = await app.sql("SELECT key, response FROM idempotency_keys WHERE scope = $1", f"signals.intake:{sub}")
    assert {r["key"] for r in rows} == {"key:privacy-1", "client:privacy-app-1"}
    for row in rows:
        stored = row["response"]
        assert json.loads(stored) == {"signalId": signal_id, "duplicate": False}
        for personal in ("brommer", "52.08", "4.30", "melder@example.nl", sub):
            assert personal not in stored

    again = await app.report(resident, **fields)
    assert again.status_code == 201
    assert again.json()["signal"]["id"] == signal_id
    assert again.json()["signal"]["description"] == fields["description"]  # the reporter reads it now
    assert again.json()["duplicate"] is False and again.json()["advice"] == first.json()["advice"]
