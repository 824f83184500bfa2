"""What the dashboard reads of payments: invoices created and paid per local day, and how many
new contacts paid."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine

from payments.models import Payment
from payments.selectors import payment_counts_by_day, payment_paying_contacts_count
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
SUNDAY = datetime(2026, 11, 22, tzinfo=ALMATY)
TUESDAY = datetime(2026, 11, 24, tzinfo=ALMATY)


def invoice(contact, **fields) -> Payment:
    values = {
        "amount": Decimal("15000"),
        "description": "Подписка",
        "phone": contact.phone,
        "created_by": Payment.CreatedBy.AI,
        "status": Payment.Status.CREATED,
        **fields,
    }
    return Payment.objects.create(contact=contact, **values)


def test_invoices_are_counted_on_the_local_day_they_were_created_and_the_day_they_were_paid():
    contact = ContactFactory()
    with time_machine.travel(datetime(2026, 11, 20, 12, 0, tzinfo=ALMATY), tick=False):
        invoice(contact, status=Payment.Status.PROCESSED, paid_at=datetime(2026, 11, 23, 0, 30, tzinfo=ALMATY))
    with time_machine.travel(datetime(2026, 11, 22, 12, 0, tzinfo=ALMATY), tick=False):
        invoice(contact)
        invoice(contact, status=Payment.Status.PROCESSED, paid_at=datetime(2026, 11, 22, 13, 0, tzinfo=ALMATY))

    assert payment_counts_by_day(since=SUNDAY, until=TUESDAY) == {
        date(2026, 11, 22): {"created": 2, "paid": 1},
        date(2026, 11, 23): {"created": 0, "paid": 1},
    }


def test_paying_contacts_are_those_first_seen_in_the_window_with_a_paid_invoice_counted_once():
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=ALMATY), tick=False):
        paid_twice, unpaid = ContactFactory(), ContactFactory()
    invoice(paid_twice, status=Payment.Status.PROCESSED)
    invoice(paid_twice, status=Payment.Status.PROCESSED)
    invoice(unpaid)
    with time_machine.travel(datetime(2026, 11, 1, 9, 0, tzinfo=ALMATY), tick=False):
        earlier = ContactFactory()
    invoice(earlier, status=Payment.Status.PROCESSED)

    assert payment_paying_contacts_count(first_seen_since=SUNDAY, first_seen_until=TUESDAY) == 1
