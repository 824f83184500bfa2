from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, WhitelistEntry
from contacts.optouts import opt_out_remembered, opt_outs_remembered
from contacts.phones import normalize_phone
from contacts.signals import contact_classified, contact_paused
from project.lib.bulk import insert_new

log = structlog.get_logger(__name__)


def contact_get_or_create(*, phone: str, defaults: dict[str, Any] | None = None) -> tuple[Contact, bool]:
    """The contact with this (normalised) number, created with `defaults` when there is none.
    Every place that creates contacts goes through here: a number whose contact was forgotten
    after opting out (contacts.optouts) starts opted out again, so every proactive path
    (follow-ups, post-purchase, reminders) refuses it through the proactive gate."""
    contact = Contact.objects.filter(phone=phone).first()
    if contact is not None:
        return contact, False
    defaults = dict(defaults or {})
    if defaults.get("opted_out_at") is None:
        remembered = opt_out_remembered(phone=phone)
        if remembered is not None:
            defaults["opted_out_at"] = remembered
    contact, created = Contact.objects.get_or_create(phone=phone, defaults=defaults)
    if created and contact.opted_out_at is not None:
        log.info("contact.created_opted_out", contact_id=contact.pk)
    return contact, created


def contacts_create_missing(contacts: list[Contact], *, remembered: dict[str, datetime] | None = None) -> list[Contact]:
    """contact_get_or_create for a batch (ingest of a webhook POST): the unsaved `contacts`
    are inserted in one statement where their number has no row yet, each starting opted out
    when its number's opt-out outlived an erasure (`remembered`, when the caller read the
    registry for these numbers already: contacts.selectors.numbers_screen). Returns the ones created."""
    if remembered is None:
        remembered = opt_outs_remembered(phones=[c.phone for c in contacts if c.opted_out_at is None])
    for contact in contacts:
        if contact.opted_out_at is None and contact.phone in remembered:
            contact.opted_out_at = remembered[contact.phone]
    created = insert_new(contacts, key="phone")
    for contact in created:
        if contact.opted_out_at is not None:
            log.info("contact.created_opted_out", contact_id=contact.pk)
    return created


@transaction.atomic
def contact_set_client_status(
    *,
    contact: Contact,
    is_client: bool | None,
    confidence: float | None = None,
    reasoning: str = "",
    request_type: str | None = None,
    by: str = "operator",
    model_call_id: int | None = None,
    now: datetime | None = None,
    forced_at: datetime | None = None,
    forced_by: AbstractBaseUser | None = None,
) -> Contact:
    """Records a classification by an operator (`by="operator"`) or the moderator
    (`by="model"`) and sends `contact_classified` in the same transaction (the audit trail
    is written there, and a contact that is not a client gets no more follow-ups). The model
    never overrides an operator's verdict (it returns the contact unchanged and nothing is
    sent) unless an operator forced it to decide again: `forced_at` (when that was asked)
    and `forced_by` (who, None when not known) go with the signal into the audit trail. An
    operator's "unknown" hands the contact back to the model."""
    now = now or timezone.now()
    if by == "model" and forced_at is None:
        current = Contact.objects.select_for_update().only("classified_by").get(pk=contact.pk)
        if current.classified_by == "operator":
            log.info("contact.model_verdict_ignored", contact_id=contact.pk, reason="operator decided")
            return contact
    contact.is_client = is_client
    contact.classification_confidence = confidence
    contact.classification_reasoning = reasoning
    contact.classified_at = now if is_client is not None else None
    contact.classified_by = by if is_client is not None else ""
    fields = [
        "is_client",
        "classification_confidence",
        "classification_reasoning",
        "classified_at",
        "classified_by",
        "updated_at",
    ]
    if request_type:
        contact.request_type = request_type
        fields.append("request_type")
    contact.save(update_fields=fields)
    contact_classified.send(
        sender=Contact,
        contact=contact,
        is_client=is_client,
        by=by,
        confidence=confidence,
        reasoning=reasoning,
        request_type=request_type or "",
        model_call_id=model_call_id,
        now=now,
        forced_at=forced_at,
        forced_by=forced_by,
    )
    log.info("contact.classified", contact_id=contact.pk, is_client=is_client, confidence=confidence)
    return contact


@transaction.atomic
def contact_pause_bot(*, contact: Contact, until: datetime | None = None, now: datetime | None = None) -> Contact:
    """Hands the conversation to a human: the bot stays silent until `until` (or until an
    operator resumes it when `until` is None). Sends `contact_paused` in the same transaction
    (proactive follow-ups stop there)."""
    contact.bot_mode = Contact.BotMode.HUMAN
    contact.paused_until = until
    contact.save(update_fields=["bot_mode", "paused_until", "updated_at"])
    contact_paused.send(sender=Contact, contact=contact, until=until, now=now or timezone.now())
    log.info("contact.bot_paused", contact_id=contact.pk, until=until.isoformat() if until else None)
    return contact


def contact_resume_bot(*, contact: Contact) -> Contact:
    """Gives the chat back to the bot. A complaint the operator has dealt with no longer
    sends the next message straight to a manager."""
    contact.bot_mode = Contact.BotMode.AI
    contact.paused_until = None
    fields = ["bot_mode", "paused_until", "updated_at"]
    if contact.request_type == Contact.RequestType.COMPLAINT:
        contact.request_type = Contact.RequestType.GENERAL
        fields.append("request_type")
    contact.save(update_fields=fields)
    log.info("contact.bot_resumed", contact_id=contact.pk)
    return contact


def whitelist_entry_add(*, phone: str, note: str = "") -> WhitelistEntry:
    """Adds a personal number in any spelling; raises contacts.phones.PhoneError for garbage."""
    entry, _ = WhitelistEntry.objects.get_or_create(phone=normalize_phone(phone), defaults={"note": note})
    return entry
