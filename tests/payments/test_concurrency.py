"""Two operators refund the same payment at the same moment: real threads, real transactions."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from payments.models import Payment, Refund
from payments.services import RefundRefused, payment_check, payment_refund, payment_request
from tests.factories import ContactFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_of_one_payment_run_one_after_the_other(fake_kaspi):
    contact = ContactFactory(is_client=True)
    payment = payment_request(contact=contact, amount="100", description="Кулер", created_by="operator").payment
    fake_kaspi.pay(payment.kaspi_payment_id)
    payment_check(payment=payment, reason="test")
    fake_kaspi.refund_delay = 0.3  # a slow bank widens the window two racing refunds would share
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def operator() -> None:
        try:
            start.wait()
            outcomes.append(payment_refund(payment=Payment.objects.get(pk=payment.pk), amount="60"))
        except RefundRefused as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=operator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    done = [o for o in outcomes if isinstance(o, Refund)]
    refused = [o for o in outcomes if isinstance(o, RefundRefused)]
    assert len(done) == 1
    assert len(refused) == 1
    assert refused[0].available == Decimal("40.00")  # judged on what the first left, read afterwards
    assert fake_kaspi.refund_peak == 1  # Kaspi never saw two refunds of this payment at once
    assert len(fake_kaspi.calls_to("payment/return")) == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("60.00")
    assert fake_kaspi.invoices[payment.kaspi_payment_id].available == Decimal("40")
