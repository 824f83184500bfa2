"""Forgetting a contact leaves nothing that names the number behind (the poller's chat cursor,
the cached alarms, log lines), yet a customer who opted out stays opted out: a later Kaspi
Shop order from the same number gets no post-purchase message. The admin's delete is the
same erasure as the API's."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from contacts.forget import contact_forget
from contacts.models import Contact
from messaging.ingest import ingest_events
from messaging.models import ChatCursor, Message
from messaging.selectors import QUARANTINE_ALARM_KEY
from messaging.wire import parse_webhook
from payments.models import Payment, PostPurchaseMessage
from payments.post_purchase import post_purchase_poll, post_purchase_run_due
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory, wappi_incoming

pytestmark = pytest.mark.django_db

PHONE = "77012345678"  # the Kaspi Shop fake's default buyer
CHAT = f"{PHONE}@c.us"
ALMATY = ZoneInfo("Asia/Almaty")
WEDNESDAY_NOON = datetime(2026, 12, 9, 12, 0, tzinfo=ALMATY)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.delete(QUARANTINE_ALARM_KEY)
    yield
    cache.delete(QUARANTINE_ALARM_KEY)


def test_forgetting_removes_the_chat_cursor_and_the_number_from_cached_alarms(django_capture_on_commit_callbacks):
    contact = ContactFactory(phone=PHONE, chat_id=CHAT)
    ChatCursor.objects.create(chat_id=CHAT, last_time=1, quarantined_until=timezone.now() + timedelta(hours=1))
    ChatCursor.objects.create(chat_id="77019998877@c.us", last_time=1)
    cache.set(QUARANTINE_ALARM_KEY, {"at": timezone.now().isoformat(), "chats": [CHAT, "77019998877@c.us"]}, 600)
    cache.set(f"send:pace:{PHONE}", 1, 600)

    with django_capture_on_commit_callbacks(execute=True):
        contact_forget(contact=contact)

    assert list(ChatCursor.objects.values_list("chat_id", flat=True)) == ["77019998877@c.us"]
    assert cache.get(QUARANTINE_ALARM_KEY)["chats"] == ["77019998877@c.us"]
    assert cache.get(f"send:pace:{PHONE}") is None


def test_forgetting_logs_no_phone_number(caplog):
    contact = ContactFactory(phone=PHONE, chat_id=CHAT)
    InboundMessageFactory(contact=contact, text="Здравствуйте")
    ChatCursor.objects.create(chat_id=CHAT, last_time=1)

    with caplog.at_level(logging.DEBUG):
        contact_forget(contact=contact)

    logged = caplog.text + " ".join(str(r.msg) for r in caplog.records)
    assert "contact.forgotten" in logged
    assert f"'contact_id': {contact.pk}" in caplog.text
    assert "2345678" not in logged


def tick(at: datetime):
    with time_machine.travel(at, tick=False):
        post_purchase_poll()
        return post_purchase_run_due(rng=random.Random(7))


def test_an_opted_out_customer_who_is_forgotten_gets_no_post_purchase_message_for_a_later_order(
    fake_kaspi_shop, payment_settings
):
    contact = ContactFactory(phone=PHONE, opted_out_at=timezone.now() - timedelta(days=3))
    contact_forget(contact=contact)
    order = fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    tick(WEDNESDAY_NOON)

    assert not Message.objects.filter(purpose=Message.Purpose.POST_PURCHASE).exists()
    row = PostPurchaseMessage.objects.get(order_id=order.id)
    assert row.state == "skipped"
    assert Contact.objects.get(phone=PHONE).opted_out_at is not None


def test_an_opted_out_customer_who_is_forgotten_and_writes_again_among_others_starts_opted_out(
    django_capture_on_commit_callbacks,
):
    """A webhook POST's contacts are created in one statement; the remembered opt-out holds there too."""
    contact_forget(contact=ContactFactory(phone=PHONE, opted_out_at=timezone.now() - timedelta(days=3)))
    others = ["77015550101", "77015550102"]
    events = [wappi_incoming(f"3EB0ERASE{i:04d}", phone=phone) for i, phone in enumerate([PHONE, *others])]

    with django_capture_on_commit_callbacks(execute=True):
        ingest_events(events=parse_webhook({"messages": events}), via="webhook")

    assert Contact.objects.get(phone=PHONE).opted_out_at is not None
    assert not Contact.objects.filter(phone__in=others, opted_out_at__isnull=False).exists()


def test_a_forgotten_customer_who_had_not_opted_out_is_a_new_contact_again(
    fake_kaspi_shop, payment_settings, django_capture_on_commit_callbacks
):
    contact_forget(contact=ContactFactory(phone=PHONE))
    # Writes to the business again (proactive messages go only to those who wrote first).
    with django_capture_on_commit_callbacks(execute=True):
        events = parse_webhook({"messages": [wappi_incoming("3EB0ERASEAGAIN", phone=PHONE)]})
        ingest_events(events=events, via="webhook")
    fake_kaspi_shop.add_order(status="ACCEPTED_BY_MERCHANT", created_at=WEDNESDAY_NOON - timedelta(hours=1))

    tick(WEDNESDAY_NOON)

    assert Message.objects.filter(purpose=Message.Purpose.POST_PURCHASE, contact__phone=PHONE).count() == 1
    assert Contact.objects.get(phone=PHONE).opted_out_at is None


def _with_history():
    contact = ContactFactory(phone=PHONE, name="Асель")
    InboundMessageFactory(contact=contact, text="Кулер нужен")
    manager = ContactFactory(phone="77019990011", name="Менеджер")
    notice = OutboundMessageFactory(contact=manager, purpose="notification", text="🔔 Асель, +7 701 234 56 78")
    payment = Payment.objects.create(
        contact=contact, phone=PHONE, amount=1000, description="Кулер", status="processed", created_by="ai"
    )
    return contact, notice, payment


@pytest.mark.parametrize("how", ["single", "bulk"])
def test_the_admins_delete_is_the_same_erasure_as_the_apis_forget(admin_client, how):
    contact, notice, payment = _with_history()

    if how == "single":
        admin_client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"})
    else:
        admin_client.post(
            "/admin/contacts/contact/",
            {"action": "delete_selected", "_selected_action": [contact.pk], "post": "yes", "index": 0},
        )

    assert not Contact.objects.filter(phone=PHONE).exists()
    notice.refresh_from_db()
    payment.refresh_from_db()
    assert "234 56 78" not in notice.text
    assert (payment.phone, payment.contact_id) == ("", None)


def test_forgetting_drops_the_admins_own_log_of_changes_to_the_contact(admin_user):
    from django.contrib.admin.models import CHANGE, LogEntry

    contact, _notice, _payment = _with_history()
    LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[contact], action_flag=CHANGE, change_message="Изменено имя"
    )
    assert LogEntry.objects.filter(object_repr__contains="234 56 78").exists()

    contact_forget(contact=contact)

    assert not LogEntry.objects.filter(object_repr__contains="234 56 78").exists()
    assert not LogEntry.objects.filter(object_repr__contains="Асель").exists()
