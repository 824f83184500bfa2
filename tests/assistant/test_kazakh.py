"""Kazakh as well as Russian: a customer who writes in Kazakh is answered in Kazakh (the model is
told so), and every fixed text they may get (opt-out confirmation, fallback, safe line, hand-off,
"please type" after a voice note) comes in Kazakh; REPLY_LANGUAGES limits the languages, Russian
when unsure. Messages arrive in Wappi's webhook shape through ingest; the real google-genai SDK
against the fake Gemini, or the offline backend; nothing of ours patched."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from ai.models import ModelCall
from ai.rules.texts import fixed_text
from ai.voice import voice_process
from assistant.pipeline import incoming_process
from contacts.models import Contact
from followups.models import ReplyIntent
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.wire import parse_sync_message, parse_webhook
from payments.services import payment_request, payments_customer_says_paid
from tests.factories import ClientFactory, ContactFactory, OutboundMessageFactory, wappi_incoming

pytestmark = pytest.mark.django_db


def customer_writes(contact: Contact, text: str) -> Message:
    """The customer's message as Wappi's webhook delivers it, ingested, its quiet window over."""
    event = wappi_incoming(f"3EB0KAZ{contact.pk:06d}{Message.objects.count():04d}", phone=contact.phone, text=text)
    report = ingest_events(events=parse_webhook({"messages": [event]}), via="webhook")
    past = timezone.now() - timedelta(seconds=30)
    Message.objects.filter(pk=report.stored[0]).update(received_at=past, timestamp=past)
    Contact.objects.filter(pk=contact.pk).update(reply_due_at=past)
    return Message.objects.get(pk=report.stored[0])


def texts_to(contact: Contact) -> list[str]:
    return list(Message.objects.filter(contact=contact, direction="out").order_by("id").values_list("text", flat=True))


def context_of(request) -> str:
    return request.camel["contents"][0]["parts"][0]["text"]


def test_a_customer_writing_in_kazakh_is_answered_in_kazakh(fake_gemini):
    contact = ClientFactory(phone="77012345690")
    message = customer_writes(contact, "Сәлеметсіз бе! Астанаға жеткізу бар ма? Бағасы қанша?")
    fake_gemini.reply_text("Сәлеметсіз бе! 😊 Иә, Астанаға жеткіземіз. Неше бөтелке керек?")

    assert incoming_process(message_id=message.pk).status == "answered"

    context = context_of(fake_gemini.last_request())
    assert "Язык ответа: казахский" in context
    assert texts_to(contact) == ["Сәлеметсіз бе! 😊 Иә, Астанаға жеткіземіз. Неше бөтелке керек?"]


def test_a_customer_who_switches_to_russian_is_answered_in_russian(fake_gemini):
    contact = ClientFactory(phone="77012345691")
    customer_writes(contact, "Сәлеметсіз бе!")
    OutboundMessageFactory(contact=contact, text="Сәлеметсіз бе! Қалай көмектесе аламын?", status="sent")
    message = customer_writes(contact, "Давайте по-русски: сколько стоит доставка?")
    fake_gemini.reply_text("Конечно 😊 Доставка по Астане — уточню у менеджера. Какой объём?")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert "Язык ответа: русский" in context_of(fake_gemini.last_request())


def test_with_russian_only_in_reply_languages_a_kazakh_customer_is_answered_in_russian(fake_gemini, settings):
    settings.REPLY_LANGUAGES = ["ru"]
    contact = ClientFactory(phone="77012345692")
    message = customer_writes(contact, "Сәлеметсіз бе! Бағасы қанша?")
    for _ in range(3):
        fake_gemini.reply_error(503)

    assert incoming_process(message_id=message.pk).status == "fallback"

    assert texts_to(contact) == [fixed_text("fallback", "ru")]


def test_a_kazakh_opt_out_gets_the_kazakh_confirmation_without_a_model_call(fake_gemini):
    contact = ClientFactory(phone="77012345693")
    message = customer_writes(contact, "Маған енді жазбаңыз")

    assert incoming_process(message_id=message.pk).status == "opted out"

    contact.refresh_from_db()
    assert contact.opted_out_at is not None
    assert texts_to(contact) == [
        "Жақсы, енді сізге бірінші болып жазбаймыз. Көмек керек болса — бізге жай ғана жазыңыз 🙏"
    ]
    assert fake_gemini.requests == []


def test_when_the_model_is_down_a_kazakh_customer_gets_the_kazakh_fallback(fake_gemini):
    contact = ClientFactory(phone="77012345694")
    message = customer_writes(contact, "Сәлеметсіз бе, кулер керек")
    for _ in range(3):
        fake_gemini.reply_error(503)

    assert incoming_process(message_id=message.pk).status == "fallback"

    assert texts_to(contact) == ["Хабарламаңызға рахмет! Менеджер жақын арада жауап береді."]


def test_a_made_up_price_in_a_kazakh_conversation_is_replaced_by_the_kazakh_safe_line(fake_gemini):
    contact = ClientFactory(phone="77012345695")
    message = customer_writes(contact, "Кулер бағасы қанша?")
    fake_gemini.reply_text("Кулер 99 999 теңге тұрады 😊")
    fake_gemini.reply_text("Кулер 88 888 теңге тұрады 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert texts_to(contact) == [fixed_text("safe_figures", "kk")]
    assert Message.objects.get(contact=contact, direction="out").review_note


def test_a_kazakh_complaint_is_handed_off_with_the_kazakh_notice(fake_gemini, settings):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    contact = ContactFactory(phone="77012345696")
    message = customer_writes(contact, "Тапсырысым әлі келмеді, өте ашуланып отырмын!")
    fake_gemini.reply_text(
        json.dumps({"isClient": True, "confidence": 0.9, "reasoning": "жалоба", "requestType": "complaint"})
    )

    assert incoming_process(message_id=message.pk).status == "complaint handed off"

    assert texts_to(contact) == ["Сұрағыңызды менеджерге жібердім — ол сізге осы жерде жақын арада жазады 🙏"]


@pytest.mark.parametrize(("answer", "intent"), [("Иә", "yes"), ("Жоқ", "no"), ("Кейін жазамын", "uncertain")])
def test_a_short_kazakh_answer_to_our_question_is_understood(settings, answer, intent):
    settings.LLM_BACKEND = "offline"
    contact = ClientFactory(phone="77012345697")
    customer_writes(contact, "Сәлеметсіз бе")
    OutboundMessageFactory(
        contact=contact,
        text="Жеткізуді ертеңге жазайын ба?",
        status="sent",
        timestamp=timezone.now() - timedelta(minutes=5),
    )
    message = customer_writes(contact, answer)

    incoming_process(message_id=message.pk)

    assert ReplyIntent.objects.get(contact=contact).intent == intent
    assert ModelCall.objects.filter(purpose="intent", backend="offline").exists()


def test_a_voice_note_that_cannot_be_heard_gets_please_type_in_kazakh(fake_wappi, settings):
    settings.LLM_BACKEND = "offline"
    contact = ClientFactory(phone="77012345698")
    customer_writes(contact, "Сәлеметсіз бе!")
    raw = fake_wappi.customer_writes(contact.phone, "", msg_type="ptt", file_link=fake_wappi.server.url_for("/n.ogg"))
    ingest_events(events=[parse_sync_message(raw)], via="poll")
    note = Message.objects.get(provider_message_id=raw["id"])

    assert voice_process(message_id=note.pk, client=fake_wappi.client(), final_attempt=True).status == "failed"

    assert texts_to(contact) == [fixed_text("voice_ask_to_type", "kk")]


@pytest.mark.usefixtures("payment_settings")
def test_a_kazakh_customer_is_told_of_the_invoice_and_of_the_payment_in_kazakh(fake_kaspi):
    contact = ClientFactory(phone="77011234567")
    customer_writes(contact, "Иә, аламын")
    payment = payment_request(contact=contact, amount="25000", description="Кулер Aqua Pro", created_by="ai").payment
    fake_kaspi.pay(payment.kaspi_payment_id)

    payments_customer_says_paid(contact=contact)

    invoice, paid = texts_to(contact)
    assert invoice.startswith("25 000 ₸ сомасына шот («Кулер Aqua Pro») Kaspi.kz қосымшасында сізді күтіп тұр")
    assert invoice.endswith("Шот 24 сағат жарамды.")
    assert paid == "25 000 ₸ («Кулер Aqua Pro») төлемі алынды — рахмет! 🙏"
