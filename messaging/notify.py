"""Notifications to the business's managers (MANAGER_PHONES), through the outbox."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.core.cache import cache

from contacts.models import Contact
from contacts.phones import PhoneError, format_phone, normalize_phone
from contacts.selectors import whitelisted_phones
from contacts.services import contact_get_or_create
from messaging import services
from messaging.models import Message
from messaging.selectors import UNANSWERED_LOOKBACK, inbound_unanswered

log = structlog.get_logger(__name__)


def managers_notify(*, contact: Contact | None, reason: str, summary: str, key: str, who: str = "") -> int:
    """Queues one WhatsApp message per manager: who, which number, why, and a one-line summary.
    `key` makes it idempotent (the same event never notifies twice). Returns how many. `contact`
    is None for a record whose contact was forgotten (a kept payment); `who` replaces the contact
    line for a notice about several customers."""
    if not who:
        who = contact_line(contact)
    summary = " ".join(summary.split())
    text = f"🔔 {reason}\n{who}\n«{summary[:160]}{'…' if len(summary) > 160 else ''}»"
    queued = notice_send(text=text, key=key)
    if not queued:
        log.warning("notify.no_managers", reason=reason, contact_id=contact.pk if contact else None)
    return queued


def contact_line(contact: Contact | None) -> str:
    """How a notice names the customer: name and number."""
    return f"{contact.display_name or 'Без имени'}, {format_phone(contact.phone)}" if contact else "контакт удалён"


def notice_send(*, text: str, key: str, phones: list[str] | None = None) -> int:
    """Queues `text` once to each of `phones` (default: MANAGER_PHONES), skipping numbers that
    cannot be read and the owners' whitelisted personal numbers. Idempotent per `key` and number.
    Returns how many were queued."""
    queued = 0
    normalized = []
    for raw in settings.MANAGER_PHONES if phones is None else phones:
        try:
            normalized.append(normalize_phone(raw))
        except PhoneError:
            log.error("notify.bad_manager_phone", value=raw)
    whitelisted = whitelisted_phones(phones=normalized)
    for phone in normalized:
        if phone in whitelisted:
            # A personal number on the whitelist is never messaged, not even as a manager.
            log.error("notify.manager_phone_whitelisted", phone_tail=phone[-4:])
            continue
        manager, _ = contact_get_or_create(
            phone=phone, defaults={"name": "Менеджер", "is_client": False, "classified_by": "operator"}
        )
        services.message_enqueue_outbound(
            contact=manager,
            text=text,
            purpose=Message.Purpose.NOTIFICATION,
            idempotency_key=f"notify:{key}:{phone}"[:128],
        )
        queued += 1
    return queued


def unanswered_notify(*, now: datetime) -> int:
    """The managers get ONE notice naming the customers (name and contact id, never the phone)
    whose messages nobody answered within a day (messaging.selectors.inbound_unanswered).
    Idempotent per message: each reported message is marked in the cache (atomic add, kept
    past the look-back window), and a customer is listed only when none of their unanswered
    messages was listed before, so a customer who keeps writing into the silence is listed
    once; after an answer, a new silence is news again. Returns how many customers were listed."""
    fresh: dict[int, Contact] = {}
    seen_before: set[int] = set()
    for message in inbound_unanswered(now=now).select_related("contact")[:500]:
        marked = cache.add(
            f"unanswered-reported:{message.pk}", 1, timeout=int(UNANSWERED_LOOKBACK.total_seconds()) + 86400
        )
        if marked:
            fresh.setdefault(message.contact_id, message.contact)
        else:
            seen_before.add(message.contact_id)
    contacts = [contact for pk, contact in fresh.items() if pk not in seen_before]
    if not contacts:
        return 0
    managers_notify(
        contact=None,
        who=customers_line(contacts),
        reason="Клиентам никто не ответил больше суток. Ответьте сами",
        summary=f"Без ответа: {len(contacts)}",
        key=f"unanswered:{min(c.pk for c in contacts)}:{now:%Y%m%dT%H%M%S.%f}",
    )
    log.warning("inbound.unanswered_reported", contact_ids=[c.pk for c in contacts])
    return len(contacts)


def customers_line(contacts: list[Contact], *, limit: int = 30) -> str:
    """The "who" line of a notice about several customers: names and contact ids, never phone
    numbers; past `limit`, how many more."""
    names = [f"{c.display_name} (#{c.pk})" if c.display_name else f"#{c.pk}" for c in contacts[:limit]]
    more = f" и ещё {len(contacts) - limit}" if len(contacts) > limit else ""
    return "Клиенты: " + ", ".join(names) + more
