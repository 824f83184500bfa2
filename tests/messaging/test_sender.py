from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from celery.signals import before_task_publish
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from messaging.models import GatewayState, Message
from messaging.sender import SendLater, outbox_due, outbox_reconcile, outbox_send
from messaging.tasks import check_wappi_status, sweep_outbox
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory, WhitelistEntryFactory
from tests.statements import Statements

pytestmark = pytest.mark.django_db

HANDOFF_TEXT = "Передал ваш вопрос менеджеру — он напишет вам здесь в ближайшее время 🙏"


@pytest.fixture(autouse=True)
def _three_attempts(settings, no_pacing):
    settings.SEND_MAX_ATTEMPTS = 3


@pytest.fixture
def reply():
    contact = ContactFactory(phone="77012345678")
    question = InboundMessageFactory(contact=contact, provider_message_id="3EB0QUESTION", text="Сколько стоит?")
    return OutboundMessageFactory(contact=contact, reply_to=question, text="Тариф «Старт» — 9 900 ₸ в месяц 😊")


def test_a_reply_queued_seven_hours_ago_is_not_sent_and_the_managers_are_told_instead(fake_wappi, reply, settings):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    Message.objects.filter(pk=reply.pk).update(created_at=timezone.now() - timedelta(hours=7))

    outcome = outbox_send(message_id=reply.pk, client=fake_wappi.client())
    again = outbox_send(message_id=reply.pk, client=fake_wappi.client())

    reply.refresh_from_db()
    assert (outcome.status, again.status) == ("skipped", "not_claimed")
    assert reply.status == "failed"
    assert "too old to send" in reply.last_error
    notices = Message.objects.filter(contact__phone="77019990011", purpose=Message.Purpose.NOTIFICATION)
    assert notices.count() == 1
    assert "Ответ клиенту не отправлен" in notices.get().text
    assert "77012345678" not in [m["recipient"] for m in fake_wappi.sent]


def test_a_reply_younger_than_the_age_limit_is_sent(fake_wappi, reply):
    Message.objects.filter(pk=reply.pk).update(created_at=timezone.now() - timedelta(hours=5))
    assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "sent"


def test_a_reply_is_sent_once_as_a_quote_and_the_question_is_marked_read(fake_wappi, reply):
    outcome = outbox_send(message_id=reply.pk, client=fake_wappi.client())
    reply.refresh_from_db()
    assert outcome.status == "sent"
    assert fake_wappi.sent == [
        {"recipient": "77012345678", "body": "Тариф «Старт» — 9 900 ₸ в месяц 😊", "quoted_message_id": "3EB0QUESTION"}
    ]
    assert fake_wappi.marked_read == ["3EB0QUESTION"]
    assert reply.status == "sent"
    assert reply.provider_message_id == outcome.detail
    assert reply.sent_at is not None
    assert Contact.objects.get(pk=reply.contact_id).last_outbound_at == reply.sent_at


def test_running_the_send_task_twice_sends_once(fake_wappi, reply):
    client = fake_wappi.client()
    first = outbox_send(message_id=reply.pk, client=client)
    second = outbox_send(message_id=reply.pk, client=client)
    assert (first.status, second.status) == ("sent", "not_claimed")
    assert len(fake_wappi.sent) == 1


def test_a_redelivered_task_after_the_worker_died_mid_send_does_not_send_again(fake_wappi, reply):
    # The worker claimed the row, sent it, and died before recording the result.
    Message.objects.filter(pk=reply.pk).update(status="sending", updated_at=timezone.now() - timedelta(minutes=10))
    fake_wappi.phone_writes("77012345678", reply.text, from_api=True)  # WhatsApp has it

    redelivered = outbox_send(message_id=reply.pk, client=fake_wappi.client())
    assert redelivered.status == "not_claimed"
    assert fake_wappi.sent == []

    _queued, stuck = outbox_due()
    assert stuck == [reply.pk]
    reconciled = outbox_reconcile(
        message=Message.objects.select_related("contact").get(pk=reply.pk), client=fake_wappi.client()
    )
    reply.refresh_from_db()
    assert reconciled.status == "sent"
    assert reply.status == "sent"
    assert fake_wappi.sent == []


def test_a_5xx_is_retried_with_backoff_and_then_sent(fake_wappi, reply):
    fake_wappi.fail_next = [502]
    client = fake_wappi.client()
    with pytest.raises(SendLater) as later:
        outbox_send(message_id=reply.pk, client=client)
    reply.refresh_from_db()
    assert reply.status == "queued"
    assert "502" in reply.last_error
    assert later.value.delay > 0
    assert reply.next_attempt_at > timezone.now()

    assert outbox_send(message_id=reply.pk, client=client).status == "sent"
    assert len(fake_wappi.sent) == 1


def test_after_the_last_try_the_message_fails_visibly(fake_wappi, reply):
    fake_wappi.fail_next = [503, 503, 503]
    client = fake_wappi.client()
    for _ in range(2):
        with pytest.raises(SendLater):
            outbox_send(message_id=reply.pk, client=client)
    outcome = outbox_send(message_id=reply.pk, client=client)
    reply.refresh_from_db()
    assert outcome.status == "failed"
    assert reply.status == "failed"
    assert reply.attempts == 3
    assert "gave up after 3 attempts" in reply.last_error
    assert fake_wappi.sent == []


def test_a_timed_out_send_is_reconciled_never_resent_blindly(fake_wappi, reply):
    fake_wappi.send_delay = 1.0  # the send reaches WhatsApp, but after we stopped waiting
    outcome = outbox_send(message_id=reply.pk, client=fake_wappi.client(timeout=0.3))
    reply.refresh_from_db()
    assert outcome.status == "reconciling"
    assert reply.status == "sending"

    assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "not_claimed"
    fake_wappi.send_delay = 0
    outbox_reconcile(message=Message.objects.select_related("contact").get(pk=reply.pk), client=fake_wappi.client())
    reply.refresh_from_db()
    assert reply.status == "sent"
    assert len(fake_wappi.sent) == 1  # the one that timed out, and nothing after it


def test_a_timed_out_send_whose_first_reconciliation_hit_an_error_is_not_sent_again(fake_wappi, reply):
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        fake_wappi.send_delay = 1.0  # it reaches WhatsApp, but after we stopped waiting
        assert outbox_send(message_id=reply.pk, client=fake_wappi.client(timeout=0.3)).status == "reconciling"
        time.sleep(1.5)  # WhatsApp gets it now, although we stopped waiting
        fake_wappi.send_delay = 0
    with time_machine.travel(start + timedelta(minutes=5), tick=True):
        fake_wappi.fail_next = [502]  # Wappi is down when the sweeper first looks
        first = outbox_reconcile(
            message=Message.objects.select_related("contact").get(pk=reply.pk), client=fake_wappi.client()
        )
    with time_machine.travel(start + timedelta(minutes=10), tick=True):
        second = outbox_reconcile(
            message=Message.objects.select_related("contact").get(pk=reply.pk), client=fake_wappi.client()
        )
        outbox_send(message_id=reply.pk, client=fake_wappi.client())
    reply.refresh_from_db()
    assert (first.status, second.status) == ("reconciling", "sent")
    assert reply.status == "sent"
    assert len(fake_wappi.sent) == 1  # the one that timed out, and nothing after it


def test_a_send_that_never_arrived_is_requeued_by_reconciliation_and_sent_once(fake_wappi, reply):
    Message.objects.filter(pk=reply.pk).update(status="sending")
    outcome = outbox_reconcile(
        message=Message.objects.select_related("contact").get(pk=reply.pk), client=fake_wappi.client()
    )
    assert outcome.status == "requeued"
    assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "sent"
    assert len(fake_wappi.sent) == 1


def test_a_permanent_error_fails_at_once(fake_wappi, reply):
    fake_wappi.fail_next = [400]
    outcome = outbox_send(message_id=reply.pk, client=fake_wappi.client())
    reply.refresh_from_db()
    assert (outcome.status, reply.status) == ("failed", "failed")
    assert reply.attempts == 1


def test_nothing_is_sent_to_a_whitelisted_number(fake_wappi):
    entry = WhitelistEntryFactory()
    message = OutboundMessageFactory(contact=ContactFactory(phone=entry.phone))
    outcome = outbox_send(message_id=message.pk, client=fake_wappi.client())
    message.refresh_from_db()
    assert outcome.status == "skipped"
    assert message.status == "failed"
    assert "whitelisted" in message.last_error
    assert fake_wappi.sent == []


def test_the_bot_stays_silent_while_an_operator_has_the_chat_but_the_operator_can_write(fake_wappi):
    contact = ContactFactory(bot_mode=Contact.BotMode.HUMAN, paused_until=timezone.now() + timedelta(hours=3))
    bot = OutboundMessageFactory(contact=contact)
    operator = OutboundMessageFactory(contact=contact, author=Message.Author.OPERATOR, text="Пишу вам лично")
    client = fake_wappi.client()
    assert outbox_send(message_id=bot.pk, client=client).status == "skipped"
    assert outbox_send(message_id=operator.pk, client=client).status == "sent"
    assert [s["body"] for s in fake_wappi.sent] == ["Пишу вам лично"]


def test_no_follow_up_goes_to_someone_who_opted_out(fake_wappi):
    contact = ContactFactory(opted_out_at=timezone.now())
    follow_up = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.FOLLOW_UP)
    answer = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.REPLY)
    client = fake_wappi.client()
    assert outbox_send(message_id=follow_up.pk, client=client).status == "skipped"
    assert outbox_send(message_id=answer.pk, client=client).status == "sent"


def test_sends_to_one_number_are_spaced_out(fake_wappi, settings):
    settings.SEND_MIN_GAP_SECONDS = 30
    contact = ContactFactory()
    first, second = OutboundMessageFactory(contact=contact), OutboundMessageFactory(contact=contact)
    client = fake_wappi.client()
    assert outbox_send(message_id=first.pk, client=client).status == "sent"
    with pytest.raises(SendLater) as later:
        outbox_send(message_id=second.pk, client=client)
    second.refresh_from_db()
    assert later.value.reason == "per-number gap"
    assert (second.status, second.attempts) == ("queued", 0)
    assert len(fake_wappi.sent) == 1


def test_the_sweeper_re_enqueues_a_queued_row_whose_task_was_lost():
    lost = OutboundMessageFactory(next_attempt_at=timezone.now() - timedelta(minutes=5))
    fresh = OutboundMessageFactory(next_attempt_at=timezone.now())
    published: list[tuple[str, object]] = []

    def record(sender=None, body=None, **_kwargs):
        published.append((sender, list(body[0]) if body else None))

    before_task_publish.connect(record, weak=False)
    try:
        sweep_outbox()
    finally:
        before_task_publish.disconnect(record)
    assert ("messaging.send_outgoing", [lost.pk]) in published
    assert not [p for p in published if p[1] == [fresh.pk]]


def test_writing_to_the_outbox_enqueues_the_send_after_commit(django_capture_on_commit_callbacks):
    from messaging.services import message_enqueue_outbound

    published: list[str] = []

    def record(sender=None, **_kwargs):
        published.append(sender)

    before_task_publish.connect(record, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message_enqueue_outbound(contact=ContactFactory(), text="Здравствуйте!")
        assert published == []  # nothing before the row is committed
        for callback in callbacks:
            callback()
    finally:
        before_task_publish.disconnect(record)
    assert published == ["messaging.send_outgoing"]


def test_two_reconciliations_of_one_row_cannot_both_requeue_it(fake_wappi, reply):
    Message.objects.filter(pk=reply.pk).update(status="sending", updated_at=timezone.now() - timedelta(minutes=10))
    seen_by_a = Message.objects.select_related("contact").get(pk=reply.pk)
    seen_by_b = Message.objects.select_related("contact").get(pk=reply.pk)

    first = outbox_reconcile(message=seen_by_a, client=fake_wappi.client())
    # A send claims the requeued row and is on its way to WhatsApp when B finishes looking.
    Message.objects.filter(pk=reply.pk, status="queued").update(status="sending", updated_at=timezone.now())
    second = outbox_reconcile(message=seen_by_b, client=fake_wappi.client())

    reply.refresh_from_db()
    assert (first.status, second.status) == ("requeued", "not_claimed")
    assert reply.status == "sending"  # B did not put it back in the queue for a second send


def test_a_reconciliation_that_cannot_see_the_chat_fails_the_row_visibly_instead_of_resending(fake_wappi, reply):
    Message.objects.filter(pk=reply.pk).update(status="sending", updated_at=timezone.now() - timedelta(minutes=10))
    fake_wappi.fail_chats["77012345678@c.us"] = 400
    outcome = outbox_reconcile(
        message=Message.objects.select_related("contact").get(pk=reply.pk), client=fake_wappi.client()
    )
    reply.refresh_from_db()
    assert (outcome.status, reply.status) == ("failed", "failed")
    assert "delivery unknown, not resent" in reply.last_error
    assert fake_wappi.sent == []


def test_a_delivery_receipt_is_not_undone_by_a_late_send_result(fake_wappi, reply):
    from messaging.sender import _mark_sent

    Message.objects.filter(pk=reply.pk).update(status="read", provider_message_id="3EB0READ")
    _mark_sent(reply, provider_id="3EB0READ", task_id="", at=timezone.now())
    reply.refresh_from_db()
    assert reply.status == "read"


def test_the_customer_is_told_of_the_hand_off_although_a_manager_now_has_the_chat(fake_wappi):
    contact = ContactFactory(is_client=True, bot_mode=Contact.BotMode.HUMAN, paused_until=None)
    told = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text=HANDOFF_TEXT)
    bot_reply = OutboundMessageFactory(contact=contact, text="Ещё один ответ бота")

    client = fake_wappi.client()
    assert outbox_send(message_id=told.pk, client=client).status == "sent"
    assert outbox_send(message_id=bot_reply.pk, client=client).status == "skipped"
    assert [s["body"] for s in fake_wappi.sent] == [HANDOFF_TEXT]


def test_a_customer_who_opted_out_is_still_told_their_question_went_to_a_manager(fake_wappi):
    contact = ContactFactory(is_client=True, opted_out_at=timezone.now())
    told = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text=HANDOFF_TEXT)

    assert outbox_send(message_id=told.pk, client=fake_wappi.client()).status == "sent"


@pytest.fixture
def wappi_is_the_fake(fake_wappi, settings):
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = "fake-wappi-token"
    settings.WAPPI_PROFILE_ID = "fake-0001"
    return fake_wappi


def test_a_reply_that_failed_during_a_gateway_outage_is_sent_once_wappi_is_healthy_again(wappi_is_the_fake, reply):
    fake_wappi = wappi_is_the_fake
    fake_wappi.fail_next = [503, 503, 503]
    client = fake_wappi.client()
    for _ in range(2):
        with pytest.raises(SendLater):
            outbox_send(message_id=reply.pk, client=client)
    assert outbox_send(message_id=reply.pk, client=client).status == "failed"
    fake_wappi.fail_next = [503]
    assert check_wappi_status().startswith("error")  # the outage, as the status check sees it

    assert check_wappi_status() == "healthy"
    reply.refresh_from_db()
    assert reply.status == "queued"
    assert outbox_send(message_id=reply.pk, client=client).status == "sent"
    # A healthy check with no outage before re-drives nothing, not even a row an outage would have failed.
    later = OutboundMessageFactory(
        contact=reply.contact, status="failed", last_error="gave up after 3 attempts: 503", text="Другой ответ"
    )
    assert check_wappi_status() == "healthy"
    later.refresh_from_db()
    assert later.status == "failed"
    assert [m["body"] for m in fake_wappi.sent] == [reply.text]


def test_a_reply_that_failed_during_an_outage_too_long_ago_is_not_re_driven(wappi_is_the_fake, reply):
    Message.objects.filter(pk=reply.pk).update(
        status="failed", last_error="gave up after 3 attempts: 503", created_at=timezone.now() - timedelta(hours=7)
    )
    GatewayState.objects.update_or_create(pk=1, defaults={"auth_error": "503"})
    assert check_wappi_status() == "healthy"
    reply.refresh_from_db()
    assert reply.status == "failed"


def test_a_reply_that_failed_while_the_phone_was_logged_out_is_sent_once_it_is_back(wappi_is_the_fake, reply):
    fake_wappi = wappi_is_the_fake
    fake_wappi.fail_next = [401]
    assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "failed"
    fake_wappi.fail_next = [401]
    assert check_wappi_status().startswith("error")

    assert check_wappi_status() == "healthy"
    assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "sent"
    assert [m["body"] for m in fake_wappi.sent] == [reply.text]


def test_the_managers_get_one_notice_per_outage_naming_the_customers_it_affected(wappi_is_the_fake, settings):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    aigerim = ContactFactory(phone="77012345678", full_name="Айгерим")
    bolat = ContactFactory(phone="77012345679", full_name="Болат")
    fresh = OutboundMessageFactory(contact=aigerim, text="Доставим завтра 😊")
    stale = OutboundMessageFactory(contact=bolat, text="Да, есть в наличии")
    Message.objects.filter(pk__in=[fresh.pk, stale.pk]).update(status="failed", last_error="gave up after 3 attempts")
    Message.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=7))
    GatewayState.objects.update_or_create(pk=1, defaults={"auth_error": "HTTP 503"})

    assert check_wappi_status() == "healthy"
    GatewayState.objects.filter(pk=1).update(auth_error="HTTP 503")  # a second outage, nobody new affected
    assert check_wappi_status() == "healthy"

    notices = list(Message.objects.filter(contact__phone="77019990011", purpose=Message.Purpose.NOTIFICATION))
    assert len(notices) == 1
    assert "Айгерим" in notices[0].text
    assert "Болат" in notices[0].text
    assert "77012345678" not in notices[0].text.replace(" ", "")
    fresh.refresh_from_db()
    stale.refresh_from_db()
    assert (fresh.status, stale.status) == ("queued", "failed")


def test_a_send_asks_the_database_for_the_numbers_hour_and_day_in_one_count(fake_wappi, reply):
    """Pacing reads how many messages the number sent in the last hour and day before every send:
    one count over the day answers both (it was two scans of the same rows, per send)."""
    counts: list[str] = []

    def note(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("SELECT") and "COUNT(" in sql.upper() and "sent_at" in sql:
            counts.append(sql)
        return execute(sql, params, many, context)

    with Statements() as statements, connection.execute_wrapper(note):
        assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "sent"

    assert len(counts) == 1, counts
    assert statements.count <= 11, statements.count
