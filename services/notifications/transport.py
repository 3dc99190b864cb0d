"""How a delivery goes out: a signed webhook POST (httpx) or an e-mail (SMTP), one send each.

Webhooks: the url is checked again at send time and the request goes to the address that was
checked (the name kept for Host and TLS), signed with every valid secret (Standard Webhooks).
E-mail to reporters, initiative leaders and proposers: their addresses are read from signals,
neighbourhoods and goals at send time, never stored.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks import Webhook

from services.notifications import domain
from services.notifications.domain import Channel, Delivery, Mail, Outcome, PartnerChannels
from services.notifications.peers import Peers, PeerUnavailable
from shared.ssrf import UnsafeUrl, check_webhook_url

POOL_SHARD_SIZE = 8

Mailed = Callable[[str], Awaitable[None]]
"""Told each reporter (pseudonym) the moment the SMTP server accepted the mail to them."""


@dataclass(frozen=True)
class TransportConfig:
    allowed_hosts: tuple[str, ...]
    allow_http_on_allowed: bool
    webhook_timeout_seconds: float
    concurrency: int
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    smtp_from: str
    public_base_url: str


@dataclass
class Result:
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    done_recipients: list[str] | None = None
    enable_webhook: bool = False


class Transport:
    def __init__(self, peers: Peers, config: TransportConfig) -> None:
        self.peers = peers
        self.config = config
        # httpcore scans its whole pool on every request: several small pools beat one big one
        shards = max(1, math.ceil(config.concurrency / POOL_SHARD_SIZE))
        self._limits = httpx.Limits(max_connections=POOL_SHARD_SIZE, max_keepalive_connections=POOL_SHARD_SIZE)
        self._shared = [self._client() for _ in range(shards)]
        self._pinned: dict[str, list[httpx.AsyncClient]] = {}
        self._turn = itertools.count()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.config.webhook_timeout_seconds, follow_redirects=False, limits=self._limits
        )

    def _pick(self, pool: list[httpx.AsyncClient]) -> httpx.AsyncClient:
        return pool[next(self._turn) % len(pool)]

    async def close(self) -> None:
        for pool in [self._shared, *self._pinned.values()]:
            for client in pool:
                await client.aclose()

    async def send(
        self,
        delivery: Delivery,
        partner: PartnerChannels | None,
        mailed: Mailed | None = None,
        deadline: float | None = None,
    ) -> Result:
        """One attempt. `deadline` (time.monotonic()): no mail is begun that its timeout could carry past it."""
        try:
            if delivery.target == domain.REPORTER:
                return await self._mail_reporters(delivery, mailed, deadline)
            if delivery.target == domain.LEADER:
                return await self._mail_leader(delivery)
            if delivery.target == domain.PROPOSER:
                return await self._mail_proposer(delivery)
            if delivery.partner_id is None:
                return Result(Outcome.REFUSED, error="no_target")
            if partner is None or not partner.active:
                return Result(Outcome.REFUSED, error="partner_inactive")
            if delivery.channel == Channel.WEBHOOK:
                return await self._post_webhook(delivery, partner)
            if not partner.email:
                return Result(Outcome.REFUSED, error="no_channel")
            to_group = partner.kind in domain.GROUP_KINDS and delivery.event_type in domain.REPORTER_STEPS
            compose = domain.group_mail if to_group else domain.partner_mail
            await self._mail(partner.email, compose(delivery.event_type, delivery.data, self._link(delivery)))
            return Result(Outcome.DELIVERED)
        except PeerUnavailable as exc:
            return Result(Outcome.RETRY, error=f"peer_unavailable:{exc}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Result(Outcome.RETRY, error=type(exc).__name__)

    def _link(self, delivery: Delivery) -> str | None:
        return domain.dataref(self.config.public_base_url, delivery.event_type, delivery.subject)

    # --- webhooks --------------------------------------------------------------------------------

    async def _post_webhook(self, delivery: Delivery, partner: PartnerChannels) -> Result:
        url = partner.webhook_url
        is_ping = delivery.event_type == domain.PING
        if not url:
            return Result(Outcome.REFUSED, error="no_channel")
        if partner.webhook_disabled and not is_ping:
            return Result(Outcome.REFUSED, error="channel_disabled")
        try:
            addresses = await check_webhook_url(
                url,
                allowed_hosts=self.config.allowed_hosts,
                allow_http_on_allowed=self.config.allow_http_on_allowed,
            )
        except UnsafeUrl:
            return Result(Outcome.REFUSED, error="unsafe_url")
        secrets = await self.peers.webhook_secrets(partner.partner_id)
        signers = [w for w in (_signer(s) for s in secrets) if w is not None]
        if not signers:
            return Result(Outcome.RETRY, error="no_secret")
        # the receiver checks this against its own wall clock (Standard Webhooks' replay window)
        timestamp = datetime.now(UTC)
        webhook_id = str(delivery.id)
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": " ".join(w.sign(webhook_id, timestamp, delivery.body) for w in signers),
        }
        client, target_url, extensions = self._route(url, addresses, headers)
        try:
            response = await client.post(
                target_url, content=delivery.body.encode(), headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY, error=type(exc).__name__)
        outcome = domain.classify_response(response.status_code)
        return Result(
            outcome,
            status_code=response.status_code,
            enable_webhook=is_ping and outcome == Outcome.DELIVERED and partner.webhook_disabled,
        )

    def _route(
        self, url: str, addresses: list[str], headers: dict[str, str]
    ) -> tuple[httpx.AsyncClient, str, dict[str, Any]]:
        """Allow-listed hosts go as they are; others to the address just checked (no second lookup)."""
        if not addresses:
            return self._pick(self._shared), url, {}
        target_url, host_header, server_name = domain.pin_to_address(url, addresses[0])
        headers["host"] = host_header
        # one pool per name: a pooled TLS connection was verified for exactly that name
        pool = self._pinned.get(server_name)
        if pool is None:
            pool = self._pinned[server_name] = [self._client() for _ in self._shared]
        client = self._pick(pool)
        return client, target_url, {"sni_hostname": server_name}

    # --- e-mail ----------------------------------------------------------------------------------

    async def _mail_reporters(self, delivery: Delivery, mailed: Mailed | None, deadline: float | None) -> Result:
        """Each reporter not mailed yet in this delivery; each one is recorded (`mailed`) as soon as
        the server took the mail, so neither a retry nor another sender mails them again. A mail is
        never cut off halfway (the server may take it after we gave up): near the deadline the
        attempt ends between mails, as a retry."""
        every = await self.peers.contacts(delivery.subject)
        contacts = [c for c in every if domain.reporters_asked(delivery.event_type, c.duplicate)]
        done = list(delivery.done_recipients)
        mail = domain.reporter_mail(delivery.event_type, delivery.data, self._link(delivery))
        begun = 0
        for contact in contacts:
            if contact.reporter in done:
                continue
            # the first mail always goes (each attempt gets somewhere); later ones only with time left
            if begun and deadline is not None and time.monotonic() + self.config.webhook_timeout_seconds > deadline:
                return Result(Outcome.RETRY, error="attempt_deadline", done_recipients=done)
            begun += 1
            try:
                await self._mail(contact.email, mail)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return Result(Outcome.RETRY, error=type(exc).__name__, done_recipients=done)
            done.append(contact.reporter)
            if mailed is not None:
                await mailed(contact.reporter)
        return Result(Outcome.DELIVERED, error=None if contacts else "no_contacts", done_recipients=done)

    async def _mail_leader(self, delivery: Delivery) -> Result:
        email = await self.peers.leader_contact(delivery.subject)
        if email is None:
            return Result(Outcome.DELIVERED, error="no_contacts")
        await self._mail(email, domain.leader_mail(delivery.event_type, delivery.data, self._link(delivery)))
        return Result(Outcome.DELIVERED)

    async def _mail_proposer(self, delivery: Delivery) -> Result:
        email = await self.peers.proposer_contact(delivery.subject)
        if email is None:
            return Result(Outcome.DELIVERED, error="no_contacts")
        await self._mail(email, domain.proposer_mail(delivery.event_type, delivery.data, self._link(delivery)))
        return Result(Outcome.DELIVERED)

    async def _mail(self, to: str, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.config.smtp_from
        message["To"] = to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        c = self.config
        await aiosmtplib.send(
            message,
            hostname=c.smtp_host,
            port=c.smtp_port,
            username=c.smtp_username or None,
            password=c.smtp_password or None,
            start_tls=c.smtp_starttls,
            timeout=c.webhook_timeout_seconds,
        )


def _signer(secret: str) -> Webhook | None:
    try:
        return Webhook(secret)
    except Exception:
        return None
