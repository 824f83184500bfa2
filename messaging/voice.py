"""Voice notes: download at once (links expire), transcribe, then carry on as text.

A note that cannot be downloaded or transcribed leaves a visible state on the message and a
polite request to type instead; it never blocks the contact's later messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from django.db import transaction
from django.utils import timezone

from ai.sdk import LLMError, LLMTransientError, LLMUnavailableError
from ai.transcription import transcribe_voice as transcribe_audio
from ai.usage import Usage
from messaging.models import Message
from messaging.services import message_enqueue_outbound
from messaging.wappi import WappiClient, WappiError, WappiTransientError

log = structlog.get_logger(__name__)

ASK_TO_TYPE = (
    "Извините, не получилось прослушать голосовое сообщение 🙏 Напишите, пожалуйста, вопрос текстом — я сразу отвечу."
)


class VoiceRetry(Exception):
    """A transient failure worth another try (Wappi or Gemini busy)."""


@dataclass(frozen=True)
class VoiceOutcome:
    status: str  # done / failed / skipped
    detail: str = ""


def voice_process(*, message_id: int, client: WappiClient, final_attempt: bool) -> VoiceOutcome:
    """Downloads and transcribes one inbound voice note. Raises VoiceRetry on a transient
    failure unless `final_attempt`, in which case the note is marked failed and the customer
    is asked to type."""
    message = Message.objects.select_related("contact").get(pk=message_id)
    if message.voice_status != Message.VoiceStatus.PENDING:
        return VoiceOutcome("skipped", f"voice status is {message.voice_status or 'none'}")
    try:
        audio, mime_type = _download(message, client)
        started = time.monotonic()
        try:
            result = transcribe_audio(audio=audio, mime_type=mime_type.split(";")[0].strip() or "audio/ogg")
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
    updated = Message.objects.filter(pk=message.pk, voice_status=Message.VoiceStatus.PENDING).update(
        transcription=result.text, voice_status=Message.VoiceStatus.DONE, voice_error="", updated_at=timezone.now()
    )
    log.info("voice.transcribed", message_id=message.pk, chars=len(result.text), model=result.model)
    return VoiceOutcome("done" if updated else "skipped", result.text)


def _usage(message: Message, *, started: float, model: str = "", usage: Usage | None = None, error: str = "") -> None:
    """Every transcription is a model call on the books, like the others."""
    from django.conf import settings

    from ai.llm import CallContext
    from ai.usage import record_call

    record_call(
        backend="gemini",
        model=model or settings.GEMINI_FAST_MODEL,
        ctx=CallContext(purpose="transcribe", contact_id=message.contact_id, prompt_name="transcribe"),
        started=started,
        usage=usage,
        error=error,
    )


def _download(message: Message, client: WappiClient) -> tuple[bytes, str]:
    if message.media_url:
        try:
            return client.fetch_media(url=message.media_url), "audio/ogg"
        except WappiError as exc:
            # An expired or refused link: the media-download call is the fallback.
            log.info("voice.link_failed", message_id=message.pk, error=str(exc))
    media = client.media_download(message_id=message.provider_message_id or "")
    # The client guarantees one of the two (neither is a WappiPermanentError).
    if media.content is not None:
        return media.content, media.mime_type or "audio/ogg"
    return client.fetch_media(url=media.file_link or ""), media.mime_type or "audio/ogg"


@transaction.atomic
def _give_up(message: Message, error: str) -> VoiceOutcome:
    updated = Message.objects.filter(pk=message.pk, voice_status=Message.VoiceStatus.PENDING).update(
        voice_status=Message.VoiceStatus.FAILED, voice_error=error[:2000], updated_at=timezone.now()
    )
    if updated:
        message_enqueue_outbound(
            contact=message.contact,
            text=ASK_TO_TYPE,
            purpose=Message.Purpose.FALLBACK,
            reply_to=message,
            idempotency_key=f"voice-failed:{message.pk}",
        )
    log.warning("voice.failed", message_id=message.pk, error=error)
    return VoiceOutcome("failed", error)
