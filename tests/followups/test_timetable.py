"""The follow-up timetable (followups.timetable): when each of the five touches is due. Pure
functions, no database; the send window is tested in tests/messaging/test_window.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followups.timetable import touch_due_at

ALMATY = ZoneInfo("Asia/Almaty")
INTERVALS = [24, 72, 168, 336, 720]


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A local time in December 2026 (Mon 7, Fri 11, Sat 12, Mon 14, Wed 16 = Independence Day)."""
    return datetime(2026, month, day, hour, minute, tzinfo=ALMATY)


def test_touch_1_is_due_the_first_interval_after_the_bots_last_message():
    assert touch_due_at(touch_number=1, after=at(7, 11), intervals=INTERVALS) == at(8, 11)


@pytest.mark.parametrize(("touch", "hours"), [(2, 72), (3, 168), (4, 336), (5, 720)])
def test_touch_k_plus_1_is_due_interval_k_after_touch_k(touch, hours):
    assert touch_due_at(touch_number=touch, after=at(7, 11), intervals=INTERVALS) == at(7, 11) + timedelta(hours=hours)


def test_fractions_of_hours_are_honoured():
    due = touch_due_at(touch_number=2, after=at(7, 11), intervals=[0.5, 0.25, 1, 1, 1])
    assert due == at(7, 11, 15)


@pytest.mark.parametrize("touch", [0, 6])
def test_there_are_only_five_touches(touch):
    with pytest.raises(ValueError, match=r"not 1\.\.5"):
        touch_due_at(touch_number=touch, after=at(7, 11), intervals=INTERVALS)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        touch_due_at(touch_number=1, after=datetime(2026, 12, 7, 11), intervals=INTERVALS)  # noqa: DTZ001
