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
from messaging.signals import message_queued
from messaging.tasks import send_outgoing


@receiver(message_queued, dispatch_uid="messaging.send_queued_message")
def send_queued_message(*, message_id: int, **_: Any) -> None:
    """A message just queued in the outbox is sent by the send task (queue `send`)."""
    send_outgoing.delay(message_id)


@receiver(contact_forgetting_messages, dispatch_uid="messaging.forget_contact")
def forget_contact(*, contact: Contact, needles: list[str], counts: dict[str, int], **_: Any) -> None:
    """Deletes the contact's conversation, and replaces the text of any other message that
    names its number (notices to managers) with REDACTED."""
    messages = Message.objects.filter(contact=contact)
    counts["messages"] = messages.count()
    messages.delete()
    mentions = Q()
    for needle in needles:
        mentions |= Q(text__contains=needle)
    counts["notices_redacted"] = Message.objects.filter(mentions).exclude(contact=contact).update(text=REDACTED)
