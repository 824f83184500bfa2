"""The proactive gate: every message we start ourselves (a follow-up touch, a post-purchase
message) passes it when it is planned, and again when the sender takes it from the outbox.

It goes out only
- to a contact that is not an owner's personal number, has not opted out and is not in an
  operator's hands (contacts.selectors.contact_eligibility);
- to a contact who wrote to the business first (never a cold message: writing to strangers is
  what gets a linked WhatsApp device restricted);
- while the number is not paused by the number-safety governor (messaging.number: a logged-out
  profile, a restriction, a burst of undelivered messages, too many unanswered proactive messages);
- to a contact who has left fewer than PROACTIVE_MAX_UNANSWERED of our proactive messages unanswered;
- inside the send window (messaging.window: days, hours, no Kazakhstan public holiday);
- at least FOLLOW_UP_MIN_GAP_HOURS after our last message to the contact (any kind: a touch right
  after a conversation is as unwelcome as one right after another touch);
- while fewer than PROACTIVE_DAILY_LIMIT proactive messages were written today (local day) for
  the WhatsApp number, counted again under one advisory lock right before it is queued
  (`proactive_claim`), so two workers never both take the last place.

What each caller does with a "not now" is its own: the follow-up runner stops a chain in operator
mode, post-purchase looks again in an hour, the sender refuses the row; a time-bound "not now"
says until when.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import connection
from django.db.models import Max

from contacts.models import Contact
from contacts.selectors import contact_eligibility
from messaging.models import Message, NumberState
from messaging.selectors import PROACTIVE_PURPOSES, contact_unanswered_proactive, contact_wrote_first, warmup_share
from messaging.window import SendWindow, defer_for_gap, in_send_window, next_window_opening, send_time

__all__ = [
    "PROACTIVE_PURPOSES",
    "QUOTA_LOCK_KEY",
    "Decision",
    "Hold",
    "number_paused_until",
    "proactive_claim",
    "proactive_daily_limit",
    "proactive_gate",
    "proactive_sent_count",
]

# How soon a paused number is looked at again when its pause names no end (a logged-out profile).
PAUSE_RECHECK = timedelta(minutes=30)
# pg_advisory_xact_lock key serialising "count today's proactive messages, then queue one" for
# every kind. The value is the one the follow-up runner used ("FOLL"): processes of the release
# before and after this one exclude each other during a deploy.
QUOTA_LOCK_KEY = 0x46_4F_4C_4C


class Hold(StrEnum):
    """Why not now. The first five are about the contact (no `until`), the rest about time."""

    WHITELISTED = "whitelisted"
    OPTED_OUT = "opted_out"
    OPERATOR_MODE = "operator_mode"
    NEVER_WROTE = "never_wrote"
    UNANSWERED = "unanswered"
    NUMBER_PAUSED = "number_paused"
    OUTSIDE_WINDOW = "outside_window"
    MIN_GAP = "min_gap"
    DAILY_CAP = "daily_cap"


@dataclass(frozen=True)
class Decision:
    hold: Hold | None = None  # None: it may go out now
    until: datetime | None = None  # for a time-bound hold: the earliest moment worth trying again

    @property
    def allowed(self) -> bool:
        return self.hold is None


def proactive_gate(
    *,
    contact: Contact,
    purpose: str,
    now: datetime,
    queued: bool = False,
    window: SendWindow | None = None,
    rng: random.Random | None = None,
) -> Decision:
    """May a `purpose` message we start ourselves go to `contact` at `now`?

    Planning (`queued=False`): the contact's standing (incl. having written first and the
    unanswered count), the number's pause, the send window, the per-contact gap and
    (unlocked, to save a model call) today's cap; the caller then queues its message inside
    `proactive_claim`. At send time (`queued=True`, the sender): the contact's standing, the
    number's pause and the send window only, since the message's gap and its place in the day's cap were settled when it
    was queued (it now counts in both itself). Reads; no side effects. `window` and `rng` (jitter
    of the next opening) default to the settings' window and a fresh generator."""
    if purpose not in PROACTIVE_PURPOSES:
        raise ValueError(f"{purpose!r} is not a proactive purpose")
    eligibility = contact_eligibility(contact=contact, now=now)
    if eligibility.whitelisted:
        return Decision(Hold.WHITELISTED)
    if eligibility.opted_out:
        return Decision(Hold.OPTED_OUT)
    if eligibility.operator_mode:
        return Decision(Hold.OPERATOR_MODE)
    if not contact_wrote_first(contact=contact):
        return Decision(Hold.NEVER_WROTE)
    window = window or SendWindow.from_settings()
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    paused_until = number_paused_until(now=now)
    if paused_until is not None:
        return Decision(Hold.NUMBER_PAUSED, send_time(paused_until, window=window, rng=rng))
    if not in_send_window(now, window=window):
        return Decision(Hold.OUTSIDE_WINDOW, next_window_opening(now, window=window, rng=rng))
    if queued:
        return Decision()
    if contact_unanswered_proactive(contact=contact) >= settings.PROACTIVE_MAX_UNANSWERED:
        return Decision(Hold.UNANSWERED)
    gap_end = defer_for_gap(
        now, last_outbound_at=_last_outbound_at(contact), min_gap_hours=settings.FOLLOW_UP_MIN_GAP_HOURS
    )
    if gap_end > now:
        return Decision(Hold.MIN_GAP, send_time(gap_end, window=window, rng=rng))
    if proactive_sent_count(since=window.day_start(now)) >= proactive_daily_limit(now=now):
        return Decision(Hold.DAILY_CAP, next_window_opening(now, window=window, rng=rng))
    return Decision()


def number_paused_until(*, now: datetime) -> datetime | None:
    """While the number is paused (messaging.number: restricted, banned, logged out, ...): the
    earliest moment worth looking again (the pause's end, at least PAUSE_RECHECK away); None when
    it is not paused. The one pause check: the gate's for proactive messages, and the sender's
    for the call reminders customers booked (they are not unsolicited, but wait out a pause too)."""
    state = NumberState.objects.filter(pk=1).first()
    if state is None or not state.paused:
        return None
    return max(state.paused_until or now, now + PAUSE_RECHECK)


def proactive_claim(*, now: datetime, window: SendWindow | None = None, rng: random.Random | None = None) -> Decision:
    """Takes today's place for one proactive message: call it inside the transaction that queues
    the message. It takes the quota lock (held until that transaction ends) and counts today's
    proactive messages again; allowed means the caller queues its message in the same
    transaction. SQLite (`make run`) takes the database's write lock at BEGIN: already serial."""
    if not connection.in_atomic_block:
        raise RuntimeError("proactive_claim must run inside the transaction that queues the message")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [QUOTA_LOCK_KEY])
    window = window or SendWindow.from_settings()
    if proactive_sent_count(since=window.day_start(now)) >= proactive_daily_limit(now=now):
        rng = rng or random.Random()  # noqa: S311 - jitter, not security
        return Decision(Hold.DAILY_CAP, next_window_opening(now, window=window, rng=rng))
    return Decision()


def proactive_daily_limit(*, now: datetime) -> int:
    """PROACTIVE_DAILY_LIMIT, lowered on the days of a new number's warm-up ramp."""
    return int(settings.PROACTIVE_DAILY_LIMIT * warmup_share(now=now))


def proactive_sent_count(*, since: datetime) -> int:
    """Proactive messages written to the outbox since `since` (failed ones included: a refused or
    failed send still cost a place, which errs on the side of the number)."""
    return Message.objects.filter(
        direction=Message.Direction.OUT, purpose__in=PROACTIVE_PURPOSES, timestamp__gte=since
    ).count()


def _last_outbound_at(contact: Contact) -> datetime | None:
    """When we last wrote to the contact, any kind of message, queued ones included (a failed
    send never reached them)."""
    return (
        Message.objects.filter(contact=contact, direction=Message.Direction.OUT)
        .exclude(status=Message.Status.FAILED)
        .aggregate(last=Max("timestamp"))["last"]
    )
