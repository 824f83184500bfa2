"""Forgetting a contact on request: everything we hold about the person goes, except the
payment records the law makes us keep, which stay without personal data."""

from __future__ import annotations

from typing import Any

import structlog
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from contacts.audit import operator_actions_anonymise
from contacts.models import CallReminder, Contact, ScheduledCall
from contacts.optouts import opt_out_drop, opt_out_remember
from contacts.phones import format_phone
from contacts.signals import contact_forgetting, contact_forgetting_messages

log = structlog.get_logger(__name__)

REDACTED = "[удалено по запросу клиента]"


@transaction.atomic
def contact_forget(*, contact: Contact) -> dict[str, int]:
    """Erases a contact. Deleted: its messages (with follow-up touches and pending replies),
    follow-ups and the reply intent, scheduled calls and their reminders, the classification
    audit trail. The operators' actions on it keep who did what and when, without the
    contact or the detail. Model-call rows lose the link to the contact (their tokens and cost stay in
    the usage numbers). Kept but anonymised: payments and refunds (the invoice phone blanked,
    the number scrubbed from Kaspi's stored answers and errors), Kaspi Shop post-purchase rows
    (phone and buyer name blanked, unlinked), and notices to managers that named the contact
    (their text replaced).

    Each app erases its own rows in its receivers of `contact_forgetting` (rows that hang off
    the contact's messages among them, so they are counted before the messages go) and then
    of `contact_forgetting_messages` (the conversation); this module deletes the calls, which
    are the core's own. The contact row is deleted last (kept payments lose their link to
    it). One transaction: a receiver that fails undoes everything. Returns how many rows of
    each kind were touched."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    phone = contact.phone
    contact_id = contact.pk
    needles = _spellings(phone)
    counts: dict[str, int] = {}
    contact_forgetting.send(sender=Contact, contact=contact, phone=phone, needles=needles, counts=counts)
    calls = ScheduledCall.objects.filter(contact=contact)
    counts["calls"] = calls.count()
    counts["call_reminders"] = CallReminder.objects.filter(call__contact=contact).count()
    CallReminder.objects.filter(call__contact=contact).delete()
    calls.delete()
    contact_forgetting_messages.send(sender=Contact, contact=contact, phone=phone, needles=needles, counts=counts)
    operator_actions_anonymise(contact=contact)
    counts["admin_log_entries"] = _admin_log_forget(contact)
    if contact.opted_out_at is not None:
        opt_out_remember(phone=phone, at=contact.opted_out_at)
    else:
        opt_out_drop(phone=phone)
    contact.delete()
    counts["contact_deleted"] = 1
    log.info("contact.forgotten", contact_id=contact_id, **counts)
    return counts


def _admin_log_forget(contact: Contact) -> int:
    """Django's admin log of changes to the contact names it (its name and number in the
    entry's title): those entries go; the operators' audit trail keeps who did what."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Contact), object_id=str(contact.pk)
    )
    return entries.delete()[0]


def _spellings(phone: str) -> list[str]:
    """How the number appears in text we wrote: digits, +digits, the spaced form."""
    spellings = {phone, f"+{phone}", format_phone(phone)}
    if len(phone) == 11 and phone.startswith("7"):
        spellings.add("8" + phone[1:])
    return sorted(spellings, key=len, reverse=True)


def redact(value: Any, needles: list[str]) -> Any:
    """`value` (text or JSON) with every spelling of the number (`needles`, longest first)
    replaced by REDACTED; for receivers that keep a row but not the person in it."""
    if isinstance(value, str):
        for needle in needles:
            value = value.replace(needle, REDACTED)
        return value
    if isinstance(value, list):
        return [redact(item, needles) for item in value]
    if isinstance(value, dict):
        return {key: redact(item, needles) for key, item in value.items()}
    return value
