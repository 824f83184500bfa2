"""The intent of a client's reply (ai.intent.reply_intent): the fast model with structured output,
and the offline rules when it is down or answers nonsense. What the intent does to the follow-ups
is tested with the assistant step (tests/assistant/test_pipeline.py)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from ai.intent import reply_intent
from ai.models import ModelCall
from tests.factories import ContactFactory


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
