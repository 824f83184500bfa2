"""Notifications to the business's managers (MANAGER_PHONES), through the outbox."""

from __future__ import annotations

import structlog
from django.conf import settings

from contacts.models import Contact
from contacts.phones import PhoneError, format_phone, normalize_phone
from contacts.selectors import contact_is_whitelisted
from messaging import services
from messaging.models import Message

log = structlog.get_logger(__name__)


def managers_notify(*, contact: Contact | None, reason: str, summary: str, key: str, who: str = "") -> int:
    """Queues one WhatsApp message per manager: who, which number, why, and a one-line summary.
    `key` makes it idempotent (the same event never notifies twice). Returns how many. `contact`
    is None for a record whose contact was forgotten (a kept payment); `who` replaces the contact
    line for a notice about several customers."""
    if not who:
        who = f"{contact.display_name or 'Без имени'}, {format_phone(contact.phone)}" if contact else "контакт удалён"
    summary = " ".join(summary.split())
    text = f"🔔 {reason}\n{who}\n«{summary[:160]}{'…' if len(summary) > 160 else ''}»"
    queued = 0
    for raw in settings.MANAGER_PHONES:
        try:
            phone = normalize_phone(raw)
        except PhoneError:
            log.error("notify.bad_manager_phone", value=raw)
            continue
        if contact_is_whitelisted(phone=phone):
            # A personal number on the whitelist is never messaged, not even as a manager.
            log.error("notify.manager_phone_whitelisted", phone_tail=phone[-4:])
            continue
        manager, _ = Contact.objects.get_or_create(
            phone=phone, defaults={"name": "Менеджер", "is_client": False, "classified_by": "operator"}
        )
        services.message_enqueue_outbound(
            contact=manager,
            text=text,
            purpose=Message.Purpose.NOTIFICATION,
            idempotency_key=f"notify:{key}:{phone}"[:128],
        )
        queued += 1
    if not queued:
        log.warning("notify.no_managers", reason=reason, contact_id=contact.pk if contact else None)
    return queued
