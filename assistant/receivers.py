"""How the assistant reacts to the channel and the model library: every customer message,
typed or transcribed, gets the AI step. Connected in AssistantConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ai.signals import transcript_ready
from assistant.tasks import process_incoming
from messaging.signals import inbound_stored


@receiver(inbound_stored, dispatch_uid="assistant.answer_message")
def answer_message(*, message_id: int, awaiting_transcription: bool, **_: Any) -> None:
    """A typed message goes to the AI step at once; a voice note waits for its transcript."""
    if not awaiting_transcription:
        process_incoming.delay(message_id)


@receiver(transcript_ready, dispatch_uid="assistant.answer_transcript")
def answer_transcript(*, message_id: int, **_: Any) -> None:
    process_incoming.delay(message_id)
