"""The send window (messaging.window): working days 10:00-19:00 in Almaty without holidays, the
next opening with its jitter, and the minimum gap after our last message. Pure functions, no
database."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from messaging.window import SendWindow, defer_for_gap, in_send_window, next_window_opening, send_time

ALMATY = ZoneInfo("Asia/Almaty")
WINDOW = SendWindow.of(tz=ALMATY, days=["mon", "tue", "wed", "thu", "fri"], start_hour=10, end_hour=19)
JITTERED = SendWindow.of(
    tz=ALMATY, days=["mon", "tue", "wed", "thu", "fri"], start_hour=10, end_hour=19, jitter_minutes=7
)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A local time in December 2026 (Mon 7, Fri 11, Sat 12, Mon 14, Wed 16 = Independence Day)."""
    return datetime(2026, month, day, hour, minute, tzinfo=ALMATY)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (at(7, 9, 59), False),
        (at(7, 10, 0), True),
        (at(7, 18, 59), True),
        (at(7, 19, 0), False),  # the end hour itself is outside
        (at(7, 2, 0), False),
        (at(12, 12, 0), False),  # Saturday
        (at(13, 12, 0), False),  # Sunday
        (at(16, 12, 0), False),  # 16 December, Independence Day
        (at(17, 12, 0), True),
    ],
)
def test_the_send_window_is_working_days_10_to_19_without_holidays(moment, inside):
    assert in_send_window(moment, window=WINDOW) is inside


def test_the_window_is_read_in_local_time_whatever_the_zone_of_the_moment():
    # 05:30 UTC is 10:30 in Almaty (UTC+5).
    assert in_send_window(datetime(2026, 12, 7, 5, 30, tzinfo=ZoneInfo("UTC")), window=WINDOW)
    assert not in_send_window(datetime(2026, 12, 7, 4, 30, tzinfo=ZoneInfo("UTC")), window=WINDOW)


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (at(8, 2, 0), at(8, 10)),  # 02:00 on a Tuesday: this morning
        (at(7, 19, 0), at(8, 10)),  # 19:00 edge: tomorrow
        (at(11, 19, 30), at(14, 10)),  # Friday evening: Monday
        (at(12, 12, 0), at(14, 10)),  # Saturday: Monday
        (at(15, 20, 0), at(17, 10)),  # Tuesday evening before the 16 December holiday: Thursday
        (at(16, 9, 0), at(17, 10)),  # the holiday itself
        (at(7, 14, 0), at(8, 10)),  # inside the window: the next opening is tomorrow's (the cap waits)
        (at(31, 20, 0), datetime(2027, 1, 5, 10, tzinfo=ALMATY)),  # New Year and its observed Monday
    ],
)
def test_next_window_opening(moment, opening):
    assert next_window_opening(moment, window=WINDOW, rng=random.Random(1)) == opening


def test_send_time_keeps_a_moment_inside_the_window_and_moves_one_outside():
    assert send_time(at(7, 14), window=WINDOW, rng=random.Random(1)) == at(7, 14)
    assert send_time(at(12, 2), window=WINDOW, rng=random.Random(1)) == at(14, 10)


def test_jitter_stays_within_0_and_7_minutes_and_varies():
    rng = random.Random(42)
    openings = [next_window_opening(at(8, 2), window=JITTERED, rng=rng) for _ in range(500)]
    offsets = [(o - at(8, 10)).total_seconds() for o in openings]
    assert min(offsets) >= 0
    assert max(offsets) <= 7 * 60
    assert max(offsets) - min(offsets) > 5 * 60  # spread over the window, not one instant
    assert all(in_send_window(o, window=JITTERED) for o in openings)


def test_the_same_seed_gives_the_same_time():
    first = next_window_opening(at(12, 3), window=JITTERED, rng=random.Random(7))
    assert first == next_window_opening(at(12, 3), window=JITTERED, rng=random.Random(7))
    assert at(14, 10) <= first <= at(14, 10, 7)


def test_a_touch_is_never_scheduled_at_night_whatever_the_hour():
    rng = random.Random(3)
    start = at(7, 0)
    for hour in range(24 * 14):
        moment = send_time(start + timedelta(hours=hour, minutes=13), window=JITTERED, rng=rng)
        local = moment.astimezone(ALMATY)
        assert 10 <= local.hour < 19, moment
        assert local.weekday() < 5


def test_the_minimum_gap_defers_to_20_hours_after_our_last_message():
    last = at(7, 15)
    assert defer_for_gap(at(8, 10), last_outbound_at=last, min_gap_hours=20) == at(8, 11)
    assert defer_for_gap(at(8, 12), last_outbound_at=last, min_gap_hours=20) == at(8, 12)
    assert defer_for_gap(at(8, 10), last_outbound_at=None, min_gap_hours=20) == at(8, 10)


def test_a_window_that_cannot_work_is_refused():
    with pytest.raises(ValueError, match="not within one day"):
        SendWindow.of(tz=ALMATY, days=["mon"], start_hour=19, end_hour=10)
    with pytest.raises(ValueError, match="jitter"):
        SendWindow.of(tz=ALMATY, days=["mon"], start_hour=10, end_hour=11, jitter_minutes=60)
