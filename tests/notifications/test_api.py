"""The deliveries API: who sees what, resend, ping, validation, pagination."""

from __future__ import annotations

from uuid import uuid4

from tests.notifications.support import (
    GM,
    InternalPeers,
    Receiver,
    http_server,
    new_secret,
    partner,
    reopened,
    running,
    until,
)
from tests.support import Infra

OTHER_GM = "GM0453"


async def test_deliveries_are_visible_to_the_municipalitys_coordinators_and_the_partners_own_staff(
    infra: Infra,
) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/police")
        youth = partner(webhook_url=f"{hook}/youth")
        for p in (police, youth):
            peers.secrets[str(p.partner_id)] = [secret]
            await svc.events.send(p, source="partners")
        await svc.db.wait_for_partners(police.partner_id, youth.partner_id)
        for n in range(3):
            await svc.events.send(reopened(uuid4(), police.partner_id, n + 1))
        await svc.events.send(reopened(uuid4(), youth.partner_id, 9))
        await svc.wait_for_status("delivered", count=4)
        client = svc.client

        first = await client.get("/v1/deliveries", params={"first": 2}, headers=infra.headers("coordinator", [GM]))
        page = first.json()
        assert page["totalCount"] == 4
        assert len(page["results"]) == 2
        rest = await client.get(
            "/v1/deliveries", params={"first": 2, "after": page["next"]}, headers=infra.headers("coordinator", [GM])
        )
        assert rest.json()["next"] is None
        ids = [d["id"] for d in page["results"] + rest.json()["results"]]
        assert len(set(ids)) == 4

        batch = await client.get(
            "/v1/deliveries", params={"ids": ",".join(ids[:2])}, headers=infra.headers("coordinator", [GM])
        )
        assert sorted(d["id"] for d in batch.json()["results"]) == sorted(ids[:2])

        agent = infra.headers("partner_agent", [GM], partner_id=str(police.partner_id))
        own = (await client.get("/v1/deliveries", headers=agent)).json()
        assert own["totalCount"] == 3
        assert {d["partnerId"] for d in own["results"]} == {str(police.partner_id)}
        foreign = await client.get("/v1/deliveries", params={"partnerId": str(youth.partner_id)}, headers=agent)
        assert foreign.status_code == 403
        youth_delivery = (
            await client.get(
                "/v1/deliveries", params={"partnerId": str(youth.partner_id)}, headers=infra.headers("coordinator")
            )
        ).json()["results"][0]
        assert (await client.get(f"/v1/deliveries/{youth_delivery['id']}", headers=agent)).status_code == 404

        elsewhere = infra.headers("coordinator", [OTHER_GM])
        assert (await client.get(f"/v1/deliveries/{youth_delivery['id']}", headers=elsewhere)).status_code == 404
        assert (await client.get("/v1/deliveries", headers=elsewhere)).json()["totalCount"] == 0
        assert (await client.get("/v1/deliveries", headers=infra.headers("resident"))).status_code == 403
        assert (await client.get("/v1/deliveries")).status_code == 401

        resend_by_agent = await client.post(f"/v1/deliveries/{ids[0]}/resend", headers=agent)
        assert resend_by_agent.status_code == 403
        resend_elsewhere = await client.post(f"/v1/deliveries/{ids[0]}/resend", headers=elsewhere)
        assert resend_elsewhere.status_code == 404


async def test_invalid_filters_are_all_reported_at_once(infra: Infra) -> None:
    async with running(infra, InternalPeers()) as svc:
        r = await svc.client.get(
            "/v1/deliveries",
            params={"status": "lost", "first": 0, "after": "???", "ids": "nope"},
            headers=infra.headers("coordinator"),
        )
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert {p["name"] for p in r.json()["invalidParams"]} == {"status", "first", "after", "ids"}


async def test_a_ping_is_a_signed_webhook_sent_at_once(infra: Infra) -> None:
    secret = new_secret()
    receiver, peers = Receiver([secret]), InternalPeers()
    async with http_server(receiver) as hook, running(infra, peers) as svc:
        police = partner(webhook_url=f"{hook}/hook")
        silent = partner(email="alleen-mail@example.org")
        peers.secrets[str(police.partner_id)] = [secret]
        for p in (police, silent):
            await svc.events.send(p, source="partners")
        await svc.db.wait_for_partners(police.partner_id, silent.partner_id)

        r = await svc.client.post(f"/v1/partners/{police.partner_id}/ping", headers=infra.headers("coordinator"))
        assert r.status_code == 201, r.text
        delivery = r.json()
        assert delivery["eventType"] == "ping"
        assert delivery["status"] == "delivered"
        assert delivery["target"] == str(police.partner_id)
        [got] = receiver.received
        assert got.valid_for == [True]
        assert got.event["type"] == "nl.wijkaanpak.ping"
        assert got.event["data"] == {"partnerId": str(police.partner_id)}
        assert got.webhook_id == delivery["id"]

        own = infra.headers("integration", [GM], partner_id=str(police.partner_id))
        assert (await svc.client.post(f"/v1/partners/{police.partner_id}/ping", headers=own)).status_code == 201
        await until(lambda: len(receiver.received) == 2)
        other = infra.headers("partner_agent", [GM], partner_id=str(silent.partner_id))
        assert (await svc.client.post(f"/v1/partners/{police.partner_id}/ping", headers=other)).status_code == 403
        elsewhere = infra.headers("coordinator", [OTHER_GM])
        assert (await svc.client.post(f"/v1/partners/{police.partner_id}/ping", headers=elsewhere)).status_code == 404
        no_hook = await svc.client.post(f"/v1/partners/{silent.partner_id}/ping", headers=infra.headers("coordinator"))
        assert no_hook.status_code == 409

        key = {"Idempotency-Key": "ping-1", **infra.headers("coordinator", sub="coordinator-1")}
        once = await svc.client.post(f"/v1/partners/{police.partner_id}/ping", headers=key)
        again = await svc.client.post(f"/v1/partners/{police.partner_id}/ping", headers=key)
        assert once.json()["id"] == again.json()["id"]
        assert len(receiver.received) == 3


async def test_the_openapi_document_is_served_without_a_token_and_every_answer_names_the_api_version(
    infra: Infra,
) -> None:
    async with running(infra, InternalPeers()) as svc:
        r = await svc.client.get("/v1/openapi.json")
        assert r.status_code == 200
        paths = r.json()["paths"]
        assert {"/v1/deliveries", "/v1/deliveries/{delivery_id}/resend", "/v1/partners/{partner_id}/ping"} <= set(paths)
        assert r.headers["api-version"] == "1.0.0"
        missing = await svc.client.get(f"/v1/deliveries/{uuid4()}", headers=infra.headers("coordinator"))
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
