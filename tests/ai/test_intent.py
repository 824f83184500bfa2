"""The intent of a client's reply (yes / no / uncertain / other) and what it does to follow-ups."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from ai.intent import reply_intent
from ai.models import ModelCall
from ai.rules.intent import intent_rules
from assistant.pipeline import incoming_process
from followups.models import FollowUp, ReplyIntent
from messaging.models import Message
from messaging.sender import outbox_send
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, OutboundMessageFactory


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Да", "yes"),
        ("да, давайте 👍", "yes"),
        ("Согласен", "yes"),
        ("Готов!", "yes"),
        ("Окей, записывайте", "yes"),
        ("Нет", "no"),
        ("нет, спасибо", "no"),
        ("Не интересно", "no"),
        ("Не надо больше", "no"),
        ("Посмотрю", "uncertain"),
        ("Я подумаю", "uncertain"),
        ("Может быть", "uncertain"),
        ("не знаю пока", "uncertain"),
        ("Напишу позже", "uncertain"),
        ("Да, а сколько стоит доставка?", "other"),
        ("Какие у вас цены на кулеры?", "other"),
        ("Здравствуйте", "other"),
        ("", "other"),
    ],
)
def test_offline_rules_read_chat_answers(text, intent):
    assert intent_rules(text) == intent


def last_bot_then_client(text, *, contact=None):
    contact = contact or ContactFactory(is_client=True, classified_by="model")
    asked = timezone.now() - timedelta(hours=2)
    OutboundMessageFactory(contact=contact, text="Подобрать вам кулер «Тау-2» за 2 500 ₸ в месяц?", timestamp=asked)
    moment = timezone.now() - timedelta(seconds=30)
    return InboundMessageFactory(contact=contact, text=text, timestamp=moment, received_at=moment)


@pytest.mark.django_db
def test_gemini_classifies_with_the_fast_model_and_structured_output(fake_gemini):
    fake_gemini.reply_text(json.dumps({"intent": "uncertain"}))
    contact = ContactFactory()

    assert reply_intent(contact=contact, text="Ну я ещё гляну варианты", last_bot_text="Оформим заказ?") == "uncertain"

    request = fake_gemini.last_request()
    assert request.model == settings.GEMINI_FAST_MODEL
    body = request.camel
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert set(body["generationConfig"]["responseSchema"]["properties"]["intent"]["enum"]) == {
        "yes",
        "no",
        "uncertain",
        "other",
    }
    # Both texts are data between markers, never in the system instruction.
    assert "Ну я ещё гляну варианты" in request.texts()[0]
    assert "Оформим заказ?" in request.texts()[0]
    assert "гляну" not in json.dumps(body["systemInstruction"], ensure_ascii=False)
    assert ModelCall.objects.get().purpose == "intent"


@pytest.mark.django_db
def test_gemini_down_or_nonsense_falls_back_to_the_rules(fake_gemini):
    for _ in range(3):
        fake_gemini.reply_error(503)
    assert reply_intent(contact=ContactFactory(), text="Нет, не интересно", last_bot_text="Созвонимся?") == "no"
    fake_gemini.reply_text(json.dumps({"intent": "maybe"}))
    assert reply_intent(contact=ContactFactory(), text="подумаю", last_bot_text="Созвонимся?") == "uncertain"


@pytest.mark.django_db
def test_a_clear_no_stops_the_chain_and_the_next_reply_does_not_enrol_again(
    fake_wappi, django_capture_on_commit_callbacks
):
    message = last_bot_then_client("Нет, не интересно")
    FollowUpFactory(contact=message.contact, touch_number=2)

    assert incoming_process(message_id=message.pk).status == "answered"

    stopped = FollowUp.objects.get(contact=message.contact)
    assert (stopped.is_completed, stopped.stop_reason) == (True, "client_said_no")
    assert ReplyIntent.objects.get(contact=message.contact).intent == "no"
    # Our polite answer goes out, and no new chain starts from it.
    reply = Message.objects.get(contact=message.contact, direction="out", purpose="reply", reply_to=message)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_send(message_id=reply.pk, client=fake_wappi.client()).status == "sent"
    assert not FollowUp.objects.filter(contact=message.contact, is_completed=False).exists()


@pytest.mark.django_db
def test_an_uncertain_answer_re_enrols_with_its_reason_once_our_reply_is_sent(
    fake_wappi, django_capture_on_commit_callbacks
):
    message = last_bot_then_client("Я подумаю")
    FollowUpFactory(contact=message.contact, touch_number=1)

    incoming_process(message_id=message.pk)

    assert FollowUp.objects.get(contact=message.contact, is_completed=True).stop_reason == "client_responded"
    reply = Message.objects.get(contact=message.contact, direction="out", purpose="reply", reply_to=message)
    assert not FollowUp.objects.filter(contact=message.contact, is_completed=False).exists()  # not before it is sent
    with django_capture_on_commit_callbacks(execute=True):
        outbox_send(message_id=reply.pk, client=fake_wappi.client())

    chain = FollowUp.objects.get(contact=message.contact, is_completed=False)
    reply.refresh_from_db()
    assert chain.reason == "uncertain_answer"
    assert chain.touch_number == 1
    assert chain.next_touch_at == reply.sent_at + timedelta(hours=settings.FOLLOW_UP_INTERVALS[0])


@pytest.mark.django_db
def test_a_question_after_our_message_gets_the_normal_no_reply_chain(fake_wappi, django_capture_on_commit_callbacks):
    message = last_bot_then_client("А доставка по Астане есть?")

    incoming_process(message_id=message.pk)
    reply = Message.objects.get(contact=message.contact, direction="out", purpose="reply", reply_to=message)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_send(message_id=reply.pk, client=fake_wappi.client())

    assert ReplyIntent.objects.get(contact=message.contact).intent == "other"
    assert FollowUp.objects.get(contact=message.contact, is_completed=False).reason == "no_reply"
