"""Webhook targets must be public: https, and no name or literal that reaches a private network.

Checked at registration (partners) and again at send time (notifications: a name may resolve
differently now). Hosts on the allow-list (settings; the local stack allows 127.0.0.1) skip the
address check, and may use plain http when `allow_http_on_allowed` is set.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    pass


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_public_address(str(mapped))
        if ip.teredo is not None:
            return is_public_address(str(ip.teredo[1]))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def parse_target(
    url: str, *, allowed_hosts: Iterable[str] = (), allow_http_on_allowed: bool = False
) -> tuple[str, bool]:
    """(host, on the allow-list) for a well-formed url, else UnsafeUrl. Sends nothing."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeUrl("url has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("url must not carry credentials")
    allowed = host in {h.lower() for h in allowed_hosts if h}
    if parts.scheme == "https" or (parts.scheme == "http" and allowed and allow_http_on_allowed):
        return host, allowed
    raise UnsafeUrl("url must use https")


async def resolve(host: str, port: int | None = None) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


async def check_webhook_url(
    url: str, *, allowed_hosts: Iterable[str] = (), allow_http_on_allowed: bool = False
) -> list[str]:
    """The addresses the url's host resolves to, all public (or the host is allow-listed)."""
    host, allowed = parse_target(url, allowed_hosts=allowed_hosts, allow_http_on_allowed=allow_http_on_allowed)
    if allowed:
        return []
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        addresses = await resolve(host, urlsplit(url).port)
    private = [a for a in addresses if not is_public_address(a)]
    if private:
        raise UnsafeUrl("url resolves to a private, loopback, link-local or otherwise non-public address")
    return addresses
