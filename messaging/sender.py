"""The outbox sender: an outbound Message row in status `queued` is the unit of work.

A send claims its row atomically (queued -> sending), re-checks that it may still be sent,
sends it (a quoted reply to the customer's message when there is one), stores WhatsApp's
message id and marks the customer's message read. After a send timed out the message may
or may not have reached WhatsApp, so the row stays `sending` and is reconciled (look for
its echo) before anything is sent again: a customer never gets the same text twice.

The sender also paces our number so WhatsApp never takes it for a spam bot (the number-safety
governor's pacing; its account signals live in messaging.number): one send at a time from the
number with a jittered gap, caps per minute, hour and day (with a warm-up ramp for a newly
linked number) and on the chats it opens a day, and, when WAPPI_TYPING is on, "typing..."
before a reply.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from contacts.models import CallReminder, Contact, ScheduledCall
from contacts.selectors import contact_eligibility
from messaging import notify, suspicious
from messaging.models import Message
from messaging.proactive import PROACTIVE_PURPOSES, Hold, number_paused_until, proactive_gate
from messaging.selectors import new_chats_since, sends_recent, warmup_share
from messaging.signals import announce, outbound_sent
from messaging.wappi import (
    CONNECT_TIMEOUT,
    WappiAuthError,
    WappiClient,
    WappiError,
    WappiPermanentError,
    WappiTimeoutError,
    WappiTransientError,
)
from messaging.wire import Origin, WappiMessage, parse_sync_message
from project.lib.locks import LockTimeout, cache_lock

log = structlog.get_logger(__name__)

# Why a row is refused at send time (it is marked failed and never sent).
REFUSALS = {
    Hold.WHITELISTED: "whitelisted number: never messaged",
    Hold.OPERATOR_MODE: "an operator has taken over this chat",
    Hold.OPTED_OUT: "the customer opted out of proactive messages",
    Hold.NEVER_WROTE: "the contact never wrote to us: nothing proactive goes to them",
    Hold.UNANSWERED: "the contact left our last proactive messages unanswered",
}
# A proactive row held back by time (not by the contact): it goes back to the queue until then.
TIME_HOLDS = {Hold.OUTSIDE_WINDOW: "outside the send window", Hold.NUMBER_PAUSED: "the number is paused"}
# Waiting for the number's slot (one send at a time) at most this long before trying again later.
SLOT_WAIT_SECONDS = 5.0
# "typing..." lasts about as long as a person needs to type this many characters a second.
TYPING_CHARS_PER_SECOND = 25.0
# Notices the customer must get even in operator mode (the handoff announcement, the opt-out
# confirmation, a booked call's confirmation and reminder, a paid invoice's confirmation) and
# notifications to managers;
# every other bot message waits for the human.
HUMAN_MODE_ALLOWED = {
    Message.Purpose.HANDOFF,
    Message.Purpose.NOTIFICATION,
    Message.Purpose.BOOKING,
    Message.Purpose.PAYMENT,
}
# A reconciliation looks for the echo among the chat's newest messages, sent no earlier
# than this before the attempt began (Message.attempt_started_at, which no reconciliation moves).
RECONCILE_LOOKBACK = timedelta(minutes=2)
RECONCILE_PAGE = 50
# Answers to a customer that lose their point when late: past settings.OUTBOX_MAX_AGE_HOURS they
# are not sent, and the managers are told instead (as the assistant does for a late answer).
AGE_LIMITED = {Message.Purpose.REPLY, Message.Purpose.FALLBACK}
TOO_OLD = "too old to send"
# The failure of a row that met only transient errors (a gateway outage): re-driven once Wappi is back.
GAVE_UP = "gave up after"
LOGGED_OUT = "gateway not authorized"  # the phone was logged out of Wappi
NOT_REDRIVEN = "failed in a gateway outage, too old to resend; the managers were notified"
REDRIVEN = "re-driven after the gateway outage"
CALL_STARTED = "the call has already started or was cancelled: reminder not sent"


class SendLater(Exception):
    """Not now: retry after `delay` seconds (transient error, pacing or the global cap)."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


@dataclass(frozen=True)
class SendOutcome:
    status: str  # sent / skipped / failed / not_claimed / reconciling
    detail: str = ""


def outbox_send(*, message_id: int, client: WappiClient, now: datetime | None = None) -> SendOutcome:
    """Sends one queued row, at most once. Raises SendLater when it should be retried."""
    now = now or timezone.now()
    claimed = Message.objects.filter(
        pk=message_id, direction=Message.Direction.OUT, status=Message.Status.QUEUED
    ).update(status=Message.Status.SENDING, attempts=F("attempts") + 1, updated_at=now, attempt_started_at=now)
    if not claimed:
        return SendOutcome("not_claimed")
    message = Message.objects.select_related("contact", "reply_to").get(pk=message_id)

    refusal, not_before, hold_reason = _recheck(message, now)
    if not refusal:
        refusal = _stale(message, now)
    if refusal:
        _finish(message, status=Message.Status.FAILED, error=refusal)
        log.info("send.refused", message_id=message.pk, reason=refusal)
        return SendOutcome("skipped", refusal)
    if not_before is not None:
        # A message we start ourselves, held up past the send window's end: back to the queue
        # until the next opening. The row's next_attempt_at is the record (the sweeper takes it
        # then), never a long countdown in the broker.
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.QUEUED, attempts=F("attempts") - 1, next_attempt_at=not_before
        )
        log.info("send.held", message_id=message.pk, until=not_before.isoformat(), reason=hold_reason)
        raise SendLater((not_before - now).total_seconds(), hold_reason)

    with contextlib.ExitStack() as slot:
        try:
            _pace(message.contact, now=now)
            # One send at a time from the number, spaced out: the number-safety pacing.
            slot.enter_context(_number_slot(client))
        except SendLater as later:
            Message.objects.filter(pk=message.pk).update(
                status=Message.Status.QUEUED,
                attempts=F("attempts") - 1,
                next_attempt_at=now + timedelta(seconds=later.delay),
            )
            raise
        return _send_claimed(message, client=client, now=now)


def _send_claimed(message: Message, *, client: WappiClient, now: datetime) -> SendOutcome:
    """Hands a claimed, re-checked and paced row to Wappi, holding the number's slot."""
    _typing(message, client=client)
    quoted = message.reply_to.provider_message_id if message.reply_to_id and message.reply_to else None
    try:
        result = client.message_send(recipient=message.contact.phone, body=message.text, quoted_message_id=quoted)
    except WappiTimeoutError as exc:
        # It may have reached WhatsApp: stay `sending`; the sweeper reconciles before any resend.
        Message.objects.filter(pk=message.pk).update(
            last_error=f"timeout, reconciling: {exc}", next_attempt_at=now + timedelta(seconds=60)
        )
        log.warning("send.timeout", message_id=message.pk)
        return SendOutcome("reconciling", str(exc))
    except WappiTransientError as exc:
        return _retry_or_fail(message, exc, now)
    except WappiPermanentError as exc:  # auth errors included: fatal, shown on /health
        # A logged-out phone is an outage too: the row is re-driven once Wappi is back.
        error = f"{LOGGED_OUT}: {exc}" if isinstance(exc, WappiAuthError) else str(exc)
        _fail(message, error=error)
        log.warning("send.failed", message_id=message.pk, error=str(exc))
        return SendOutcome("failed", str(exc))

    _mark_sent(message, provider_id=result.message_id, task_id=result.task_id or "", at=timezone.now())
    if message.reply_to_id and message.reply_to and message.reply_to.provider_message_id:
        try:
            client.mark_read(message_id=message.reply_to.provider_message_id)
        except WappiError as exc:  # reading receipts are a courtesy, never a reason to resend
            log.info("send.mark_read_failed", message_id=message.pk, error=str(exc))
    log.info("send.sent", message_id=message.pk, provider_id=result.message_id, attempts=message.attempts)
    return SendOutcome("sent", result.message_id)


def _recheck(message: Message, now: datetime) -> tuple[str, datetime | None, str]:
    """Re-checks the world at send time, not only when the row was queued: (why it must never
    go out, or "") and (when it may go out instead of now, or None, and why). A message we start
    ourselves passes the proactive gate again (the contact's standing, the number's pause, the
    send window); any other is refused for a whitelisted number, and a bot's words wait for
    nobody in operator mode unless the human mode lets them through. A call reminder the customer
    booked is not unsolicited, but waits out the number's pause like a proactive message (the
    same pause check, messaging.proactive.number_paused_until)."""
    contact: Contact = message.contact
    if message.purpose in PROACTIVE_PURPOSES:
        decision = proactive_gate(contact=contact, purpose=message.purpose, now=now, queued=True)
        if decision.hold in TIME_HOLDS:
            return "", decision.until, TIME_HOLDS[decision.hold]
        return REFUSALS.get(decision.hold, "") if decision.hold else "", None, ""
    eligibility = contact_eligibility(contact=contact, now=now)
    if eligibility.whitelisted:
        return REFUSALS[Hold.WHITELISTED], None, ""
    if message.author == Message.Author.BOT and eligibility.operator_mode and message.purpose not in HUMAN_MODE_ALLOWED:
        return REFUSALS[Hold.OPERATOR_MODE], None, ""
    if _call_reminder_id(message) is not None:
        paused_until = number_paused_until(now=now)
        if paused_until is not None:
            return "", paused_until, TIME_HOLDS[Hold.NUMBER_PAUSED]
    return "", None, ""


def _call_reminder_id(message: Message) -> int | None:
    """The CallReminder a customer's call reminder row was queued for (calls.services), else None."""
    key = message.idempotency_key or ""
    if message.purpose != Message.Purpose.BOOKING or not key.startswith("call-reminder:"):
        return None
    reminder_id = key.removeprefix("call-reminder:")
    return int(reminder_id) if reminder_id.isdigit() else 0


def _stale(message: Message, now: datetime) -> str:
    """Why a row is too late to go out at all, or "". A bot's answer older than
    OUTBOX_MAX_AGE_HOURS would confuse more than help: the managers get one notice for it
    instead (keyed by the row, so a second look never notifies twice). A call reminder whose
    call has begun (or is no longer scheduled) is pointless."""
    if message.author == Message.Author.BOT and message.purpose in AGE_LIMITED:
        age = now - message.created_at
        if age > timedelta(hours=settings.OUTBOX_MAX_AGE_HOURS):
            hours = int(age.total_seconds() // 3600)
            notify.managers_notify(
                contact=message.contact,
                reason=f"Ответ клиенту не отправлен: он ждал отправки {hours} ч. Ответьте клиенту сами",
                summary=message.text,
                key=f"outbox-too-old:{message.pk}",
            )
            return f"{TOO_OLD}: queued {hours} h ago; the managers were notified"
    reminder_id = _call_reminder_id(message)
    if reminder_id is not None:
        current = CallReminder.objects.filter(
            pk=reminder_id,
            call__status=ScheduledCall.Status.SCHEDULED,
            call__scheduled_at__gt=now,
        )
        if not current.exists():
            return CALL_STARTED
    return ""


def _pace_key(phone: str) -> str:
    return f"send:pace:{phone}"


def pace_forget(*, phone: str) -> None:
    """A forgotten number's pacing entry goes from the cache (it names the number)."""
    cache.delete(_pace_key(phone))


def _pace(contact: Contact, *, now: datetime) -> None:
    """Pacing of our number, so it never looks like a spam bot to WhatsApp: a small randomised
    gap between sends to one recipient, caps per minute, hour and day (lowered by the warm-up
    ramp of a newly linked number), and a cap on the chats we open in a day (a number that never
    wrote to us). The caps are checked before the minute's counter is taken, so a held message
    does not use up the minute."""
    gap = settings.SEND_MIN_GAP_SECONDS + random.uniform(0, settings.SEND_GAP_JITTER_SECONDS)  # noqa: S311
    if gap > 0 and not cache.add(_pace_key(contact.phone), 1, timeout=gap):
        raise SendLater(gap, "per-number gap")  # the recipient's number
    share = warmup_share(now=now)
    jitter = random.uniform(0, 60)  # noqa: S311 - spreads the retries, not security
    sent = sends_recent(now=now)
    if sent.hour >= settings.SEND_MAX_PER_HOUR:
        raise SendLater(300 + jitter, "hourly cap of the number")
    if sent.day >= max(1, int(settings.SEND_MAX_PER_DAY * share)):
        raise SendLater(1800 + jitter, "daily cap of the number")
    opens_chat = contact.first_outbound_at is None and contact.first_inbound_at is None
    if opens_chat and new_chats_since(since=now - timedelta(days=1)) >= int(settings.SEND_NEW_CHATS_PER_DAY * share):
        raise SendLater(3600 + jitter, "daily cap of new chats")
    minute = int(timezone.now().timestamp() // 60)
    key = f"send:minute:{minute}"
    cache.add(key, 0, timeout=120)
    if cache.incr(key) > settings.SEND_MAX_PER_MINUTE:
        raise SendLater(60 - timezone.now().timestamp() % 60 + random.uniform(0, 3), "global per-minute cap")  # noqa: S311


@contextlib.contextmanager
def _number_slot(client: WappiClient) -> Iterator[None]:
    """Holds the number's one sending slot (across processes) and keeps SEND_NUMBER_GAP_SECONDS
    (+ jitter) since the number's previous send: waits that gap out inside the slot when it is
    short, else the send comes back later. Raises SendLater when another send holds the slot."""
    last_key = f"send:number:last:{client.profile_id}"
    try:
        # Renewed while the send runs: a worker killed mid-send frees the number within seconds.
        with cache_lock(
            f"send:number:{client.profile_id}", ttl=client.timeout + CONNECT_TIMEOUT, wait=SLOT_WAIT_SECONDS, renew=True
        ):
            gap = settings.SEND_NUMBER_GAP_SECONDS
            if gap > 0:
                gap += random.uniform(0, settings.SEND_GAP_JITTER_SECONDS)  # noqa: S311
                wait = float(cache.get(last_key) or 0) + gap - time.time()
                if wait > SLOT_WAIT_SECONDS:
                    raise SendLater(wait, "gap between the number's sends")
                if wait > 0:
                    time.sleep(wait)
            try:
                yield
            finally:
                cache.set(last_key, time.time(), timeout=3600)
    except LockTimeout as exc:
        raise SendLater(1 + random.uniform(0, 2), "another send from the number is in flight") from exc  # noqa: S311


def _typing(message: Message, *, client: WappiClient) -> None:
    """With WAPPI_TYPING, "typing..." in the chat before a reply, for a time that grows with its
    length (at most WAPPI_TYPING_MAX_SECONDS). A courtesy: a failure never holds the reply."""
    if not settings.WAPPI_TYPING or message.author != Message.Author.BOT or message.purpose != Message.Purpose.REPLY:
        return
    try:
        client.typing_start(recipient=message.contact.phone)
    except WappiError as exc:
        log.info("send.typing_failed", message_id=message.pk, error=type(exc).__name__)
        return
    time.sleep(min(settings.WAPPI_TYPING_MAX_SECONDS, 1 + len(message.text) / TYPING_CHARS_PER_SECOND))


def _retry_or_fail(message: Message, exc: WappiTransientError, now: datetime) -> SendOutcome:
    attempts = message.attempts  # loaded after the claim counted this attempt
    if attempts >= settings.SEND_MAX_ATTEMPTS:
        _fail(message, error=f"{GAVE_UP} {attempts} attempts: {exc}")
        log.warning("send.gave_up", message_id=message.pk, attempts=attempts, error=str(exc))
        return SendOutcome("failed", str(exc))
    delay = min(600.0, 5 * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        delay = max(delay, float(retry_after))
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.QUEUED, last_error=str(exc), next_attempt_at=now + timedelta(seconds=delay)
    )
    raise SendLater(delay, str(exc))


def _finish(message: Message, *, status: str, error: str) -> None:
    Message.objects.filter(pk=message.pk).update(status=status, last_error=error[:2000], next_attempt_at=None)


def _fail(message: Message, *, error: str) -> None:
    """Wappi would not take the message, for good (a refusal at send time is not a failure)."""
    _finish(message, status=Message.Status.FAILED, error=error)
    suspicious.send_failed_watch()


@transaction.atomic
def _mark_sent(message: Message, *, provider_id: str, task_id: str, at: datetime) -> None:
    """Records the send. Only a row still pending moves (a delivery receipt may have moved it
    on already); if the id already sits on another row (an echo stored first), the send is
    recorded without it rather than crashing and leaving the row to be sent again."""
    fields = {
        "status": Message.Status.SENT,
        "provider_task_id": task_id[:128],
        "sent_at": at,
        "last_error": "",
        "next_attempt_at": None,
    }
    pending = Message.objects.filter(pk=message.pk, status__in=[Message.Status.SENDING, Message.Status.QUEUED])
    try:
        with transaction.atomic():
            pending.update(provider_message_id=provider_id, **fields)
    except IntegrityError:
        log.warning("send.provider_id_already_known", message_id=message.pk, provider_id=provider_id)
        pending.update(**fields)
    Contact.objects.filter(pk=message.contact_id).update(
        first_outbound_at=Coalesce("first_outbound_at", at),
        last_outbound_at=Greatest(Coalesce("last_outbound_at", at), at),
    )
    # After the commit: receivers (the follow-up cadence) count from a message that has really
    # gone out, and a problem there never undoes the record of a send.
    transaction.on_commit(
        lambda: announce(outbound_sent, message_id=message.pk, failure_event="send.after_sent_failed"), robust=True
    )


def outbox_reconcile(*, message: Message, client: WappiClient) -> SendOutcome:
    """For a row left `sending` (timeout, worker died): if WhatsApp has it, record it as
    sent; if not, put it back in the queue. Never sends by itself.

    The row is claimed first (its updated_at moves only if nobody touched it since it was
    read), and put back in the queue only if that claim still holds: two reconciliations of
    one row, or one racing a send, can never both requeue it."""
    seen = message.updated_at
    claim = timezone.now()
    if not Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, updated_at=seen).update(
        updated_at=claim, last_error="reconciling: looking for the message in WhatsApp"
    ):
        return SendOutcome("not_claimed")
    chat_id = f"{message.contact.phone}@c.us"
    # Anchored on the attempt's own start: a reconciliation that failed moved updated_at, and
    # looking back from there would miss the echo and send the message a second time.
    since = (message.attempt_started_at or seen or message.created_at) - RECONCILE_LOOKBACK
    try:
        recent = client.messages_get(chat_id=chat_id, limit=RECONCILE_PAGE)
    except WappiTransientError as exc:
        # Try again at the next sweep: the row stays `sending`, nothing is resent meanwhile.
        Message.objects.filter(pk=message.pk, updated_at=claim).update(last_error=f"reconciling: {exc}")
        return SendOutcome("reconciling", str(exc))
    except WappiError as exc:
        # Delivery cannot be verified (e.g. the chat answers 400): say so, never guess.
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, updated_at=claim).update(
            status=Message.Status.FAILED, last_error=f"delivery unknown, not resent: {exc}"[:2000]
        )
        return SendOutcome("failed", str(exc))
    for raw in recent:
        event = parse_sync_message(raw)
        if (
            isinstance(event, WappiMessage)
            and event.origin != Origin.CUSTOMER
            and event.text == message.text
            and event.sent_at >= since
            and not Message.objects.filter(provider_message_id=event.provider_id).exclude(pk=message.pk).exists()
        ):
            _mark_sent(message, provider_id=event.provider_id, task_id="", at=event.sent_at)
            log.info("send.reconciled_as_sent", message_id=message.pk, provider_id=event.provider_id)
            return SendOutcome("sent", event.provider_id)
    requeued = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, updated_at=claim).update(
        status=Message.Status.QUEUED, next_attempt_at=timezone.now(), last_error="not found after timeout: resending"
    )
    if not requeued:
        return SendOutcome("not_claimed")
    log.info("send.reconciled_as_lost", message_id=message.pk)
    return SendOutcome("requeued")


def outbox_redrive(*, now: datetime | None = None) -> list[int]:
    """After a gateway outage: rows that failed for good on transient errors only (the outage)
    and are younger than OUTBOX_MAX_AGE_HOURS go back to the queue, each with a fresh set of
    attempts. The send re-checks everything as usual (the send window, operator mode, the
    age). Returns the ids requeued; the caller enqueues their sends."""
    now = now or timezone.now()
    failed = Message.objects.filter(
        direction=Message.Direction.OUT,
        status=Message.Status.FAILED,
        created_at__lte=now,
        created_at__gte=now - timedelta(hours=settings.OUTBOX_MAX_AGE_HOURS),
    )
    ids = list(failed.filter(_outage_failed()).values_list("pk", flat=True)[:500])
    Message.objects.filter(pk__in=ids, status=Message.Status.FAILED).update(
        status=Message.Status.QUEUED, attempts=0, next_attempt_at=now, last_error=REDRIVEN
    )
    if ids:
        log.info("send.redriven", count=len(ids))
    return ids


def _outage_failed() -> Q:
    """Rows an outage failed: retries given up on transient errors, or a logged-out phone."""
    return Q(last_error__startswith=GAVE_UP) | Q(last_error__startswith=LOGGED_OUT)


def outbox_recover_from_outage(*, now: datetime | None = None) -> list[int]:
    """Wappi is healthy again after an outage: re-drives what the outage failed (outbox_redrive)
    and marks the rows it failed that are too old to resend (so no later outage lists them
    again). The managers get ONE notice naming the customers affected (names or contact ids,
    never phones), idempotent per recovery. Returns the ids requeued."""
    now = now or timezone.now()
    too_old = list(
        Message.objects.filter(_outage_failed(), direction=Message.Direction.OUT, status=Message.Status.FAILED)
        .filter(created_at__lt=now - timedelta(hours=settings.OUTBOX_MAX_AGE_HOURS))
        .values_list("pk", flat=True)[:500]
    )
    Message.objects.filter(pk__in=too_old).update(last_error=NOT_REDRIVEN)
    redriven = outbox_redrive(now=now)
    if not (redriven or too_old):
        return redriven
    affected = list(Contact.objects.filter(messages__pk__in=[*redriven, *too_old]).distinct().order_by("pk"))
    notify.managers_notify(
        contact=None,
        who=notify.customers_line(affected),
        reason="Wappi был недоступен: сообщения клиентам не ушли вовремя",
        summary=f"Отправляем сейчас: {len(redriven)}. Не отправлены (устарели), ответьте сами: {len(too_old)}",
        key=f"outage:{now:%Y%m%dT%H%M%S.%f}",
    )
    log.info("send.outage_recovered", redriven=len(redriven), too_old=len(too_old), contacts=len(affected))
    return redriven


def outbox_due(
    *, now: datetime | None = None, stuck_after: timedelta = timedelta(minutes=3)
) -> tuple[list[int], list[int]]:
    """Rows the sweeper must act on: queued rows whose time has come and whose task may have
    been lost, and rows stuck in `sending` (timed out, or the worker died mid-send)."""
    now = now or timezone.now()
    queued = list(
        Message.objects.filter(
            direction=Message.Direction.OUT,
            status=Message.Status.QUEUED,
            next_attempt_at__lte=now - timedelta(seconds=30),
        ).values_list("pk", flat=True)[:500]
    )
    stuck = list(
        Message.objects.filter(
            direction=Message.Direction.OUT, status=Message.Status.SENDING, updated_at__lte=now - stuck_after
        ).values_list("pk", flat=True)[:100]
    )
    return queued, stuck
