"""Voice notes: download at once (links expire), transcribe, then carry on as text.

The download is the channel's (messaging.media); the transcription, its bookkeeping and the
note's outcome are the model layer's. A note that cannot be downloaded or transcribed leaves
a visible state on the message and a polite request to type instead; it never blocks the
contact's later messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ai.conversation import contact_language
from ai.llm import CallContext, LLMError, LLMTransientError, LLMUnavailableError
from ai.rules.texts import fixed_text
from ai.signals import transcript_ready
from ai.transcription import transcribe_voice
from ai.usage import Usage, record_call
from messaging.media import media_download
from messaging.models import Message
from messaging.services import message_enqueue_outbound
from messaging.wappi import WappiClient, WappiError, WappiTransientError

log = structlog.get_logger(__name__)

# The Russian version; the customer gets the one in their language (ai.rules.texts).
ASK_TO_TYPE = fixed_text("voice_ask_to_type")


class VoiceRetry(Exception):
    """A transient failure worth another try (Wappi or Gemini busy)."""


@dataclass(frozen=True)
class VoiceOutcome:
    status: str  # done / failed / skipped
    detail: str = ""


def voice_process(*, message_id: int, client: WappiClient, final_attempt: bool) -> VoiceOutcome:
    """Downloads and transcribes one inbound voice note and stores the transcript; once it is
    committed, `transcript_ready` is sent (the assistant answers it as text). Raises
    VoiceRetry on a transient failure unless `final_attempt`, in which case the note is marked
    failed and the customer is asked to type. Every transcription attempt that reached the
    model is recorded as a model call."""
    message = Message.objects.select_related("contact").get(pk=message_id)
    if message.voice_status != Message.VoiceStatus.PENDING:
        return VoiceOutcome("skipped", f"voice status is {message.voice_status or 'none'}")
    try:
        media = media_download(message=message, client=client)
        mime_type = media.mime_type.split(";")[0].strip() or "audio/ogg"
        started = time.monotonic()
        try:
            result = transcribe_voice(audio=media.content, mime_type=mime_type)
        except LLMError as exc:
            if not isinstance(exc, LLMUnavailableError):  # no call was made when Gemini is off
                _usage(message, started=started, error=str(exc))
            raise
        _usage(
            message,
            started=started,
            model=result.model,
            usage=Usage(prompt=result.prompt_tokens or 0, output=result.output_tokens or 0),
        )
    except (WappiTransientError, LLMTransientError) as exc:
        if not final_attempt:
            raise VoiceRetry(str(exc)) from exc
        return _give_up(message, f"{type(exc).__name__}: {exc}")
    except (WappiError, LLMError) as exc:
        return _give_up(message, f"{type(exc).__name__}: {exc}")
    return _store(message, text=result.text, model=result.model)


@transaction.atomic
def _store(message: Message, *, text: str, model: str) -> VoiceOutcome:
    updated = Message.objects.filter(pk=message.pk, voice_status=Message.VoiceStatus.PENDING).update(
        transcription=text, voice_status=Message.VoiceStatus.DONE, voice_error="", updated_at=timezone.now()
    )
    log.info("voice.transcribed", message_id=message.pk, chars=len(text), model=model)
    if not updated:
        return VoiceOutcome("skipped", text)
    transaction.on_commit(lambda: transcript_ready.send(sender=Message, message_id=message.pk))
    return VoiceOutcome("done", text)


def _usage(message: Message, *, started: float, model: str = "", usage: Usage | None = None, error: str = "") -> None:
    """Every transcription is a model call on the books, like the others."""
    record_call(
        backend="gemini",
        model=model or settings.GEMINI_FAST_MODEL,
        ctx=CallContext(purpose="transcribe", contact_id=message.contact_id, prompt_name="transcribe"),
        started=started,
        usage=usage,
        error=error,
    )


@transaction.atomic
def _give_up(message: Message, error: str) -> VoiceOutcome:
    updated = Message.objects.filter(pk=message.pk, voice_status=Message.VoiceStatus.PENDING).update(
        voice_status=Message.VoiceStatus.FAILED, voice_error=error[:2000], updated_at=timezone.now()
    )
    if updated:
        message_enqueue_outbound(
            contact=message.contact,
            text=fixed_text("voice_ask_to_type", contact_language(message.contact)),
            purpose=Message.Purpose.FALLBACK,
            reply_to=message,
            idempotency_key=f"voice-failed:{message.pk}",
        )
    log.warning("voice.failed", message_id=message.pk, error=error)
    return VoiceOutcome("failed", error)
