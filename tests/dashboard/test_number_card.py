"""The dashboard's number-health card: our WhatsApp number's standing at a glance (sent vs.
received, the unanswered share of proactive messages, undelivered, restriction events), and
whether proactive sending is paused and why."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine

from messaging.models import Message, NumberState
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
NOW = datetime(2026, 12, 9, 15, 0, tzinfo=ALMATY)
URL = "/admin/dashboard/"


def card(html: str) -> str:
    section = html.split('id="number-health"', 1)[1].split("</section>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


def test_the_card_shows_the_numbers_traffic_and_a_pause_with_its_reason(admin_client):
    with time_machine.travel(NOW, tick=False):
        contact = ContactFactory(is_client=True)
        InboundMessageFactory(contact=contact, timestamp=NOW - timedelta(days=3))
        for _ in range(2):
            OutboundMessageFactory(
                contact=contact,
                purpose=Message.Purpose.FOLLOW_UP,
                status=Message.Status.SENT,
                timestamp=NOW - timedelta(days=2),
            )
        InboundMessageFactory(contact=contact, timestamp=NOW - timedelta(hours=1))
        OutboundMessageFactory(contact=contact, status=Message.Status.SENT, timestamp=NOW - timedelta(minutes=50))
        OutboundMessageFactory(
            contact=contact, status=Message.Status.FAILED, last_error="WhatsApp: undelivered", timestamp=NOW
        )
        NumberState.objects.create(
            pk=1,
            paused_reason=NumberState.Reason.RESTRICTED,
            paused_at=NOW - timedelta(hours=2),
            paused_until=NOW + timedelta(hours=22),
            restriction_events=1,
            last_restriction_at=NOW - timedelta(hours=2),
        )

        text = card(admin_client.get(URL).content.decode())

    assert "Проактивные сообщения остановлены: WhatsApp ограничил номер" in text
    assert "Отправлено / получено за 24 ч 1 / 1" in text
    assert "Проактивные без ответа (7 дней) 0% 0 из 2" in text  # both answered an hour ago
    assert "Не доставлено за 24 ч 1" in text
    assert "Ограничения номера WhatsApp 1" in text


def test_a_healthy_number_says_proactive_sending_runs(admin_client):
    assert "Номер в порядке" in card(admin_client.get(URL).content.decode())
