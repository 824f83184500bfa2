"""Operators' payment screens: list, create by hand, open (checks), check, approve, cancel, refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from messaging.models import Message
from payments.models import Payment, Refund
from payments.services import payment_check, payment_request

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("payment_settings")]


@pytest.fixture
def operator(admin_client):
    return admin_client


def an_invoice(contact, amount="25000", description="Кулер Aqua Pro"):
    return payment_request(contact=contact, amount=amount, description=description, created_by="ai").payment


def act(client, action, payment):
    return client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": action, "_selected_action": [payment.pk]},
        follow=True,
    )


def test_the_list_shows_status_amount_contact_and_who_created_it(operator, client_contact, fake_kaspi):
    an_invoice(client_contact)

    page = operator.get(reverse("admin:payments_payment_changelist")).content.decode()

    assert "25 000 ₸" in page
    assert "Выставлен" in page
    assert "ИИ" in page
    assert "+7 701 123 45 67" in page


def test_an_operator_creates_an_invoice_by_hand(
    operator, client_contact, fake_kaspi, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as sent_after_commit:
        response = operator.post(
            reverse("admin:payments_payment_add"),
            {"contact": client_contact.pk, "amount": "2500", "description": "Аренда кулера"},
            follow=True,
        )
    assert sent_after_commit  # Kaspi is called only once the row is committed

    assert response.status_code == 200
    payment = Payment.objects.get()
    assert (payment.created_by, payment.created_by_user, payment.status) == ("operator", admin_user, "created")
    message = Message.objects.get(contact=client_contact, purpose="payment")
    assert message.author == "operator"  # goes out even while an operator leads the chat
    assert "2 500 ₸" in message.text


def test_a_bad_amount_is_refused_by_the_form(operator, client_contact, fake_kaspi):
    response = operator.post(
        reverse("admin:payments_payment_add"),
        {"contact": client_contact.pk, "amount": "10.005", "description": "x"},
    )
    assert response.status_code == 200
    assert not Payment.objects.exists()
    assert fake_kaspi.requests == []


def test_opening_an_open_invoice_checks_it(operator, client_contact, fake_kaspi):
    payment = an_invoice(client_contact)
    fake_kaspi.pay(payment.kaspi_payment_id)

    page = operator.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()

    payment.refresh_from_db()
    assert payment.status == "processed"
    assert "Оплачен" in page
    assert "Вернуть деньги" in page


def test_the_check_action_moves_the_status_on(operator, client_contact, fake_kaspi):
    payment = an_invoice(client_contact)
    fake_kaspi.open(payment.kaspi_payment_id)

    act(operator, "action_check", payment)

    payment.refresh_from_db()
    assert payment.status == "wait"


def test_approve_and_cancel_actions(operator, client_contact, fake_kaspi):
    big = an_invoice(client_contact, amount="150000", description="Оптовый заказ")
    act(operator, "action_approve", big)
    big.refresh_from_db()
    assert big.status == "created"

    act(operator, "action_cancel", big)
    big.refresh_from_db()
    assert big.status == "cancelled"
    assert fake_kaspi.invoices[big.kaspi_payment_id].status == "RemotePaymentCanceled"


def test_a_partial_refund_through_the_form(operator, client_contact, fake_kaspi):
    payment = an_invoice(client_contact, amount="100")
    fake_kaspi.pay(payment.kaspi_payment_id)
    payment_check(payment=payment, reason="test")
    url = reverse("admin:payments_payment_refund", args=[payment.pk])
    assert "Возврат" in operator.get(url).content.decode()

    operator.post(url, {"amount": "30"})

    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.state) == (Decimal("30.00"), "done")


def test_a_refund_over_what_is_left_is_shown_as_an_error(operator, client_contact, fake_kaspi):
    payment = an_invoice(client_contact, amount="100")
    fake_kaspi.pay(payment.kaspi_payment_id)
    with time_machine.travel(timezone.now() - timedelta(minutes=5)):
        payment_check(payment=payment, reason="test")

    response = operator.post(reverse("admin:payments_payment_refund", args=[payment.pk]), {"amount": "150"})

    assert "Можно вернуть не больше 100 ₸" in response.content.decode()
    assert not Refund.objects.exists()
    assert fake_kaspi.calls_to("payment/return") == []
