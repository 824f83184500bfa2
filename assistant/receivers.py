"""How the assistant reacts to the channel and the model library: every customer message,
typed or transcribed, gets the AI step. Connected in AssistantConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from ai.signals import transcript_ready
from assistant.tasks import handoff_brief, process_incoming
from messaging.signals import handoff_opened, inbound_stored


@receiver(inbound_stored, dispatch_uid="assistant.answer_message")
def answer_message(
    *, message_id: int, awaiting_transcription: bool, reply_due_at: datetime | None = None, **_: Any
) -> None:
    """The message that opens a burst schedules the AI step for the end of its quiet window
    (`reply_due_at`); the burst's later messages move the window on and schedule nothing (the
    same run answers them). A voice note's burst is answered when its transcript is ready."""
    if reply_due_at is not None:
        countdown = max(0.0, (reply_due_at - timezone.now()).total_seconds())
        process_incoming.apply_async((message_id,), countdown=countdown)


@receiver(transcript_ready, dispatch_uid="assistant.answer_transcript")
def answer_transcript(*, message_id: int, **_: Any) -> None:
    process_incoming.delay(message_id)


@receiver(handoff_opened, dispatch_uid="assistant.brief_managers")
def brief_managers(*, handoff_id: int, **_: Any) -> None:
    """The managers' brief of a new hand-off is written by the model on queue llm (the offline
    template went out with the hand-off itself: then the task finds nothing to do)."""
    handoff_brief.delay(handoff_id)
