from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug import Response

from ai.models import ModelCall
from ai.voice import ASK_TO_TYPE, VoiceRetry, voice_process
from assistant.pipeline import incoming_process
from contacts.models import Contact
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import parse_sync_message

pytestmark = pytest.mark.django_db

OGG = b"OggS\x00\x02" + bytes(range(200))


@pytest.fixture
def voice_note(fake_wappi):
    """A customer's voice note whose file lives on the (fake) Wappi storage."""
    fake_wappi.server.expect_request("/files/note.ogg").respond_with_response(Response(OGG, content_type="audio/ogg"))
    raw = fake_wappi.customer_writes(
        "77012345678", "", msg_type="ptt", file_link=fake_wappi.server.url_for("/files/note.ogg")
    )
    ingest_events(events=[parse_sync_message(raw)], via="poll")
    return Message.objects.get(provider_message_id=raw["id"])


def test_a_voice_note_is_downloaded_transcribed_and_shown_as_text(fake_wappi, fake_gemini, voice_note, settings):
    assert voice_note.voice_status == "pending"
    fake_gemini.reply_text("Здравствуйте, сколько стоит доставка в Астану?", prompt_tokens=90, output_tokens=12)

    outcome = voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=False)

    voice_note.refresh_from_db()
    assert outcome.status == "done"
    assert voice_note.voice_status == "done"
    assert voice_note.transcription == "Здравствуйте, сколько стоит доставка в Астану?"
    assert voice_note.display_text == "[ТРАНСКРИБАЦИЯ] Здравствуйте, сколько стоит доставка в Астану?"
    request = fake_gemini.last_request()
    assert request.model == settings.GEMINI_FAST_MODEL
    call = ModelCall.objects.get(purpose="transcribe")
    assert (call.contact_id, call.prompt_tokens, call.output_tokens, call.ok) == (voice_note.contact_id, 90, 12, True)
    assert request.inline_data() == [("audio/ogg", OGG)]


def test_transcribing_twice_calls_the_model_once(fake_wappi, fake_gemini, voice_note):
    fake_gemini.reply_text("Добрый день")
    voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=False)
    again = voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=False)
    assert again.status == "skipped"
    assert fake_gemini.pending == 0


def test_a_busy_model_is_retried_and_the_last_failure_asks_the_customer_to_type(
    fake_wappi, fake_gemini, voice_note, settings
):
    settings.GEMINI_TIMEOUT = 5
    for _ in range(20):
        fake_gemini.reply_error(503)
    with pytest.raises(VoiceRetry):
        voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=False)
    voice_note.refresh_from_db()
    assert voice_note.voice_status == "pending"

    outcome = voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=True)

    voice_note.refresh_from_db()
    assert outcome.status == "failed"
    assert voice_note.voice_status == "failed"
    assert voice_note.voice_error
    ask = Message.objects.get(direction="out")
    assert (ask.text, ask.purpose, ask.reply_to_id) == (ASK_TO_TYPE, "fallback", voice_note.pk)


def test_without_gemini_the_customer_is_asked_to_type_at_once(fake_wappi, voice_note, settings):
    settings.LLM_BACKEND = "offline"
    outcome = voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=False)
    voice_note.refresh_from_db()
    assert outcome.status == "failed"
    assert "LLM_BACKEND=offline" in voice_note.voice_error
    assert Message.objects.filter(direction="out", text=ASK_TO_TYPE).count() == 1


def test_a_forged_link_to_an_internal_address_is_never_fetched(fake_wappi, fake_gemini, settings):
    raw = fake_wappi.customer_writes("77012345678", "", msg_type="ptt", file_link="http://169.254.169.254/latest/meta")
    ingest_events(events=[parse_sync_message(raw)], via="poll")
    note = Message.objects.get(provider_message_id=raw["id"])
    settings.LLM_BACKEND = "gemini"
    # The link is refused; the media/download fallback (not served by this fake) fails too.
    outcome = voice_process(message_id=note.pk, client=fake_wappi.client(), final_attempt=True)
    assert outcome.status == "failed"
    assert not [c for c in fake_wappi.calls if "169.254" in c[1]]
    assert fake_gemini.pending == 0


def test_a_failed_voice_note_does_not_hold_up_the_customers_next_messages(
    fake_wappi, voice_note, settings, django_capture_on_commit_callbacks
):
    settings.LLM_BACKEND = "offline"
    voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=True)
    raw = fake_wappi.customer_writes("77012345678", "Напишу текстом: сколько стоит доставка?")
    report = ingest_events(events=[parse_sync_message(raw)], via="poll")
    text = Message.objects.get(pk=report.stored[0])
    # The text was written before the voice note that failed: the failed note (already answered
    # with "please type") must not hold the text back as "superseded".
    Message.objects.filter(pk=text.pk).update(
        received_at=timezone.now() - timedelta(seconds=30), timestamp=voice_note.timestamp - timedelta(minutes=1)
    )
    Contact.objects.filter(pk=text.contact_id).update(reply_due_at=timezone.now() - timedelta(seconds=26))
    assert incoming_process(message_id=text.pk).status == "answered"


def test_a_transcribed_note_goes_to_the_assistant_once_the_transcript_is_committed(
    fake_wappi, fake_gemini, voice_note, django_capture_on_commit_callbacks, published_calls
):
    fake_gemini.reply_text("Сколько стоит доставка?")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=False)
    assert published_calls == []

    for callback in callbacks:
        callback()
    assert published_calls == [("ai.process_incoming", voice_note.pk)]


def test_a_note_that_could_not_be_transcribed_is_not_handed_to_the_assistant(
    fake_wappi, voice_note, settings, django_capture_on_commit_callbacks, published_calls
):
    settings.LLM_BACKEND = "offline"

    with django_capture_on_commit_callbacks(execute=True):
        outcome = voice_process(message_id=voice_note.pk, client=fake_wappi.client(), final_attempt=True)

    assert outcome.status == "failed"
    assert ("ai.process_incoming", voice_note.pk) not in published_calls
    assert [name for name, _ in published_calls] == ["messaging.send_outgoing"]  # the "please type" message
