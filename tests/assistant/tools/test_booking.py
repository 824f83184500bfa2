"""The booking tools through the real tool loop: incoming_process, the real google-genai SDK
against the fake Gemini over HTTP, the real services and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

import assistant.tools.booking  # noqa: F401  (registers the tools until AiConfig.ready() imports it)
from assistant.pipeline import incoming_process
from calls.booking import BookingRules, free_slots
from calls.services import call_taken_counts
from contacts.models import CallReminder, ScheduledCall
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import ContactFactory, FollowUpFactory, customer_says
from tests.fakes.gemini import function_call_response

pytestmark = pytest.mark.django_db


def a_free_slot_in_a_few_days():
    rules, now = BookingRules.from_settings(), timezone.now()
    taken = call_taken_counts(start=now, end=now + timedelta(days=40))
    # The first free slot of a day (from its midnight): what check_availability lists first for that
    # date whatever the time of day the test runs.
    day = timezone.localtime(now + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    [slot] = free_slots(rules=rules, now=now, taken=taken, after=day, limit=1)
    return slot


def test_a_client_who_agrees_gets_a_call_booked_through_the_tool_loop(fake_gemini, settings):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    contact = ContactFactory(is_client=True, classified_by="model", full_name="Асель Нурланова", phone="77011234567")
    FollowUpFactory(contact=contact)
    slot = a_free_slot_in_a_few_days()
    message = customer_says(contact, f"Да, давайте созвонимся {slot:%d.%m} в {slot:%H:%M}")
    fake_gemini.enqueue(function_call_response("book_call", {"start": slot.isoformat(), "topic": "Подключение тарифа"}))
    fake_gemini.reply_text("Готово, записал вас! Менеджер позвонит в назначенное время 😊")

    outcome = incoming_process(message_id=message.pk)

    assert outcome.status == "answered"
    call = ScheduledCall.objects.get(contact=contact)
    assert (call.scheduled_at, call.created_by, call.notes) == (slot, "ai", "Подключение тарифа")
    confirmation = Message.objects.get(contact=contact, purpose="booking")
    assert f"{slot:%d.%m} в {slot:%H:%M} (время Астаны)" in confirmation.text
    assert "+7 701 123 45 67" in confirmation.text
    assert Message.objects.get(contact=contact, purpose="reply").text.startswith("Готово")
    notice = Message.objects.get(contact__phone="77019990011")
    assert notice.purpose == "notification"
    assert "Новый созвон" in notice.text
    assert "Асель" in notice.text
    assert FollowUp.objects.get(contact=contact).stop_reason == "client_said_yes"
    assert CallReminder.objects.filter(call=call).count() == 2

    request = fake_gemini.last_request().json
    declared = json.dumps(request.get("tools"), ensure_ascii=False)
    assert "book_call" in declared
    assert "check_availability" in declared
    answer = json.dumps(request["contents"][-1], ensure_ascii=False)
    assert "functionResponse" in answer
    assert f'"call_id": {call.pk}' in answer


def test_a_refused_booking_hands_the_model_the_error_and_alternatives(fake_gemini):
    contact = ContactFactory(is_client=True, classified_by="model")
    message = customer_says(contact, "Давайте в субботу в 11")
    fake_gemini.enqueue(function_call_response("book_call", {"start": "2026-11-28T11:00:00+05:00", "topic": "цены"}))
    fake_gemini.reply_text("В субботу не получится, предлагаю понедельник 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert not ScheduledCall.objects.exists()
    answer = json.dumps(fake_gemini.last_request().json["contents"][-1], ensure_ascii=False)
    assert '"ok": false' in answer
    assert "alternatives" in answer


def test_check_availability_answers_the_model_with_free_slots(fake_gemini):
    contact = ContactFactory(is_client=True, classified_by="model")
    slot = a_free_slot_in_a_few_days()
    message = customer_says(contact, "Когда можно созвониться?")
    fake_gemini.enqueue(function_call_response("check_availability", {"date": f"{slot:%Y-%m-%d}"}))
    fake_gemini.reply_text("Есть свободное время 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    answer = json.dumps(fake_gemini.last_request().json["contents"][-1], ensure_ascii=False)
    assert slot.isoformat() in answer
    assert not ScheduledCall.objects.exists()
