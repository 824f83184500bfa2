from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from messaging.ingest import ingest_events
from messaging.models import ChatCursor, GatewayState, Message
from messaging.poller import ALARM_KEY, POLL_SETTLE_SECONDS, poll_once
from messaging.wire import parse_sync_message
from tests.statements import Statements

pytestmark = pytest.mark.django_db


def started_long_ago():
    """Polling began before the fake's messages were written, so they all count as new."""
    GatewayState.objects.update_or_create(pk=1, defaults={"started_at": timezone.now().replace(year=2020)})


def test_new_messages_of_changed_chats_are_stored_once(fake_wappi):
    started_long_ago()
    fake_wappi.customer_writes("77011111111", "Здравствуйте")
    fake_wappi.customer_writes("77011111111", "Сколько стоит доставка в Алматы?")
    fake_wappi.customer_writes("77022222222", "Добрый день, есть ли скидки?", name="Ерлан")
    client = fake_wappi.client()

    report = poll_once(client=client)
    again = poll_once(client=client)

    assert (report.changed, len(report.ingest.stored)) == (2, 3)
    assert again.changed == 0
    assert list(Message.objects.order_by("timestamp").values_list("text", flat=True)) == [
        "Здравствуйте",
        "Сколько стоит доставка в Алматы?",
        "Добрый день, есть ли скидки?",
    ]
    state = GatewayState.load()
    assert state.last_poll_at is not None
    assert state.authorized is True


def test_api_calls_per_cycle_grow_with_changed_chats_not_with_all_chats(fake_wappi):
    started_long_ago()
    for i in range(60):
        fake_wappi.customer_writes(f"7701{i:07d}", "старое сообщение")
    client = fake_wappi.client()
    poll_once(client=client)
    for i in range(3):
        fake_wappi.customer_writes(f"7701{i:07d}", "новое сообщение")
    fake_wappi.calls.clear()

    report = poll_once(client=client)

    assert report.changed == 3
    assert len(fake_wappi.calls_to("chats/filter")) == 1
    assert len(fake_wappi.calls_to("messages/get")) == 3
    assert report.api_calls == 4


def test_history_from_before_polling_began_is_remembered_not_answered(fake_wappi):
    fake_wappi.customer_writes("77011111111", "сообщение прошлого года")
    GatewayState.objects.update_or_create(pk=1, defaults={"started_at": timezone.now() + timedelta(seconds=5)})
    report = poll_once(client=fake_wappi.client())
    assert report.changed == 0
    assert not Message.objects.exists()
    assert ChatCursor.objects.get(chat_id="77011111111@c.us").last_time > 0


def test_polling_never_marks_chats_read(fake_wappi):
    started_long_ago()
    fake_wappi.customer_writes("77011111111", "Здравствуйте")
    poll_once(client=fake_wappi.client())
    for _method, _path, query in fake_wappi.calls_to("messages/get"):
        assert query.get("mark_all", "false") == "false"


def test_a_chat_answering_400_is_quarantined_and_skipped_next_time(fake_wappi):
    started_long_ago()
    fake_wappi.customer_writes("77011111111", "Здравствуйте")
    fake_wappi.customer_writes("77022222222", "Добрый день")
    fake_wappi.fail_chats["77011111111@c.us"] = 400
    client = fake_wappi.client()

    first = poll_once(client=client)
    fake_wappi.customer_writes("77011111111", "ещё одно")
    fake_wappi.calls.clear()
    poll_once(client=client)

    assert first.quarantined == ["77011111111@c.us"]
    assert ChatCursor.objects.get(chat_id="77011111111@c.us").quarantined_until > timezone.now()
    assert Message.objects.filter(contact__phone="77022222222").count() == 1
    assert not [c for c in fake_wappi.calls_to("messages/get") if c[2]["chat_id"].startswith("77011111111")]


def test_three_quarantined_chats_in_one_cycle_raise_the_alarm_on_health(fake_wappi, client):
    started_long_ago()
    for i in range(3):
        fake_wappi.customer_writes(f"7703{i:07d}", "привет")
        fake_wappi.fail_chats[f"7703{i:07d}@c.us"] = 404
    poll_once(client=fake_wappi.client())
    assert cache.get(ALARM_KEY)["chats"]
    wappi = client.get("/health").json()["wappi"]
    assert wappi["status"] == "degraded"
    assert wappi["quarantined_chats"] == 3


def test_a_crossed_messages_get_response_is_discarded(fake_wappi):
    started_long_ago()
    fake_wappi.customer_writes("77011111111", "сообщение первого клиента")
    fake_wappi.customer_writes("77022222222", "сообщение второго клиента")
    fake_wappi.cross_next = 1
    client = fake_wappi.client()

    crossed = poll_once(client=client)
    assert crossed.error
    assert not Message.objects.exists()  # nothing stored against the wrong contact

    GatewayState.objects.filter(pk=1).update(backoff_until=None)
    poll_once(client=client)
    for message in Message.objects.select_related("contact"):
        assert message.text.endswith("первого клиента") == (message.contact.phone == "77011111111")
    assert Message.objects.count() == 2


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_429_and_5xx_back_off_and_the_next_cycle_catches_up(fake_wappi, status):
    started_long_ago()
    fake_wappi.customer_writes("77011111111", "Здравствуйте")
    fake_wappi.fail_next = [status]
    client = fake_wappi.client()

    failed = poll_once(client=client)
    waiting = poll_once(client=client)
    GatewayState.objects.filter(pk=1).update(backoff_until=None)
    recovered = poll_once(client=client)

    assert failed.error
    assert "backing off" in waiting.skipped
    assert len(recovered.ingest.stored) == 1
    assert GatewayState.load().backoff_until is None


def test_two_polls_never_run_at_once(fake_wappi):
    from project.lib.locks import cache_lock

    with cache_lock("wappi:poll", wait=0):
        report = poll_once(client=fake_wappi.client())
    assert report.skipped == "another poll is running"
    assert fake_wappi.calls == []


def test_a_revoked_token_is_reported_on_health(fake_wappi, client):
    poll_once(client=fake_wappi.client(token="revoked"))
    state = GatewayState.load()
    assert state.authorized is False
    wappi = client.get("/health").json()["wappi"]
    assert wappi["status"] == "error"
    assert wappi["authorized"] is False


def test_poll_wappi_once_prints_what_it_did(fake_wappi, settings, capsys):
    from django.core.management import call_command

    from messaging import wappi

    started_long_ago()
    fake_wappi.customer_writes("77011111111", "Здравствуйте")
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = "fake-wappi-token"
    settings.WAPPI_PROFILE_ID = "fake-0001"
    assert wappi.client_from_settings().base_url == settings.WAPPI_BASE_URL
    call_command("poll_wappi", "--once")
    out = capsys.readouterr().out
    assert "changed=1" in out
    assert "stored=1" in out


def test_a_second_message_in_the_same_second_is_not_missed(fake_wappi):
    started_long_ago()
    first = fake_wappi.customer_writes("77011111111", "Здравствуйте")
    client = fake_wappi.client()
    poll_once(client=client)
    fake_wappi.customer_writes("77011111111", "и ещё вопрос", at=first["time"])

    report = poll_once(client=client)

    assert report.changed == 1
    assert Message.objects.filter(contact__phone="77011111111").count() == 2


def test_a_chat_with_more_than_a_page_of_new_messages_is_read_to_the_cursor(fake_wappi):
    started_long_ago()
    fake_wappi.customer_writes("77011111111", "первое")
    client = fake_wappi.client()
    poll_once(client=client)
    for i in range(130):
        fake_wappi.customer_writes("77011111111", f"сообщение {i}")

    poll_once(client=client)

    assert Message.objects.filter(contact__phone="77011111111").count() == 131


def test_a_poll_during_a_flood_does_not_ingest_again_what_the_webhook_stored(fake_wappi):
    """The webhook stored every message; the poller still sees the chats changed. It reads them
    (the safety net) but hands nothing to ingest: no contact row is locked, nothing inserted."""

    started_long_ago()
    written = [fake_wappi.customer_writes(f"7701{i:07d}", "Сколько стоит доставка?") for i in range(5)]
    ingest_events(events=[parse_sync_message(m) for m in written], via=Message.Via.WEBHOOK)
    client = fake_wappi.client()

    with time_machine.travel(timezone.now() + timedelta(seconds=POLL_SETTLE_SECONDS + 10)), Statements() as statements:
        report = poll_once(client=client)

    assert report.changed == 5
    assert (len(report.ingest.stored), report.ingest.duplicates) == (0, 5)
    assert Message.objects.count() == 5
    # Per chat: which of its messages are known, and its cursor; per cycle: the state, the
    # cursors, which chats' newest messages are stored, the stamp.
    assert statements.count <= 5 * 2 + 4, statements.count


def test_a_busy_chat_the_webhook_keeps_up_with_is_read_once_it_settles(fake_wappi):
    """During a flood every active chat changes between two polls although the webhook delivered
    its newest message: such a chat is read once it has been quiet for POLL_SETTLE_SECONDS, not
    every cycle. A message whose webhook was lost is still caught then; a chat whose newest
    message is not stored is read at once."""

    started_long_ago()
    fake_wappi.customer_writes("77011111111", "Здравствуйте")  # its webhook never came
    delivered = fake_wappi.customer_writes("77011111111", "Сколько стоит доставка в Алматы?")
    ingest_events(events=[parse_sync_message(delivered)], via=Message.Via.WEBHOOK)
    fake_wappi.customer_writes("77022222222", "Добрый день")  # nothing delivered: read now
    client = fake_wappi.client()
    fake_wappi.calls.clear()

    during = poll_once(client=client)
    assert during.changed == 1
    assert len(fake_wappi.calls_to("messages/get")) == 1
    assert Message.objects.filter(contact__phone="77011111111").count() == 1

    with time_machine.travel(timezone.now() + timedelta(seconds=POLL_SETTLE_SECONDS + 10)):
        settled = poll_once(client=client)
        again = poll_once(client=client)

    assert settled.changed == 1
    assert list(
        Message.objects.filter(contact__phone="77011111111").order_by("timestamp").values_list("text", flat=True)
    ) == ["Здравствуйте", "Сколько стоит доставка в Алматы?"]
    assert again.changed == 0
