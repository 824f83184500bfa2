"""Forgetting a contact on request: everything we hold about the person goes, except the
payment records the law makes us keep, which stay without personal data."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.db.models import Q

from contacts.models import CallReminder, Contact, ScheduledCall
from contacts.phones import format_phone

log = structlog.get_logger(__name__)

REDACTED = "[удалено по запросу клиента]"


@transaction.atomic
def contact_forget(*, contact: Contact) -> dict[str, int]:
    """Erases a contact. Deleted: its messages (with follow-up touches and pending replies),
    follow-ups and the reply intent, scheduled calls and their reminders, the classification
    audit trail. Model-call rows lose the link to the contact (their tokens and cost stay in
    the usage numbers). Kept but anonymised: payments and refunds (the invoice phone blanked,
    the number scrubbed from Kaspi's stored answers and errors), Kaspi Shop post-purchase rows
    (phone and buyer name blanked, unlinked), and notices to managers that named the contact
    (their text replaced).

    The contact row is deleted (kept payments lose their link to it). One transaction; returns
    how many rows of each kind were touched."""
    from ai.models import ClassificationRecord, ModelCall, PendingReply
    from followups.models import FollowUp, FollowUpTouch, ReplyIntent
    from messaging.models import Message
    from payments.models import Payment, PostPurchaseMessage

    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    phone = contact.phone
    needles = _spellings(phone)
    messages = Message.objects.filter(contact=contact)
    followups = FollowUp.objects.filter(contact=contact)
    calls = ScheduledCall.objects.filter(contact=contact)
    counts = {
        "messages": messages.count(),
        "followups": followups.count(),
        "followup_touches": FollowUpTouch.objects.filter(followup__contact=contact).count(),
        "calls": calls.count(),
        "call_reminders": CallReminder.objects.filter(call__contact=contact).count(),
        "classifications": ClassificationRecord.objects.filter(contact=contact).count(),
        "pending_replies": PendingReply.objects.filter(contact=contact).count(),
        "reply_intents": ReplyIntent.objects.filter(contact=contact).count(),
    }
    # Children first: touches and pending replies hang off messages and follow-ups.
    FollowUpTouch.objects.filter(Q(followup__contact=contact) | Q(message__contact=contact)).delete()
    PendingReply.objects.filter(contact=contact).delete()
    ReplyIntent.objects.filter(contact=contact).delete()
    followups.delete()
    CallReminder.objects.filter(call__contact=contact).delete()
    calls.delete()
    ClassificationRecord.objects.filter(contact=contact).delete()
    messages.delete()
    counts["model_calls_unlinked"] = ModelCall.objects.filter(contact=contact).update(contact=None)

    mentions = Q()
    for needle in needles:
        mentions |= Q(text__contains=needle)
    counts["notices_redacted"] = Message.objects.filter(mentions).exclude(contact=contact).update(text=REDACTED)

    counts["post_purchase_anonymised"] = PostPurchaseMessage.objects.filter(Q(contact=contact) | Q(phone=phone)).update(
        contact=None, phone="", customer_name=""
    )

    payments = list(Payment.objects.select_for_update().filter(contact=contact))
    for payment in payments:
        payment.phone = ""
        payment.description = _scrub(payment.description, needles)
        payment.last_error = _scrub(payment.last_error, needles)
        payment.raw_responses = _scrub(payment.raw_responses, needles)
        payment.contact = None
        payment.save(update_fields=["contact", "phone", "description", "last_error", "raw_responses", "updated_at"])
    counts["payments_anonymised"] = len(payments)

    contact.delete()
    counts["contact_deleted"] = 1
    log.info("contact.forgotten", contact_id=contact.pk, **counts)
    return counts


def _spellings(phone: str) -> list[str]:
    """How the number appears in text we wrote: digits, +digits, the spaced form."""
    spellings = {phone, f"+{phone}", format_phone(phone)}
    if len(phone) == 11 and phone.startswith("7"):
        spellings.add("8" + phone[1:])
    return sorted(spellings, key=len, reverse=True)


def _scrub(value: Any, needles: list[str]) -> Any:
    """`value` (text or JSON) with every spelling of the number replaced."""
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, list):
        return [_scrub(item, needles) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, needles) for key, item in value.items()}
    return value
