"""Forgetting a contact: nothing about the person is left but anonymised payment records."""

from __future__ import annotations

import json

import pytest

from ai.models import ClassificationRecord, ModelCall
from contacts.forget import contact_forget
from contacts.models import CallReminder, Contact, ScheduledCall
from followups.models import FollowUp, FollowUpTouch
from messaging.models import Message
from payments.models import Payment, PostPurchaseMessage
from tests.api.conftest import error_of, make_payment
from tests.factories import (
    ContactFactory,
    FollowUpFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
)

pytestmark = pytest.mark.django_db
PHONE = "77012345678"


@pytest.fixture
def history():
    """A contact with a conversation, a follow-up that sent a touch, a booked call with a
    reminder, a verdict, a model call, a notice to a manager and a Kaspi Shop order."""
    contact = ContactFactory(phone=PHONE, name="Асель", full_name="Асель Нурланова", is_client=True)
    question = InboundMessageFactory(contact=contact, text="Сколько стоит кулер?")
    touch = OutboundMessageFactory(contact=contact, purpose="follow_up", reply_to=question)
    followup = FollowUpFactory(contact=contact, anchor_message=touch)
    FollowUpTouch.objects.create(followup=followup, touch_number=1, message=touch)
    call = ScheduledCallFactory(contact=contact)
    CallReminder.objects.create(call=call, audience="client", due_at=call.scheduled_at)
    ClassificationRecord.objects.create(contact=contact, source="model", is_client=True)
    ModelCall.objects.create(backend="offline", purpose="classify", model="rules", contact=contact, prompt_tokens=10)
    manager = ContactFactory(phone="77019990011", name="Менеджер")
    OutboundMessageFactory(contact=manager, purpose="notification", text="🔔 Клиент\nАсель, +7 701 234 56 78\n«Кулер»")
    unrelated_notice = OutboundMessageFactory(contact=manager, purpose="notification", text="🔔 Другой клиент")
    from django.utils import timezone

    PostPurchaseMessage.objects.create(
        order_id="A1", order_status="COMPLETED", kind="thanks", phone=PHONE, customer_name="Асель Н.",
        contact=contact, due_at=timezone.now(),
    )  # fmt: skip
    return {"contact": contact, "manager": manager, "unrelated_notice": unrelated_notice}


def assert_nothing_personal_left(original_pk):
    assert not Message.objects.filter(contact_id=original_pk).exists()
    assert not FollowUp.objects.filter(contact_id=original_pk).exists()
    assert not FollowUpTouch.objects.exists()
    assert not ScheduledCall.objects.filter(contact_id=original_pk).exists()
    assert not CallReminder.objects.exists()
    assert not ClassificationRecord.objects.filter(contact_id=original_pk).exists()
    assert not Contact.objects.filter(phone=PHONE).exists()
    assert not Contact.objects.filter(name__icontains="Асель").exists()
    assert ModelCall.objects.get().contact_id is None
    dump = json.dumps(list(Message.objects.values("text")), ensure_ascii=False)
    assert "234 56 78" not in dump
    assert "Асель" not in dump
    order = PostPurchaseMessage.objects.get()
    assert (order.phone, order.customer_name, order.contact_id) == ("", "", None)


def test_forgetting_a_contact_without_payments_deletes_everything_about_it(api, history):
    contact = history["contact"]

    response = api.delete("/api/contacts/+7 (701) 234-56-78")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone"] == PHONE
    assert body["removed"]["messages"] == 2
    assert body["removed"]["followups"] == body["removed"]["calls"] == body["removed"]["call_reminders"] == 1
    assert body["removed"]["notices_redacted"] == 1
    assert body["removed"]["contact_deleted"] == 1
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert_nothing_personal_left(contact.pk)
    history["unrelated_notice"].refresh_from_db()
    assert history["unrelated_notice"].text == "🔔 Другой клиент"
    assert error_of(api.get(f"/api/contacts/{PHONE}"))["code"] == "contact_not_found"


def test_payments_are_kept_without_the_persons_data(history):
    contact = history["contact"]
    payment = make_payment(
        contact,
        last_error=f"Kaspi не может выставить счёт на {PHONE}",
        raw_responses=[{"at": "2026-03-02T10:00:00+05:00", "body": {"Phone": "87012345678", "Amount": 25000}}],
    )

    removed = contact_forget(contact=contact)

    payment.refresh_from_db()
    assert removed["payments_anonymised"] == 1
    assert (payment.amount, payment.status, payment.description) == (25000, "processed", "Кулер Aqua Pro")
    assert payment.phone == ""
    assert PHONE not in payment.last_error
    assert "87012345678" not in json.dumps(payment.raw_responses)
    assert payment.raw_responses[0]["body"]["Amount"] == 25000
    assert_nothing_personal_left(contact.pk)
    # The payment outlives the person: its link is cut and the contact is gone.
    assert payment.contact_id is None
    assert removed["contact_deleted"] == 1
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert Payment.objects.count() == 1


def test_forgetting_an_unknown_number_is_a_404(api):
    response = api.delete("/api/contacts/77019998877")

    assert response.status_code == 404
    assert error_of(response)["code"] == "contact_not_found"
