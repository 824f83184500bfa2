"""The assistant's tasks: the inbound sweeper hands on the customer messages whose task was lost."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.pipeline import incoming_process
from assistant.tasks import sweep_inbound
from contacts.models import Contact
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import parse_webhook
from tests.factories import ContactFactory, InboundMessageFactory, customer_says, wappi_incoming
from tests.processes import celery_worker, wait_for


@pytest.mark.django_db
def test_a_message_whose_hand_off_was_lost_is_handed_over_by_the_sweeper(published_calls):
    lost = InboundMessageFactory(received_at=timezone.now() - timedelta(minutes=5))
    InboundMessageFactory(received_at=timezone.now())  # its task is still on the way
    InboundMessageFactory(received_at=timezone.now() - timedelta(minutes=5), processed_at=timezone.now())
    # Too old to answer now: reported to the managers instead (messaging.notify.unanswered_notify).
    InboundMessageFactory(received_at=timezone.now() - timedelta(days=3))
    voice = InboundMessageFactory(
        received_at=timezone.now() - timedelta(minutes=10), is_voice=True, voice_status="pending"
    )

    assert sweep_inbound() == "ai=1 voice=1 unanswered=1"

    assert sorted(published_calls) == [("ai.process_incoming", lost.pk), ("messaging.voice_transcribe", voice.pk)]


@pytest.mark.django_db
def test_a_burst_whose_run_was_lost_is_answered_through_the_sweeper(fake_gemini, settings, published_calls):
    """A worker died holding the burst's only run (its window ended minutes ago, nothing
    answered): the sweeper hands the burst over, and the AI step answers it once."""
    contact = ContactFactory(is_client=True, classified_by="model")
    lost = customer_says(contact, "Здравствуйте, сколько стоит доставка?", seconds_ago=300)
    Contact.objects.filter(pk=contact.pk).update(reply_due_at=timezone.now() - timedelta(seconds=296))
    fake_gemini.reply_text("Здравствуйте! 😊 Стоимость уточню. Куда нужна доставка?")

    sweep_inbound()
    assert published_calls == [("ai.process_incoming", lost.pk)]
    assert incoming_process(message_id=lost.pk).status == "answered"

    assert Message.objects.filter(contact=contact, direction="out", reply_to=lost).count() == 1


@pytest.mark.django_db
def test_the_next_message_after_a_lost_run_schedules_a_new_one(
    settings, published_calls, django_capture_on_commit_callbacks
):
    """The burst's run was lost long ago: a new message does not wait for the sweeper."""
    settings.REPLY_DEBOUNCE_SECONDS = 4
    contact = ContactFactory(is_client=True, classified_by="model")
    customer_says(contact, "Здравствуйте", seconds_ago=600)
    Contact.objects.filter(pk=contact.pk).update(reply_due_at=timezone.now() - timedelta(seconds=596))
    event = wappi_incoming("3EB0AFTERLOST0001", phone=contact.phone, text="Вы здесь?")
    with django_capture_on_commit_callbacks(execute=True):
        [new] = ingest_events(events=parse_webhook({"messages": [event]}), via="webhook").stored
    assert published_calls == [("ai.process_incoming", new)]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_burst_of_five_messages_costs_at_most_two_runs_of_the_ai_step(fake_gemini, settings):
    """A real worker: five messages inside one quiet window are answered once, and the AI step's
    task runs at most twice for all five (the run scheduled by the first message, and once more
    at the window's end the later messages moved on), not once or more per message."""
    settings.REPLY_DEBOUNCE_SECONDS = 3
    contact = ContactFactory(is_client=True, classified_by="model")
    fake_gemini.reply_text("Здравствуйте! 😊 Доставка есть. Какой объём груза?")
    env = {
        "LLM_BACKEND": "gemini",
        "TEST_GEMINI_API_KEY": fake_gemini.api_key,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "REPLY_DEBOUNCE_SECONDS": "3",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with celery_worker(queues="llm", **env) as worker:
        texts = ["Здравствуйте", "хотел узнать", "есть ли доставка", "в Караганду", "и сколько стоит?"]
        for i, text in enumerate(texts):
            event = wappi_incoming(f"3EB0FIVE{i:012d}", phone=contact.phone, text=text)
            ingest_events(events=parse_webhook({"messages": [event]}), via="webhook")
        wait_for(
            lambda: Message.objects.filter(contact=contact, direction="out").exists(),
            timeout=60,
            what=f"the burst's reply; worker log:\n{worker.log()[-3000:]}",
        )
        wait_for(lambda: re.search(r"Task ai\.process_incoming\[\S+\] succeeded", worker.log()), what="the run's end")
        log = worker.log()
    runs = re.findall(r"Task ai\.process_incoming\[\S+\] received", log)

    assert Message.objects.filter(contact=contact, direction="out").count() == 1
    assert not Message.objects.filter(contact=contact, direction="in", processed_at__isnull=True).exists()
    assert 1 <= len(runs) <= 2, log[-3000:]
