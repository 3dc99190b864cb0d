"""A proposer hears the decision on their proposal, with the real goals service: goals emits
`goal.proposal_decided` through its outbox onto Kafka, notifications plans the `proposer`
delivery and, at send time, reads the address from goals' `GET /internal/v1/goal-proposals/{id}/contact`
with its own service token; the mail reaches a real SMTP server. Real PostgreSQL and Kafka."""

from __future__ import annotations

import secrets

import httpx
import orjson

from services.goals.app import Settings as GoalsSettings
from services.goals.app import create_app as create_goals
from services.notifications.app import create_app as create_notifications
from tests.notifications.support import (
    GM,
    Db,
    Events,
    InternalPeers,
    Running,
    http_server,
    own_topics,
    settings,
    smtp_server,
)
from tests.support import Infra, serve

REASON = "Past niet bij de wijkaanpak"


async def test_a_declined_proposal_is_told_to_its_proposer_with_the_address_goals_opens_for_notifications(
    infra: Infra,
) -> None:
    peers = InternalPeers()  # partners and signals: not asked here
    email = f"voorsteller-{secrets.token_hex(3)}@example.org"
    with smtp_server() as (mailbox, port):
        async with own_topics(infra, every_type=True) as prefix, http_server(peers) as peers_url:
            tag = secrets.token_hex(3)
            goals_settings = infra.settings(
                GoalsSettings,
                db_schema=f"goals_{tag}",
                topic_prefix=prefix,
                consumer_group_prefix=f"{prefix}g{tag}.",
                relay_poll_seconds=0.2,
                secrets_key=secrets.token_urlsafe(32),
                resident_ref_key=secrets.token_urlsafe(32),
            )
            async with http_server(create_goals(goals_settings), lifespan=True) as goals_url:
                s = settings(infra, prefix, peers_url, service_urls_goals=goals_url, smtp_port=port)
                async with (
                    serve(create_notifications(s)) as client,
                    Events(infra, prefix) as events,
                    httpx.AsyncClient(base_url=goals_url) as goals,
                ):
                    svc = Running(client, events, Db(infra, s.db_schema_name), prefix, s, infra)
                    body = {"municipality": GM, "area": "WK047913", "year": 2027, "title": "Meer groen"}
                    r = await goals.post(
                        "/v1/goal-proposals",
                        json={**body, "contactEmail": email},
                        headers=infra.headers("resident", sub="resident-voorsteller"),
                    )
                    assert r.status_code == 201, r.text
                    proposal_id = r.json()["id"]
                    declined = await goals.post(
                        f"/v1/goal-proposals/{proposal_id}/decline",
                        json={"reason": REASON},
                        headers=infra.headers("coordinator"),
                    )
                    assert declined.status_code == 200, declined.text

                    [delivery] = await svc.wait_for_status("delivered", count=1, timeout=60)
                    assert (delivery["target"], delivery["channel"], delivery["eventType"]) == (
                        "proposer",
                        "email",
                        "goal.proposal_decided",
                    )
                    [(rcpt, mail)] = mailbox.messages
                    assert rcpt == [email]
                    assert mail["Subject"] == "Er is een besluit over uw voorstel"
                    content = mail.get_content()
                    assert f"https://gateway.example.nl/v1/goal-proposals/{proposal_id}" in content
                    assert REASON not in content and "afgewezen" not in content
                    assert email not in orjson.dumps(await svc.deliveries()).decode()
