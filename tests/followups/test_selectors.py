"""What reports read of follow-ups: running chains, touches due, touches per day answered, and the
follow-up numbers on /stats."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from followups.models import FollowUp, FollowUpTouch
from followups.selectors import followup_counts, followup_stats, followup_touches_by_day
from messaging.models import Message
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    local,
    silent_client,
)

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")


def test_running_chains_and_those_with_a_touch_due_now_are_counted():
    now = timezone.now()
    FollowUpFactory(next_touch_at=now - timedelta(minutes=1))
    FollowUpFactory(next_touch_at=now + timedelta(hours=3))
    FollowUpFactory(
        next_touch_at=now - timedelta(hours=1),
        is_completed=True,
        completed_at=now,
        stop_reason=FollowUp.StopReason.OPTED_OUT,
    )

    assert followup_counts(now=now) == {"active": 2, "due": 1}


def touch(contact, *, number: int, sent_at: datetime, status: str = Message.Status.DELIVERED) -> FollowUpTouch:
    message = OutboundMessageFactory(
        contact=contact, purpose=Message.Purpose.FOLLOW_UP, status=status, timestamp=sent_at, sent_at=sent_at
    )
    followup = FollowUpFactory(contact=contact)
    return FollowUpTouch.objects.create(followup=followup, touch_number=number, message=message)


def test_touches_are_counted_per_local_day_of_sending_with_the_answers_within_48_hours():
    monday = datetime(2026, 11, 23, 0, 30, tzinfo=ALMATY)  # 19:30 UTC on Sunday
    answered, ignored, late = ContactFactory(), ContactFactory(), ContactFactory()
    touch(answered, number=1, sent_at=monday)
    InboundMessageFactory(contact=answered, timestamp=monday + timedelta(hours=5))
    touch(ignored, number=1, sent_at=monday)
    touch(late, number=2, sent_at=monday)
    InboundMessageFactory(contact=late, timestamp=monday + timedelta(hours=49))
    touch(ContactFactory(), number=1, sent_at=monday, status=Message.Status.FAILED)  # never reached WhatsApp

    by_day = followup_touches_by_day(
        since=datetime(2026, 11, 22, tzinfo=ALMATY), until=datetime(2026, 11, 24, tzinfo=ALMATY)
    )

    assert by_day == {date(2026, 11, 23): {1: {"sent": 2, "answered": 1}, 2: {"sent": 1, "answered": 0}}}


def sent_touch(followup, number, sent_at, *, reply_after=None):
    message = OutboundMessageFactory(
        contact=followup.contact, purpose="follow_up", status="delivered", timestamp=sent_at, sent_at=sent_at
    )
    FollowUpTouch.objects.create(followup=followup, touch_number=number, message=message)
    if reply_after is not None:
        InboundMessageFactory(contact=followup.contact, text="Ок", timestamp=sent_at + reply_after)


def test_stats_count_active_chains_and_per_touch_sent_and_replied_within_48_hours(client):
    t0 = local(2026, 12, 1, 11, 0)
    one, two, three = (silent_client(due=t0 + timedelta(days=30)) for _ in range(3))
    sent_touch(one, 1, t0, reply_after=timedelta(hours=3))
    sent_touch(two, 1, t0, reply_after=timedelta(hours=49))  # too late to count
    sent_touch(three, 1, t0)
    sent_touch(three, 2, t0 + timedelta(days=3), reply_after=timedelta(hours=47))
    queued = OutboundMessageFactory(contact=one.contact, purpose="follow_up", status="queued")
    FollowUpTouch.objects.create(followup=one, touch_number=2, message=queued)  # not sent: not counted
    FollowUp.objects.filter(pk=two.pk).update(
        is_completed=True, stop_reason="client_responded", completed_at=t0, next_touch_at=None
    )

    stats = followup_stats()

    assert stats["active"] == 2
    assert stats["touches"]["1"] == {"sent": 3, "replied_48h": 1}
    assert stats["touches"]["2"] == {"sent": 1, "replied_48h": 1}
    assert stats["touches"]["5"] == {"sent": 0, "replied_48h": 0}
    body = client.get("/stats").json()
    assert body["followups"] == stats
    assert {"date", "contacts", "messages_today", "outbox_pending", "llm_today"} <= set(body)
