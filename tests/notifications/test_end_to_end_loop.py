"""The loop back to reporters with the real signals and partners services, PostgreSQL and Kafka:
a report merged at intake tells its reporter which signal it joined (its `signal.received` and
`signal.merged` leave together, on two topics), and a rejection reaches the reporters by e-mail
and the WhatsApp group that reported it by its signed webhook, without the reason."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from services.notifications.app import create_app
from services.partners.app import Settings as PartnersSettings
from services.partners.app import create_app as partners_app
from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app as signals_app
from tests.notifications.support import GM, Receiver, http_server, own_topics, settings, smtp_server
from tests.support import Infra, eventually, serve

WK, BU = "WK047978", "BU04797801"
REASON = "Dit is geen zaak voor de wijkaanpak"


async def test_a_merged_report_names_its_original_and_a_rejection_reaches_reporters_and_group(infra: Infra) -> None:
    async with own_topics(infra, every_type=True) as prefix:
        common: dict[str, Any] = {
            "topic_prefix": prefix,
            "consumer_group_prefix": prefix,
            "secrets_key": secrets.token_urlsafe(32),
        }
        partners_settings = infra.settings(
            PartnersSettings,
            db_schema=f"partners_{secrets.token_hex(3)}",
            webhook_allowed_hosts="127.0.0.1",
            webhook_allow_http_on_allowed=True,
            **common,
        )
        signals_settings = infra.settings(SignalsSettings, db_schema=f"signals_{secrets.token_hex(3)}", **common)
        receiver = Receiver([])
        coordinator = infra.headers("coordinator", [GM])
        with smtp_server() as (mailbox, smtp_port):
            async with (
                http_server(receiver) as hook,
                http_server(partners_app(partners_settings), lifespan=True) as partners_url,
                http_server(signals_app(signals_settings), lifespan=True) as signals_url,
                httpx.AsyncClient() as http,
            ):
                s = settings(
                    infra, prefix, "unused", service_urls_partners=partners_url, service_urls_signals=signals_url
                )
                s = s.model_copy(update={"smtp_port": smtp_port})
                async with serve(create_app(s)) as notifications:
                    registered = await http.post(
                        f"{partners_url}/v1/partners",
                        headers=coordinator,
                        json={
                            "name": f"Buurtapp {secrets.token_hex(3)}",
                            "kind": "whatsapp_group",
                            "municipalities": [GM],
                            "areas": [BU],
                            "categories": [],
                            "webhookUrl": f"{hook}/buurtapp",
                        },
                    )
                    assert registered.status_code == 201, registered.text
                    group_id = registered.json()["partner"]["id"]
                    receiver.secrets.append(registered.json()["webhookSecret"])

                    report = {"municipality": GM, "area": BU, "category": "vandalism", "urgency": "normal"}
                    admin = infra.headers("group_admin", [GM], sub="admin-e2e", partner_id=group_id)
                    answers: list[httpx.Response] = []

                    async def reported() -> bool:  # once signals has the group from partner events
                        r = await http.post(
                            f"{signals_url}/v1/signals",
                            headers=admin,
                            json=report
                            | {
                                "description": "Bankje vernield",
                                "groupId": group_id,
                                "contactEmail": "admin@example.org",
                            },
                        )
                        answers.append(r)
                        return r.status_code == 201

                    await eventually(reported)
                    first = answers[-1]
                    assert first.status_code == 201, first.text
                    original = first.json()["signal"]
                    resident = infra.headers("resident", [GM], sub="resident-e2e-2")
                    second = await http.post(
                        f"{signals_url}/v1/signals",
                        headers=resident,
                        json=report | {"description": "Bank kapot", "contactEmail": "buur@example.org"},
                    )
                    assert second.status_code == 201, second.text
                    assert second.json()["duplicate"] is True
                    duplicate = second.json()["signal"]

                    async def delivered(signal_id: str, count: int) -> list[dict[str, Any]] | None:
                        listed = await notifications.get(
                            "/v1/deliveries", params={"signalId": signal_id}, headers=coordinator
                        )
                        rows: list[dict[str, Any]] = listed.json()["results"]
                        done = [d for d in rows if d["status"] == "delivered"]
                        return rows if len(rows) == count and len(done) == count else None

                    async def merged_told() -> bool:
                        return await delivered(duplicate["id"], 1) is not None

                    # barrier: the merge's one delivery (its reporter) is delivered, after the mail arrived
                    await eventually(merged_told, timeout=30)
                    [(rcpt, mail)] = mailbox.messages
                    assert rcpt == ["buur@example.org"]
                    assert mail["Subject"] == f"Uw melding {duplicate['reference']} is samengevoegd"
                    assert f"melding {original['reference']}" in mail.get_content()

                    rejected = await http.post(
                        f"{signals_url}/v1/signals/{original['id']}/rejection",
                        headers=coordinator,
                        json={"reason": REASON},
                    )
                    assert rejected.status_code == 200, rejected.text

                    async def rejection_told() -> bool:
                        return await delivered(original["id"], 2) is not None

                    # barrier: the rejection's deliveries (the reporters, the group's webhook) are delivered
                    await eventually(rejection_told, timeout=30)
                    listed = await delivered(original["id"], 2)
                    assert listed is not None
                    assert sorted(d["target"] for d in listed) == sorted(["reporter", group_id])
                    told = {rcpt[0]: m for rcpt, m in mailbox.messages[1:]}
                    # the reporters of the signal and of the report merged into it
                    assert set(told) == {"admin@example.org", "buur@example.org"}
                    subject = f"Uw melding {original['reference']} is niet in behandeling genomen"
                    assert all(m["Subject"] == subject for m in told.values())
                    assert all(REASON not in m.get_content() for m in told.values())
                    [webhook] = receiver.received
                    assert webhook.valid_for == [True]
                    assert webhook.event["type"] == "nl.wijkaanpak.signal.rejected"
                    assert webhook.event["data"]["status"] == "rejected"
                    assert REASON not in webhook.body.decode() and "Bankje" not in webhook.body.decode()
