"""Rating within 14 days of the resolution, on a pinned clock (CONTRACT.md "The loop back to
reporters"): the last second of the window is in, a second later is CONFLICT; `satisfied` is
required."""

from __future__ import annotations

from datetime import timedelta

from tests.signals import test_pinned_clock as pinned_clock
from tests.signals.conftest import fresh_area
from tests.signals.test_pinned_clock import Ground, escalate, local, pinned, report, resolve

ground = pinned_clock.ground  # the module's servers and schema, as the pinned-clock tests have them


async def test_a_reporter_rates_within_14_days_of_the_latest_resolution(ground: Ground) -> None:
    _, bu = fresh_area()
    resolved_at = local("2026-11-02T09:00+01:00")
    async with pinned(ground, resolved_at) as (app, clock):
        partner = await app.partners.publish(areas=[bu], minutes=60)
        resident = app.headers("resident")
        sid = (await escalate(app, (await report(app, resident, area=bu))["id"]))["id"]
        await resolve(app, sid, partner)

        async def rate(satisfied: bool) -> int:
            r = await app.client.post(f"/v1/signals/{sid}/rating", json={"satisfied": satisfied}, headers=resident)
            return r.status_code

        clock.set(resolved_at + timedelta(days=14))
        assert await rate(False) == 200
        clock.set(resolved_at + timedelta(days=14, seconds=1))
        assert await rate(True) == 409
        r = await app.client.post(f"/v1/signals/{sid}/rating", json={"comment": ""}, headers=resident)
        assert (r.status_code, [p["name"] for p in r.json()["invalidParams"]]) == (400, ["satisfied"])
        mine = (await app.client.get(f"/v1/signals/{sid}", headers=resident)).json()["myRating"]
        assert mine["satisfied"] is False
