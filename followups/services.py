"""Follow-up chains: enrolment when a bot message goes out, stopping when the client answers,
and the operator's stop / restart / send now. The runner (followups.runner) sends the touches.

A contact has at most one active (not completed) FollowUp. `touch_number` is the next touch
to send; `next_touch_at` when it is due; `anchor_message`/`anchor_at` the bot message the due
time counts from (the reply, or the last touch sent).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from contacts.models import Contact, WhitelistEntry
from followups.models import MAX_TOUCHES, FollowUp, FollowUpTouch, ReplyIntent
from followups.selectors import followup_blocker, followup_call_booked
from followups.timetable import touch_due_at
from messaging.models import Message

log = structlog.get_logger(__name__)

ENROLLING_PURPOSES = (Message.Purpose.REPLY, Message.Purpose.FOLLOW_UP)
_STOP_FOR_INTENT = {
    ReplyIntent.Intent.YES: FollowUp.StopReason.CLIENT_SAID_YES,
    ReplyIntent.Intent.NO: FollowUp.StopReason.CLIENT_SAID_NO,
}


@transaction.atomic(savepoint=False)
def followup_stop(*, contact: Contact, reason: FollowUp.StopReason, now: datetime | None = None) -> int:
    """Completes the contact's active follow-up, if any, with `reason`. Returns 0 or 1."""
    return FollowUp.objects.filter(contact=contact, is_completed=False).update(
        is_completed=True,
        stop_reason=reason,
        completed_at=now or timezone.now(),
        next_touch_at=None,
        updated_at=now or timezone.now(),
    )


def followup_after_bot_message(*, message: Message, now: datetime | None = None) -> FollowUp | None:
    """Called once a bot message (purpose reply or follow_up) has gone out to a contact: the
    contact's single active follow-up then points at the next touch.

    - touch k of a chain (k < 5) sent: touch k+1, due `intervals[k]` after it;
    - touch 5 sent: the chain completes (`completed_5_touches`);
    - any other bot message: touch 1, due `intervals[0]` after it, reason `uncertain_answer`
      when the client's last reply was uncertain, else `no_reply`.

    Nothing happens when follow-ups are off, when the client's last reply was a clear yes or
    no, or for a message older than the one the chain already counts from; a contact who may
    not get follow-ups (not a client, opted out, operator mode, a booked call) has its
    running chain stopped instead. Idempotent: a second call for the same message changes
    nothing. Returns the active follow-up afterwards, or None."""
    now = now or timezone.now()
    if (
        message.direction != Message.Direction.OUT
        or message.author != Message.Author.BOT
        or message.purpose not in ENROLLING_PURPOSES
        or not settings.ENABLE_FOLLOW_UPS
    ):
        return None
    sent_at = message.sent_at or message.timestamp
    intervals = settings.FOLLOW_UP_INTERVALS
    with transaction.atomic():
        # One writer per contact at a time (two sends finishing together). NO KEY UPDATE does
        # not wait for an outbox insert, which takes KEY SHARE on the contact.
        # What stands in the way (the whitelist, a booked call) and the last reply's intent are
        # read with the lock: one statement for every reply that goes out.
        contact = (
            Contact.objects.select_for_update(no_key=True)
            .annotate(
                whitelisted=Exists(WhitelistEntry.objects.filter(phone=OuterRef("phone"))),
                call_booked=Exists(followup_call_booked(OuterRef("pk"), now)),
                last_intent=Subquery(ReplyIntent.objects.filter(contact=OuterRef("pk")).values("intent")[:1]),
            )
            .get(pk=message.contact_id)
        )
        active = FollowUp.objects.filter(contact=contact, is_completed=False).first()
        if active is not None and (
            active.anchor_message_id == message.pk or (active.anchor_at is not None and sent_at < active.anchor_at)
        ):
            return active  # already counted from this message, or from a newer one
        blocker = followup_blocker(
            contact=contact, now=now, whitelisted=contact.whitelisted, call_booked=contact.call_booked
        )
        if blocker is not None:
            if active is not None:
                _complete(active, reason=blocker, now=now)
                log.info("followup.stopped", followup_id=active.pk, contact_id=contact.pk, reason=blocker)
            return None

        touch = None
        if message.purpose == Message.Purpose.FOLLOW_UP:
            touch = FollowUpTouch.objects.select_related("followup").filter(message=message).first()
        if touch is not None:
            return _after_touch(touch=touch, message=message, sent_at=sent_at, now=now)

        intent = contact.last_intent  # None: the client never replied
        if intent in ReplyIntent.BLOCKING:
            return active
        reason = (
            FollowUp.Reason.UNCERTAIN_ANSWER if intent == ReplyIntent.Intent.UNCERTAIN else FollowUp.Reason.NO_REPLY
        )
        fields = {
            "touch_number": 1,
            "next_touch_at": touch_due_at(touch_number=1, after=sent_at, intervals=intervals),
            "reason": reason,
            "anchor_message": message,
            "anchor_at": sent_at,
        }
        if active is None:
            active = FollowUp.objects.create(contact=contact, **fields)
        else:
            for name, value in fields.items():
                setattr(active, name, value)
            active.save(update_fields=[*fields, "updated_at"])
    log.info(
        "followup.enrolled",
        followup_id=active.pk,
        contact_id=contact.pk,
        reason=reason,
        next_touch_at=active.next_touch_at.isoformat(),
    )
    return active


def _after_touch(*, touch: FollowUpTouch, message: Message, sent_at: datetime, now: datetime) -> FollowUp | None:
    followup, number = touch.followup, touch.touch_number
    if followup.is_completed or followup.touch_number != number:
        # A touch of a chain stopped (or moved on) while it was in flight changes nothing.
        return None if followup.is_completed else followup
    if number >= MAX_TOUCHES:
        _complete(followup, reason=FollowUp.StopReason.COMPLETED_5_TOUCHES, now=now, last_touch_at=sent_at)
        log.info("followup.completed", followup_id=followup.pk, contact_id=followup.contact_id)
        return None
    followup.touch_number = number + 1
    followup.next_touch_at = touch_due_at(
        touch_number=number + 1, after=sent_at, intervals=settings.FOLLOW_UP_INTERVALS
    )
    followup.last_touch_at = sent_at
    followup.anchor_message = message
    followup.anchor_at = sent_at
    followup.save(
        update_fields=["touch_number", "next_touch_at", "last_touch_at", "anchor_message", "anchor_at", "updated_at"]
    )
    log.info(
        "followup.advanced",
        followup_id=followup.pk,
        contact_id=followup.contact_id,
        touch_number=followup.touch_number,
        next_touch_at=followup.next_touch_at.isoformat(),
    )
    return followup


def followup_on_customer_reply(*, contact: Contact, intent: str, now: datetime | None = None) -> int:
    """A customer message arrived with `intent` ("yes", "no", "uncertain", "other"): the
    running chain stops at once (`client_said_yes`, `client_said_no`, else
    `client_responded`), and the intent is kept: after yes or no the contact is not enrolled
    again until it writes something else; after "uncertain" the next chain's reason is
    `uncertain_answer`. Returns how many chains stopped (0 or 1)."""
    if intent not in ReplyIntent.Intent.values:
        raise ValueError(f"unknown reply intent {intent!r}; expected one of {', '.join(ReplyIntent.Intent.values)}")
    now = now or timezone.now()
    reason = _STOP_FOR_INTENT.get(intent, FollowUp.StopReason.CLIENT_RESPONDED)
    stopped = _intent_keep_and_stop(contact_id=contact.pk, intent=intent, reason=reason, now=now)
    if stopped:
        log.info("followup.stopped", contact_id=contact.pk, reason=reason, intent=intent)
    return stopped


def _intent_keep_and_stop(*, contact_id: int, intent: str, reason: str, now: datetime) -> int:
    """The reply's intent upserted (the contact has one row) and its running chain stopped as
    followup_stop does, in one statement (a data-modifying WITH): this runs for every answered
    message. Returns how many chains stopped. (SQLite, for `make run`, has no data-modifying
    WITH: two statements there.)"""
    if connection.vendor != "postgresql":
        with transaction.atomic(savepoint=False):
            ReplyIntent.objects.bulk_create(
                [ReplyIntent(contact_id=contact_id, intent=intent, replied_at=now)],
                update_conflicts=True,
                unique_fields=["contact"],
                update_fields=["intent", "replied_at"],
            )
            return FollowUp.objects.filter(contact_id=contact_id, is_completed=False).update(
                is_completed=True, stop_reason=reason, completed_at=now, next_touch_at=None, updated_at=now
            )
    intents, followups = ReplyIntent._meta.db_table, FollowUp._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH kept AS (INSERT INTO {intents} (contact_id, intent, replied_at) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (contact_id) DO UPDATE SET intent = EXCLUDED.intent, replied_at = EXCLUDED.replied_at) "
            f"UPDATE {followups} SET is_completed = true, stop_reason = %s, completed_at = %s, "
            "next_touch_at = NULL, updated_at = %s WHERE contact_id = %s AND NOT is_completed",
            [contact_id, intent, now, reason, now, now, contact_id],
        )
        return cursor.rowcount


def followup_restart(*, contact: Contact, now: datetime | None = None) -> FollowUp:
    """The operator starts the contact's chain again from touch 1, due `intervals[0]` from
    now (the runner still keeps the send window, the cap and every stop rule). A running
    chain is stopped first (`stopped_by_operator`)."""
    now = now or timezone.now()
    with transaction.atomic():
        Contact.objects.select_for_update(no_key=True).filter(pk=contact.pk).first()
        previous = contact.followups.order_by("-created_at", "-pk").first()
        followup_stop(contact=contact, reason=FollowUp.StopReason.STOPPED_BY_OPERATOR, now=now)
        followup = FollowUp.objects.create(
            contact=contact,
            touch_number=1,
            next_touch_at=touch_due_at(touch_number=1, after=now, intervals=settings.FOLLOW_UP_INTERVALS),
            reason=previous.reason if previous else FollowUp.Reason.NO_REPLY,
            anchor_at=now,
        )
    log.info("followup.restarted", followup_id=followup.pk, contact_id=contact.pk)
    return followup


def followup_send_now(*, followup: FollowUp, now: datetime | None = None) -> bool:
    """Makes an active chain's next touch due now: the runner's next tick (within a minute)
    sends it, still only inside the send window and under the daily cap. False when the
    chain is completed."""
    now = now or timezone.now()
    return bool(FollowUp.objects.filter(pk=followup.pk, is_completed=False).update(next_touch_at=now, updated_at=now))


def _complete(
    followup: FollowUp, *, reason: FollowUp.StopReason, now: datetime, last_touch_at: datetime | None = None
) -> None:
    fields = {"is_completed": True, "stop_reason": reason, "completed_at": now, "next_touch_at": None}
    if last_touch_at is not None:
        fields["last_touch_at"] = last_touch_at
    FollowUp.objects.filter(pk=followup.pk, is_completed=False).update(**fields, updated_at=now)
    for name, value in fields.items():
        setattr(followup, name, value)
