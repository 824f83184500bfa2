"""What reports read of the channel: counts per local day, hand-offs, the outbox, customer
messages the AI step has not taken, and Wappi's state."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from messaging.models import ChatCursor, GatewayState, Message
from messaging.poller import ALARM_KEY
from messaging.selectors import (
    gateway_status,
    handoff_count,
    inbound_unhandled,
    inbound_unhandled_count,
    message_counts_by_day,
    message_totals_by_status,
    outbox_totals,
)
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")


def test_messages_are_counted_per_local_almaty_day_with_replies_that_reached_whatsapp_and_hand_offs():
    contact = ContactFactory()
    # 00:30 in Almaty is 19:30 UTC the day before: it belongs to the 23rd.
    InboundMessageFactory(contact=contact, timestamp=datetime(2026, 11, 23, 0, 30, tzinfo=ALMATY))
    InboundMessageFactory(contact=contact, timestamp=datetime(2026, 11, 22, 23, 30, tzinfo=ALMATY))
    at = datetime(2026, 11, 23, 12, 0, tzinfo=ALMATY)
    OutboundMessageFactory(contact=contact, timestamp=at, status=Message.Status.DELIVERED)
    OutboundMessageFactory(contact=contact, timestamp=at, status=Message.Status.QUEUED)  # not out yet
    OutboundMessageFactory(contact=contact, timestamp=at, status=Message.Status.SENT, purpose=Message.Purpose.HANDOFF)
    # An opt-out confirmation and a notice to a manager are notifications, not hand-offs.
    OutboundMessageFactory(contact=contact, timestamp=at, purpose=Message.Purpose.NOTIFICATION)

    by_day = message_counts_by_day(
        since=datetime(2026, 11, 22, tzinfo=ALMATY), until=datetime(2026, 11, 24, tzinfo=ALMATY)
    )

    assert by_day == {
        date(2026, 11, 22): {"inbound": 1, "outbound": 0, "replies": 0, "handoffs": 0},
        date(2026, 11, 23): {"inbound": 1, "outbound": 4, "replies": 1, "handoffs": 1},
    }


def test_hand_offs_are_counted_by_purpose_whatever_the_words_and_the_key():
    contact = ContactFactory()
    OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text="Передал менеджеру 🙏")
    OutboundMessageFactory(
        contact=contact, purpose=Message.Purpose.HANDOFF, text="Зову коллегу", idempotency_key="late-reply:7"
    )
    OutboundMessageFactory(contact=contact, purpose=Message.Purpose.NOTIFICATION, idempotency_key="reply:9")

    assert handoff_count() == 2


def test_the_outbox_totals_count_attempts_failures_and_what_still_waits():
    contact = ContactFactory()
    OutboundMessageFactory(contact=contact, status=Message.Status.SENT, attempts=2)
    OutboundMessageFactory(contact=contact, status=Message.Status.FAILED, attempts=6)
    OutboundMessageFactory(contact=contact, status=Message.Status.QUEUED)
    OutboundMessageFactory(contact=contact, status=Message.Status.SENDING, attempts=1)
    InboundMessageFactory(contact=contact)

    assert outbox_totals() == {"attempts": 9, "failed": 1, "queued": 1, "sending": 1}
    assert message_totals_by_status() == {
        ("out", "sent"): 1,
        ("out", "failed"): 1,
        ("out", "queued"): 1,
        ("out", "sending"): 1,
        ("in", ""): 1,
    }


def test_an_empty_outbox_has_zero_attempts_not_none():
    assert outbox_totals() == {"attempts": 0, "failed": 0, "queued": 0, "sending": 0}


def test_unhandled_customer_messages_are_counted_in_the_window_the_sweeper_works_through():
    now = timezone.now()
    contact = ContactFactory()
    lost = InboundMessageFactory(contact=contact, received_at=now - timedelta(minutes=10))
    InboundMessageFactory(contact=contact, received_at=now - timedelta(seconds=30))  # still on its way
    InboundMessageFactory(contact=contact, received_at=now - timedelta(hours=30))  # too late to answer
    InboundMessageFactory(contact=contact, received_at=now - timedelta(minutes=10), processed_at=now)

    assert inbound_unhandled_count(now=now) == 1
    assert inbound_unhandled(now=now) == ([lost.pk], [])


def test_the_gateway_status_counts_quarantined_chats_and_turns_degraded_on_the_poller_alarm():
    now = timezone.now()
    GatewayState.objects.update_or_create(pk=1, defaults={"authorized": True})
    ChatCursor.objects.create(chat_id="77010000001@c.us", quarantined_until=now + timedelta(hours=1))
    ChatCursor.objects.create(chat_id="77010000002@c.us", quarantined_until=now - timedelta(hours=1))
    assert gateway_status()["status"] == "ok"
    assert gateway_status()["quarantined_chats"] == 1

    cache.set(ALARM_KEY, {"at": now.isoformat(), "chats": ["77010000001@c.us"]})
    try:
        assert gateway_status()["status"] == "degraded"
    finally:
        cache.delete(ALARM_KEY)
