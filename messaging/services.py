from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_pause_bot
from messaging.models import HandOff, Message
from messaging.signals import announce, message_queued
from project.lib.bulk import insert_new

log = structlog.get_logger(__name__)


def message_enqueue_outbound(
    *,
    contact: Contact,
    text: str,
    author: Message.Author = Message.Author.BOT,
    purpose: Message.Purpose = Message.Purpose.REPLY,
    reply_to: Message | None = None,
    idempotency_key: str | None = None,
    review_note: str = "",
) -> Message:
    """Writes an outbound message to the outbox (status ``queued``). The row is the unit of
    work: whatever sends it claims it from the database, so nothing is lost with the broker.
    With an `idempotency_key`, a second call with the same key returns the first row. The
    send task is enqueued after the transaction commits. `review_note` is for the operator (why
    the text is not the model's draft), never sent. One statement (no savepoint of its own: it
    joins the caller's transaction), and a read when the key is already taken. An operator's
    message is a person's answer: it also answers the contact's open hand-off
    (handoff_human_answered, a read more)."""
    text = text.strip()
    if not text:
        raise ValueError("an outbound message needs text")
    now = timezone.now()
    row = Message(
        contact=contact,
        direction=Message.Direction.OUT,
        author=author,
        purpose=purpose,
        status=Message.Status.QUEUED,
        text=text,
        reply_to=reply_to,
        review_note=review_note[:4000],
        idempotency_key=idempotency_key or None,
        timestamp=now,
        next_attempt_at=now,
    )
    if idempotency_key:
        # The unique constraint decides between concurrent writers with the same key.
        if not insert_new([row], key="idempotency_key"):
            return Message.objects.get(idempotency_key=idempotency_key)
    else:
        row.save()
    if author == Message.Author.OPERATOR:
        handoff_human_answered(contact=contact, now=now)
    # After the commit the send task starts (messaging.receivers); a broker outage must not fail
    # the caller: the failure is logged and the outbox sweeper sends the row later.
    transaction.on_commit(
        lambda: announce(message_queued, message_id=row.pk, failure_event="outbox.enqueue_failed"), robust=True
    )
    return row


def handoff_human_answered(*, contact: Contact, now: datetime) -> bool:
    """A person wrote in the chat (from the business phone, or through the API or the admin).
    An open hand-off of the contact is answered (the first answer stops its reminders), and the
    assistant's pause becomes the humans' silence timer: it takes the chat back
    BOT_PAUSE_AFTER_OPERATOR hours after the humans' last message (a pause only ever grows).
    Returns True when there was an open hand-off. Joins the caller's transaction."""
    with transaction.atomic():
        handoff = HandOff.objects.select_for_update().filter(contact=contact, closed_at__isnull=True).first()
        if handoff is None:
            return False
        if handoff.answered_at is None:
            HandOff.objects.filter(pk=handoff.pk).update(answered_at=now)
            log.info("handoff.answered", handoff_id=handoff.pk, contact_id=contact.pk)
        current = Contact.objects.select_for_update().get(pk=contact.pk)
        until = now + timedelta(hours=settings.BOT_PAUSE_AFTER_OPERATOR)
        if current.bot_mode == Contact.BotMode.HUMAN and (current.paused_until is None or current.paused_until < until):
            contact_pause_bot(contact=contact, until=until, now=now)
    return True


# --- Retention (ai.apply_retention runs these daily) -------------------------------------------

RETENTION_BATCH = 1000


def _expired(*, before: datetime, keep_last: int) -> QuerySet[Message]:
    """Messages older than `before`, except each contact's last `keep_last` messages (the
    context the model reads if the conversation goes on) and the outbox's unsent rows."""
    nth_newest = (
        Message.objects.filter(contact_id=OuterRef("contact_id"))
        .order_by("-timestamp", "-id")
        .values("timestamp")[keep_last - 1 : keep_last]
    )
    return (
        Message.objects.filter(timestamp__lt=before)
        .exclude(direction=Message.Direction.OUT, status__in=Message.PENDING_STATUSES)
        .annotate(context_from=Subquery(nth_newest))
        .filter(timestamp__lt=F("context_from"))
    )


def message_retention_purge(*, before: datetime, keep_last: int, batch: int = RETENTION_BATCH) -> int:
    """Deletes the messages `_expired` names, `batch` rows a transaction (rows that hang off
    them go with them: follow-up touches, pending replies). Returns how many."""
    deleted = 0
    while True:
        ids = list(_expired(before=before, keep_last=keep_last).order_by("id").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += Message.objects.filter(pk__in=ids).delete()[1].get(Message._meta.label, 0)
        if len(ids) < batch:
            return deleted


def message_transcripts_clear(*, before: datetime, keep_last: int, batch: int = RETENTION_BATCH) -> int:
    """Clears the transcripts of voice notes `_expired` names (the message stays, shown as a
    voice note), `batch` rows at a time. Returns how many."""
    cleared = 0
    while True:
        ids = list(
            _expired(before=before, keep_last=keep_last)
            .filter(is_voice=True)
            .exclude(transcription="")
            .order_by("id")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return cleared
        cleared += Message.objects.filter(pk__in=ids).update(transcription="", updated_at=timezone.now())
        if len(ids) < batch:
            return cleared
