"""Calls with a manager (calls.services): booking by the assistant's tools, availability,
reminders, and the operator's cancel and reschedule. PostgreSQL, the real outbox and notices,
times in Asia/Almaty (UTC+5); time frozen with time-machine where the service reads the clock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from calls.booking import BookingRules, slot_problem
from calls.services import (
    call_availability,
    call_book,
    call_cancel,
    call_reschedule,
    call_taken_counts,
    reminders_send_due,
)
from contacts.models import CallReminder, ScheduledCall
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, ScheduledCallFactory

pytestmark = pytest.mark.django_db

ASTANA = ZoneInfo("Asia/Almaty")
MANAGER = "77019990011"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ASTANA)


NOW = at(20, 12).astimezone(UTC)  # Friday noon in Astana


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


def test_a_time_with_any_offset_is_booked_at_that_astana_wall_clock_and_confirmed_in_astana_time():
    # The model copies the customer's time; an offset it adds ("Z", a stale "+06:00") is dropped.
    contact = ContactFactory(phone="77011234567")

    result = book(contact, "2026-11-23T10:00:00Z", topic="Аренда кулера")

    call = ScheduledCall.objects.get(contact=contact)
    assert result == {"ok": True, "call_id": call.pk, "scheduled_at": "2026-11-23T10:00:00+05:00"}
    assert call.scheduled_at == at(23, 10)
    [confirmation] = told(contact)
    assert "понедельник, 23.11 в 10:00 (время Астаны)" in confirmation.text
    assert "+7 701 123 45 67" in confirmation.text


def test_a_time_before_opening_in_astana_is_refused_whatever_offset_it_carries():
    contact = ContactFactory()

    result = book(contact, "2026-11-23T09:30:00+06:00")  # 09:30 in Astana

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


def test_a_booking_creates_the_call_confirmation_notice_reminders_and_stops_followups():
    contact = ContactFactory(phone="77011234567", name="Асель")
    FollowUpFactory(contact=contact)

    result = call_book(contact=contact, start_text="2026-11-24T11:00", topic="Подключение тарифа", now=NOW)

    call = ScheduledCall.objects.get(contact=contact)
    assert result == {"ok": True, "call_id": call.pk, "scheduled_at": "2026-11-24T11:00:00+05:00"}
    assert (call.created_by, call.notes, call.status, call.timezone) == (
        "ai",
        "Подключение тарифа",
        "scheduled",
        "Asia/Almaty",
    )
    [confirmation] = Message.objects.filter(contact=contact, direction="out")
    assert confirmation.purpose == "booking"
    assert "вторник, 24.11 в 11:00 (время Астаны)" in confirmation.text
    assert "+7 701 123 45 67" in confirmation.text
    [notice] = manager_notices()
    assert "24.11 в 11:00" in notice.text
    assert "Подключение тарифа" in notice.text
    followup = FollowUp.objects.get(contact=contact)
    assert (followup.is_completed, followup.stop_reason) == (True, "client_said_yes")
    reminders = CallReminder.objects.filter(call=call)
    assert sorted(r.audience for r in reminders) == ["client", "manager"]
    assert {r.due_at for r in reminders} == {call.scheduled_at - timedelta(hours=1)}


def test_an_invalid_request_returns_the_problem_and_valid_alternatives():
    contact = ContactFactory()
    result = call_book(contact=contact, start_text="2026-11-28T11:00:00+05:00", topic="цены", now=NOW)
    assert result["ok"] is False
    assert result["error"] == "weekend"
    assert 1 <= len(result["alternatives"]) <= 3
    rules = BookingRules.from_settings()
    for alternative in result["alternatives"]:
        assert slot_problem(datetime.fromisoformat(alternative), rules=rules, now=NOW, taken={}) is None
    assert not ScheduledCall.objects.exists()
    assert not Message.objects.exists()


def test_unparseable_start_is_refused_with_alternatives():
    result = call_book(contact=ContactFactory(), start_text="завтра после обеда", topic="", now=NOW)
    assert result["ok"] is False
    assert "ISO 8601" in result["error"]
    assert len(result["alternatives"]) == 3


def test_a_full_slot_is_refused_and_alternatives_avoid_it():
    ScheduledCallFactory(scheduled_at=at(23, 11))
    result = call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=NOW)
    assert result["error"] == "slot full"
    assert "2026-11-23T11:00:00+05:00" not in result["alternatives"]
    assert "2026-11-23T11:30:00+05:00" in result["alternatives"]


def test_a_cancelled_call_frees_its_slot():
    ScheduledCallFactory(scheduled_at=at(23, 11), status=ScheduledCall.Status.CANCELLED)
    assert call_taken_counts(start=at(23, 0), end=at(24, 0)) == {}
    assert call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=NOW)["ok"] is True


def test_the_same_customer_cannot_hold_two_future_calls():
    contact = ContactFactory()
    assert call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)["ok"] is True
    second = call_book(contact=contact, start_text="2026-11-24T11:00", topic="", now=NOW)
    assert second["ok"] is False
    assert second["error"] == "already booked"
    assert second["scheduled_at"] == "2026-11-23T11:00:00+05:00"
    assert ScheduledCall.objects.filter(contact=contact).count() == 1


def test_a_past_call_does_not_block_a_new_booking():
    contact = ContactFactory()
    ScheduledCallFactory(contact=contact, scheduled_at=NOW - timedelta(days=1))
    assert call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)["ok"] is True


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_customers_racing_for_the_last_place_in_a_slot_get_one_booking():
    first, second = ContactFactory(), ContactFactory()
    barrier = threading.Barrier(2)

    def book(contact):
        try:
            barrier.wait()
            return call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(book, [first, second]))

    assert sorted(result["ok"] for result in results) == [False, True]
    assert [result["error"] for result in results if not result["ok"]] == ["slot full"]
    assert ScheduledCall.objects.filter(scheduled_at=at(23, 11)).count() == 1


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


def test_availability_lists_free_slots_of_a_day():
    ScheduledCallFactory(scheduled_at=at(23, 10))
    result = call_availability(date_text="2026-11-23", time_text=None, now=NOW)
    assert result == {
        "ok": True,
        "free": ["2026-11-23T10:30:00+05:00", "2026-11-23T11:00:00+05:00", "2026-11-23T11:30:00+05:00"],
    }


def test_availability_of_a_weekend_day_offers_the_next_working_day():
    result = call_availability(date_text="2026-11-28", time_text=None, now=NOW)
    assert result["ok"] is False
    assert result["error"] == "weekend"
    assert result["alternatives"][0] == "2026-11-30T10:00:00+05:00"


def test_availability_of_a_time_says_whether_it_is_free():
    free = call_availability(date_text="2026-11-23", time_text="11:00", now=NOW)
    assert free["ok"] is True
    assert free["free"][0] == "2026-11-23T11:00:00+05:00"
    late = call_availability(date_text="2026-11-23", time_text="18:00", now=NOW)
    assert (late["ok"], late["error"]) == (False, "outside working hours")
    assert "2026-11-23T17:30:00+05:00" in late["alternatives"]
    garbage = call_availability(date_text="23 ноября", time_text=None, now=NOW)
    assert garbage["ok"] is False
    assert "YYYY-MM-DD" in garbage["error"]


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


def test_no_reminder_is_created_when_its_time_has_passed():
    now = at(23, 10).astimezone(UTC)
    result = call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=now)
    assert result["ok"] is True
    assert not CallReminder.objects.exists()


def test_due_reminders_are_sent_once_and_cancelled_calls_are_skipped():
    kept, dropped = ContactFactory(), ContactFactory()
    call_book(contact=kept, start_text="2026-11-23T11:00", topic="тариф", now=NOW)
    call_book(contact=dropped, start_text="2026-11-23T11:30", topic="", now=NOW)
    ScheduledCall.objects.filter(contact=dropped).update(status=ScheduledCall.Status.CANCELLED)
    Message.objects.all().delete()

    assert reminders_send_due(now=at(23, 9, 59).astimezone(UTC)) == 0
    assert reminders_send_due(now=at(23, 10, 30).astimezone(UTC)) == 2
    assert reminders_send_due(now=at(23, 10, 31).astimezone(UTC)) == 0

    [client_reminder] = Message.objects.filter(contact=kept)
    assert client_reminder.purpose == "booking"
    assert "понедельник, 23.11 в 11:00" in client_reminder.text
    [manager_reminder] = manager_notices()
    assert "Созвон через час" in manager_reminder.text
    assert not Message.objects.filter(contact=dropped).exists()
    assert not CallReminder.objects.filter(call__contact=kept, sent_at__isnull=True).exists()


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


def test_an_operator_cancel_tells_the_client_and_drops_reminders():
    contact = ContactFactory()
    call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)
    call = ScheduledCall.objects.get(contact=contact)

    call_cancel(call=call)
    call_cancel(call=call)

    assert call.status == "cancelled"
    assert not CallReminder.objects.filter(call=call).exists()
    [notice] = Message.objects.filter(contact=contact, idempotency_key__startswith="call-cancelled")
    assert (notice.author, notice.purpose) == ("operator", "booking")
    assert "23.11 в 11:00" in notice.text
    assert "отменён" in notice.text


def test_a_reschedule_moves_the_call_and_its_reminders_and_tells_the_client():
    contact = ContactFactory()
    call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)
    call = ScheduledCall.objects.get(contact=contact)

    call_reschedule(call=call, start=at(24, 15), now=NOW)

    call.refresh_from_db()
    assert call.scheduled_at == at(24, 15)
    assert {r.due_at for r in CallReminder.objects.filter(call=call)} == {at(24, 14)}
    [notice] = Message.objects.filter(contact=contact, idempotency_key__startswith="call-moved")
    assert "вторник, 24.11 в 15:00" in notice.text
    assert "понедельник, 23.11 в 11:00" in notice.text
    with pytest.raises(ValueError, match="weekend"):
        call_reschedule(call=call, start=at(28, 11), now=NOW)


def test_a_customer_who_writes_in_kazakh_is_confirmed_and_reminded_in_kazakh():
    contact = ContactFactory()
    InboundMessageFactory(contact=contact, text="Иә, дүйсенбіге жазыңыз")
    booked(contact, "2026-11-23T11:00", topic="тариф")
    assert reminders_send_due(now=at(23, 10).astimezone(UTC)) == 2

    confirmation, reminder = told(contact)
    assert confirmation.text.startswith("Сізді қоңырауға жаздым: дүйсенбі, 23.11, 11:00 (Астана уақыты).")
    assert reminder.text.startswith("Еске саламын: менеджермен қоңырау дүйсенбі, 23.11, 11:00 (Астана уақыты).")
    # The managers' notices stay in Russian.
    assert "Созвон через час: понедельник, 23.11 в 11:00" in manager_notices()[-1].text
