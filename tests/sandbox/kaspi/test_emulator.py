"""The built-in Kaspi emulator (`make run`): our real client against our own web server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Payment
from payments.services import payment_check, payment_refund, payment_request
from sandbox.kaspi.models import SandboxInvoice
from tests.factories import ContactFactory


@pytest.fixture
def kaspi_sandbox(live_server, settings):
    settings.KASPI_SANDBOX = True
    settings.KASPI_BASE_URL = f"{live_server.url}/sandbox/kaspi/r3"
    settings.KASPI_ORGANIZATION_BIN = "180340021791"
    settings.KASPI_DEVICE_TOKEN = "sandbox-device-token"
    settings.KASPI_CERT_PATH = ""
    settings.KASPI_TIMEOUT = 5.0
    return live_server


@pytest.mark.django_db(transaction=True)
def test_an_operator_marks_a_sandbox_invoice_paid_and_the_check_confirms_it(kaspi_sandbox, admin_client):
    contact = ContactFactory(is_client=True)
    payment = payment_request(contact=contact, amount="2500", description="Аренда кулера", created_by="ai").payment
    assert payment.status == Payment.Status.CREATED
    invoice = SandboxInvoice.objects.get(pk=payment.kaspi_payment_id)
    assert invoice.amount == Decimal("2500.00")

    admin_client.post(
        reverse("admin:sandbox_sandboxinvoice_changelist"),
        {"action": "customer_pays", "_selected_action": [invoice.pk]},
    )
    paid = payment_check(payment=payment, reason="operator")

    assert paid.status == Payment.Status.PROCESSED
    assert payment_refund(payment=paid, amount="500").state == "done"
    invoice.refresh_from_db()
    assert invoice.available == Decimal("2000.00")


@pytest.mark.django_db
def test_the_sandbox_is_not_served_when_off(client, settings):
    settings.KASPI_SANDBOX = False
    response = client.get("/sandbox/kaspi/r3/v01/payment/status/1", headers={"X-Request-ID": "x"})
    assert response.status_code == 404
