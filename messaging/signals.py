"""What the channel tells the apps above it. Both signals are sent after the commit (a
receiver sees the row the signal names) through `announce`, so a receiver that fails is
logged and neither undoes what the channel recorded nor keeps the other receivers from
running."""

from __future__ import annotations

from typing import Any

import structlog
from django.dispatch import Signal

from messaging.models import Message

log = structlog.get_logger(__name__)

# A customer's message was stored (once per message, whichever of webhook and poll saw it
# first). Sender: Message. Arguments: message_id, awaiting_transcription (True for a voice
# note: it is transcribed before it is answered), reply_due_at (the end of the contact's quiet
# window when this message opened a burst, so the AI step is to be scheduled for then; None
# when a run is already scheduled for the burst, or for a voice note).
inbound_stored = Signal()

# A message was queued in the outbox (after the commit): the task that sends it is started by
# the receiver (the sweeper sends the row later if that fails). Sender: Message. Arguments:
# message_id.
message_queued = Signal()

# One of our messages has really gone out (Wappi accepted it). Sender: Message. Arguments:
# message_id.
outbound_sent = Signal()

# A conversation was handed to the managers (messaging.handoffs.handoff_open, after the commit):
# the assistant writes the managers' brief. Sender: HandOff. Arguments: handoff_id.
handoff_opened = Signal()


def announce(signal: Signal, *, message_id: int, failure_event: str, **arguments: Any) -> None:
    """Sends `signal` about one message to every receiver, even when one of them fails; a
    failure is logged as `failure_event` (with the message id and the receiver) and never
    raised to the caller."""
    for receiver, result in signal.send_robust(sender=Message, message_id=message_id, **arguments):
        if isinstance(result, Exception):
            log.error(
                failure_event,
                message_id=message_id,
                receiver=f"{receiver.__module__}.{receiver.__qualname__}",
                exc_info=result,
            )
