"""How follow-ups react to what the contacts core and the channel announce. Connected in
FollowupsConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.dispatch import receiver

from calls.signals import call_booked
from contacts.models import Contact, ScheduledCall
from contacts.signals import contact_classified, contact_forgetting, contact_paused
from followups.models import FollowUp, FollowUpTouch, ReplyIntent
from followups.services import followup_after_bot_message, followup_stop
from messaging.models import Message
from messaging.signals import outbound_sent


@receiver(contact_classified, dispatch_uid="followups.stop_when_not_a_client")
def stop_when_not_a_client(*, contact: Contact, is_client: bool | None, now: datetime, **_: Any) -> None:
    """A contact that is not a client gets no more follow-ups."""
    if is_client is False:
        followup_stop(contact=contact, reason=FollowUp.StopReason.NOT_A_CLIENT, now=now)


@receiver(call_booked, dispatch_uid="followups.stop_when_call_booked")
def stop_when_call_booked(*, contact: Contact, call: ScheduledCall, now: datetime, **_: Any) -> None:
    """A booked call is the "yes" the cadence was waiting for."""
    followup_stop(contact=contact, reason=FollowUp.StopReason.CLIENT_SAID_YES, now=now)


@receiver(contact_paused, dispatch_uid="followups.stop_when_paused")
def stop_when_paused(*, contact: Contact, now: datetime, **_: Any) -> None:
    """A human took the chat over: nothing proactive goes out behind their back."""
    followup_stop(contact=contact, reason=FollowUp.StopReason.HUMAN_TOOK_OVER, now=now)


@receiver(contact_forgetting, dispatch_uid="followups.forget_contact")
def forget_contact(*, contact: Contact, counts: dict[str, int], **_: Any) -> None:
    """Deletes the contact's follow-ups, their touches and its reply intent. Touches go first
    and are counted here: they hang off the contact's messages, which go later."""
    followups = FollowUp.objects.filter(contact=contact)
    intents = ReplyIntent.objects.filter(contact=contact)
    counts["followups"] = followups.count()
    counts["followup_touches"] = FollowUpTouch.objects.filter(followup__contact=contact).count()
    counts["reply_intents"] = intents.count()
    FollowUpTouch.objects.filter(Q(followup__contact=contact) | Q(message__contact=contact)).delete()
    intents.delete()
    followups.delete()


@receiver(outbound_sent, dispatch_uid="followups.count_from_sent_message")
def count_from_sent_message(*, message_id: int, **_: Any) -> None:
    """The follow-up cadence counts from a bot message that has really gone out."""
    message = Message.objects.filter(pk=message_id, author=Message.Author.BOT).first()
    if message is not None:
        followup_after_bot_message(message=message)
