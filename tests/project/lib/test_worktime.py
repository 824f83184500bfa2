"""Deadlines in working minutes (project.lib.worktime): pure, no database, no clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from project.lib.worktime import add_working_minutes

ALMATY = ZoneInfo("Asia/Almaty")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ALMATY)


def due(start: datetime, minutes: float) -> datetime:
    return add_working_minutes(start, minutes, tz=ALMATY, start_hour=10, end_hour=18)


def test_inside_working_hours_the_minutes_are_clock_minutes():
    assert due(at(25, 11), 15) == at(25, 11, 15)  # Wednesday


def test_a_hand_off_before_opening_counts_from_the_opening():
    assert due(at(25, 7, 30), 15) == at(25, 10, 15)


def test_friday_evening_runs_on_into_monday_morning():
    assert due(at(27, 17, 50), 15) == at(30, 10, 5)


def test_a_public_holiday_is_not_worked():
    # 16 December is Independence Day in Kazakhstan (a Wednesday in 2026).
    assert due(at(15, 17, 55, month=12), 15) == at(17, 10, 10, month=12)


def test_an_utc_start_is_read_in_the_business_time_zone():
    start = datetime(2026, 11, 25, 6, 0, tzinfo=ZoneInfo("UTC"))  # 11:00 in Almaty
    assert due(start, 30) == at(25, 11, 30)


def test_hours_that_are_not_within_one_day_are_refused():
    with pytest.raises(ValueError, match="not within one day"):
        add_working_minutes(at(25, 11), 15, tz=ALMATY, start_hour=18, end_hour=10)
