"""The number guard: no price, amount, discount or percentage that the knowledge base does not state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from ai.rules.guard import stated_figures, unsupported_figures
from assistant.pipeline import SAFE_FIGURES_TEXT, incoming_process
from messaging.models import Message
from tests.factories import ContactFactory, InboundMessageFactory

KNOWLEDGE = "Доставка по Алматы | рейс | 1 500 ₸\nАренда кулера | мес. | 2 500 тенге\nСкидка 10% от 10 бутылей."
DEMO = Path(__file__).resolve().parents[2] / "knowledge_base" / "demo"


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("Доставка — 1 500 ₸", {"1500"}),
        ("Доставка — 1\u00a0500 тг.", {"1500"}),
        ("стоит 1500 тенге", {"1500"}),
        ("Скидка 10 %", {"10%"}),
        ("скидка 30 процентов", {"30%"}),
        ("аренда 2,5 тыс. ₸", {"2500"}),
        ("Созвон в 10:00, 24.11", set()),
        ("Привезём 3 бутыли", set()),
        ("Наберите +7 701 234 56 78", set()),
    ],
)
def test_figures_are_read_as_people_write_money(text, figures):
    assert stated_figures(text) == figures


def test_a_made_up_discount_and_a_wrong_price_are_caught_and_the_real_price_passes():
    assert unsupported_figures("Для вас скидка 30%!", KNOWLEDGE) == ["30%"]
    assert unsupported_figures("Доставка стоит 1 700 ₸", KNOWLEDGE) == ["1700"]
    assert unsupported_figures("Доставка по Алматы — 1 500 ₸, скидка 10%", KNOWLEDGE) == []


def customer_asks(text):
    moment = timezone.now() - timedelta(seconds=30)
    contact = ContactFactory(is_client=True)
    return InboundMessageFactory(contact=contact, text=text, timestamp=moment, received_at=moment)


@pytest.fixture
def demo_knowledge():
    from ai.knowledge import knowledge_load

    knowledge_load(path=DEMO)


@pytest.mark.django_db
def test_a_reply_with_a_made_up_discount_is_regenerated_once_then_replaced_and_flagged(fake_gemini, demo_knowledge):
    message = customer_asks("А скидку дадите?")
    fake_gemini.reply_text("Конечно! Для вас скидка 30% 😊")
    fake_gemini.reply_text("Хорошо, сделаем скидку 25% 👍")

    assert incoming_process(message_id=message.pk).status == "answered"

    reply = Message.objects.get(contact=message.contact, direction="out")
    assert reply.text == SAFE_FIGURES_TEXT
    assert "30%" in reply.review_note
    assert "25%" in reply.review_note
    # The correction is an instruction for the second request only: in its context block, not in
    # the system instruction (which stays the same, so it can stay cached).
    first, second = fake_gemini.generate_requests()
    assert first.camel["systemInstruction"] == second.camel["systemInstruction"]
    note = second.texts()[0]
    assert note.startswith("<<<СЛУЖЕБНЫЕ ДАННЫЕ")
    assert "ВАЖНО" in note
    assert "30%" in note
    assert "ВАЖНО" not in first.texts()[0]


@pytest.mark.django_db
def test_a_corrected_second_draft_goes_out(fake_gemini, demo_knowledge):
    message = customer_asks("Сколько стоит аренда кулера?")
    fake_gemini.reply_text("Аренда кулера — 4 321 ₸ в месяц 😊")
    fake_gemini.reply_text("Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊 Оформить?")
    incoming_process(message_id=message.pk)
    reply = Message.objects.get(contact=message.contact, direction="out")
    assert "2 500 ₸" in reply.text
    assert reply.review_note == ""


@pytest.mark.django_db
def test_a_reply_quoting_the_real_price_is_sent_as_written(fake_gemini, demo_knowledge):
    message = customer_asks("Сколько стоит аренда кулера?")
    fake_gemini.reply_text("Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊 Оформить?")
    incoming_process(message_id=message.pk)
    assert len(fake_gemini.requests) == 1
    assert "2 500 ₸" in Message.objects.get(contact=message.contact, direction="out").text
