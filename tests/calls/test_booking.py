"""Booking rules (calls.booking): working days and hours in Astana time, Kazakhstan's holidays,
the minimum lead, a slot's capacity, and the free slots offered. Pure functions, no database;
the call services are tested in tests/calls/test_services.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from calls.booking import BookingRules, free_slots, nearest_free_slots, parse_start, slot_problem

ASTANA = ZoneInfo("Asia/Almaty")
RULES = BookingRules(tz=ASTANA, start_hour=10, end_hour=18, slot_minutes=30, min_lead_minutes=60, capacity=1)
FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=ASTANA)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ASTANA)


def problem(start: datetime, *, now: datetime = FRIDAY_NOON, taken=None) -> str | None:
    return slot_problem(start, rules=RULES, now=now, taken=taken or {})


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


def test_an_offset_is_dropped_the_time_is_the_astana_wall_clock_the_customer_named():
    # The model copies the customer's local time: "+06:00" is Almaty's offset before March 2024,
    # read as an instant it would book an hour early.
    assert parse_start("2026-11-23T11:00:00+06:00", ASTANA) == at(23, 11)
    assert parse_start("2026-11-23T11:00+05:00", ASTANA) == at(23, 11)
    assert parse_start("2026-11-23T11:00:00Z", ASTANA) == at(23, 11)
    assert parse_start("2026-11-23T11:00:00+06:00", ASTANA).utcoffset() == timedelta(hours=5)


def test_a_start_without_an_offset_is_astana_time():
    assert parse_start("2026-11-23T11:00", ASTANA) == at(23, 11)
    assert parse_start("2026-11-23 11:00:00", ASTANA).utcoffset() == timedelta(hours=5)


def test_a_start_past_the_booking_horizon_is_too_far_ahead():
    # 60 days from Friday 20.11.2026 is Tuesday 19.01.2027: bookable; the day after is not.
    assert problem(datetime(2027, 1, 19, 11, 0, tzinfo=ASTANA)) is None
    assert problem(datetime(2027, 1, 20, 11, 0, tzinfo=ASTANA)) == "too far ahead"
    assert problem(parse_start("9999-12-31T10:00+05:00", ASTANA)) == "too far ahead"
    short = BookingRules(tz=ASTANA, start_hour=10, end_hour=18, horizon_days=3)
    assert slot_problem(at(24, 11), rules=short, now=FRIDAY_NOON, taken={}) == "too far ahead"


def test_free_slots_never_offer_a_slot_past_the_horizon():
    short = BookingRules(tz=ASTANA, start_hour=10, end_hour=18, horizon_days=3)
    slots = free_slots(rules=short, now=FRIDAY_NOON, taken={}, after=FRIDAY_NOON, limit=100)
    assert slots
    assert max(slots).date() == date(2026, 11, 23)  # Monday; Tuesday is the 4th day


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
