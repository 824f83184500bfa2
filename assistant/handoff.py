"""Handing a chat to a person: the one way every path does it (the model's `handoff_to_manager`
tool, a complaint, a question the model cannot answer at all).

The customer is told in the step's own answer, which goes out with Message.Purpose.HANDOFF:
that row is the record of the hand-off reports count (messaging.selectors), whatever the words.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from contacts.models import Contact
from contacts.services import contact_pause_bot
from messaging.models import Message
from messaging.notify import managers_notify

log = structlog.get_logger(__name__)


def contact_hand_off(*, contact: Contact, message: Message, reason: str, key: str, now: datetime) -> int:
    """Hands the chat to a person: the bot stops answering `contact` until an operator resumes
    it, and every manager gets a notice with `reason` and the customer's words (`message`).
    Idempotent per `key` (a second call notifies nobody again). Returns how many managers were
    notified. The caller tells the customer, in a Message.Purpose.HANDOFF message (delivered
    in operator mode, never a reason to enrol a follow-up)."""
    contact_pause_bot(contact=contact, until=None, now=now)
    notified = managers_notify(contact=contact, reason=reason, summary=message.display_text, key=key)
    log.info("assistant.handed_off", contact_id=contact.pk, message_id=message.pk, managers_notified=notified)
    return notified
