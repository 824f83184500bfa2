"""Payments through the API, against the fake Kaspi over real HTTP."""

from __future__ import annotations

import pytest

from payments.models import Payment, Refund
from payments.services import payment_request
from tests.api.conftest import error_of, make_payment
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def invoice(contact, amount="25000"):
    return payment_request(contact=contact, amount=amount, description="Кулер Aqua Pro", created_by="ai").payment


def test_payments_are_listed_newest_first_and_filtered(api, client_contact):
    other = ContactFactory()
    paid = make_payment(client_contact)
    waiting = make_payment(other, status=Payment.Status.WAIT, description="Фильтр")

    everything = api.get("/api/payments").json()
    only_paid = api.get("/api/payments?status=processed").json()
    by_phone = api.get("/api/payments?phone=8 701 123 45 67").json()

    assert [p["id"] for p in everything["results"]] == [waiting.pk, paid.pk]
    assert everything["results"][1]["amount"] == "25000.00"
    assert [p["id"] for p in only_paid["results"]] == [paid.pk]
    assert [p["id"] for p in by_phone["results"]] == [paid.pk]


def test_a_check_asks_kaspi_and_a_paid_invoice_comes_back_paid(api, client_contact, fake_kaspi):
    payment = invoice(client_contact)
    fake_kaspi.pay(payment.kaspi_payment_id)

    response = api.post(f"/api/payments/{payment.pk}/check")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["refundable_amount"]) == ("processed", "25000.00")
    assert body["paid_at"] is not None
    assert len(fake_kaspi.calls_to(f"payment/status/{payment.kaspi_payment_id}")) == 1


def test_a_refund_of_part_then_the_rest(api, client_contact, fake_kaspi):
    payment = invoice(client_contact, amount="1000")
    fake_kaspi.pay(payment.kaspi_payment_id)
    api.post(f"/api/payments/{payment.pk}/check")

    part = api.post(f"/api/payments/{payment.pk}/refund", {"amount": "300"}, format="json")
    rest = api.post(f"/api/payments/{payment.pk}/refund", {}, format="json")

    assert part.status_code == rest.status_code == 201, (part.content, rest.content)
    assert (part.json()["amount"], part.json()["state"]) == ("300.00", "done")
    assert rest.json()["amount"] == "700.00"
    assert list(Refund.objects.filter(payment=payment).values_list("state", flat=True)) == ["done", "done"]


def test_a_refund_over_what_is_left_is_a_409_saying_how_much_can_be_refunded(api, client_contact, fake_kaspi):
    payment = invoice(client_contact, amount="1000")
    fake_kaspi.pay(payment.kaspi_payment_id)
    api.post(f"/api/payments/{payment.pk}/check")

    response = api.post(f"/api/payments/{payment.pk}/refund", {"amount": "5000"}, format="json")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "refund_refused"
    assert error["details"] == {"available": "1000.00"}
    assert not Refund.objects.exists()


def test_an_unpaid_invoice_cannot_be_refunded_and_an_unknown_id_is_a_404(api, client_contact, fake_kaspi):
    payment = invoice(client_contact)

    unpaid = api.post(f"/api/payments/{payment.pk}/refund", {}, format="json")
    missing = api.post("/api/payments/999999/refund", {}, format="json")
    negative = api.post(f"/api/payments/{payment.pk}/refund", {"amount": "-5"}, format="json")

    assert (unpaid.status_code, error_of(unpaid)["code"]) == (409, "payment_refused")
    assert "оплаченный" in error_of(unpaid)["message"]
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")
    assert negative.status_code == 400
