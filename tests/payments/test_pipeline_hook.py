"""A customer writing "я оплатил" gets their open invoice checked and, when paid, confirmed, even
while an operator leads the chat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.pipeline import incoming_process
from contacts.services import contact_pause_bot
from messaging.models import Message
from messaging.sender import outbox_send
from payments.models import Payment
from tests.factories import InboundMessageFactory
from tests.payments.test_services import invoice

pytestmark = pytest.mark.django_db


def customer_writes(contact, text):
    moment = timezone.now() - timedelta(seconds=5)
    return InboundMessageFactory(contact=contact, text=text, timestamp=moment, received_at=moment)


@pytest.mark.parametrize("operator_mode", [False, True])
def test_i_paid_checks_the_invoice_and_confirms_it(
    client_contact, fake_kaspi, fake_wappi, django_capture_on_commit_callbacks, operator_mode
):
    payment = invoice(client_contact)
    fake_kaspi.pay(payment.kaspi_payment_id)
    if operator_mode:
        contact_pause_bot(contact=client_contact, until=None)
    message = customer_writes(client_contact, "Я оплатила, проверьте пожалуйста")

    with django_capture_on_commit_callbacks(execute=True):
        incoming_process(message_id=message.pk)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.PROCESSED
    confirmation = Message.objects.get(contact=client_contact, purpose="payment", text__contains="получена")
    assert confirmation.direction == "out"
    assert len(fake_kaspi.calls_to("payment/status")) == 1
    # The confirmation really goes out, also while an operator leads the chat.
    assert outbox_send(message_id=confirmation.pk, client=fake_wappi.client()).status == "sent"


def test_other_messages_and_contacts_without_invoices_cost_no_kaspi_call(
    client_contact, fake_kaspi, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incoming_process(message_id=customer_writes(client_contact, "Я оплатил").pk)  # nothing open
    payment = invoice(client_contact)
    with django_capture_on_commit_callbacks(execute=True):
        incoming_process(message_id=customer_writes(client_contact, "Как оплатить?").pk)

    assert fake_kaspi.calls_to("payment/status") == []
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CREATED
