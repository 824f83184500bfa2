"""Voice-note transcription through the real google-genai SDK against a local fake Gemini."""

from __future__ import annotations

import base64
import logging
import pickle
import re
import threading
from typing import TYPE_CHECKING

import pytest

from ai import sdk
from ai.sdk import LLMPermanentError, LLMTransientError, LLMUnavailableError
from ai.transcription import MAX_AUDIO_BYTES, PROMPT, Transcription, transcribe_voice

if TYPE_CHECKING:
    from tests.fakes.gemini import FakeGemini

# Registers the `fake_gemini` fixture (harmless once tests/conftest.py does it too). The module is
# not imported here directly, so that pytest can still rewrite the asserts inside it.

# A few bytes that start like an Ogg page: the fake never decodes audio.
VOICE = b"OggS\x00\x02" + bytes(range(40)) + "привет".encode()
GENERATE_PATH = re.compile(r"^/v1(beta)?/models/(?P<model>[^/:]+):generateContent$")


def attempts() -> int:
    return sdk.RETRY_OPTIONS.attempts


def structured(caplog) -> list[dict]:
    """The structlog events captured (their stdlib records carry the event dict as `msg`)."""
    return [record.msg for record in caplog.records if isinstance(record.msg, dict)]


def test_a_voice_note_is_transcribed_with_the_fast_model_and_the_audio_inline(fake_gemini: FakeGemini, settings):
    # Given
    fake_gemini.reply_text("  Здравствуйте, есть кроссовки 42 размера?\n", prompt_tokens=180, output_tokens=12)

    # When
    result = transcribe_voice(audio=VOICE)

    # Then the answer is stripped and carries the usage metadata
    assert isinstance(result, Transcription)
    assert result.text == "Здравствуйте, есть кроссовки 42 размера?"
    assert result.model == settings.GEMINI_FAST_MODEL
    assert (result.prompt_tokens, result.output_tokens) == (180, 12)
    assert result.latency_ms >= 0
    # and exactly one request went out, in the SDK 3.x wire format
    [request] = fake_gemini.requests
    assert request.method == "POST"
    assert request.path == f"/v1/models/{settings.GEMINI_FAST_MODEL}:generateContent"
    assert GENERATE_PATH.match(request.path)
    assert request.model == settings.GEMINI_FAST_MODEL
    assert request.api_key == fake_gemini.api_key == settings.GEMINI_API_KEY
    assert "key=" not in request.query  # the key travels in a header, never in the URL
    assert request.headers["x-server-timeout"] == "5"  # GEMINI_TIMEOUT=5 s sent as 5000 ms
    assert request.inline_data() == [("audio/ogg", VOICE)]
    assert request.texts() == [PROMPT]
    assert "Russian" in PROMPT
    assert "Kazakh" in PROMPT
    body = request.camel
    assert body["generationConfig"]["temperature"] == 0
    assert [turn.get("role") for turn in body["contents"]] == ["user"]


def test_the_audio_goes_out_as_base64_of_our_exact_bytes(fake_gemini: FakeGemini):
    fake_gemini.reply_text("Алло")

    transcribe_voice(audio=VOICE)

    inline = fake_gemini.last_request().camel["contents"][0]["parts"][1]["inlineData"]
    assert inline["mimeType"] == "audio/ogg"
    # the SDK uses the URL-safe alphabet (gemini.md §2.3); either is valid base64 of our bytes
    assert inline["data"].rstrip("=") in {
        base64.b64encode(VOICE).decode().rstrip("="),
        base64.urlsafe_b64encode(VOICE).decode().rstrip("="),
    }


def test_codec_parameters_are_stripped_from_the_mime_type(fake_gemini: FakeGemini):
    fake_gemini.reply_text("Алло")

    transcribe_voice(audio=VOICE, mime_type="audio/ogg; codecs=opus")

    assert fake_gemini.last_request().inline_data() == [("audio/ogg", VOICE)]


def test_a_server_error_is_retried_by_the_sdk_and_then_succeeds(fake_gemini: FakeGemini):
    fake_gemini.reply_error(500)
    fake_gemini.reply_text("Сколько стоит доставка?")

    result = transcribe_voice(audio=VOICE)

    assert result.text == "Сколько стоит доставка?"
    assert len(fake_gemini.requests) == 2


def test_repeated_rate_limiting_ends_as_a_transient_error_with_the_servers_retry_delay(fake_gemini: FakeGemini):
    for _ in range(attempts()):
        fake_gemini.reply_error(429, message="Quota exceeded", retry_delay="17s")

    with pytest.raises(LLMTransientError) as caught:
        transcribe_voice(audio=VOICE)

    assert caught.value.retryable is True
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 17.0
    assert len(fake_gemini.requests) == attempts() == 3


def test_a_bad_request_is_a_permanent_error_and_is_not_retried(fake_gemini: FakeGemini):
    fake_gemini.reply_error(400, message="Unsupported MIME type: audio/x-foo")

    with pytest.raises(LLMPermanentError) as caught:
        transcribe_voice(audio=VOICE)

    assert caught.value.retryable is False
    assert caught.value.status_code == 400
    assert "Unsupported MIME type" in str(caught.value)
    assert len(fake_gemini.requests) == 1


def test_a_safety_stop_is_a_permanent_error(fake_gemini: FakeGemini):
    fake_gemini.reply_blocked(finish_reason="SAFETY")

    with pytest.raises(LLMPermanentError, match="SAFETY"):
        transcribe_voice(audio=VOICE)


def test_a_blocked_prompt_is_a_permanent_error(fake_gemini: FakeGemini):
    fake_gemini.reply_prompt_blocked(block_reason="PROHIBITED_CONTENT")

    with pytest.raises(LLMPermanentError, match="PROHIBITED_CONTENT"):
        transcribe_voice(audio=VOICE)


def test_a_truncated_transcript_is_a_permanent_error(fake_gemini: FakeGemini):
    fake_gemini.reply_text("Здравствуйте, я хотел бы", finish_reason="MAX_TOKENS")

    with pytest.raises(LLMPermanentError, match="MAX_TOKENS"):
        transcribe_voice(audio=VOICE)


@pytest.mark.parametrize("body", [{}, {"candidates": []}])
def test_an_empty_response_is_a_permanent_error(fake_gemini: FakeGemini, body):
    fake_gemini.enqueue(body)

    with pytest.raises(LLMPermanentError, match="no candidates"):
        transcribe_voice(audio=VOICE)


@pytest.mark.parametrize("text", ["", "  \n "])
def test_silence_is_a_permanent_no_speech_error(fake_gemini: FakeGemini, text):
    fake_gemini.reply_text(text)

    with pytest.raises(LLMPermanentError, match="no speech recognised"):
        transcribe_voice(audio=VOICE)


def test_a_server_slower_than_the_timeout_ends_as_a_transient_error(fake_gemini: FakeGemini, settings):
    settings.GEMINI_TIMEOUT = 0.2
    for _ in range(attempts()):
        fake_gemini.reply_text("слишком поздно", delay=3.0)

    with pytest.raises(LLMTransientError, match="ReadTimeout"):
        transcribe_voice(audio=VOICE)

    # every attempt timed out on its own (the SDK retries timeouts too)
    assert len(fake_gemini.requests) == attempts()
    assert fake_gemini.last_request().headers["x-server-timeout"] == "1"


def test_an_unreachable_server_ends_as_a_transient_error(fake_gemini: FakeGemini, settings):
    from tests.fakes.gemini import FakeGemini

    with FakeGemini() as gone:
        closed_url = gone.base_url  # nothing listens there any more
    settings.GEMINI_BASE_URL = closed_url

    with pytest.raises(LLMTransientError, match="ConnectError"):
        transcribe_voice(audio=VOICE)


def test_a_body_that_is_not_json_is_a_transient_error(fake_gemini: FakeGemini):
    fake_gemini.enqueue("<html><body>Bad gateway</body></html>")

    with pytest.raises(LLMTransientError, match="not JSON"):
        transcribe_voice(audio=VOICE)


def test_a_wrong_api_key_is_a_permanent_error(fake_gemini: FakeGemini, settings):
    settings.GEMINI_API_KEY = "not-the-right-key"

    with pytest.raises(LLMPermanentError, match="API key not valid"):
        transcribe_voice(audio=VOICE)


def test_the_offline_backend_refuses_without_making_a_request(fake_gemini: FakeGemini, settings):
    settings.LLM_BACKEND = "offline"

    with pytest.raises(LLMUnavailableError, match=re.escape("voice transcription needs Gemini (LLM_BACKEND=offline)")):
        transcribe_voice(audio=VOICE)

    assert fake_gemini.requests == []


def test_a_missing_api_key_refuses_without_making_a_request(fake_gemini: FakeGemini, settings):
    settings.GEMINI_API_KEY = ""

    with pytest.raises(LLMUnavailableError) as caught:
        transcribe_voice(audio=VOICE)

    assert isinstance(caught.value, LLMPermanentError)
    assert caught.value.retryable is False
    assert fake_gemini.requests == []


@pytest.mark.parametrize("size", [0, MAX_AUDIO_BYTES + 1])
def test_empty_or_oversized_audio_is_refused_before_any_request(fake_gemini: FakeGemini, size):
    with pytest.raises(LLMPermanentError):
        transcribe_voice(audio=b"\x00" * size)

    assert fake_gemini.requests == []


def test_the_api_key_never_appears_in_the_logs(fake_gemini: FakeGemini, caplog):
    caplog.set_level(logging.DEBUG)
    fake_gemini.reply_error(503)
    fake_gemini.reply_text("Здравствуйте")
    fake_gemini.reply_error(400, message="bad request")

    transcribe_voice(audio=VOICE)
    with pytest.raises(LLMPermanentError):
        transcribe_voice(audio=VOICE)

    events = [msg["event"] for msg in structured(caplog)]
    assert {"gemini.generate", "gemini.failed", "transcription.completed"} <= set(events)
    assert fake_gemini.api_key not in caplog.text
    for record in caplog.records:
        assert fake_gemini.api_key not in repr(record.__dict__)


def test_a_success_is_logged_with_model_latency_and_tokens(fake_gemini: FakeGemini, caplog, settings):
    caplog.set_level(logging.INFO, logger="ai")
    fake_gemini.reply_text("Да", prompt_tokens=90, output_tokens=2, thoughts_tokens=5)

    result = transcribe_voice(audio=VOICE)

    [event] = [msg for msg in structured(caplog) if msg["event"] == "transcription.completed"]
    assert event["model"] == settings.GEMINI_FAST_MODEL
    assert event["usage"] == {"prompt": 90, "output": 7, "cached": None}  # thinking is billed as output
    assert event["latency_ms"] == result.latency_ms
    assert "Да" not in str(event)  # the transcript is personal data, not a log field


def test_one_client_is_reused_across_calls_and_rebuilt_after_a_settings_change(fake_gemini: FakeGemini, settings):
    fake_gemini.reply_text("раз")
    fake_gemini.reply_text("два")

    transcribe_voice(audio=VOICE)
    first = sdk.get_client()
    transcribe_voice(audio=VOICE)
    assert sdk.get_client() is first

    settings.GEMINI_TIMEOUT = 7.0
    assert sdk.get_client() is not first


def test_concurrent_first_calls_share_one_client(fake_gemini: FakeGemini):
    barrier = threading.Barrier(8)
    clients = []

    def first_call() -> None:
        barrier.wait()
        clients.append(sdk.get_client())

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(clients) == 8
    assert len({id(client) for client in clients}) == 1


def test_errors_survive_pickling_with_their_attributes():
    # Celery pickles or re-raises exceptions across process boundaries.
    error = pickle.loads(pickle.dumps(LLMTransientError("busy", status_code=429, retry_after=17.0)))  # noqa: S301

    assert isinstance(error, LLMTransientError)
    assert (str(error), error.status_code, error.retry_after, error.retryable) == ("busy", 429, 17.0, True)
