"""Booking rules (pure, no database) and the call services (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
import time_machine

from calls.booking import BookingRules, free_slots, nearest_free_slots, parse_start, slot_problem
from calls.services import (
    call_availability,
    call_book,
    call_cancel,
    call_reschedule,
    call_taken_counts,
    reminders_send_due,
)
from calls.tasks import send_call_reminders
from contacts.models import CallReminder, ScheduledCall
from followups.models import FollowUp
from messaging.models import Message
from tests.factories import ContactFactory, FollowUpFactory, ScheduledCallFactory

ASTANA = ZoneInfo("Asia/Almaty")
RULES = BookingRules(tz=ASTANA, start_hour=10, end_hour=18, slot_minutes=30, min_lead_minutes=60, capacity=1)
FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=ASTANA)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ASTANA)


def problem(start: datetime, *, now: datetime = FRIDAY_NOON, taken=None) -> str | None:
    return slot_problem(start, rules=RULES, now=now, taken=taken or {})


# --- pure rules ---------------------------------------------------------------------------


def test_a_monday_morning_slot_inside_working_hours_is_valid():
    assert problem(at(23, 11)) is None


def test_saturday_is_refused_as_weekend():
    assert problem(at(28, 11)) == "weekend"


def test_half_past_nine_is_before_the_working_window():
    assert problem(at(23, 9, 30)) == "outside working hours"


def test_a_30_minute_slot_at_1745_would_end_after_closing():
    assert problem(at(23, 17, 45)) == "outside working hours"


def test_six_pm_is_closing_time_not_a_slot():
    assert problem(at(23, 18)) == "outside working hours"


def test_half_past_five_is_the_last_slot_of_the_day():
    assert problem(at(23, 17, 30)) is None


def test_a_start_between_boundaries_is_refused():
    assert problem(at(23, 11, 15)) == "not on a slot boundary"


def test_independence_day_is_a_kazakhstan_public_holiday_and_refused():
    assert "Independence" in holidays.country_holidays("KZ", years=2026)[date(2026, 12, 16)]
    assert problem(at(16, 11, month=12)) == "public holiday"
    assert problem(at(15, 11, month=12)) is None


def test_a_moment_before_now_is_in_the_past():
    assert problem(at(20, 11)) == "in the past"


def test_a_slot_closer_than_the_minimum_lead_is_too_soon():
    assert problem(at(20, 12, 30)) == "too soon"
    assert problem(at(20, 13)) is None


def test_a_slot_at_capacity_is_full():
    assert problem(at(23, 11), taken={at(23, 11): 1}) == "slot full"
    assert problem(at(23, 11, 30), taken={at(23, 11): 1}) is None


def test_capacity_two_allows_a_second_call_in_a_slot():
    rules = BookingRules(tz=ASTANA, start_hour=10, end_hour=18, slot_minutes=30, min_lead_minutes=60, capacity=2)
    assert slot_problem(at(23, 11), rules=rules, now=FRIDAY_NOON, taken={at(23, 11): 1}) is None
    assert slot_problem(at(23, 11), rules=rules, now=FRIDAY_NOON, taken={at(23, 11): 2}) == "slot full"


def test_an_offset_is_honoured_and_astana_is_utc_plus_five():
    start = parse_start("2026-11-23T05:00:00+00:00", ASTANA)
    assert start.astimezone(ASTANA).hour == 10
    assert problem(start) is None
    assert parse_start("2026-11-23T05:00:00Z", ASTANA) == at(23, 10)


def test_a_start_without_an_offset_is_astana_time():
    assert parse_start("2026-11-23T11:00", ASTANA) == at(23, 11)
    assert parse_start("2026-11-23 11:00:00", ASTANA).utcoffset() == timedelta(hours=5)


@pytest.mark.parametrize("value", ["завтра в 11", "", "2026-11-23", "2026-13-40T11:00", "11:00"])
def test_garbage_or_a_date_without_time_is_a_clear_value_error(value):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_start(value, ASTANA)


def test_free_slots_skip_the_weekend_and_full_slots():
    slots = free_slots(rules=RULES, now=FRIDAY_NOON, taken={at(23, 10): 1}, after=at(21, 10))
    assert slots == [at(23, 10, 30), at(23, 11), at(23, 11, 30)]


def test_free_slots_after_a_late_friday_start_on_monday_morning():
    now = at(20, 17)
    assert free_slots(rules=RULES, now=now, taken={}, after=now, limit=1) == [at(23, 10)]


def test_free_slots_skip_a_public_holiday():
    now = at(15, 17, month=12)
    assert free_slots(rules=RULES, now=now, taken={}, after=now, limit=1) == [at(17, 10, month=12)]


def test_nearest_free_slots_to_1745_are_the_last_ones_that_day():
    slots = nearest_free_slots(rules=RULES, now=FRIDAY_NOON, taken={}, around=at(23, 17, 45))
    assert slots == [at(23, 16, 30), at(23, 17), at(23, 17, 30)]
    assert all(problem(slot) is None for slot in slots)


# --- services -----------------------------------------------------------------------------

NOW = FRIDAY_NOON.astimezone(UTC)


@pytest.fixture
def booking_settings(settings):
    settings.TIME_ZONE = "Asia/Almaty"
    settings.WORKING_HOURS_START, settings.WORKING_HOURS_END = 10, 18
    settings.CALL_SLOT_MINUTES, settings.CALL_MIN_LEAD_MINUTES, settings.MANAGER_CAPACITY = 30, 60, 1
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    return settings


def manager_messages():
    return Message.objects.filter(contact__phone="77019990011")


@pytest.mark.django_db
def test_a_booking_creates_the_call_confirmation_notice_reminders_and_stops_followups(booking_settings):
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
    [notice] = manager_messages()
    assert "24.11 в 11:00" in notice.text
    assert "Подключение тарифа" in notice.text
    followup = FollowUp.objects.get(contact=contact)
    assert (followup.is_completed, followup.stop_reason) == (True, "client_said_yes")
    reminders = CallReminder.objects.filter(call=call)
    assert sorted(r.audience for r in reminders) == ["client", "manager"]
    assert {r.due_at for r in reminders} == {call.scheduled_at - timedelta(hours=1)}


@pytest.mark.django_db
def test_an_invalid_request_returns_the_problem_and_valid_alternatives(booking_settings):
    contact = ContactFactory()
    result = call_book(contact=contact, start_text="2026-11-28T11:00:00+05:00", topic="цены", now=NOW)
    assert result["ok"] is False
    assert result["error"] == "weekend"
    assert 1 <= len(result["alternatives"]) <= 3
    for alternative in result["alternatives"]:
        assert problem(datetime.fromisoformat(alternative)) is None
    assert not ScheduledCall.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_unparseable_start_is_refused_with_alternatives(booking_settings):
    result = call_book(contact=ContactFactory(), start_text="завтра после обеда", topic="", now=NOW)
    assert result["ok"] is False
    assert "ISO 8601" in result["error"]
    assert len(result["alternatives"]) == 3


@pytest.mark.django_db
def test_a_full_slot_is_refused_and_alternatives_avoid_it(booking_settings):
    ScheduledCallFactory(scheduled_at=at(23, 11))
    result = call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=NOW)
    assert result["error"] == "slot full"
    assert "2026-11-23T11:00:00+05:00" not in result["alternatives"]
    assert "2026-11-23T11:30:00+05:00" in result["alternatives"]


@pytest.mark.django_db
def test_a_cancelled_call_frees_its_slot(booking_settings):
    ScheduledCallFactory(scheduled_at=at(23, 11), status=ScheduledCall.Status.CANCELLED)
    assert call_taken_counts(start=at(23, 0), end=at(24, 0)) == {}
    assert call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=NOW)["ok"] is True


@pytest.mark.django_db
def test_the_same_customer_cannot_hold_two_future_calls(booking_settings):
    contact = ContactFactory()
    assert call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)["ok"] is True
    second = call_book(contact=contact, start_text="2026-11-24T11:00", topic="", now=NOW)
    assert second["ok"] is False
    assert second["error"] == "already booked"
    assert second["scheduled_at"] == "2026-11-23T11:00:00+05:00"
    assert ScheduledCall.objects.filter(contact=contact).count() == 1


@pytest.mark.django_db
def test_a_past_call_does_not_block_a_new_booking(booking_settings):
    contact = ContactFactory()
    ScheduledCallFactory(contact=contact, scheduled_at=NOW - timedelta(days=1))
    assert call_book(contact=contact, start_text="2026-11-23T11:00", topic="", now=NOW)["ok"] is True


@pytest.mark.django_db
def test_no_reminder_is_created_when_its_time_has_passed(booking_settings):
    now = at(23, 10).astimezone(UTC)
    result = call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=now)
    assert result["ok"] is True
    assert not CallReminder.objects.exists()


@pytest.mark.django_db
def test_availability_lists_free_slots_of_a_day(booking_settings):
    ScheduledCallFactory(scheduled_at=at(23, 10))
    result = call_availability(date_text="2026-11-23", time_text=None, now=NOW)
    assert result == {
        "ok": True,
        "free": ["2026-11-23T10:30:00+05:00", "2026-11-23T11:00:00+05:00", "2026-11-23T11:30:00+05:00"],
    }


@pytest.mark.django_db
def test_availability_of_a_weekend_day_offers_the_next_working_day(booking_settings):
    result = call_availability(date_text="2026-11-28", time_text=None, now=NOW)
    assert result["ok"] is False
    assert result["error"] == "weekend"
    assert result["alternatives"][0] == "2026-11-30T10:00:00+05:00"


@pytest.mark.django_db
def test_availability_of_a_time_says_whether_it_is_free(booking_settings):
    free = call_availability(date_text="2026-11-23", time_text="11:00", now=NOW)
    assert free["ok"] is True
    assert free["free"][0] == "2026-11-23T11:00:00+05:00"
    late = call_availability(date_text="2026-11-23", time_text="18:00", now=NOW)
    assert (late["ok"], late["error"]) == (False, "outside working hours")
    assert "2026-11-23T17:30:00+05:00" in late["alternatives"]
    garbage = call_availability(date_text="23 ноября", time_text=None, now=NOW)
    assert garbage["ok"] is False
    assert "YYYY-MM-DD" in garbage["error"]


@pytest.mark.django_db
def test_due_reminders_are_sent_once_and_cancelled_calls_are_skipped(booking_settings):
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
    [manager_reminder] = manager_messages()
    assert "Созвон через час" in manager_reminder.text
    assert not Message.objects.filter(contact=dropped).exists()
    assert not CallReminder.objects.filter(call__contact=kept, sent_at__isnull=True).exists()


@pytest.mark.django_db
def test_an_operator_cancel_tells_the_client_and_drops_reminders(booking_settings):
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


@pytest.mark.django_db
def test_a_reschedule_moves_the_call_and_its_reminders_and_tells_the_client(booking_settings):
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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_customers_racing_for_the_last_place_in_a_slot_get_one_booking(booking_settings):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

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


@pytest.mark.django_db
def test_the_beat_task_sends_the_due_reminders(booking_settings):
    call_book(contact=ContactFactory(), start_text="2026-11-23T11:00", topic="", now=NOW)
    with time_machine.travel(at(23, 10, 5), tick=False):
        assert send_call_reminders.name == "contacts.send_call_reminders"
        assert send_call_reminders() == 2
        assert send_call_reminders() == 0


@pytest.mark.django_db
def test_an_operator_moves_a_call_in_the_admin_and_the_client_is_told(admin_client):
    import time_machine
    from django.urls import reverse

    from contacts.models import ScheduledCall
    from messaging.models import Message
    from tests.factories import ContactFactory

    with time_machine.travel("2026-11-23 09:00 +05:00", tick=False):  # Monday morning
        call = ScheduledCall.objects.create(
            contact=ContactFactory(), scheduled_at=datetime(2026, 11, 24, 11, 0, tzinfo=ASTANA), created_by="ai"
        )
        url = reverse("admin:contacts_scheduledcall_change", args=[call.pk])

        def move(day, time):
            return admin_client.post(
                url,
                {
                    "contact": call.contact_id,
                    "scheduled_at_0": day,
                    "scheduled_at_1": time,
                    "timezone": "Asia/Almaty",
                    "status": "scheduled",
                    "notes": "",
                    "created_by": "ai",
                },
            )

        saturday = move("28.11.2026", "11:00:00")
        assert saturday.status_code == 200
        assert "Нельзя назначить на это время: weekend" in saturday.content.decode()

        moved = move("25.11.2026", "15:00:00")
        assert moved.status_code == 302
        call.refresh_from_db()
        assert call.scheduled_at == datetime(2026, 11, 25, 15, 0, tzinfo=ASTANA)
        told = Message.objects.get(contact=call.contact, purpose="booking")
        assert "Перенесли ваш созвон" in told.text
