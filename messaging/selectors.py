"""Reads of the channel's rows: conversations, message counts, the outbox, customer messages
still waiting for the AI step, hand-offs, and the state of Wappi. Reports (/stats, /metrics,
/health, the dashboard) count through here, not through Message's fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact, WhitelistEntry
from messaging.models import ChatCursor, GatewayState, HandOff, Message, NumberState

# A customer message not taken by the AI step after this long lost its task (the normal path
# is still running before that); after INBOUND_MAX_AGE an answer would be worse than none.
INBOUND_GRACE = timedelta(minutes=2)
INBOUND_MAX_AGE = timedelta(hours=24)
# A voice note gets longer: its transcription runs first.
VOICE_GRACE = timedelta(minutes=5)
# Raised by the poller when several chats are quarantined in one cycle (token/profile trouble).
QUARANTINE_ALARM_KEY = "wappi:quarantine-alarm"
# Messages we start ourselves: one set for the project (messaging.proactive re-exports it).
PROACTIVE_PURPOSES = frozenset({Message.Purpose.FOLLOW_UP, Message.Purpose.POST_PURCHASE})
# The reply-ratio guard reads the proactive messages of the last week, each given a day to be
# answered (a morning's touches are not "unanswered" by lunchtime).
REPLY_RATIO_LOOKBACK = timedelta(days=7)
REPLY_GRACE = timedelta(days=1)
# A burst of undelivered messages is counted in this window.
UNDELIVERED_WINDOW = timedelta(minutes=15)
# How messaging.ingest.delivery_apply words a failure WhatsApp reported (last_error's prefix).
DELIVERY_FAILED_PREFIX = "WhatsApp: "


def conversation_recent(*, contact: Contact, limit: int) -> list[Message]:
    """The last `limit` messages of a conversation, oldest first (the order a model reads)."""
    rows = list(Message.objects.filter(contact=contact).order_by("-timestamp", "-id")[:limit])
    rows.reverse()
    return rows


def customer_texts_recent(*, contact: Contact, limit: int = 5) -> list[str]:
    """What the customer last wrote, newest first: the texts (a voice note's transcript) of their
    last `limit` messages that say something."""
    rows = (
        Message.objects.filter(contact=contact, direction=Message.Direction.IN)
        .order_by("-timestamp", "-id")
        .values_list("text", "transcription")[:limit]
    )
    return [transcription or text for text, transcription in rows if (transcription or text).strip()]


def message_counts(*, since: datetime, until: datetime) -> dict[str, object]:
    """Inbound and outbound messages in [since, until), outbound split by delivery status."""
    window = Message.objects.filter(timestamp__gte=since, timestamp__lt=until)
    totals = window.aggregate(
        inbound=Count("id", filter=Q(direction=Message.Direction.IN)),
        inbound_voice=Count("id", filter=Q(direction=Message.Direction.IN, is_voice=True)),
        # Voice notes whose transcription succeeded (a failed one is not counted).
        inbound_voice_transcribed=Count(
            "id",
            filter=Q(direction=Message.Direction.IN, is_voice=True, voice_status=Message.VoiceStatus.DONE),
        ),
        outbound=Count("id", filter=Q(direction=Message.Direction.OUT)),
        # Really handed to WhatsApp (sent, delivered or read), not merely queued.
        outbound_sent=Count("id", filter=Q(direction=Message.Direction.OUT, status__in=Message.SENT_STATUSES)),
    )
    by_status = dict.fromkeys(Message.Status.values, 0)
    for row in window.filter(direction=Message.Direction.OUT).values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]
    return {**totals, "outbound_by_status": by_status}


def message_counts_by_day(*, since: datetime, until: datetime) -> dict[date, dict[str, int]]:
    """Per local day (TIME_ZONE) of [since, until) that has any message: inbound, outbound, the
    bot's replies that reached WhatsApp, and hand-offs (the chat handed to a manager, however
    the customer was told). Days without messages are absent. One query."""
    rows = (
        Message.objects.filter(timestamp__gte=since, timestamp__lt=until)
        .annotate(day=TruncDate("timestamp", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            inbound=Count("id", filter=Q(direction=Message.Direction.IN)),
            outbound=Count("id", filter=Q(direction=Message.Direction.OUT)),
            replies=Count(
                "id",
                filter=Q(
                    direction=Message.Direction.OUT,
                    author=Message.Author.BOT,
                    purpose=Message.Purpose.REPLY,
                    status__in=Message.SENT_STATUSES,
                ),
            ),
            handoffs=Count("id", filter=Q(direction=Message.Direction.OUT, purpose=Message.Purpose.HANDOFF)),
        )
        .order_by("day")
    )
    return {row.pop("day"): row for row in rows}


def message_totals_by_status() -> dict[tuple[str, str], int]:
    """Every message so far by (direction, delivery status); an inbound message's status is ""."""
    rows = Message.objects.values("direction", "status").annotate(n=Count("id")).order_by()
    return {(row["direction"], row["status"]): row["n"] for row in rows}


def handoff_count() -> int:
    """Chats handed to a manager so far (one hand-off message each)."""
    return Message.objects.filter(direction=Message.Direction.OUT, purpose=Message.Purpose.HANDOFF).count()


def handoffs_open(*, now: datetime, limit: int = 50) -> list[dict[str, object]]:
    """The open hand-offs, oldest first, with their age: who, why, since when, whether a person
    answered, and whether the managers were reminded or the owner told. One query."""
    rows = HandOff.objects.filter(closed_at__isnull=True).select_related("contact").order_by("opened_at", "id")
    return [
        {
            "id": handoff.pk,
            "contact": handoff.contact,
            "reason": handoff.reason,
            "opened_at": handoff.opened_at,
            "age_seconds": max(0.0, (now - handoff.opened_at).total_seconds()),
            "answered": handoff.answered_at is not None,
            "overdue": handoff.answered_at is None and handoff.due_at <= now,
            "reminded": handoff.reminded_at is not None,
            "escalated": handoff.escalated_at is not None,
            "resumes_at": handoff.contact.paused_until,
        }
        for handoff in rows[:limit]
    ]


def handoff_open_stats(*, now: datetime) -> dict[str, float]:
    """Open hand-offs for /metrics: waiting for a person (no answer yet) and answered (the
    humans have the chat), the overdue ones among the waiting, and the oldest waiting one's age
    in seconds (0 when none). One query."""
    totals = HandOff.objects.filter(closed_at__isnull=True).aggregate(
        waiting=Count("id", filter=Q(answered_at__isnull=True)),
        answered=Count("id", filter=Q(answered_at__isnull=False)),
        overdue=Count("id", filter=Q(answered_at__isnull=True, due_at__lte=now)),
        oldest=Min("opened_at", filter=Q(answered_at__isnull=True)),
    )
    oldest = totals.pop("oldest")
    return {**totals, "oldest_waiting_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0}


def inbound_unhandled(*, now: datetime) -> tuple[list[int], list[int]]:
    """Customer messages stored but not taken by the next step (its task was lost: the broker
    was down at commit, a worker died): text to hand to the AI step, voice to transcribe.
    Older than a grace period (the normal path is still running) and younger than a day (an
    answer days late is worse than none)."""
    unhandled = _inbound_unhandled(now=now)
    text = list(
        unhandled.exclude(voice_status__in=[Message.VoiceStatus.PENDING, Message.VoiceStatus.FAILED])
        .order_by("received_at")
        .values_list("pk", flat=True)[:200]
    )
    voice = list(
        unhandled.filter(voice_status=Message.VoiceStatus.PENDING, received_at__lt=now - VOICE_GRACE)
        .order_by("received_at")
        .values_list("pk", flat=True)[:50]
    )
    return text, voice


def inbound_unhandled_count(*, now: datetime) -> int:
    """How many customer messages the AI step has not taken within the grace period (and are
    younger than a day): the same window the inbound sweeper works through."""
    return _inbound_unhandled(now=now).count()


def _inbound_unhandled(*, now: datetime):
    return Message.objects.filter(
        direction=Message.Direction.IN,
        processed_at__isnull=True,
        received_at__lt=now - INBOUND_GRACE,
        received_at__gte=now - INBOUND_MAX_AGE,
    )


# A customer message with no answer after UNANSWERED_AFTER is reported (health, metrics, the
# dashboard, one notice to the managers); older than UNANSWERED_LOOKBACK it is history, not news.
UNANSWERED_AFTER = timedelta(hours=24)
UNANSWERED_LOOKBACK = timedelta(days=7)


# Message types that carry nothing to answer unless they come with words.
WORDLESS_TYPES = ("sticker",)


def inbound_unanswered(*, now: datetime):
    """Customer messages received between UNANSWERED_LOOKBACK and UNANSWERED_AFTER ago that no
    bot or operator message reached WhatsApp after (a reply that failed is no answer). Whatever
    the AI step did with them: a chat in operator mode is the operator's, and still counts when
    nobody answered. Left out: contacts who opted out, owners' whitelisted numbers and contacts
    classified as not clients (they are deliberately not answered), and stickers without words
    (nothing to answer: the AI step gives them none). A queryset, oldest first."""
    answered = Message.objects.filter(
        contact=OuterRef("contact"),
        direction=Message.Direction.OUT,
        author__in=[Message.Author.BOT, Message.Author.OPERATOR],
        status__in=Message.SENT_STATUSES,
        timestamp__gte=OuterRef("timestamp"),
    )
    whitelisted = WhitelistEntry.objects.filter(phone=OuterRef("contact__phone"))
    return (
        Message.objects.filter(
            direction=Message.Direction.IN,
            received_at__lt=now - UNANSWERED_AFTER,
            received_at__gte=now - UNANSWERED_LOOKBACK,
            contact__opted_out_at__isnull=True,
        )
        .exclude(contact__is_client=False)
        .exclude(media_type__in=WORDLESS_TYPES, text="")
        .exclude(Exists(whitelisted))
        .exclude(Exists(answered))
        .order_by("received_at", "pk")
    )


def inbound_unanswered_count(*, now: datetime) -> int:
    """How many customer messages nobody answered within a day (inbound_unanswered). One query."""
    return inbound_unanswered(now=now).count()


def outbound_failed_counts(*, since: datetime) -> dict[str, int]:
    """Outbound messages that failed for good and are still failed (a re-driven row is queued
    again and leaves the count): `since` (they failed at or after `since`) and `total`. One query."""
    return Message.objects.filter(direction=Message.Direction.OUT, status=Message.Status.FAILED).aggregate(
        since=Count("id", filter=Q(updated_at__gte=since)), total=Count("id")
    )


def outbox_pending_count() -> int:
    """Outbound rows not yet handed to WhatsApp, whatever day they were written."""
    return Message.objects.filter(direction=Message.Direction.OUT, status__in=Message.PENDING_STATUSES).count()


def voice_pending_count() -> int:
    """Voice notes whose transcription is still to come."""
    return Message.objects.filter(
        direction=Message.Direction.IN, is_voice=True, voice_status=Message.VoiceStatus.PENDING
    ).count()


def outbox_totals() -> dict[str, int]:
    """The outbox so far: attempts to hand messages to Wappi, messages that failed for good,
    and messages waiting (queued) or in flight (sending). One query."""
    totals = Message.objects.filter(direction=Message.Direction.OUT).aggregate(
        attempts=Sum("attempts"),
        failed=Count("id", filter=Q(status=Message.Status.FAILED)),
        queued=Count("id", filter=Q(status=Message.Status.QUEUED)),
        sending=Count("id", filter=Q(status=Message.Status.SENDING)),
    )
    return {**totals, "attempts": totals["attempts"] or 0}


def quarantined_chats(*, now: datetime | None = None) -> list[str]:
    """Chats the poller skips for now after repeated errors."""
    return list(
        ChatCursor.objects.filter(quarantined_until__gt=now or timezone.now()).values_list("chat_id", flat=True)
    )


def wappi_configured() -> bool:
    """A real account (WAPPI_TOKEN) or, asked for by name, the built-in emulator (WAPPI_SANDBOX).
    Without either Wappi is "not configured": the client makes no request (WappiNotConfigured),
    /health says so, and the product never falls back to the emulator by itself."""
    return bool(settings.WAPPI_SANDBOX or settings.WAPPI_TOKEN)


def gateway_status() -> dict[str, object]:
    """What an operator needs to know about Wappi, for /health."""
    state = GatewayState.objects.filter(pk=1).first()
    quarantined = quarantined_chats()
    alarm = cache.get(QUARANTINE_ALARM_KEY)
    authorized = state.authorized if state else None
    if not wappi_configured():
        status = "not_configured"
    elif authorized is False:
        status = "error"
    elif alarm:
        status = "degraded"
    else:
        status = "ok" if authorized else "unknown"
    return {
        "status": status,
        "mode": "sandbox" if settings.WAPPI_SANDBOX else ("live" if settings.WAPPI_TOKEN else "not_configured"),
        "authorized": authorized,
        "auth_error": (state.auth_error if state else "") or None,
        "auth_checked_at": state.auth_checked_at.isoformat() if state and state.auth_checked_at else None,
        "last_poll_at": state.last_poll_at.isoformat() if state and state.last_poll_at else None,
        "last_poll_error": (state.last_poll_error if state else "") or None,
        "last_webhook_at": state.last_webhook_at.isoformat() if state and state.last_webhook_at else None,
        "polling_backoff_until": state.backoff_until.isoformat() if state and state.backoff_until else None,
        "quarantined_chats": len(quarantined),
        "quarantine_alarm": alarm,
        # Outbound messages that failed for good (also whatsapp_send_failures on /metrics).
        "failed_sends": Message.objects.filter(direction=Message.Direction.OUT, status=Message.Status.FAILED).count(),
    }


# --- The number's standing (the number-safety governor, messaging.number) ---------------------


@dataclass(frozen=True)
class RecentSends:
    """Messages our number handed to WhatsApp (any purpose, any recipient) in the last hour and day."""

    hour: int
    day: int


def sends_recent(*, now: datetime) -> RecentSends:
    """The number's sends in the hour and the day before `now`, in one count over the day."""
    counts = Message.objects.filter(
        direction=Message.Direction.OUT, status__in=Message.SENT_STATUSES, sent_at__gte=now - timedelta(days=1)
    ).aggregate(day=Count("pk"), hour=Count("pk", filter=Q(sent_at__gte=now - timedelta(hours=1))))
    return RecentSends(hour=counts["hour"], day=counts["day"])


def new_chats_since(*, since: datetime) -> int:
    """Chats our number opened since `since`: contacts whose first message from us went out then
    while they had never written to us (WhatsApp's "reach-out" limits count these)."""
    return (
        Contact.objects.filter(first_outbound_at__gte=since)
        .filter(Q(first_inbound_at__isnull=True) | Q(first_inbound_at__gt=F("first_outbound_at")))
        .count()
    )


def contact_wrote_first(*, contact: Contact) -> bool:
    """Has `contact` ever written to us? (Ingest stamps first_inbound_at; a conversation kept
    from elsewhere has the messages.) Nothing proactive goes to anyone else."""
    if contact.first_inbound_at is not None or contact.last_inbound_at is not None:
        return True
    return Message.objects.filter(contact=contact, direction=Message.Direction.IN).exists()


def contact_unanswered_proactive(*, contact: Contact) -> int:
    """Proactive messages that went out to `contact` after their last message to us. Two queries."""
    last_inbound = Message.objects.filter(contact=contact, direction=Message.Direction.IN).aggregate(
        last=Max("timestamp")
    )["last"]
    sent = Message.objects.filter(
        contact=contact,
        direction=Message.Direction.OUT,
        purpose__in=PROACTIVE_PURPOSES,
        status__in=Message.SENT_STATUSES,
    )
    if last_inbound is not None:
        sent = sent.filter(timestamp__gt=last_inbound)
    return sent.count()


def _proactive_to_weigh(*, now: datetime) -> Q:
    """Proactive messages of the last week old enough to have been answered (REPLY_GRACE)."""
    return Q(
        direction=Message.Direction.OUT,
        purpose__in=PROACTIVE_PURPOSES,
        status__in=Message.SENT_STATUSES,
        timestamp__gte=now - REPLY_RATIO_LOOKBACK,
        timestamp__lt=now - REPLY_GRACE,
    )


def _answered() -> Exists:
    """The message's contact wrote to us after it."""
    return Exists(
        Message.objects.filter(
            contact_id=OuterRef("contact_id"), direction=Message.Direction.IN, timestamp__gt=OuterRef("timestamp")
        )
    )


def proactive_reply_ratio(*, now: datetime) -> tuple[int, int]:
    """(proactive messages of the last week old enough to have been answered, how many of them
    the contact never answered). One query."""
    counts = Message.objects.filter(_proactive_to_weigh(now=now)).aggregate(
        total=Count("id"), unanswered=Count("id", filter=~_answered())
    )
    return counts["total"], counts["unanswered"]


def _undelivered(*, since: datetime) -> Q:
    return Q(
        direction=Message.Direction.OUT,
        status=Message.Status.FAILED,
        last_error__startswith=DELIVERY_FAILED_PREFIX,
        updated_at__gte=since,
    )


def undelivered_since(*, since: datetime) -> int:
    """Our messages WhatsApp reported undelivered (or refused) since `since`."""
    return Message.objects.filter(_undelivered(since=since)).count()


# Why proactive sending can be paused (the reports list every one, 0 or 1).
NUMBER_PAUSE_REASONS = tuple(NumberState.Reason.values)


@dataclass(frozen=True)
class NumberHealth:
    """The number-health card of the dashboard and its series on /metrics."""

    paused_reason: str  # "" while proactive sending runs
    paused_label: str
    paused_at: datetime | None
    paused_until: datetime | None
    sent_24h: int
    received_24h: int
    proactive_sent_7d: int
    proactive_unanswered_7d: int
    undelivered_24h: int
    restriction_events: int
    last_restriction_at: datetime | None

    @property
    def unanswered_share(self) -> float:
        return self.proactive_unanswered_7d / self.proactive_sent_7d if self.proactive_sent_7d else 0.0


def number_health(*, now: datetime) -> NumberHealth:
    """The number's standing and its traffic. Two queries: the state row, one aggregate."""
    day = now - timedelta(days=1)
    state = NumberState.objects.filter(pk=1).first() or NumberState()
    weighed = _proactive_to_weigh(now=now)
    counts = Message.objects.filter(Q(timestamp__gte=now - REPLY_RATIO_LOOKBACK) | Q(updated_at__gte=day)).aggregate(
        sent=Count(
            "id",
            filter=Q(timestamp__gte=day, direction=Message.Direction.OUT, status__in=Message.SENT_STATUSES),
        ),
        received=Count("id", filter=Q(timestamp__gte=day, direction=Message.Direction.IN)),
        undelivered=Count("id", filter=_undelivered(since=day)),
        proactive=Count("id", filter=weighed),
        unanswered=Count("id", filter=weighed & ~Q(_answered())),
    )
    proactive, unanswered = counts["proactive"], counts["unanswered"]
    return NumberHealth(
        paused_reason=state.paused_reason,
        paused_label=state.get_paused_reason_display() if state.paused_reason else "",
        paused_at=state.paused_at,
        paused_until=state.paused_until,
        sent_24h=counts["sent"],
        received_24h=counts["received"],
        proactive_sent_7d=proactive,
        proactive_unanswered_7d=unanswered,
        undelivered_24h=counts["undelivered"],
        restriction_events=state.restriction_events,
        last_restriction_at=state.last_restriction_at,
    )


def warmup_share(*, now: datetime) -> float:
    """The share of the daily caps a newly linked number may use today: with SEND_WARMUP_DAYS
    on, day n of the ramp allows n / SEND_WARMUP_DAYS (day 1 while the link time is unknown);
    1 once the ramp is over, or with the ramp off (an established number)."""
    days = settings.SEND_WARMUP_DAYS
    if days <= 0:
        return 1.0
    state = NumberState.objects.filter(pk=1).first()
    day = (now - state.connected_at).days + 1 if state and state.connected_at else 1
    return 1.0 if day >= days else max(day, 1) / days
