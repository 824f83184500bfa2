from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q

from contacts.models import Contact
from messaging.models import Message


def conversation_recent(*, contact: Contact, limit: int) -> list[Message]:
    """The last `limit` messages of a conversation, oldest first (the order a model reads)."""
    rows = list(Message.objects.filter(contact=contact).order_by("-timestamp", "-id")[:limit])
    rows.reverse()
    return rows


def message_counts(*, since: datetime, until: datetime) -> dict[str, object]:
    """Inbound and outbound messages in [since, until), outbound split by delivery status."""
    window = Message.objects.filter(timestamp__gte=since, timestamp__lt=until)
    totals = window.aggregate(
        inbound=Count("id", filter=Q(direction=Message.Direction.IN)),
        inbound_voice=Count("id", filter=Q(direction=Message.Direction.IN, is_voice=True)),
        outbound=Count("id", filter=Q(direction=Message.Direction.OUT)),
    )
    by_status = dict.fromkeys(Message.Status.values, 0)
    for row in window.filter(direction=Message.Direction.OUT).values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]
    return {**totals, "outbound_by_status": by_status}


def inbound_unhandled(*, now: datetime) -> tuple[list[int], list[int]]:
    """Customer messages stored but not taken by the next step (its task was lost: the broker
    was down at commit, a worker died): text to hand to the AI step, voice to transcribe.
    Older than a grace period (the normal path is still running) and younger than a day (an
    answer days late is worse than none)."""
    from datetime import timedelta

    window = {"received_at__lt": now - timedelta(minutes=2), "received_at__gte": now - timedelta(hours=24)}
    unhandled = Message.objects.filter(direction=Message.Direction.IN, processed_at__isnull=True, **window)
    text = list(
        unhandled.exclude(voice_status__in=[Message.VoiceStatus.PENDING, Message.VoiceStatus.FAILED])
        .order_by("received_at")
        .values_list("pk", flat=True)[:200]
    )
    voice = list(
        unhandled.filter(voice_status=Message.VoiceStatus.PENDING, received_at__lt=now - timedelta(minutes=5))
        .order_by("received_at")
        .values_list("pk", flat=True)[:50]
    )
    return text, voice


def outbox_pending_count() -> int:
    """Outbound rows not yet handed to WhatsApp, whatever day they were written."""
    return Message.objects.filter(direction=Message.Direction.OUT, status__in=Message.PENDING_STATUSES).count()


def gateway_status() -> dict[str, object]:
    """What an operator needs to know about Wappi, for /health."""
    from django.conf import settings
    from django.core.cache import cache

    from messaging.models import GatewayState
    from messaging.poller import ALARM_KEY, quarantined_chats

    state = GatewayState.objects.filter(pk=1).first()
    quarantined = quarantined_chats()
    alarm = cache.get(ALARM_KEY)
    authorized = state.authorized if state else None
    if authorized is False:
        status = "error"
    elif alarm:
        status = "degraded"
    else:
        status = "ok" if authorized else "unknown"
    return {
        "status": status,
        "mode": "sandbox" if settings.WAPPI_SANDBOX else "live",
        "authorized": authorized,
        "auth_error": (state.auth_error if state else "") or None,
        "auth_checked_at": state.auth_checked_at.isoformat() if state and state.auth_checked_at else None,
        "last_poll_at": state.last_poll_at.isoformat() if state and state.last_poll_at else None,
        "last_poll_error": (state.last_poll_error if state else "") or None,
        "last_webhook_at": state.last_webhook_at.isoformat() if state and state.last_webhook_at else None,
        "polling_backoff_until": state.backoff_until.isoformat() if state and state.backoff_until else None,
        "quarantined_chats": len(quarantined),
        "quarantine_alarm": alarm,
    }
