"""Voice notes to text: a WhatsApp voice note (Ogg/Opus) transcribed by Gemini.

Only Gemini can do this honestly: with ``LLM_BACKEND=offline`` (or no key) the call raises
LLMUnavailableError instead of inventing a transcript. Errors are those of :mod:`ai.sdk`:
LLMTransientError (retry later), LLMPermanentError (give up, hand the note to a human).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import structlog
from django.conf import settings
from google.genai import types

from ai.sdk import LLMPermanentError, LLMUnavailableError, generate, log_usage, response_text, usage_tokens

log = structlog.get_logger(__name__)

# Read once, at import: a missing prompt file fails loudly at startup, not mid-conversation.
PROMPT = (Path(__file__).resolve().parent / "prompts" / "transcribe.txt").read_text(encoding="utf-8").strip()

# WhatsApp caps media at 16 MB and a voice note is typically 10-300 kB, so audio always goes
# inline; the request (base64 adds a third) must stay under Gemini's inline limit (gemini.md §8).
MAX_AUDIO_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class Transcription:
    """What the model heard. Token counts come from the response's usage metadata (None when
    the server sent none); output tokens include thinking tokens (both billed as output)."""

    text: str
    model: str
    prompt_tokens: int | None
    output_tokens: int | None
    latency_ms: int


def transcribe_voice(*, audio: bytes, mime_type: str = "audio/ogg") -> Transcription:
    """Transcribes a voice note into Russian text (Kazakh speech is translated) with
    ``settings.GEMINI_FAST_MODEL``, sending the audio inline in one request.

    `mime_type` may carry parameters (``audio/ogg; codecs=opus``, as WhatsApp labels voice
    notes); only the bare type is sent, which is what Gemini accepts (gemini.md §8).

    Raises LLMUnavailableError when Gemini is off (no request is made); LLMPermanentError
    for empty or oversized audio, a blocked or unfinished answer, or no speech recognised;
    LLMTransientError for 429/5xx/timeouts left after the SDK's retries. Side effects: one
    Gemini request (more with the SDK's retries) and one ``transcription.completed`` log event
    (sizes and tokens, never the transcript: it is the customer's personal data).
    """
    if settings.LLM_BACKEND == "offline":
        raise LLMUnavailableError("voice transcription needs Gemini (LLM_BACKEND=offline)")
    if not settings.GEMINI_API_KEY:
        raise LLMUnavailableError("voice transcription needs Gemini (GEMINI_API_KEY is empty)")
    if not audio:
        raise LLMPermanentError("the voice note is empty (0 bytes)")
    if len(audio) > MAX_AUDIO_BYTES:
        raise LLMPermanentError(f"the voice note is too large to send inline ({len(audio)} > {MAX_AUDIO_BYTES} bytes)")
    bare_mime_type = mime_type.split(";", 1)[0].strip().lower() or "audio/ogg"

    model = settings.GEMINI_FAST_MODEL
    started = time.monotonic()
    response = generate(
        model=model,
        contents=[PROMPT, types.Part.from_bytes(data=audio, mime_type=bare_mime_type)],
        config=types.GenerateContentConfig(
            # Transcription wants the most likely words, not variety.
            temperature=0.0,
            # No tools here: skip the SDK's automatic-function-calling loop (and its log line).
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        ),
    )
    latency_ms = round((time.monotonic() - started) * 1000)
    text = response_text(response).strip()
    prompt_tokens, output_tokens = usage_tokens(response)
    log.info(
        "transcription.completed",
        model=model,
        mime_type=bare_mime_type,
        audio_bytes=len(audio),
        chars=len(text),
        latency_ms=latency_ms,
        usage=log_usage(response),
    )
    if not text:
        raise LLMPermanentError("no speech recognised")
    return Transcription(
        text=text, model=model, prompt_tokens=prompt_tokens, output_tokens=output_tokens, latency_ms=latency_ms
    )
