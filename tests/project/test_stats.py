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


# --- Who may read it ----------------------------------------------------------------------------

STRANGER = "203.0.113.9"
TOKEN = "stats-metrics-token-77aa"


def test_a_stranger_gets_401_without_the_token_and_403_with_a_wrong_one(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    ContactFactory(is_client=True)

    anonymous = client.get("/stats", REMOTE_ADDR=STRANGER)
    assert anonymous.status_code == 401
    assert b"contacts" not in anonymous.content
    assert client.get("/stats", REMOTE_ADDR=STRANGER, headers={"Authorization": "Bearer guess"}).status_code == 403


def test_without_a_token_configured_a_stranger_gets_403(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/stats", REMOTE_ADDR=STRANGER).status_code == 403


def test_staff_the_scraper_and_an_allowed_address_read_it(client, admin_client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert admin_client.get("/stats", REMOTE_ADDR=STRANGER).status_code == 200
    assert client.get("/stats", REMOTE_ADDR=STRANGER, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/stats", REMOTE_ADDR="10.1.2.3").status_code == 200


# --- The spec's keys ------------------------------------------------------------------------------


def test_stats_answer_the_specs_keys_counting_only_what_really_happened(client):
    with time_machine.travel("2026-11-23 12:00 +05:00", tick=False):
        contact = ContactFactory(is_client=True)
        InboundMessageFactory(contact=contact)
        InboundMessageFactory(contact=contact, is_voice=True, text="Привезите воду", voice_status="done")
        InboundMessageFactory(contact=contact, is_voice=True, text="", voice_status="failed")
        InboundMessageFactory(contact=contact, is_voice=True, text="", voice_status="pending")
        OutboundMessageFactory(contact=contact, status="sent", provider_message_id="out-1")
        OutboundMessageFactory(contact=contact, status="delivered", provider_message_id="out-2")
        OutboundMessageFactory(contact=contact, status="read", provider_message_id="out-3")
        OutboundMessageFactory(contact=contact)  # queued, not sent
        OutboundMessageFactory(contact=contact, status="sending")
        OutboundMessageFactory(contact=contact, status="failed", last_error="400 chat not found")

        body = client.get("/stats").json()

    assert body["messages_received_today"] == 4
    assert body["messages_sent_today"] == 3
    assert body["voice_transcribed_today"] == 1
    queue = body["queue_size"]
    assert set(queue) == {"incoming", "outgoing", "voice"}
    assert queue["outgoing"] == 2  # queued + sending: the outbox
    assert queue["voice"] == 1  # the voice note still being transcribed
    assert isinstance(queue["incoming"], int)
    # The richer keys stay.
    assert body["messages_today"]["outbound"] == 6
