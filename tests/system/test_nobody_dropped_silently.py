"""Nobody is dropped silently: a customer message nobody answered within a day, and an outbound
message that failed for good, show on /health, /metrics and the dashboard, and the managers get
one notice naming the customers left without an answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from assistant.tasks import sweep_inbound
from messaging.models import Message
from tests.factories import ClientFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MANAGER = "+7 701 999 00 11"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def managers(settings):
    settings.MANAGER_PHONES = [MANAGER]
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    return settings


def written(frozen, *, hours_ago: float, **fields) -> Message:
    moment = NOW - timedelta(hours=hours_ago)
    frozen.move_to(moment)
    message = InboundMessageFactory(timestamp=moment, received_at=moment, processed_at=moment, **fields)
    frozen.move_to(NOW)
    return message


def notices() -> list[Message]:
    return list(Message.objects.filter(purpose=Message.Purpose.NOTIFICATION).order_by("pk"))


def unanswered_metric(client) -> float:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name == "whatsapp_inbound_unanswered":
                return sample.value
    raise AssertionError("no whatsapp_inbound_unanswered on /metrics")


def tile(html: str, metric: str) -> str:
    match = re.search(
        rf'<div class="tile" data-metric="{metric}">(.*?)</div>\s*(?=<div class="tile"|</div>)', html, re.S
    )
    assert match, f"no tile {metric}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_a_customer_message_unanswered_for_25_hours_is_counted_on_health_metrics_and_the_dashboard(
    client, admin_client, managers, frozen
):
    written(frozen, hours_ago=25, contact=ClientFactory(full_name="Айгерим Сапарова"))

    health = client.get("/health").json()
    assert health["status"] == "healthy"
    assert health["messaging"]["unanswered_day"] == 1
    assert health["messaging"]["status"] == "degraded"
    assert unanswered_metric(client) == 1
    assert tile(admin_client.get("/admin/dashboard/").content.decode(), "unanswered").startswith(
        "Без ответа больше суток 1"
    )


def test_the_managers_get_one_notice_naming_the_customer_and_never_a_second_one(managers, frozen):
    message = written(frozen, hours_ago=25, contact=ClientFactory(full_name="Айгерим Сапарова"))

    sweep_inbound()
    sent = notices()
    assert len(sent) == 1
    assert f"Айгерим Сапарова (#{message.contact_id})" in sent[0].text
    assert message.contact.phone not in sent[0].text

    frozen.move_to(NOW + timedelta(minutes=1))
    sweep_inbound()
    written(frozen, hours_ago=24.5, contact=message.contact, text="Алло?")
    frozen.move_to(NOW + timedelta(hours=1))
    sweep_inbound()
    assert len(notices()) == 1


def test_an_answered_message_is_not_reported(client, managers, frozen):
    message = written(frozen, hours_ago=25, contact=ClientFactory())
    OutboundMessageFactory(
        contact=message.contact, timestamp=message.timestamp + timedelta(minutes=1), status=Message.Status.SENT
    )

    sweep_inbound()
    assert notices() == []
    health = client.get("/health").json()
    assert health["messaging"] == {"status": "ok", "unanswered_day": 0}
    assert unanswered_metric(client) == 0


def test_an_answer_that_never_reached_whatsapp_does_not_count_as_an_answer(managers, frozen):
    message = written(frozen, hours_ago=25, contact=ClientFactory())
    OutboundMessageFactory(
        contact=message.contact, timestamp=message.timestamp + timedelta(minutes=1), status=Message.Status.FAILED
    )

    sweep_inbound()
    assert len(notices()) == 1


def test_a_chat_in_operator_mode_nobody_answered_for_a_day_is_reported(managers, frozen):
    written(frozen, hours_ago=25, contact=ClientFactory(bot_mode="human"))

    sweep_inbound()
    assert len(notices()) == 1


def test_opted_out_and_non_client_contacts_are_not_reported(managers, frozen):
    written(frozen, hours_ago=25, contact=ClientFactory(opted_out_at=NOW - timedelta(days=2)))
    written(frozen, hours_ago=25, contact=ClientFactory(is_client=False))

    sweep_inbound()
    assert notices() == []


def test_a_sticker_is_no_message_left_unanswered(managers, frozen):
    # A sticker gets no answer by design (nothing to read); a photo or a sticker with words does.
    sticker = written(frozen, hours_ago=25, contact=ClientFactory(), media_type="sticker", text="")
    photo = written(frozen, hours_ago=25, contact=ClientFactory(), media_type="image", text="")

    sweep_inbound()
    [notice] = notices()
    assert f"#{photo.contact_id}" in notice.text
    assert f"#{sticker.contact_id}" not in notice.text


def test_a_message_younger_than_a_day_is_not_reported_yet(managers, frozen):
    written(frozen, hours_ago=23, contact=ClientFactory())

    sweep_inbound()
    assert notices() == []


def test_the_dashboard_shows_outbound_messages_that_failed_for_good_today_and_not_yet_dealt_with(admin_client, frozen):
    frozen.move_to(NOW - timedelta(days=3))
    OutboundMessageFactory(status=Message.Status.FAILED)
    frozen.move_to(NOW)
    OutboundMessageFactory(status=Message.Status.FAILED)
    OutboundMessageFactory(status=Message.Status.SENT)

    html = admin_client.get("/admin/dashboard/").content.decode()
    assert tile(html, "failed-sends") == "Не отправлено (ошибка) 1 сегодня 2 всего не разобрано"
