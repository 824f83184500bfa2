"""Webhook delivery of the sandbox: what Wappi POSTs to the URL registered with webhook/url/set."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
from django.db import transaction

from .models import SandboxProfile

log = structlog.get_logger(__name__)

# Seconds. The receiver is our own webhook view, which must answer within a second or so
# (wappi.md §9.13); a short timeout keeps a stuck receiver from piling up threads.
WEBHOOK_TIMEOUT = 5.0


def webhook_wanted(*, profile: SandboxProfile, wh_type: str) -> bool:
    return bool(profile.webhook_url) and wh_type in (profile.webhook_types or [])


def webhook_dispatch(*, profile: SandboxProfile, wh_type: str, payload: dict[str, Any]) -> bool:
    """Posts `payload` to the registered URL if `wh_type` is subscribed; returns whether it will.

    The POST runs in a background thread started after the current transaction commits, so
    the receiver (possibly this very web server) can read the new state and the request that
    caused the event is answered without waiting. Failures are only logged, as the sandbox
    does not retry (the real Wappi may; the product's poller is the safety net either way).
    """
    if not webhook_wanted(profile=profile, wh_type=wh_type):
        return False
    copies = 2 if profile.duplicate_webhooks else 1
    url, auth = profile.webhook_url, profile.webhook_auth
    body = json.dumps(payload, ensure_ascii=False).encode()

    def start() -> None:
        threading.Thread(
            target=_deliver,
            kwargs={"url": url, "auth": auth, "body": body, "copies": copies, "wh_type": wh_type},
            name="sandbox-webhook",
            daemon=True,
        ).start()

    transaction.on_commit(start)
    return True


def _deliver(*, url: str, auth: str, body: bytes, copies: int, wh_type: str) -> None:
    headers = {"Content-Type": "application/json"}
    if auth:
        # Which header carries Wappi's `auth` secret is undocumented; Authorization is the one guess on record.
        headers["Authorization"] = auth
    parts = urlsplit(url)
    target = f"{parts.scheme}://{parts.netloc}{parts.path}"  # never the query: it carries the secret
    for _ in range(copies):
        try:
            response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
        except requests.RequestException as exc:
            log.warning("sandbox.webhook_failed", wh_type=wh_type, target=target, error=str(exc))
            continue
        log.info("sandbox.webhook_sent", wh_type=wh_type, target=target, http_status=response.status_code)
