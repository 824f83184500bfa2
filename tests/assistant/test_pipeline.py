"""The assistant step's promises that hold on every path: the real database, the real google-genai
SDK against the fake Gemini over HTTP, nothing of ours patched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ai.models import PendingReply
from assistant.pipeline import FALLBACK_TEXT, HANDOFF_TEXT, SAFE_FIGURES_TEXT, incoming_process, pending_retry
from messaging.models import Message
from tests.factories import ContactFactory, InboundMessageFactory
from tests.fakes.gemini import function_call_response

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo"


@pytest.fixture
def demo_knowledge():
    from ai.knowledge import knowledge_load

    knowledge_load(path=DEMO)


def customer_says(contact, text, *, seconds_ago=30):
    moment = timezone.now() - timedelta(seconds=seconds_ago)
    return InboundMessageFactory(contact=contact, text=text, timestamp=moment, received_at=moment)


def texts_to(contact):
    return list(Message.objects.filter(contact=contact, direction="out").order_by("id").values_list("text", flat=True))


def test_a_late_answer_after_an_outage_never_states_a_price_the_knowledge_base_does_not(fake_gemini, demo_knowledge):
    # Given a client who asked while Gemini was down and got the fallback
    contact = ContactFactory(is_client=True)
    for _ in range(3):  # the SDK's attempts
        fake_gemini.reply_error(503)
    asked = customer_says(contact, "Сколько стоит установка кулера?")
    assert incoming_process(message_id=asked.pk).status == "fallback"
    pending = PendingReply.objects.get(contact=contact)

    # When the model is back and answers late with a price the knowledge base does not state, twice
    fake_gemini.reply_text("Стоимость установки 7 490 ₸ 😊 Оформим?")
    fake_gemini.reply_text("Установка стоит 7 490 ₸, мастер приедет завтра 👍")
    assert pending_retry(pending_id=pending.pk, now=timezone.now() + timedelta(minutes=2)).status == "answered"

    # Then the customer gets the safe line, never the invented figure
    fallback, late = texts_to(contact)
    assert fallback == FALLBACK_TEXT
    assert "7 490" not in late
    assert late == SAFE_FIGURES_TEXT
    assert "7490" in Message.objects.get(contact=contact, text=late).review_note


def test_a_late_answer_corrected_to_the_real_price_goes_out(fake_gemini, demo_knowledge):
    contact = ContactFactory(is_client=True)
    for _ in range(3):
        fake_gemini.reply_error(503)
    incoming_process(message_id=customer_says(contact, "Сколько стоит аренда кулера?").pk)
    pending = PendingReply.objects.get(contact=contact)

    fake_gemini.reply_text("Аренда кулера — 7 490 ₸ в месяц 😊")
    fake_gemini.reply_text("Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊 Оформить?")
    pending_retry(pending_id=pending.pk, now=timezone.now() + timedelta(minutes=2))

    assert texts_to(contact)[-1] == "Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊 Оформить?"
    # The second request was told which figure it made up.
    assert "7490" in fake_gemini.generate_requests()[-1].texts()[0]


def test_the_last_words_after_a_hand_off_never_state_a_price_the_knowledge_base_does_not(
    fake_gemini, demo_knowledge, settings
):
    # Given a client the model hands to a manager
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    contact = ContactFactory(is_client=True)
    asked = customer_says(contact, "Хочу скидку на установку, позовите менеджера")
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "клиент просит скидку"}))
    # When its last words promise a price the knowledge base does not state
    fake_gemini.reply_text("Передал менеджеру! Для вас установка будет 7 490 ₸ 😊")

    assert incoming_process(message_id=asked.pk).status == "handed off"

    # Then the customer hears that a manager takes over, not the invented figure
    [said] = Message.objects.filter(contact=contact, direction="out")
    assert said.purpose == Message.Purpose.HANDOFF
    assert "7 490" not in said.text
    assert said.text == HANDOFF_TEXT
    assert "7490" in said.review_note
    # and the model was not asked to write the hand-off again (its tools already ran)
    assert len(fake_gemini.generate_requests()) == 2


def test_the_last_words_after_a_hand_off_go_out_as_written_when_they_state_no_new_figure(
    fake_gemini, demo_knowledge, settings
):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    contact = ContactFactory(is_client=True)
    asked = customer_says(contact, "Позовите менеджера, пожалуйста")
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "клиент просит человека"}))
    fake_gemini.reply_text("Передал ваш вопрос менеджеру, он скоро напишет 👍")

    incoming_process(message_id=asked.pk)

    assert texts_to(contact) == ["Передал ваш вопрос менеджеру, он скоро напишет 👍"]
