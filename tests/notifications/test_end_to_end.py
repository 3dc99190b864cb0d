"""Partners, signals and notifications together, on the real PostgreSQL and Kafka: an escalation
made through the API reaches the partner's webhook signed and once; feedback reaches the
reporter by e-mail, the address read from signals at send time."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from services.notifications.app import create_app
from services.partners.app import Settings as PartnersSettings
from services.partners.app import create_app as partners_app
from services.signals.app import Settings as SignalsSettings
from services.signals.app import create_app as signals_app
from tests.notifications.support import (
    GM,
    Receiver,
    http_server,
    own_topics,
    settings,
    smtp_server,
    until,
)
from tests.support import Infra, eventually, serve

WK, BU = "WK047977", "BU04797701"


async def test_an_escalation_through_the_api_reaches_the_partner_signed_and_feedback_reaches_the_reporter(
    infra: Infra,
) -> None:
    async with own_topics(infra, every_type=True) as prefix:
        await _escalate_and_resolve(infra, prefix)


async def _escalate_and_resolve(infra: Infra, prefix: str) -> None:
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
            s = settings(infra, prefix, "unused", service_urls_partners=partners_url, service_urls_signals=signals_url)
            s = s.model_copy(update={"smtp_port": smtp_port})
            async with serve(create_app(s)) as notifications:
                registered = await http.post(
                    f"{partners_url}/v1/partners",
                    headers=coordinator,
                    json={
                        "name": f"Wijkagenten {secrets.token_hex(3)}",
                        "kind": "police",
                        "municipalities": [GM],
                        "areas": [WK],
                        "categories": ["vandalism"],
                        "acknowledgeWithinMinutes": 60,
                        "webhookUrl": f"{hook}/wijkaanpak",
                    },
                )
                assert registered.status_code == 201, registered.text
                partner_id = registered.json()["partner"]["id"]
                receiver.secrets.append(registered.json()["webhookSecret"])

                resident = infra.headers("resident", [GM], sub="resident-e2e")
                report = {
                    "municipality": GM,
                    "area": BU,
                    "category": "vandalism",
                    "urgency": "normal",
                    "description": "Bushokje vernield bij de school",
                    "contactEmail": "bewoner@example.org",
                }

                reported = await http.post(f"{signals_url}/v1/signals", headers=resident, json=report)
                assert reported.status_code == 201, reported.text
                signal_id = reported.json()["signal"]["id"]

                async def escalated() -> bool:
                    r = await http.post(
                        f"{signals_url}/v1/signals/{signal_id}/escalation",
                        headers=coordinator,
                        json={"partnerId": partner_id},
                    )
                    return r.status_code == 200

                await eventually(escalated)
                await until(lambda: len(receiver.delivered()) >= 1)
                [webhook] = receiver.received
                assert webhook.valid_for == [True]
                assert webhook.event["type"] == "nl.wijkaanpak.signal.escalated"
                assert webhook.event["data"]["signalId"] == signal_id
                assert webhook.event["data"]["partnerId"] == partner_id
                assert "Bushokje" not in webhook.body.decode()

                agent = infra.headers("partner_agent", [GM], partner_id=partner_id)
                ack = await http.post(
                    f"{signals_url}/v1/signals/{signal_id}/acknowledgement",
                    headers=agent,
                    json={"message": "We komen morgen kijken."},
                )
                assert ack.status_code == 200, ack.text

                async def both_delivered() -> bool:
                    listed = await notifications.get(
                        "/v1/deliveries", params={"signalId": signal_id}, headers=coordinator
                    )
                    targets = sorted((d["target"], d["eventType"], d["status"]) for d in listed.json()["results"])
                    return targets == sorted(
                        [
                            (partner_id, "signal.escalated", "delivered"),
                            ("reporter", "signal.escalated", "delivered"),
                            ("reporter", "signal.acknowledged", "delivered"),
                        ]
                    )

                # barrier: each event's deliveries are planned together, and a delivered one is never
                # sent again (its webhook or mail arrived before that was recorded): nothing more comes
                await eventually(both_delivered)
                # the reporter hears both steps: forwarded, then taken on
                assert [rcpt for rcpt, _ in mailbox.messages] == [["bewoner@example.org"]] * 2
                subjects = sorted(mail["Subject"] for _, mail in mailbox.messages)
                assert subjects[0].startswith("Uw melding SIG-") and subjects[0].endswith("is doorgestuurd")
                assert subjects[1].startswith("Uw melding SIG-") and subjects[1].endswith("is in behandeling")
                assert len(receiver.received) == 1
