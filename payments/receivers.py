"""How payments react to what the contacts core announces. Connected in
PaymentsConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.dispatch import receiver

from contacts.forget import redact
from contacts.models import Contact
from contacts.signals import contact_forgetting
from payments.models import Payment, PostPurchaseMessage


@receiver(contact_forgetting, dispatch_uid="payments.forget_contact")
def forget_contact(*, contact: Contact, phone: str, needles: list[str], counts: dict[str, int], **_: Any) -> None:
    """Payment records outlive the person (the law keeps them): each of the contact's
    payments (its refunds hang off it and hold no personal data) loses its link, its invoice
    phone, and every spelling of the number in its description, error and Kaspi's stored
    answers. Kaspi Shop post-purchase rows for the contact or its number lose the phone, the
    buyer's name and the link."""
    counts["post_purchase_anonymised"] = PostPurchaseMessage.objects.filter(Q(contact=contact) | Q(phone=phone)).update(
        contact=None, phone="", customer_name=""
    )
    payments = list(Payment.objects.select_for_update().filter(contact=contact))
    for payment in payments:
        payment.phone = ""
        payment.description = redact(payment.description, needles)
        payment.last_error = redact(payment.last_error, needles)
        payment.raw_responses = redact(payment.raw_responses, needles)
        payment.contact = None
        payment.save(update_fields=["contact", "phone", "description", "last_error", "raw_responses", "updated_at"])
    counts["payments_anonymised"] = len(payments)
