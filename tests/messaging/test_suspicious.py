"""Suspicious activity (messaging.suspicious): floods and very long messages from one contact, a
spike of new contacts, a burst of webhook authentication failures and of failed sends. Each is
told to the managers at most once per kind per hour (names and contact ids, never a phone
number), counted on /metrics and flagged on /health for an hour. Real PostgreSQL, Redis and the
fake Wappi over HTTP; spend and invoices below the list are tested with their own modules."""

from __future__ import annotations

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.sender import outbox_send
from messaging.wire import parse_webhook
from tests.factories import ContactFactory, OutboundMessageFactory, wappi_incoming

pytestmark = pytest.mark.django_db

MANAGER = "77019990011"


@pytest.fixture(autouse=True)
def managers(settings):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://sales.example.kz"]


def notices() -> list[str]:
    return list(
        Message.objects.filter(contact__phone=MANAGER, purpose=Message.Purpose.NOTIFICATION)
        .order_by("id")
        .values_list("text", flat=True)
    )


def suspicious_series(client) -> dict[str, float]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if sample.name == "suspicious_events_total"
    }


def customer_writes(n: int, *, phone: str = "77012345678", text: str = "Здравствуйте", start: int = 0) -> None:
    messages = [wappi_incoming(f"3EB0FLOOD{phone}{start + i:05d}", phone=phone, text=text) for i in range(n)]
    ingest_events(events=parse_webhook({"messages": messages}), via=Message.Via.WEBHOOK)


def test_a_flood_from_one_contact_is_told_once_counted_and_flagged_without_the_phone_number(client, settings):
    settings.SUSPICIOUS_FLOOD_MESSAGES = 5
    customer_writes(4)
    assert notices() == []

    customer_writes(3, start=4)

    (notice,) = notices()
    contact = Message.objects.filter(direction="in").first().contact
    assert "Поток сообщений" in notice
    assert f"#{contact.pk}" in notice
    assert f"https://sales.example.kz/admin/contacts/contact/{contact.pk}/change/" in notice
    assert "77012345678" not in notice
    assert "701 234" not in notice
    assert suspicious_series(client)["flood"] == 1.0
    assert client.get("/health").json()["suspicious"] == {"status": "alert", "kinds": ["flood"]}


def test_an_ordinary_conversation_raises_nothing(client):
    customer_writes(3)
    customer_writes(2, phone="77012345699")
    assert notices() == []
    assert set(suspicious_series(client).values()) == {0.0}
    assert client.get("/health").json()["suspicious"] == {"status": "ok", "kinds": []}


def test_a_very_long_message_is_told_with_its_length_never_its_text(client, settings):
    settings.SUSPICIOUS_LONG_MESSAGE_CHARS = 3000
    customer_writes(1, text="Купите " * 600 + "звоните 77010000000")

    (notice,) = notices()
    assert "Очень длинное сообщение" in notice
    assert "77010000000" not in notice
    assert "Купите" not in notice
    assert suspicious_series(client)["long_message"] == 1.0


def test_a_spike_of_new_contacts_is_told_once(client, settings):
    settings.SUSPICIOUS_NEW_CONTACTS_PER_HOUR = 3
    for i in range(5):
        customer_writes(1, phone=f"7701555000{i}")

    (notice,) = notices()
    assert "Много новых контактов" in notice
    assert "7701555000" not in notice
    assert suspicious_series(client)["new_contacts"] == 1.0


def test_a_burst_of_webhook_requests_with_a_wrong_secret_is_told_once(client, webhook, settings):
    settings.SUSPICIOUS_WEBHOOK_AUTH_FAILURES = 3
    for _ in range(2):
        assert webhook({"messages": []}, secret="guess").status_code == 403
    assert notices() == []

    for _ in range(3):
        webhook({"messages": []}, secret="guess")

    (notice,) = notices()
    assert "вебхук" in notice.lower()
    assert suspicious_series(client)["webhook_auth"] == 1.0
    assert client.get("/health").json()["suspicious"]["kinds"] == ["webhook_auth"]


def test_a_burst_of_failed_sends_is_told_once(client, fake_wappi, settings, no_pacing):
    settings.SUSPICIOUS_FAILED_SENDS = 2
    rows = [OutboundMessageFactory(contact=ContactFactory(phone=f"7701444000{i}")) for i in range(3)]
    fake_wappi.fail_next = [400, 400, 400]

    for row in rows:
        assert outbox_send(message_id=row.pk, client=fake_wappi.client()).status == "failed"

    texts = notices()
    assert len(texts) == 1
    assert "не отправлен" in texts[0].lower()
    assert suspicious_series(client)["failed_sends"] == 1.0


def test_at_most_one_notice_per_kind_an_hour_every_event_counted_and_the_flag_clears(client, settings):
    settings.SUSPICIOUS_FLOOD_MESSAGES = 3
    with time_machine.travel("2026-11-23 10:00 +05:00", tick=False):
        customer_writes(3, phone="77012340001")
        customer_writes(3, phone="77012340002")
        assert len(notices()) == 1
        assert suspicious_series(client)["flood"] == 2.0
    with time_machine.travel("2026-11-23 11:01 +05:00", tick=False):
        assert client.get("/health").json()["suspicious"] == {"status": "ok", "kinds": []}
        customer_writes(3, phone="77012340003")
        assert len(notices()) == 2
        assert suspicious_series(client)["flood"] == 3.0
