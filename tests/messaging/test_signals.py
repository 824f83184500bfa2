"""The channel announces stored and sent messages; the apps above react in their receivers."""

from __future__ import annotations

import pytest

from followups.models import FollowUp
from followups.receivers import count_from_sent_message
from messaging import signals
from messaging.ingest import ingest_events
from messaging.sender import outbox_send
from messaging.wire import parse_sync_message
from tests.dispatch import receivers_of
from tests.factories import ContactFactory, OutboundMessageFactory


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (signals.inbound_stored, ["ai.transcribe_voice_note", "assistant.answer_message"]),
        (signals.message_queued, ["messaging.send_queued_message"]),
        (signals.outbound_sent, ["followups.count_from_sent_message"]),
        (signals.handoff_opened, ["assistant.brief_managers"]),
    ],
)
def test_each_messaging_signal_reaches_exactly_its_receivers_in_order(signal, expected):
    assert receivers_of(signal) == expected


@pytest.mark.django_db
def test_a_typed_message_goes_to_the_assistant_and_a_voice_note_to_transcription_once_stored(
    fake_wappi, django_capture_on_commit_callbacks, published_calls
):
    typed = fake_wappi.customer_writes("77012345678", "Сколько стоит доставка?")
    spoken = fake_wappi.customer_writes("77012345679", "", msg_type="ptt", file_link="https://example.org/a.ogg")

    with django_capture_on_commit_callbacks(execute=True):
        report = ingest_events(events=[parse_sync_message(typed), parse_sync_message(spoken)], via="poll")

    text_id, voice_id = report.stored
    assert published_calls == [("ai.process_incoming", text_id), ("messaging.voice_transcribe", voice_id)]


@pytest.mark.django_db
def test_nothing_is_handed_on_before_the_ingest_commits(
    fake_wappi, django_capture_on_commit_callbacks, published_calls
):
    raw = fake_wappi.customer_writes("77012345678", "Здравствуйте")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ingest_events(events=[parse_sync_message(raw)], via="poll")

    assert published_calls == []
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_failing_receiver_after_a_send_neither_undoes_the_send_nor_stops_the_follow_up_cadence(
    fake_wappi, settings, django_capture_on_commit_callbacks, caplog
):
    settings.SEND_MIN_GAP_SECONDS = settings.SEND_GAP_JITTER_SECONDS = 0
    reply = OutboundMessageFactory(contact=ContactFactory(is_client=True), text="Доставка по Астане — 2 000 ₸")

    def fail(**_kwargs):
        raise RuntimeError("receiver bug")

    # The failing receiver runs first, so the follow-up receiver after it must still run.
    signals.outbound_sent.disconnect(dispatch_uid="followups.count_from_sent_message")
    signals.outbound_sent.connect(fail, dispatch_uid="tests.fail_after_send")
    signals.outbound_sent.connect(count_from_sent_message, dispatch_uid="followups.count_from_sent_message")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outcome = outbox_send(message_id=reply.pk, client=fake_wappi.client())
    finally:
        signals.outbound_sent.disconnect(dispatch_uid="tests.fail_after_send")

    reply.refresh_from_db()
    assert outcome.status == reply.status == "sent"
    assert len(fake_wappi.sent) == 1
    chain = FollowUp.objects.get(contact=reply.contact, is_completed=False)
    assert chain.anchor_message_id == reply.pk
    assert "send.after_sent_failed" in caplog.text
    assert "receiver bug" in caplog.text
