from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact, ScheduledCall
from contacts.selectors import contact_eligibility
from followups.models import MAX_TOUCHES, FollowUp, FollowUpTouch
from messaging.models import Message

__all__ = [
    "MAX_TOUCHES",
    "followup_blocker",
    "followup_call_booked",
    "followup_counts",
    "followup_own_stop",
    "followup_stats",
    "followup_touches_by_day",
]

SENT_STATUSES = Message.SENT_STATUSES
REPLY_WINDOW = timedelta(hours=48)


def followup_blocker(
    *, contact: Contact, now: datetime, whitelisted: bool | None = None, call_booked: bool | None = None
) -> FollowUp.StopReason | None:
    """Why this contact must get no follow-up at all right now, as the reason to stop a chain
    with; None when nothing stands in the way. Two queries (whitelist, booked call), none when
    the caller read both with the contact (`whitelisted`, `call_booked`: followup_call_booked)."""
    eligibility = contact_eligibility(contact=contact, now=now, whitelisted=whitelisted)
    if eligibility.is_client is not True:
        return FollowUp.StopReason.NOT_A_CLIENT
    if eligibility.opted_out:
        return FollowUp.StopReason.OPTED_OUT
    if eligibility.operator_mode:
        return FollowUp.StopReason.HUMAN_TOOK_OVER
    if eligibility.whitelisted:
        # The owners' personal numbers are never messaged; they are nobody's client.
        return FollowUp.StopReason.NOT_A_CLIENT
    return followup_own_stop(contact=contact, now=now, call_booked=call_booked)


def followup_own_stop(
    *, contact: Contact, now: datetime, call_booked: bool | None = None
) -> FollowUp.StopReason | None:
    """The follow-up cadence's own reasons to stop, beyond the contact's standing (which the
    proactive gate checks for every message we start): one query (a booked call), none when the
    caller read it with the contact (`call_booked`)."""
    if call_booked is None:
        call_booked = followup_call_booked(contact.pk, now).exists()
    if call_booked:
        # A booked call is the clearest "yes" there is (calls.services stops chains so too).
        return FollowUp.StopReason.CLIENT_SAID_YES
    return None


def followup_call_booked(contact_id: Any, now: datetime):
    """The contact's calls still ahead (`contact_id` may be an OuterRef: Exists() of it reads
    whether one is booked along with the contact)."""
    return ScheduledCall.objects.filter(contact=contact_id, status=ScheduledCall.Status.SCHEDULED, scheduled_at__gt=now)


def _replied_in_window() -> Exists:
    """For a touch row: did the customer write within REPLY_WINDOW after the touch was sent?"""
    return Exists(
        Message.objects.filter(
            contact_id=OuterRef("message__contact_id"),
            direction=Message.Direction.IN,
            timestamp__gt=OuterRef("message__sent_at"),
            timestamp__lte=OuterRef("message__sent_at") + REPLY_WINDOW,
        )
    )


def followup_stats() -> dict[str, Any]:
    """Active follow-ups and, per touch number, touches sent and how many got a customer
    reply within 48 hours of being sent. Two queries."""
    replied = _replied_in_window()
    rows = (
        FollowUpTouch.objects.filter(message__status__in=SENT_STATUSES, message__sent_at__isnull=False)
        .annotate(replied=replied)
        .values("touch_number")
        .annotate(sent=Count("id"), replied_48h=Count("id", filter=Q(replied=True)))
    )
    by_touch = {str(n): {"sent": 0, "replied_48h": 0} for n in range(1, MAX_TOUCHES + 1)}
    for row in rows:
        by_touch[str(row["touch_number"])] = {"sent": row["sent"], "replied_48h": row["replied_48h"]}
    return {"active": FollowUp.objects.filter(is_completed=False).count(), "touches": by_touch}


def followup_counts(*, now: datetime) -> dict[str, int]:
    """Sequences still running, and how many of them have a touch due at `now`. One query."""
    return FollowUp.objects.filter(is_completed=False).aggregate(
        active=Count("id"), due=Count("id", filter=Q(next_touch_at__lte=now))
    )


def followup_touches_by_day(*, since: datetime, until: datetime) -> dict[date, dict[int, dict[str, int]]]:
    """Touches that reached WhatsApp in [since, until), per local day (TIME_ZONE) of sending and
    touch number: how many were sent, and how many the customer answered within REPLY_WINDOW.
    Days without touches are absent. One query."""
    replied = _replied_in_window()
    rows = (
        FollowUpTouch.objects.filter(
            message__sent_at__gte=since, message__sent_at__lt=until, message__status__in=SENT_STATUSES
        )
        .annotate(replied=replied, day=TruncDate("message__sent_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "touch_number")
        .annotate(sent=Count("id"), answered=Count("id", filter=Q(replied=True)))
        .order_by("day", "touch_number")
    )
    by_day: dict[date, dict[int, dict[str, int]]] = {}
    for row in rows:
        by_day.setdefault(row["day"], {})[row["touch_number"]] = {"sent": row["sent"], "answered": row["answered"]}
    return by_day
