"""What a merge tells the duplicate's reporter about a neighbour's report (issue 18, item 3; Rules
1-2): that it exists, its reference, status, report count and the feedback written since; not when
it was reported, how urgent it was or through which channel."""

from __future__ import annotations

from tests.signals.conftest import SignalsApp


async def test_the_duplicates_reporter_learns_nothing_of_when_how_urgent_or_through_which_channel(
    app: SignalsApp, area: tuple[str, str]
) -> None:
    _, bu = area
    neighbour = app.headers("resident")
    first = await app.report(neighbour, area=bu, urgency="high", source="web", description="buurman nr 5 ...")
    assert first.status_code == 201, first.text
    reporter = app.headers("resident")
    second = await app.report(reporter, area=bu, urgency="low", source="app", description="ook gezien")
    assert second.status_code == 201 and second.json()["duplicate"] is True
    own = second.json()["signal"]

    read = (await app.client.get(f"/v1/signals/{own['id']}", headers=reporter)).json()
    original = read["original"]
    assert original["id"] == first.json()["signal"]["id"]
    assert original["reference"] == first.json()["signal"]["reference"]
    assert original["reportCount"] == 2 and original["description"] is None
    assert (original["urgency"], original["source"], original["reportedAt"]) == ("low", "app", own["reportedAt"])
    assert first.json()["signal"]["reportedAt"] != own["reportedAt"]
