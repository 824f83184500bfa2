"""The playground's sample customers through the real assistant step, and what the playground
shows for them: read from the product's records (classification, the reply's decision record,
calls, invoices, opt-out), never worked out by the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from assistant.pipeline import incoming_process
from contacts.models import Contact
from messaging.models import Message
from sandbox.playground import SAMPLES, assistant_view
from tests.factories import InboundMessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_knowledge", "payment_settings")]

ALMATY = ZoneInfo("Asia/Almaty")
WEDNESDAY_MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=ALMATY)
SAMPLE = {sample.key: sample for sample in SAMPLES}


def sample_says(key: str, *, at: datetime = WEDNESDAY_MORNING) -> dict:
    """The sample customer `key` writes its message; the assistant step answers; every bot
    message gets a WhatsApp id as the sender would give it. Returns the playground's view."""
    sample = SAMPLE[key]
    with time_machine.travel(at, tick=False):
        contact, _ = Contact.objects.get_or_create(phone=sample.phone, defaults={"push_name": sample.name})
        moment = at - timedelta(seconds=30)
        message = InboundMessageFactory(contact=contact, text=sample.body, timestamp=moment, received_at=moment)
        incoming_process(message_id=message.pk)
    for out in Message.objects.filter(contact=contact, direction="out", provider_message_id__isnull=True):
        Message.objects.filter(pk=out.pk).update(provider_message_id=f"wamid-{out.pk}")
    return assistant_view(phone=sample.phone)


def reply_decisions(view: dict) -> list[dict]:
    return [view["replies"][key] for key in sorted(view["replies"])]


def tools(view: dict) -> list[str]:
    return [tool["name"] for reply in reply_decisions(view) for tool in reply.get("tools", [])]


def test_the_price_sample_is_classified_a_client_and_answered_from_the_price_list():
    view = sample_says("price")

    assert view["classification"]["is_client"] is True
    assert "вопрос о цене" in view["classification"]["reasoning"]
    [reply] = reply_decisions(view)
    assert reply["guard"] == "clean"
    assert reply["tools"] == []
    assert reply["handed_off"] is False


@pytest.mark.parametrize("key", ["booking", "kazakh"])
def test_the_booking_samples_show_the_tools_and_the_call(key):
    view = sample_says(key)

    assert tools(view) == ["check_availability", "book_call"]
    [call] = view["calls"]
    assert call["when"].endswith("11:00")
    assert call["admin_url"].startswith("/admin/contacts/scheduledcall/")


def test_the_invoice_sample_shows_the_kaspi_invoice_and_paid_is_answered(fake_kaspi):
    view = sample_says("invoice")

    assert tools(view) == ["create_payment_link"]
    [invoice] = view["invoices"]
    assert invoice["amount"] == "2400.00"

    before = len(reply_decisions(view))
    view = sample_says("paid", at=WEDNESDAY_MORNING + timedelta(minutes=5))

    assert len(reply_decisions(view)) > before  # "Оплатил" got its own answer


def test_the_opt_out_sample_is_confirmed_and_recorded():
    view = sample_says("optout")

    assert view["opted_out"]
    assert [reply["purpose"] for reply in reply_decisions(view)] == ["Уведомление"]


def test_the_complaint_sample_is_handed_to_a_manager():
    view = sample_says("complaint")

    assert view["request_type"] == "complaint"
    assert [reply["purpose"] for reply in reply_decisions(view)] == ["Передача менеджеру"]


def test_the_spam_sample_is_not_a_client_and_gets_no_reply():
    view = sample_says("spam")

    assert view["classification"]["is_client"] is False
    assert view["replies"] == {}


def test_the_intent_of_the_customers_reply_is_shown_for_follow_ups():
    sample_says("price")

    contact = Contact.objects.get(phone=SAMPLE["price"].phone)
    with time_machine.travel(WEDNESDAY_MORNING + timedelta(minutes=10), tick=False):
        moment = WEDNESDAY_MORNING + timedelta(minutes=10, seconds=-30)
        message = InboundMessageFactory(contact=contact, text="Нет, не интересно", timestamp=moment, received_at=moment)
        incoming_process(message_id=message.pk)

    assert assistant_view(phone=contact.phone)["follow_up"]["intent"] == "Нет"
