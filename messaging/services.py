from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from messaging.models import Message
from messaging.signals import announce, message_queued
from project.lib.bulk import insert_new


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
    joins the caller's transaction), and a read when the key is already taken."""
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
    # After the commit the send task starts (messaging.receivers); a broker outage must not fail
    # the caller: the failure is logged and the outbox sweeper sends the row later.
    transaction.on_commit(
        lambda: announce(message_queued, message_id=row.pk, failure_event="outbox.enqueue_failed"), robust=True
    )
    return row
