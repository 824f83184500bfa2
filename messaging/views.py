from __future__ import annotations

import hmac
import json

import structlog
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from messaging import ingest, suspicious
from messaging.models import GatewayState, Message
from messaging.tasks import ingest_webhook
from messaging.wire import VOICE_TYPES, parse_webhook, webhook_events

log = structlog.get_logger(__name__)

MEDIA_TYPES = VOICE_TYPES | {"image", "video", "document", "sticker"}


def _authorised(request: HttpRequest) -> bool:
    """The webhook secret, from `?secret=` or the `Authorization` header (raw or `Bearer <secret>`:
    Wappi's `auth` parameter of webhook/url/set), matches the configured secret or, during a
    rotation, one of the previous ones. Compared as bytes: any text a client sends (non-ASCII
    included) is just a wrong secret."""
    current = settings.WAPPI_WEBHOOK_SECRET
    if not current:
        return False
    offered = []
    if "secret" in request.GET:
        offered.append(request.GET["secret"])
    header = request.headers.get("Authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        offered.append(rest.strip() if scheme.lower() == "bearer" else header)
    accepted = [current, *settings.WAPPI_WEBHOOK_SECRET_PREVIOUS]
    matches = [
        hmac.compare_digest(value.encode("utf-8", "replace"), secret.encode())
        for value in offered
        for secret in accepted
        if secret
    ]
    return any(matches)


@csrf_exempt
@require_POST
def wappi_webhook(request: HttpRequest) -> JsonResponse:
    """Wappi's webhook. Answers fast: the events are handed to a task, never processed here
    (unless the broker is down, when they are ingested inline rather than lost). Malformed or
    unknown events are logged and acknowledged with 200, so Wappi does not retry them forever."""
    if not _authorised(request):
        log.warning("webhook.forbidden", remote=request.META.get("REMOTE_ADDR"))
        suspicious.webhook_auth_failed()
        return JsonResponse({"status": "forbidden"}, status=403)
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, RecursionError, RequestDataTooBig) as exc:
        # RecursionError: JSON nested thousands deep is as malformed as any other bad body.
        log.warning("webhook.malformed", error=type(exc).__name__)
        return JsonResponse({"status": "ignored", "reason": "malformed"})
    events = webhook_events(payload)
    # One UPDATE: under a flood every web worker's POSTs pass here, and a transaction locking the
    # one gateway row around a read and a write queued them all on that lock.
    if not GatewayState.objects.filter(pk=1).update(last_webhook_at=timezone.now()):
        GatewayState.objects.update_or_create(pk=1, defaults={"last_webhook_at": timezone.now()})
    if not events:
        log.info("webhook.empty_or_unknown", kind=type(payload).__name__)
        return JsonResponse({"status": "ignored", "reason": "no events"})
    for event in events:
        # A media body is base64 of the whole file: the link or media/download gets the bytes,
        # so the broker never carries megabytes.
        if str(event.get("type", "")).lower() in MEDIA_TYPES and isinstance(event.get("body"), str):
            event["body"] = ""
    try:
        # argsrepr: Celery logs a task's arguments (received, succeeded, failed); the payload
        # holds customers' numbers and texts, which never go to the logs.
        ingest_webhook.apply_async(({"messages": events},), argsrepr=f"[<{len(events)} webhook events>]")
    except OperationalError as exc:
        log.error("webhook.broker_down_ingesting_inline", error=str(exc))
        ingest.ingest_events(events=parse_webhook({"messages": events}), via=Message.Via.WEBHOOK)
    return JsonResponse({"status": "ok", "events": len(events)})
