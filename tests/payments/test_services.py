"""Invoices end to end through the services, the fake Kaspi over real HTTP and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from messaging.models import Message
from payments.models import Payment, Refund
from payments.services import (
    PaymentError,
    RefundRefused,
    payment_approve,
    payment_cancel,
    payment_check,
    payment_refund,
    payment_request,
    payments_customer_says_paid,
    payments_expire_due,
)

pytestmark = pytest.mark.django_db


def invoice(contact, amount="25000", description="Кулер Aqua Pro", created_by="ai"):
    return payment_request(contact=contact, amount=amount, description=description, created_by=created_by).payment


def paid_invoice(contact, fake_kaspi, amount="100"):
    payment = invoice(contact, amount=amount)
    fake_kaspi.pay(payment.kaspi_payment_id)
    return payment_check(payment=payment, reason="test")


def messages_to(contact, purpose="payment"):
    return list(Message.objects.filter(contact=contact, purpose=purpose).order_by("id").values_list("text", flat=True))


def manager_notices():
    return list(Message.objects.filter(contact__phone="77019990011").values_list("text", flat=True))


def test_an_invoice_is_created_at_kaspi_and_the_client_is_told_it_waits_in_the_app(client_contact, fake_kaspi):
    payment = invoice(client_contact)

    assert payment.status == Payment.Status.CREATED
    assert payment.kaspi_payment_id in fake_kaspi.invoices
    assert fake_kaspi.invoices[payment.kaspi_payment_id].phone == "87011234567"
    assert payment.expires_at == payment.sent_at + timedelta(hours=24)
    assert payment.create_request_id == fake_kaspi.last("remote/create").headers["X-Request-Id"]
    [text] = messages_to(client_contact)
    assert "Счёт на 25 000 ₸" in text
    assert "приложении Kaspi" in text
    message = Message.objects.get(contact=client_contact, purpose="payment")
    assert message.idempotency_key == f"payment:{payment.pk}:invoice"
    assert message.status == Message.Status.QUEUED


def test_asking_twice_for_the_same_thing_gives_one_invoice(client_contact, fake_kaspi):
    first = payment_request(contact=client_contact, amount="25000", description="Кулер Aqua Pro", created_by="ai")
    second = payment_request(contact=client_contact, amount="25000", description="Кулер  Aqua Pro", created_by="ai")

    assert first.created
    assert not second.created
    assert second.payment.pk == first.payment.pk
    assert len(fake_kaspi.calls_to("remote/create")) == 1
    assert len(messages_to(client_contact)) == 1


def test_the_database_allows_one_open_invoice_per_contact_and_description(client_contact, fake_kaspi):
    from django.db import IntegrityError, transaction

    payment = invoice(client_contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            contact=client_contact, amount=1, description=payment.description, phone="77011234567", created_by="ai"
        )
    # Once the first is closed, the same thing can be invoiced again.
    payment_cancel(payment=payment)
    assert invoice(client_contact).pk != payment.pk


def test_a_create_that_times_out_is_unknown_and_never_created_again(client_contact, fake_kaspi):
    fake_kaspi.hang_next("remote/create")

    payment = invoice(client_contact)

    assert payment.status == Payment.Status.UNKNOWN
    assert payment.kaspi_payment_id is None
    assert "проверьте" in payment.last_error
    assert len(fake_kaspi.invoices) == 1  # Kaspi did create it: a second one would bill twice
    # Asking again (the assistant, a retried task) does not reach Kaspi.
    again = payment_request(contact=client_contact, amount="25000", description="Кулер Aqua Pro", created_by="ai")
    assert not again.created
    assert again.payment.pk == payment.pk
    assert len(fake_kaspi.calls_to("remote/create")) == 1
    assert messages_to(client_contact) == []  # the client is not told about an invoice we cannot confirm
    assert any("Kaspi Pay" in text for text in manager_notices())


def test_a_refused_create_is_an_error_with_a_clear_reason(client_contact, fake_kaspi):
    fake_kaspi.fail_next("remote/create", -1401)

    payment = invoice(client_contact)

    assert payment.status == Payment.Status.ERROR
    assert "Kaspi.kz" in payment.last_error
    assert messages_to(client_contact) == []


def test_kaspi_temporarily_unavailable_leaves_no_open_invoice(client_contact, fake_kaspi):
    fake_kaspi.fail_next("remote/create", -999, http_status=503)

    payment = invoice(client_contact)

    assert payment.status == Payment.Status.ERROR
    assert "временно недоступен" in payment.last_error
    assert invoice(client_contact).status == Payment.Status.CREATED  # a later try goes through


def test_a_paid_invoice_is_confirmed_to_the_client_and_the_manager_once(client_contact, fake_kaspi):
    payment = invoice(client_contact)
    fake_kaspi.open(payment.kaspi_payment_id)

    assert payments_customer_says_paid(contact=client_contact)[0].status == Payment.Status.WAIT
    assert manager_notices() == []

    fake_kaspi.pay(payment.kaspi_payment_id)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        [checked] = payments_customer_says_paid(contact=client_contact)
    with time_machine.travel(timezone.now() + timedelta(seconds=62)):
        assert payments_customer_says_paid(contact=client_contact) == []  # paid: nothing open to check

    assert checked.status == Payment.Status.PROCESSED
    assert checked.paid_at is not None
    assert checked.kaspi_status == "Processed"
    texts = messages_to(client_contact)
    assert len(texts) == 2
    assert "Оплата 25 000 ₸" in texts[1]
    assert "получена" in texts[1]
    [notice] = manager_notices()
    assert "Оплата получена: 25 000 ₸" in notice


def test_status_checks_are_debounced_per_invoice(client_contact, fake_kaspi):
    payment = invoice(client_contact)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        payment_check(payment=payment, reason="operator")
        payment_check(payment=payment, reason="operator")
    with time_machine.travel(start + timedelta(seconds=29), tick=False):
        payments_customer_says_paid(contact=client_contact)
    assert len(fake_kaspi.calls_to("payment/status")) == 1

    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        payment_check(payment=payment, reason="operator")
    assert len(fake_kaspi.calls_to("payment/status")) == 2


def test_an_error_status_at_kaspi_closes_the_invoice(client_contact, fake_kaspi):
    payment = invoice(client_contact)
    fake_kaspi.decline(payment.kaspi_payment_id)

    assert payment_check(payment=payment, reason="operator").status == Payment.Status.ERROR


def test_a_check_that_fails_is_recorded_not_raised(client_contact, fake_kaspi):
    payment = invoice(client_contact)
    fake_kaspi.fail_next("payment/status", -999, http_status=503)

    checked = payment_check(payment=payment, reason="operator")

    assert checked.status == Payment.Status.CREATED
    assert "временно недоступен" in checked.last_error


def test_cancel_withdraws_an_unpaid_invoice_at_kaspi(client_contact, fake_kaspi):
    payment = invoice(client_contact)

    cancelled = payment_cancel(payment=payment)

    assert cancelled.status == Payment.Status.CANCELLED
    assert fake_kaspi.invoices[payment.kaspi_payment_id].status == "RemotePaymentCanceled"


def test_a_paid_invoice_cannot_be_cancelled(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi)
    with pytest.raises(PaymentError):
        payment_cancel(payment=payment)
    assert fake_kaspi.calls_to("remote/cancel") == []


def test_an_invoice_paid_after_expiry_is_confirmed_by_the_final_check(client_contact, fake_kaspi):
    payment = invoice(client_contact)
    fake_kaspi.pay(payment.kaspi_payment_id)

    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        assert payments_expire_due() == []
    assert fake_kaspi.calls_to("payment/status") == []  # no polling of a live invoice

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        [final] = payments_expire_due()
    assert final.status == Payment.Status.PROCESSED
    assert any("получена" in t for t in messages_to(client_contact))


def test_an_unpaid_invoice_expires_after_24_hours_and_is_withdrawn(client_contact, fake_kaspi):
    payment = invoice(client_contact)

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        [expired] = payments_expire_due()
        assert payments_expire_due() == []  # one final check, not a loop

    assert expired.status == Payment.Status.EXPIRED
    assert len(fake_kaspi.calls_to("payment/status")) == 1
    assert fake_kaspi.invoices[payment.kaspi_payment_id].status == "RemotePaymentCanceled"
    # The same thing can be invoiced again with a new Kaspi id.
    again = invoice(client_contact)
    assert again.kaspi_payment_id != payment.kaspi_payment_id


def test_a_create_left_in_flight_by_a_dead_worker_becomes_unknown(client_contact, fake_kaspi):
    payment = Payment.objects.create(
        contact=client_contact, amount=100, description="x", phone=client_contact.phone, created_by="ai"
    )
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        payments_expire_due()
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNKNOWN
    assert fake_kaspi.calls_to("remote/create") == []


# --- Approval --------------------------------------------------------------------------------------


def test_an_invoice_above_the_threshold_waits_for_an_operator(client_contact, fake_kaspi, django_user_model):
    payment = invoice(client_contact, amount="150000")

    assert payment.status == Payment.Status.AWAITING_APPROVAL
    assert fake_kaspi.calls_to("remote/create") == []
    assert messages_to(client_contact) == []
    assert any("ждёт одобрения" in t for t in manager_notices())

    operator = django_user_model.objects.create_user("operator", password="x")
    approved = payment_approve(payment=payment, user=operator)

    assert approved.status == Payment.Status.CREATED
    assert approved.approved_by == operator
    assert len(fake_kaspi.calls_to("remote/create")) == 1
    assert "150 000 ₸" in messages_to(client_contact)[0]
    with pytest.raises(PaymentError):
        payment_approve(payment=approved, user=operator)


def test_an_invoice_at_the_threshold_goes_out_at_once(client_contact, fake_kaspi):
    assert invoice(client_contact, amount="100000").status == Payment.Status.CREATED


def test_an_invoice_its_caller_doubts_waits_for_an_operator_whatever_its_amount(client_contact, fake_kaspi):
    request = payment_request(
        contact=client_contact,
        amount="3",
        description="Кулер Тау-3",
        created_by="ai",
        approval_reason="в прайсе нет позиции из описания счёта",
    )

    assert request.payment.status == Payment.Status.AWAITING_APPROVAL
    assert request.payment.approval_reason == "в прайсе нет позиции из описания счёта"
    assert fake_kaspi.calls_to("remote/create") == []
    [notice] = manager_notices()
    assert "ждёт одобрения" in notice
    assert "в прайсе нет позиции" in notice


# --- One open invoice of the assistant per contact -------------------------------------------------


def test_the_assistant_asking_again_for_the_same_amount_in_other_words_gets_the_open_invoice(
    client_contact, fake_kaspi
):
    first = payment_request(contact=client_contact, amount="25000", description="Кулер Aqua Pro", created_by="ai")

    again = payment_request(
        contact=client_contact, amount="25000", description="Напольный кулер Aqua Pro, 1 шт.", created_by="ai"
    )

    assert not again.created
    assert again.payment.pk == first.payment.pk
    assert len(fake_kaspi.calls_to("remote/create")) == 1
    assert len(messages_to(client_contact)) == 1


def test_another_assistant_invoice_while_one_is_open_waits_and_an_operator_may_send_it(
    client_contact, fake_kaspi, django_user_model
):
    first = invoice(client_contact, amount="1200", description="Вода 19 л (бутыль)")

    second = payment_request(contact=client_contact, amount="2900", description="Помпа механическая", created_by="ai")

    assert second.created
    assert second.open_before == first
    assert second.payment.status == Payment.Status.AWAITING_APPROVAL
    assert second.payment.approval_reason == "у клиента уже открыт счёт на 1 200 ₸ («Вода 19 л (бутыль)»)"
    assert len(fake_kaspi.calls_to("remote/create")) == 1
    # A third request while the second waits adds nothing: the operator decides first.
    third = payment_request(contact=client_contact, amount="650", description="Вода 5 л (ПЭТ)", created_by="ai")
    assert (third.created, third.payment.pk) == (False, second.payment.pk)
    assert Payment.objects.filter(contact=client_contact).count() == 2

    sent = payment_approve(payment=second.payment, user=django_user_model.objects.create_user("operator"))

    assert sent.status == Payment.Status.CREATED
    assert len(fake_kaspi.calls_to("remote/create")) == 2


def test_a_closed_invoice_or_an_operators_invoice_does_not_hold_the_assistant_back(client_contact, fake_kaspi):
    paid = paid_invoice(client_contact, fake_kaspi, amount="1200")
    invoice(client_contact, amount="5900", description="Помпа Samal", created_by="operator")

    request = payment_request(contact=client_contact, amount="2900", description="Помпа механическая", created_by="ai")

    assert paid.status == Payment.Status.PROCESSED
    assert request.payment.status == Payment.Status.CREATED
    assert request.open_before is None


# --- Refunds ---------------------------------------------------------------------------------------


def test_partial_then_full_refund_follow_kaspis_available_amount(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi, amount="100")

    first = payment_refund(payment=payment, amount="40")
    payment.refresh_from_db()
    assert (first.state, first.amount, first.available_before) == ("done", Decimal("40.00"), Decimal("100.00"))
    assert (payment.refunded_amount, payment.refundable_amount) == (Decimal("40.00"), Decimal("60.00"))

    rest = payment_refund(payment=payment)  # the rest
    payment.refresh_from_db()
    assert rest.amount == Decimal("60.00")
    assert rest.kaspi_operation_id is not None
    assert (payment.refunded_amount, payment.refundable_amount) == (Decimal("100.00"), Decimal("0.00"))
    assert fake_kaspi.invoices[payment.kaspi_payment_id].refunds == [Decimal("40.00"), Decimal("60.00")]


def test_a_refund_over_the_available_amount_is_refused_without_asking_kaspi(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi, amount="100")
    payment_refund(payment=payment, amount="70")

    with pytest.raises(RefundRefused) as caught:
        payment_refund(payment=payment, amount="50")

    assert "30 ₸" in str(caught.value)
    assert caught.value.available == Decimal("30.00")
    assert len(fake_kaspi.calls_to("payment/return")) == 1
    assert len(fake_kaspi.calls_to("payment/details")) == 2  # read first, every time


def test_kaspis_refusal_of_a_refund_is_recorded_and_explained(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi, amount="100")
    fake_kaspi.fail_next("payment/return", -99000005)

    with pytest.raises(RefundRefused) as caught:
        payment_refund(payment=payment, amount="50")

    assert "больше, чем осталось вернуть" in str(caught.value)
    assert caught.value.refund.state == Refund.State.FAILED
    assert Refund.objects.get(payment=payment).error == str(caught.value)
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("0")


def test_a_partial_refund_kaspi_does_not_allow_says_to_refund_in_full(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi, amount="100")
    fake_kaspi.invoices[payment.kaspi_payment_id].partial_refunds_allowed = False

    with pytest.raises(RefundRefused) as caught:
        payment_refund(payment=payment, amount="50")
    assert "только всю сумму" in str(caught.value)

    assert payment_refund(payment=payment).amount == Decimal("100.00")


def test_a_refund_while_kaspi_is_down_is_refused_cleanly(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi, amount="100")
    fake_kaspi.fail_next("payment/return", -999, http_status=503)

    with pytest.raises(RefundRefused) as caught:
        payment_refund(payment=payment, amount="50")
    assert "временно недоступен" in str(caught.value)
    assert fake_kaspi.invoices[payment.kaspi_payment_id].available == Decimal("100")


def test_a_refund_that_timed_out_is_settled_by_reading_the_details_again(client_contact, fake_kaspi):
    payment = paid_invoice(client_contact, fake_kaspi, amount="100")
    fake_kaspi.hang_next("payment/return")

    refund = payment_refund(payment=payment, amount="25")

    assert refund.state == Refund.State.DONE  # Kaspi's available amount dropped by 25
    assert len(fake_kaspi.calls_to("payment/return")) == 1  # never retried blindly
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("25.00")


def test_an_unpaid_invoice_cannot_be_refunded(client_contact, fake_kaspi):
    payment = invoice(client_contact)
    with pytest.raises(PaymentError):
        payment_refund(payment=payment, amount="10")
    assert fake_kaspi.calls_to("payment/return") == []


def test_an_invoice_never_approved_closes_when_its_time_is_over(client_contact, fake_kaspi):
    payment = invoice(client_contact, amount="150000")

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        payments_expire_due()

    payment.refresh_from_db()
    assert payment.status == Payment.Status.EXPIRED
    assert fake_kaspi.requests == []


# --- invoices below the list price (suspicious activity) ----------------------------------------


def test_an_invoice_below_the_list_price_is_told_to_the_managers_as_suspicious(client_contact, demo_knowledge, client):
    from payments.services import payment_open

    payment_open(
        contact=client_contact, amount="1000", description="Вода 19 л (бутыль), 3 шт.", created_by=Payment.CreatedBy.AI
    )

    suspicious = [t for t in messages_to_managers() if "ниже цены по прайсу" in t]
    assert len(suspicious) == 1
    assert f"#{client_contact.pk}" in suspicious[0]
    assert client_contact.phone not in suspicious[0]
    assert client.get("/health").json()["suspicious"]["kinds"] == ["invoice_below_list"]


def test_an_invoice_at_the_list_price_is_not_suspicious(client_contact, demo_knowledge, fake_kaspi, client):
    invoice(client_contact, amount="3600", description="Вода 19 л (бутыль), 3 шт.")

    assert not [t for t in messages_to_managers() if "ниже цены по прайсу" in t]
    assert client.get("/health").json()["suspicious"]["kinds"] == []


def messages_to_managers() -> list[str]:
    return list(
        Message.objects.filter(contact__phone="77019990011", purpose=Message.Purpose.NOTIFICATION).values_list(
            "text", flat=True
        )
    )


def test_a_below_list_invoice_waiting_for_approval_is_flagged_without_a_second_notice(
    client_contact, demo_knowledge, client
):
    from payments.services import payment_open

    payment_open(
        contact=client_contact,
        amount="1000",
        description="Вода 19 л (бутыль), 3 шт.",
        created_by=Payment.CreatedBy.AI,
        approval_reason="сумма 1 000 ₸ ниже цены по прайсу",
    )

    assert len(messages_to_managers()) == 1  # the approval notice says it already
    assert client.get("/health").json()["suspicious"]["kinds"] == ["invoice_below_list"]
