"""Calls with a manager (calls.services): booking by the assistant's tools, availability,
reminders, and the operator's cancel and reschedule. PostgreSQL, the real outbox and notices,
times in Asia/Almaty (UTC+5); time frozen with time-machine where the service reads the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from calls.services import call_availability, call_book, call_cancel, call_reschedule, reminders_send_due
from contacts.models import CallReminder, ScheduledCall
from messaging.models import Message
from tests.factories import ContactFactory, ScheduledCallFactory

pytestmark = pytest.mark.django_db

ASTANA = ZoneInfo("Asia/Almaty")
MANAGER = "77019990011"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ASTANA)


NOW = at(20, 12).astimezone(UTC)  # Friday noon in Astana


@pytest.fixture(autouse=True)
def working_hours(settings):
    settings.TIME_ZONE = "Asia/Almaty"
    settings.WORKING_HOURS_START, settings.WORKING_HOURS_END = 10, 18
    settings.CALL_SLOT_MINUTES, settings.CALL_MIN_LEAD_MINUTES, settings.MANAGER_CAPACITY = 30, 60, 1
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    return settings


def book(contact, start_text, *, topic="", now=NOW):
    return call_book(contact=contact, start_text=start_text, topic=topic, now=now)


def booked(contact, start_text, *, topic="") -> ScheduledCall:
    result = book(contact, start_text, topic=topic)
    assert result["ok"] is True, result
    return ScheduledCall.objects.get(pk=result["call_id"])


def told(contact) -> list[Message]:
    return list(Message.objects.filter(contact=contact, direction=Message.Direction.OUT).order_by("id"))


def manager_notices() -> list[Message]:
    return list(Message.objects.filter(contact__phone=MANAGER).order_by("id"))


# --- booking ----------------------------------------------------------------------------------------


def test_a_time_given_in_utc_is_booked_at_that_moment_and_confirmed_in_astana_time():
    contact = ContactFactory(phone="77011234567")

    result = book(contact, "2026-11-23T05:00:00Z", topic="Аренда кулера")

    call = ScheduledCall.objects.get(contact=contact)
    assert result == {"ok": True, "call_id": call.pk, "scheduled_at": "2026-11-23T10:00:00+05:00"}
    assert call.scheduled_at == at(23, 10)
    [confirmation] = told(contact)
    assert "понедельник, 23.11 в 10:00 (время Астаны)" in confirmation.text
    assert "+7 701 123 45 67" in confirmation.text


def test_a_utc_time_that_is_before_opening_in_astana_is_refused():
    contact = ContactFactory()

    result = book(contact, "2026-11-23T04:30:00Z")  # 09:30 in Astana

    assert (result["ok"], result["error"]) == (False, "outside working hours")
    assert result["alternatives"][0] == "2026-11-23T10:00:00+05:00"
    assert not ScheduledCall.objects.exists()
    assert told(contact) == []


def test_a_second_customer_cannot_take_a_full_slot_and_is_offered_the_neighbouring_ones():
    first, second = ContactFactory(), ContactFactory()
    call = booked(first, "2026-11-23T11:00")
    Message.objects.all().delete()

    result = book(second, "2026-11-23T11:00", topic="тоже хочу в 11")

    assert (result["ok"], result["error"]) == (False, "slot full")
    assert result["alternatives"] == [
        "2026-11-23T10:00:00+05:00",
        "2026-11-23T10:30:00+05:00",
        "2026-11-23T11:30:00+05:00",
    ]
    assert list(ScheduledCall.objects.all()) == [call]
    assert not CallReminder.objects.filter(call__contact=second).exists()
    assert told(second) == []
    assert manager_notices() == []


def test_with_two_managers_a_slot_takes_two_customers_and_refuses_the_third(settings):
    settings.MANAGER_CAPACITY = 2
    customers = [ContactFactory() for _ in range(3)]

    results = [book(customer, "2026-11-23T11:00") for customer in customers]

    assert [result["ok"] for result in results] == [True, True, False]
    assert results[2]["error"] == "slot full"
    assert ScheduledCall.objects.filter(scheduled_at=at(23, 11)).count() == 2


def test_the_topic_is_stored_on_one_line_cut_to_500_characters_and_shown_to_the_manager():
    contact = ContactFactory()
    topic = "  Подключение\n\nтарифа   «Бизнес»  " + " и ещё" * 200

    call = booked(contact, "2026-11-23T11:00", topic=topic)

    assert call.notes.startswith("Подключение тарифа «Бизнес» и ещё")
    assert len(call.notes) == 500
    assert "\n" not in call.notes
    [notice] = manager_notices()
    assert "Новый созвон: понедельник, 23.11 в 11:00 (время Астаны)" in notice.text
    assert "Подключение тарифа «Бизнес»" in notice.text


def test_a_customer_with_a_booked_call_is_told_the_time_they_hold_even_for_an_invalid_new_time():
    contact = ContactFactory()
    call = booked(contact, "2026-11-24T15:00")

    result = book(contact, "2026-11-28T11:00")  # a Saturday

    assert result == {
        "ok": False,
        "error": "already booked",
        "scheduled_at": "2026-11-24T15:00:00+05:00",
        "call_id": call.pk,
    }
    assert len(told(contact)) == 1  # the first confirmation only


# --- availability -----------------------------------------------------------------------------------


def test_a_fully_booked_day_has_no_free_slots_and_the_next_working_day_is_offered():
    for slot in range(16):  # 10:00 to 17:30
        ScheduledCallFactory(scheduled_at=at(23, 10) + timedelta(minutes=30 * slot))

    result = call_availability(date_text="2026-11-23", time_text=None, now=NOW)

    assert (result["ok"], result["error"]) == (False, "no free slots")
    assert result["alternatives"] == [
        "2026-11-24T10:00:00+05:00",
        "2026-11-24T10:30:00+05:00",
        "2026-11-24T11:00:00+05:00",
    ]


def test_a_public_holiday_is_refused_and_the_first_working_day_after_it_is_offered():
    result = call_availability(date_text="2026-12-16", time_text=None, now=NOW)  # Independence Day

    assert (result["ok"], result["error"]) == (False, "public holiday")
    assert result["alternatives"][0] == "2026-12-17T10:00:00+05:00"


def test_a_day_in_the_past_is_refused_and_the_nearest_slots_from_now_are_offered():
    result = call_availability(date_text="2026-11-19", time_text=None, now=NOW)

    assert (result["ok"], result["error"]) == (False, "in the past")
    # An hour's lead from Friday noon: 13:00 is the first bookable slot.
    assert result["alternatives"] == [
        "2026-11-20T13:00:00+05:00",
        "2026-11-20T13:30:00+05:00",
        "2026-11-20T14:00:00+05:00",
    ]


def test_asking_about_a_taken_time_says_it_is_full_offers_others_and_books_nothing():
    ScheduledCallFactory(scheduled_at=at(23, 11))

    result = call_availability(date_text="2026-11-23", time_text="11:00", now=NOW)

    assert (result["ok"], result["error"]) == (False, "slot full")
    assert "2026-11-23T11:00:00+05:00" not in result["alternatives"]
    assert len(result["alternatives"]) == 3
    assert ScheduledCall.objects.count() == 1


def test_a_free_time_is_confirmed_first_with_two_other_free_times():
    result = call_availability(date_text="2026-11-23", time_text="15:00", now=NOW)

    assert result["ok"] is True
    assert result["free"][0] == "2026-11-23T15:00:00+05:00"
    assert len(result["free"]) == 3
    assert len(set(result["free"])) == 3


def test_a_time_in_a_format_the_tool_does_not_read_is_refused_with_the_expected_format():
    result = call_availability(date_text="2026-11-23", time_text="в обед", now=NOW)

    assert result["ok"] is False
    assert "HH:MM" in result["error"]
    assert len(result["alternatives"]) == 3


# --- reminders --------------------------------------------------------------------------------------


def test_a_moved_call_is_reminded_of_at_its_new_time_not_the_old_one():
    contact = ContactFactory()
    call = booked(contact, "2026-11-23T11:00", topic="тариф")
    call_reschedule(call=call, start=at(24, 15), now=NOW)
    Message.objects.all().delete()

    assert reminders_send_due(now=at(23, 10, 30).astimezone(UTC)) == 0
    assert reminders_send_due(now=at(24, 14).astimezone(UTC)) == 2

    [reminder] = told(contact)
    assert "вторник, 24.11 в 15:00 (время Астаны)" in reminder.text
    [notice] = manager_notices()
    assert "Созвон через час: вторник, 24.11 в 15:00" in notice.text
    assert "тариф" in notice.text


def test_no_late_reminder_is_sent_once_the_call_has_started():
    contact = ContactFactory()
    booked(contact, "2026-11-23T11:00")
    Message.objects.all().delete()

    assert reminders_send_due(now=at(23, 11, 5).astimezone(UTC)) == 0

    assert told(contact) == []
    assert manager_notices() == []


# --- cancel and reschedule --------------------------------------------------------------------------


def test_a_call_cancelled_by_the_assistant_is_announced_by_the_bot_and_frees_the_slot():
    contact, other = ContactFactory(), ContactFactory()
    call = booked(contact, "2026-11-23T11:00")

    call_cancel(call=call, by_operator=False)

    assert call.status == ScheduledCall.Status.CANCELLED
    notice = told(contact)[-1]
    assert (notice.author, notice.purpose) == (Message.Author.BOT, Message.Purpose.BOOKING)
    assert notice.text.startswith("Отменил ваш созвон понедельник, 23.11 в 11:00 (время Астаны)")
    assert not CallReminder.objects.filter(call=call).exists()
    assert book(other, "2026-11-23T11:00")["ok"] is True


def test_moving_a_call_onto_a_slot_another_customer_holds_is_refused_and_changes_nothing():
    mine, theirs = ContactFactory(), ContactFactory()
    call = booked(mine, "2026-11-23T11:00")
    booked(theirs, "2026-11-24T15:00")
    messages_before = Message.objects.count()

    with pytest.raises(ValueError, match="slot full"):
        call_reschedule(call=call, start=at(24, 15), now=NOW)

    call.refresh_from_db()
    assert call.scheduled_at == at(23, 11)
    assert {r.due_at for r in CallReminder.objects.filter(call=call)} == {at(23, 10)}
    assert Message.objects.count() == messages_before


def test_a_cancelled_call_cannot_be_moved():
    contact = ContactFactory()
    call = booked(contact, "2026-11-23T11:00")
    call_cancel(call=call)
    messages_before = Message.objects.count()

    with pytest.raises(ValueError, match="only a scheduled call"):
        call_reschedule(call=call, start=at(24, 15), now=NOW)

    assert Message.objects.count() == messages_before


def test_moving_a_call_to_the_time_it_already_has_tells_the_client_nothing():
    contact = ContactFactory()
    call = booked(contact, "2026-11-23T11:00")
    reminders = set(CallReminder.objects.filter(call=call).values_list("pk", flat=True))

    call_reschedule(call=call, start=at(23, 11), now=NOW)

    assert len(told(contact)) == 1  # the booking confirmation only
    assert set(CallReminder.objects.filter(call=call).values_list("pk", flat=True)) == reminders


def test_a_move_without_an_explicit_time_checks_the_lead_against_the_current_clock():
    contact = ContactFactory()
    call = booked(contact, "2026-11-23T15:00")

    with time_machine.travel(at(23, 10, 30), tick=False), pytest.raises(ValueError, match="too soon"):
        call_reschedule(call=call, start=at(23, 11))
    with time_machine.travel(at(23, 10, 30), tick=False):
        call_reschedule(call=call, start=at(23, 12))

    call.refresh_from_db()
    assert call.scheduled_at == at(23, 12)
    assert {r.due_at for r in CallReminder.objects.filter(call=call)} == {at(23, 11)}


def test_a_call_moved_away_and_back_again_tells_the_client_each_time():
    contact = ContactFactory()
    call = booked(contact, "2026-11-23T11:00")

    call_reschedule(call=call, start=at(24, 15), now=NOW)
    call_reschedule(call=call, start=at(23, 11), now=NOW)
    call_reschedule(call=call, start=at(24, 15), now=NOW)

    moves = [m.text for m in told(contact) if m.text.startswith("Перенесли")]
    assert len(moves) == 3
    assert "теперь вторник, 24.11 в 15:00" in moves[-1]
