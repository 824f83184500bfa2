"""The send window for messages we start ourselves: pure functions of their inputs (no database,
no clock; `SendWindow.from_settings()` is the one bridge to Django).

A proactive message goes out only inside the send window: on the window's days, between
`start_hour` and `end_hour` local time, never on a Kazakhstan public holiday. One due outside the
window moves to the next window opening plus a random jitter of 0..`jitter_minutes` minutes, so a
morning's messages do not all leave in one second.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from project.lib.kz_calendar import is_public_holiday
from project.lib.settings_parsing import parse_weekdays

# How far next_window_opening looks: a bound against a window that can never open (e.g. only
# holidays), not a business rule. A year always has a working day.
SEARCH_DAYS = 400


@dataclass(frozen=True)
class SendWindow:
    """When proactive messages may go out: weekdays (0 = Monday), local hours [start_hour, end_hour)."""

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
        cls,
        *,
        tz: str | ZoneInfo,
        days: str | Sequence[str],
        start_hour: int,
        end_hour: int,
        jitter_minutes: int = 0,
        days_name: str = "days",
    ) -> SendWindow:
        """A window from days as an operator writes them ("mon-fri", ["mon", "wed"], "пн-пт": see
        project.lib.settings_parsing.parse_weekdays); other days raise InvalidSetting (a ValueError)
        naming `days_name`."""
        return cls(
            tz=tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz),
            days=frozenset(parse_weekdays(days, name=days_name)),
            start_hour=start_hour,
            end_hour=end_hour,
            jitter_minutes=jitter_minutes,
        )

    @classmethod
    def from_settings(cls) -> SendWindow:
        return cls.of(
            tz=settings.TIME_ZONE,
            days=settings.FOLLOW_UP_SEND_DAYS,
            start_hour=settings.FOLLOW_UP_SEND_START,
            end_hour=settings.FOLLOW_UP_SEND_END,
            jitter_minutes=settings.FOLLOW_UP_JITTER_MINUTES,
            days_name="FOLLOW_UP_SEND_DAYS",
        )

    def is_send_day(self, day: date) -> bool:
        return day.weekday() in self.days and not is_public_holiday(day)

    def opening(self, day: date) -> datetime:
        return datetime.combine(day, time(self.start_hour), tzinfo=self.tz)

    def closing(self, day: date) -> datetime:
        # end_hour may be 24: the window closes at the next midnight.
        return self.opening(day) + timedelta(hours=self.end_hour - self.start_hour)

    def day_start(self, dt: datetime) -> datetime:
        """Local midnight of `dt`'s day: where a day's cap of proactive messages starts counting."""
        return datetime.combine(aware(dt).astimezone(self.tz).date(), time(0), tzinfo=self.tz)


def in_send_window(dt: datetime, *, window: SendWindow) -> bool:
    """True when a proactive message may go out at `dt`: a send day that is not a public holiday,
    `start_hour` <= local time < `end_hour` (19:00 itself is outside a 10-19 window)."""
    local = aware(dt).astimezone(window.tz)
    return window.is_send_day(local.date()) and window.opening(local.date()) <= local < window.closing(local.date())


def next_window_opening(dt: datetime, *, window: SendWindow, rng: random.Random) -> datetime:
    """The first window opening strictly after `dt`, plus a jitter of 0..jitter_minutes drawn
    from `rng` (injected, so tests are exact). A message over today's cap waits for tomorrow's
    opening; one due at 02:00 goes out this morning."""
    local = aware(dt).astimezone(window.tz)
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
    outbound message to the contact. `dt` itself when the gap is kept."""
    aware(dt)
    if last_outbound_at is None or min_gap_hours <= 0:
        return dt
    return max(dt, aware(last_outbound_at) + timedelta(seconds=round(min_gap_hours * 3600)))


def aware(dt: datetime) -> datetime:
    """`dt`, or ValueError when it is naive: the window's arithmetic needs aware datetimes."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: the send window needs aware datetimes")
    return dt
