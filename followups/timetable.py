"""The follow-up timetable and the send window: pure functions of their inputs (no database, no
clock, no settings; `SendWindow.from_settings()` is the one bridge to Django).

Touch 1 is due `intervals[0]` hours after the bot's last message; touch k+1 is due
`intervals[k]` hours after touch k went out. A touch goes out only inside the send window:
on the window's days, between `start_hour` and `end_hour` local time, never on a Kazakhstan
public holiday. A touch due outside the window moves to the next window opening plus a random
jitter of 0..`jitter_minutes` minutes, so a morning's touches do not all leave in one second.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from calls.booking import is_public_holiday

MAX_TOUCHES = 5
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far next_window_opening looks: a bound against a window that can never open (e.g. only
# holidays), not a business rule. A year always has a working day.
SEARCH_DAYS = 400


@dataclass(frozen=True)
class SendWindow:
    """When touches may go out: weekdays (0 = Monday), local hours [start_hour, end_hour)."""

    tz: ZoneInfo
    days: frozenset[int]
    start_hour: int
    end_hour: int
    jitter_minutes: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError(f"send window {self.start_hour}-{self.end_hour} is not within one day")
        if not self.days or not self.days <= set(range(7)):
            raise ValueError(f"send days {sorted(self.days)} must be weekday numbers 0-6")
        if not 0 <= self.jitter_minutes * 60 < (self.end_hour - self.start_hour) * 3600:
            raise ValueError("jitter must be shorter than the send window")

    @classmethod
    def of(
        cls, *, tz: str | ZoneInfo, days: Sequence[str], start_hour: int, end_hour: int, jitter_minutes: int = 0
    ) -> SendWindow:
        """A window from day names ("mon".."sun")."""
        return cls(
            tz=tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz),
            days=frozenset(WEEKDAYS.index(d.strip().lower()[:3]) for d in days),
            start_hour=start_hour,
            end_hour=end_hour,
            jitter_minutes=jitter_minutes,
        )

    @classmethod
    def from_settings(cls) -> SendWindow:
        from django.conf import settings

        return cls.of(
            tz=settings.TIME_ZONE,
            days=settings.FOLLOW_UP_SEND_DAYS,
            start_hour=settings.FOLLOW_UP_SEND_START,
            end_hour=settings.FOLLOW_UP_SEND_END,
            jitter_minutes=settings.FOLLOW_UP_JITTER_MINUTES,
        )

    def is_send_day(self, day: date) -> bool:
        return day.weekday() in self.days and not is_public_holiday(day)

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, time(self.start_hour), tzinfo=self.tz)

    def closing(self, day: date) -> datetime:
        # end_hour may be 24: the window closes at the next midnight.
        return self.opening(day) + timedelta(hours=self.end_hour - self.start_hour)


def touch_due_at(*, touch_number: int, after: datetime, intervals: Sequence[float]) -> datetime:
    """When touch `touch_number` (1..5) is due: `intervals[touch_number - 1]` hours after
    `after`, which is the bot's last message for touch 1 and touch k's send time for touch
    k+1. Fractions of hours are honoured to the second."""
    if not 1 <= touch_number <= MAX_TOUCHES:
        raise ValueError(f"touch number {touch_number} is not 1..{MAX_TOUCHES}")
    if len(intervals) < touch_number:
        raise ValueError(f"{len(intervals)} intervals given, touch {touch_number} needs its own")
    _aware(after)
    return after + timedelta(seconds=round(float(intervals[touch_number - 1]) * 3600))


def in_send_window(dt: datetime, *, window: SendWindow) -> bool:
    """True when a touch may go out at `dt`: a send day that is not a public holiday,
    `start_hour` <= local time < `end_hour` (19:00 itself is outside a 10-19 window)."""
    local = _aware(dt).astimezone(window.tz)
    return window.is_send_day(local.date()) and window.opening(local.date()) <= local < window.closing(local.date())


def next_window_opening(dt: datetime, *, window: SendWindow, rng: random.Random) -> datetime:
    """The first window opening strictly after `dt`, plus a jitter of 0..jitter_minutes drawn
    from `rng` (injected, so tests are exact). A touch over today's cap waits for tomorrow's
    opening; one due at 02:00 goes out this morning."""
    local = _aware(dt).astimezone(window.tz)
    day = local.date()
    for _ in range(SEARCH_DAYS):
        if window.is_send_day(day) and window.opening(day) > local:
            jitter = timedelta(seconds=rng.uniform(0, window.jitter_minutes * 60)) if window.jitter_minutes else None
            return window.opening(day) + jitter if jitter else window.opening(day)
        day += timedelta(days=1)
    raise ValueError(f"no send window opens within {SEARCH_DAYS} days of {local.isoformat()}")


def send_time(dt: datetime, *, window: SendWindow, rng: random.Random) -> datetime:
    """`dt` itself when it is inside the window, else the next window opening (with jitter)."""
    return dt if in_send_window(dt, window=window) else next_window_opening(dt, window=window, rng=rng)


def defer_for_gap(dt: datetime, *, last_outbound_at: datetime | None, min_gap_hours: float) -> datetime:
    """The earliest moment at or after `dt` that is at least `min_gap_hours` after our last
    outbound message to the contact (any purpose). `dt` itself when the gap is kept."""
    _aware(dt)
    if last_outbound_at is None or min_gap_hours <= 0:
        return dt
    return max(dt, _aware(last_outbound_at) + timedelta(seconds=round(min_gap_hours * 3600)))


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: the timetable needs aware datetimes")
    return dt
