"""The number-safety governor on /health and /metrics: the same standing the dashboard's card
shows, as states and counts (no phone numbers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from messaging.models import Message, NumberState
from messaging.number import number_pause
from tests.factories import ContactFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, response.content
    series: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def test_health_shows_a_paused_number_and_why(client, settings):
    settings.MANAGER_PHONES = []
    assert client.get("/health").json()["number"]["status"] == "ok"

    number_pause(reason=NumberState.Reason.UNDELIVERED, detail="5 undelivered within 15 min")

    number = client.get("/health").json()["number"]
    assert (number["status"], number["proactive"], number["paused_reason"]) == ("paused", "paused", "undelivered")
    assert client.get("/health").status_code == 200  # Wappi's and WhatsApp's trouble is not ours to fail on


def test_metrics_carry_the_number_health_series(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.MANAGER_PHONES = []
    contact = ContactFactory(phone="77012345678")
    OutboundMessageFactory(
        contact=contact,
        purpose=Message.Purpose.FOLLOW_UP,
        status=Message.Status.SENT,
        timestamp=timezone.now() - timedelta(days=2),
    )
    OutboundMessageFactory(contact=contact, status=Message.Status.FAILED, last_error="WhatsApp: temporary ban")
    number_pause(reason=NumberState.Reason.RESTRICTED, until=timezone.now() + timedelta(hours=24))

    series = scrape(client)

    assert series["whatsapp_number_paused"][(("reason", "restricted"),)] == 1
    assert series["whatsapp_number_paused"][(("reason", "logged_out"),)] == 0
    assert series["whatsapp_number_proactive_7d"][()] == 1
    assert series["whatsapp_number_proactive_unanswered_7d"][()] == 1
    assert series["whatsapp_number_unanswered_share"][()] == 1.0
    assert series["whatsapp_number_undelivered_24h"][()] == 1
    assert series["whatsapp_number_pauses_total"][(("reason", "restricted"),)] >= 1
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "77012345678" not in body
