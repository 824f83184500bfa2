from __future__ import annotations

from celery import current_app
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact
from messaging.models import Message

SEND_TASK = "messaging.send_outgoing"


@transaction.atomic
def message_enqueue_outbound(
    *,
    contact: Contact,
    text: str,
    author: Message.Author = Message.Author.BOT,
    purpose: Message.Purpose = Message.Purpose.REPLY,
    reply_to: Message | None = None,
    idempotency_key: str | None = None,
) -> Message:
    """Writes an outbound message to the outbox (status ``queued``). The row is the unit of
    work: whatever sends it claims it from the database, so nothing is lost with the broker.
    With an `idempotency_key`, a second call with the same key returns the first row. The
    send task is enqueued after the transaction commits."""
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
        idempotency_key=idempotency_key or None,
        timestamp=now,
        next_attempt_at=now,
    )
    if idempotency_key:
        # The unique constraint decides between concurrent writers with the same key.
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            return Message.objects.get(idempotency_key=idempotency_key)
    else:
        row.save()
    # robust: a broker outage must not fail the caller; the outbox sweeper sends the row later.
    transaction.on_commit(lambda: _enqueue_send(row.pk), robust=True)
    return row


def _enqueue_send(message_id: int) -> None:
    # By its name (a contract with running workers): the task module sits above the outbox.
    current_app.send_task(SEND_TASK, args=(message_id,))
