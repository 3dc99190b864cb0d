"""A question to the reporters on a pinned clock (CONTRACT.md rule 5): overdue does not fire while
the question is open, a question nobody answers ends after 7 days (actor system, note "vraag
verlopen"), and the acknowledge-by deadline moves later by the time it was open. Nothing sleeps:
that something did not happen is checked once a witness, due at the same instant, shows the
periodic task ran."""

from __future__ import annotations

from datetime import timedelta

from tests.signals import test_pinned_clock as pinned_clock
from tests.signals.conftest import fresh_area
from tests.signals.test_pinned_clock import Ground, escalate, get, local, pinned, report, subjects, z
from tests.support import TopicReader

QUESTIONS = {"question_interval_seconds": 0.1}
ground = pinned_clock.ground  # the module's servers and schema, as the pinned-clock tests have them


def heard(reader: TopicReader, event_type: str, signal_id: str) -> bool:
    return any(e.type.endswith(event_type) and e.subject == signal_id for e, _, _ in reader.seen)


async def test_overdue_waits_while_the_question_is_open_and_an_unanswered_question_expires_after_7_days(
    ground: Ground,
) -> None:
    (_, asked_area), (_, witness_area) = fresh_area(), fresh_area()
    escalated_at = local("2026-12-01T10:00+01:00")
    async with pinned(ground, escalated_at, **QUESTIONS) as (app, clock):
        partner = await app.partners.publish(areas=[asked_area], minutes=60)
        await app.partners.publish(areas=[witness_area], minutes=60)
        resident = app.headers("resident")
        asked = await escalate(app, (await report(app, resident, area=asked_area))["id"])
        witness = await escalate(app, (await report(app, resident, area=witness_area))["id"])
        deadline = local("2026-12-01T11:00+01:00")
        assert asked["acknowledgeBy"] == witness["acknowledgeBy"] == z(deadline)

        asked_at = clock.advance(timedelta(minutes=20))
        agent = app.headers("partner_agent", partner_id=str(partner))
        r = await app.client.post(
            f"/v1/signals/{asked['id']}/question", json={"question": "Welke ingang?"}, headers=agent
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "reaction_requested"

        async with TopicReader(app.infra, "signal.overdue", "signal.reaction_expired") as reader:
            clock.set(deadline + timedelta(hours=1))  # both deadlines passed; one signal is paused
            await reader.until(lambda _: witness["id"] in subjects(reader))
            assert asked["id"] not in subjects(reader), "no overdue while the question is open"
            paused = await get(app, asked["id"])
            assert (paused["status"], paused["overdue"], paused["acknowledgeBy"]) == (
                "reaction_requested",
                False,
                z(deadline),
            )

            expired_at = asked_at + timedelta(days=7)
            clock.set(expired_at)
            await reader.until(lambda _: heard(reader, "signal.reaction_expired", asked["id"]))
            back = await get(app, asked["id"])
            # paused exactly 7 days: the deadline moved by that, so it lies 40 minutes ahead
            moved = deadline + timedelta(days=7)
            assert (back["status"], back["acknowledgeBy"], back["overdue"], back["question"]) == (
                "escalated",
                z(moved),
                False,
                None,
            )
            entry = back["history"][-1]
            assert (entry["action"], entry["actor"], entry["fromStatus"], entry["toStatus"], entry["note"]) == (
                "reaction_expired",
                "system",
                "reaction_requested",
                "escalated",
                "vraag verlopen",
            )
            assert [(q["question"], q["answer"]) for q in back["questions"]] == [("Welke ingang?", None)]

            clock.set(moved + timedelta(seconds=1))  # the moved deadline passes: now it is overdue, once
            await reader.until(lambda _: heard(reader, "signal.overdue", asked["id"]))
    overdue = [d for e, d, _ in reader.seen if e.subject == asked["id"] and e.type.endswith("signal.overdue")]
    assert [d.acknowledge_by for d in overdue] == [moved]
