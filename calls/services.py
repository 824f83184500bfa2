"""Calls with a manager: booking (the assistant's tools), reminders (beat), and the operator's
cancel / reschedule. The rules themselves are pure, in calls.booking."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import structlog
from django.db import connection, transaction
from django.utils import timezone

from ai.conversation import contact_language
from ai.rules.language import RUSSIAN
from ai.rules.texts import fixed_text, weekday_name
from calls.booking import (
    TOO_FAR_AHEAD,
    BookingRules,
    day_slots,
    is_public_holiday,
    nearest_free_slots,
    parse_start,
    slot_problem,
)
from calls.signals import call_booked
from contacts.models import CallReminder, Contact, ScheduledCall
from contacts.phones import format_phone
from messaging.models import Message
from messaging.notify import managers_notify
from messaging.services import message_enqueue_outbound

log = structlog.get_logger(__name__)

ALREADY_BOOKED = "already booked"
NO_FREE_SLOTS = "no free slots"
REMINDER_BEFORE = timedelta(hours=1)
WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
# Namespace of the PostgreSQL advisory locks that serialise bookings of one slot.
_SLOT_LOCK_NAMESPACE = 7301


def call_taken_counts(*, start: datetime, end: datetime) -> dict[datetime, int]:
    """How many scheduled (not cancelled, not finished) calls start at each moment in [start, end)."""
    counts: dict[datetime, int] = {}
    for moment in ScheduledCall.objects.filter(
        status=ScheduledCall.Status.SCHEDULED, scheduled_at__gte=start, scheduled_at__lt=end
    ).values_list("scheduled_at", flat=True):
        counts[moment] = counts.get(moment, 0) + 1
    return counts


def _iso(moment: datetime, rules: BookingRules) -> str:
    return moment.astimezone(rules.tz).isoformat()


def _human(moment: datetime, rules: BookingRules, language: str = RUSSIAN) -> str:
    local = moment.astimezone(rules.tz)
    if language == RUSSIAN:
        return f"{WEEKDAYS[local.weekday()]}, {local:%d.%m} в {local:%H:%M}"
    return f"{weekday_name(local.weekday(), language)}, {local:%d.%m}, {local:%H:%M}"


def _alternatives(*, around: datetime, now: datetime, rules: BookingRules) -> list[str]:
    # A moment past the horizon (the year 9999, say) is offered the latest slots there are.
    around = min(around, datetime.combine(rules.latest_day(now), time(23, 59), tzinfo=rules.tz))
    start = min(around, now) - timedelta(days=1)
    end = max(around, now) + timedelta(days=40)
    taken = call_taken_counts(start=start, end=end)
    slots = nearest_free_slots(rules=rules, now=now, taken=taken, around=max(around, now))
    return [_iso(slot, rules) for slot in slots]


def _refusal(error: str, *, around: datetime, now: datetime, rules: BookingRules) -> dict[str, Any]:
    refusal: dict[str, Any] = {"ok": False, "error": error}
    if error == TOO_FAR_AHEAD:
        refusal["latest_date"] = rules.latest_day(now).isoformat()  # the model can say "until ..."
    return {**refusal, "alternatives": _alternatives(around=around, now=now, rules=rules)}


def _future_call(contact: Contact, now: datetime) -> ScheduledCall | None:
    return (
        ScheduledCall.objects.filter(contact=contact, status=ScheduledCall.Status.SCHEDULED, scheduled_at__gt=now)
        .order_by("scheduled_at")
        .first()
    )


def _problem_now(start: datetime, *, rules: BookingRules, now: datetime, exclude: int | None = None) -> str | None:
    calls = ScheduledCall.objects.filter(status=ScheduledCall.Status.SCHEDULED, scheduled_at=start)
    if exclude is not None:
        calls = calls.exclude(pk=exclude)
    return slot_problem(start, rules=rules, now=now, taken={start: calls.count()})


def _lock_slot(start: datetime) -> None:
    """Serialises bookings of one slot across contacts until the transaction ends (capacity is
    re-checked under it). The contact row lock alone would let two customers take the last place."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The key is a 32-bit integer: a far-off start wraps round (two slots may then share
            # a lock, which only serialises them).
            key = int(start.timestamp()) // 60 % 2**31
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_SLOT_LOCK_NAMESPACE, key])


def _reminders_create(call: ScheduledCall, now: datetime) -> list[CallReminder]:
    due = call.scheduled_at - REMINDER_BEFORE
    if due <= now:
        return []
    return [
        CallReminder.objects.create(call=call, audience=audience, due_at=due)
        for audience in (CallReminder.Audience.CLIENT, CallReminder.Audience.MANAGER)
    ]


def call_book(*, contact: Contact, start_text: str, topic: str, now: datetime) -> dict[str, Any]:
    """The `book_call` tool. Validates the slot, then, atomically: creates the ScheduledCall,
    queues the client's confirmation, notifies the managers, announces `call_booked` (follow-ups stop:
    the client said yes) and creates the 1-hour reminders. Answers in the tool contract's shape:
    {"ok": true, "call_id", "scheduled_at"} or {"ok": false, "error", "alternatives"}."""

    rules = BookingRules.from_settings()
    try:
        start = parse_start(start_text, rules.tz)
    except ValueError as exc:
        return _refusal(str(exc), around=now, now=now, rules=rules)
    topic = " ".join(str(topic or "").split())[:500]

    with transaction.atomic():
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        existing = _future_call(contact, now)
        if existing is not None:
            return {
                "ok": False,
                "error": ALREADY_BOOKED,
                "scheduled_at": _iso(existing.scheduled_at, rules),
                "call_id": existing.pk,
            }
        _lock_slot(start)
        problem = _problem_now(start, rules=rules, now=now)
        if problem is None:
            call = ScheduledCall.objects.create(
                contact=contact,
                scheduled_at=start,
                timezone=rules.tz.key,
                notes=topic,
                created_by=ScheduledCall.CreatedBy.AI,
            )
            when = _human(start, rules)
            language = contact_language(contact)
            message_enqueue_outbound(
                contact=contact,
                text=fixed_text(
                    "call_booked", language, when=_human(start, rules, language), phone=format_phone(contact.phone)
                ),
                purpose=Message.Purpose.BOOKING,
                idempotency_key=f"call-booked:{call.pk}",
            )
            managers_notify(
                contact=contact,
                reason=f"Новый созвон: {when} (время Астаны)",
                summary=topic or "тема не указана",
                key=f"call-booked:{call.pk}",
            )
            call_booked.send(sender=ScheduledCall, contact=contact, call=call, now=now)
            _reminders_create(call, now)
            log.info("call.booked", call_id=call.pk, contact_id=contact.pk, scheduled_at=start.isoformat())
            return {"ok": True, "call_id": call.pk, "scheduled_at": _iso(start, rules)}
    # Alternatives are looked up after the locks are released.
    return _refusal(problem, around=start, now=now, rules=rules)


def call_availability(*, date_text: str, time_text: str | None, now: datetime) -> dict[str, Any]:
    """The `check_availability` tool. With a time: whether that slot is free (and nearby free
    slots). Without: up to 3 free slots that day, or the nearest ones with the day's problem."""
    rules = BookingRules.from_settings()
    try:
        day = date.fromisoformat(str(date_text or "").strip())
    except ValueError:
        return _refusal(f"invalid date {str(date_text)[:40]!r}: expected YYYY-MM-DD", around=now, now=now, rules=rules)
    if time_text:
        try:
            at = time.fromisoformat(str(time_text).strip())
        except ValueError:
            return _refusal(f"invalid time {str(time_text)[:20]!r}: expected HH:MM", around=now, now=now, rules=rules)
        start = datetime.combine(day, at, tzinfo=rules.tz)
        problem = _problem_now(start, rules=rules, now=now)
        if problem is not None:
            return _refusal(problem, around=start, now=now, rules=rules)
        others = [slot for slot in _alternatives(around=start, now=now, rules=rules) if slot != _iso(start, rules)]
        return {"ok": True, "free": [_iso(start, rules), *others[:2]]}

    if day > rules.latest_day(now):
        return _refusal(TOO_FAR_AHEAD, around=now, now=now, rules=rules)
    day_start = datetime.combine(day, time(0), tzinfo=rules.tz)
    taken = call_taken_counts(start=day_start, end=day_start + timedelta(days=1))
    free = [
        slot for slot in day_slots(day, rules=rules) if slot_problem(slot, rules=rules, now=now, taken=taken) is None
    ]
    if free:
        return {"ok": True, "free": [_iso(slot, rules) for slot in free[:3]]}
    if day_start + timedelta(days=1) <= now:
        problem = "in the past"
    elif day.weekday() >= 5:
        problem = "weekend"
    elif is_public_holiday(day):
        problem = "public holiday"
    else:
        problem = NO_FREE_SLOTS
    return _refusal(problem, around=max(day_start, now), now=now, rules=rules)


def reminders_send_due(*, now: datetime) -> int:
    """Sends the due, unsent reminders of still-scheduled, not yet started calls: the client's
    as a BOOKING message, the managers' through managers_notify. Each is sent once (claimed
    with skip_locked and marked sent in the same transaction). Returns how many were sent."""
    rules = BookingRules.from_settings()
    sent = 0
    with transaction.atomic():
        due = list(
            CallReminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("call__contact")
            .filter(
                sent_at__isnull=True,
                due_at__lte=now,
                call__status=ScheduledCall.Status.SCHEDULED,
                call__scheduled_at__gt=now,
            )
            .order_by("due_at")[:200]
        )
        for reminder in due:
            call = reminder.call
            when = _human(call.scheduled_at, rules)
            if reminder.audience == CallReminder.Audience.CLIENT:
                language = contact_language(call.contact)
                message_enqueue_outbound(
                    contact=call.contact,
                    text=fixed_text(
                        "call_reminder",
                        language,
                        when=_human(call.scheduled_at, rules, language),
                        phone=format_phone(call.contact.phone),
                    ),
                    purpose=Message.Purpose.BOOKING,
                    idempotency_key=f"call-reminder:{reminder.pk}",
                )
            else:
                managers_notify(
                    contact=call.contact,
                    reason=f"Созвон через час: {when} (время Астаны)",
                    summary=call.notes or "тема не указана",
                    key=f"call-reminder:{reminder.pk}",
                )
            CallReminder.objects.filter(pk=reminder.pk).update(sent_at=now)
            sent += 1
    if sent:
        log.info("call.reminders_sent", count=sent)
    return sent


def call_cancel(*, call: ScheduledCall, by_operator: bool = True) -> ScheduledCall:
    """Cancels a scheduled call, drops its unsent reminders and tells the client."""
    rules = BookingRules.from_settings()
    with transaction.atomic():
        updated = ScheduledCall.objects.filter(pk=call.pk, status=ScheduledCall.Status.SCHEDULED).update(
            status=ScheduledCall.Status.CANCELLED
        )
        call.refresh_from_db()
        if not updated:
            return call
        CallReminder.objects.filter(call=call, sent_at__isnull=True).delete()
        language = contact_language(call.contact)
        when = _human(call.scheduled_at, rules, language)
        text = fixed_text("call_cancelled_by_operator" if by_operator else "call_cancelled", language, when=when)
        message_enqueue_outbound(
            contact=call.contact,
            text=text,
            author=Message.Author.OPERATOR if by_operator else Message.Author.BOT,
            purpose=Message.Purpose.BOOKING,
            idempotency_key=f"call-cancelled:{call.pk}",
        )
    log.info("call.cancelled", call_id=call.pk, by_operator=by_operator)
    return call


def call_reschedule(*, call: ScheduledCall, start: datetime, now: datetime | None = None) -> ScheduledCall:
    """Moves a scheduled call to `start` (an operator's decision; the booking rules still
    apply, ValueError names the broken one), replaces its unsent reminders and tells the client."""
    now = now or timezone.now()
    rules = BookingRules.from_settings()
    with transaction.atomic():
        call = ScheduledCall.objects.select_for_update().select_related("contact").get(pk=call.pk)
        if call.status != ScheduledCall.Status.SCHEDULED:
            raise ValueError(f"only a scheduled call can be moved (this one is {call.status})")
        if start == call.scheduled_at:
            return call
        _lock_slot(start)
        problem = _problem_now(start, rules=rules, now=now, exclude=call.pk)
        if problem is not None:
            raise ValueError(problem)
        previous = call.scheduled_at
        # One notice per move: the row's last change names this move (a retry of the same
        # move finds the same value; moving back to an earlier time is a new move).
        move = f"call-moved:{call.pk}:{call.updated_at.timestamp():.6f}"
        call.scheduled_at = start
        call.save(update_fields=["scheduled_at", "updated_at"])
        CallReminder.objects.filter(call=call, sent_at__isnull=True).delete()
        _reminders_create(call, now)
        language = contact_language(call.contact)
        message_enqueue_outbound(
            contact=call.contact,
            text=fixed_text(
                "call_moved",
                language,
                when=_human(start, rules, language),
                previous=_human(previous, rules, language),
                phone=format_phone(call.contact.phone),
            ),
            author=Message.Author.OPERATOR,
            purpose=Message.Purpose.BOOKING,
            idempotency_key=move,
        )
    log.info("call.rescheduled", call_id=call.pk, scheduled_at=start.isoformat())
    return call
