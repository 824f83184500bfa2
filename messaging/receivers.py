"""How the channel reacts to what the contacts core and the outbox announce. Connected in
MessagingConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.dispatch import receiver

from contacts.forget import REDACTED
from contacts.models import Contact
from contacts.signals import contact_forgetting_messages
from messaging.models import Message
from messaging.poller import poll_state_forget
from messaging.sender import pace_forget
from messaging.signals import message_queued
from messaging.tasks import send_outgoing


@receiver(message_queued, dispatch_uid="messaging.send_queued_message")
def send_queued_message(*, message_id: int, **_: Any) -> None:
    """A message just queued in the outbox is sent by the send task (queue `send`)."""
    send_outgoing.delay(message_id)


@receiver(contact_forgetting_messages, dispatch_uid="messaging.forget_contact")
def forget_contact(*, contact: Contact, needles: list[str], counts: dict[str, int], **_: Any) -> None:
    """Deletes the contact's conversation, replaces the text of any other message that names
    its number (notices to managers) with REDACTED, and drops what the channel keeps per chat
    or number: the poller's cursor, the number in the cached quarantine alarm, the send pacing
    entry."""
    messages = Message.objects.filter(contact=contact)
    counts["messages"] = messages.count()
    messages.delete()
    mentions = Q()
    for needle in needles:
        mentions |= Q(text__contains=needle)
    counts["notices_redacted"] = Message.objects.filter(mentions).exclude(contact=contact).update(text=REDACTED)
    chat_ids = sorted({f"{contact.phone}@c.us", *([contact.chat_id] if contact.chat_id else [])})
    counts["chat_cursors"] = poll_state_forget(chat_ids=chat_ids)
    pace_forget(phone=contact.phone)
