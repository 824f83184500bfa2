"""/stats: today's counts in the business time zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def test_stats_count_today_in_the_business_time_zone(client):
    with time_machine.travel("2026-11-23 00:30 +05:00", tick=False):
        # 23:59 yesterday in Almaty is already 18:59 UTC of the same UTC day: must not count.
        yesterday = timezone.now() - timedelta(minutes=31)
        contact = ContactFactory(is_client=True)
        InboundMessageFactory(contact=contact, timestamp=yesterday)
        InboundMessageFactory(contact=contact)
        InboundMessageFactory(contact=contact, is_voice=True, text="")
        OutboundMessageFactory(contact=contact)
        OutboundMessageFactory(contact=contact, status="sent", provider_message_id="out-1")
        OutboundMessageFactory(contact=contact, status="failed", last_error="400 chat not found")
        ContactFactory(is_client=False)

        body = client.get("/stats").json()

    assert body["date"] == "2026-11-23"
    assert body["contacts"]["total"] == 2
    assert body["contacts"]["clients"] == 1
    assert body["contacts"]["not_clients"] == 1
    today = body["messages_today"]
    assert today["inbound"] == 2
    assert today["inbound_voice"] == 1
    assert today["outbound"] == 3
    assert today["outbound_by_status"] == {
        "queued": 1,
        "sending": 0,
        "sent": 1,
        "delivered": 0,
        "read": 0,
        "failed": 1,
    }
    assert body["outbox_pending"] == 1
