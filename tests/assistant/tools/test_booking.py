"""The booking tools through the real tool loop: incoming_process, the real google-genai SDK
against the fake Gemini over HTTP, the real services and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.pipeline import incoming_process
from assistant.tools.booking import BOOK_CALL, CHECK_AVAILABILITY
from calls.booking import BookingRules, free_slots, is_working_day
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


def a_working_day_in_a_year_and_more():
    day = timezone.localdate() + timedelta(days=400)
    while not is_working_day(day):
        day += timedelta(days=1)
    return f"{day:%Y-%m-%d}T11:00:00+05:00"


@pytest.mark.parametrize("start", [lambda: "9999-12-31T10:00+05:00", a_working_day_in_a_year_and_more])
def test_a_booking_years_ahead_is_refused_with_a_reason_the_model_can_relay(fake_gemini, settings, start):
    settings.CALL_BOOKING_HORIZON_DAYS = 60
    contact = ContactFactory(is_client=True, classified_by="model")
    message = customer_says(contact, "Запишите меня через пару лет")
    fake_gemini.enqueue(function_call_response("book_call", {"start": start(), "topic": "цены"}))
    fake_gemini.reply_text("Так далеко записать не могу, предлагаю ближайшие даты 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    assert not ScheduledCall.objects.exists()
    answer = json.loads(json.dumps(fake_gemini.last_request().json["contents"][-1], ensure_ascii=False))
    [part] = answer["parts"]
    response = part["functionResponse"]["response"]
    assert (response["ok"], response["error"]) == (False, "too far ahead")
    latest = timezone.localdate() + timedelta(days=60)
    assert response["latest_date"] == latest.isoformat()
    assert all(alternative[:10] <= latest.isoformat() for alternative in response["alternatives"])


def test_a_stale_plus_six_offset_books_the_time_the_customer_named_not_an_hour_early(fake_gemini):
    contact = ContactFactory(is_client=True, classified_by="model")
    wanted = timezone.localtime(a_free_slot_in_a_few_days() + timedelta(hours=1))
    message = customer_says(contact, f"Давайте {wanted:%d.%m} в {wanted:%H:%M}")
    start = f"{wanted:%Y-%m-%dT%H:%M}:00+06:00"  # Almaty's offset before March 2024
    fake_gemini.enqueue(function_call_response("book_call", {"start": start, "topic": "тариф"}))
    fake_gemini.reply_text("Готово, записал вас 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    call = ScheduledCall.objects.get(contact=contact)
    assert call.scheduled_at == wanted
    assert f"{wanted:%H:%M} (время Астаны)" in Message.objects.get(contact=contact, purpose="booking").text


def test_a_day_past_the_horizon_has_no_free_time_and_says_why(fake_gemini, settings):
    settings.CALL_BOOKING_HORIZON_DAYS = 10
    contact = ContactFactory(is_client=True, classified_by="model")
    far = timezone.localdate() + timedelta(days=30)
    message = customer_says(contact, "А через месяц можно?")
    fake_gemini.enqueue(function_call_response("check_availability", {"date": far.isoformat()}))
    fake_gemini.reply_text("Так далеко записи нет 😊")

    assert incoming_process(message_id=message.pk).status == "answered"

    answer = json.dumps(fake_gemini.last_request().json["contents"][-1], ensure_ascii=False)
    assert '"error": "too far ahead"' in answer


def test_the_booking_tools_tell_the_model_the_business_time_zone_and_the_horizon():
    for tool in (BOOK_CALL, CHECK_AVAILABILITY):
        declared = json.dumps(tool.spec.parameters, ensure_ascii=False) + tool.spec.description
        assert "UTC+5" in declared
    assert "too far ahead" in BOOK_CALL.spec.description
