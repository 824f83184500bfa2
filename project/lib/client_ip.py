"""The client's address behind a reverse proxy: X-Forwarded-For is believed only from a proxy
named in FORWARDED_ALLOW_IPS (the same list gunicorn believes X-Forwarded-Proto from), so a
client connecting directly cannot choose its address by sending the header."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _is_trusted_proxy(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.FORWARDED_ALLOW_IPS)


def client_ip_address(request: Any) -> str | None:
    """The TCP peer (REMOTE_ADDR), unless it is a trusted proxy: then the right-most address of
    X-Forwarded-For that is not one of our proxies. Every proxy appends the address it saw, so
    what a client writes itself stays to the left of it and is never read. A malformed entry
    stops the walk: the proxy's own address is used (a lockout then holds the proxy, never an
    address the client chose)."""
    peer = request.META.get("REMOTE_ADDR")
    if not _is_trusted_proxy(peer):
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed([part for part in forwarded if part]):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return peer
        if not _is_trusted_proxy(address):
            return address
    return peer
