"""Working time: Monday to Friday, [start_hour, end_hour) local time, never on a Kazakhstan public
holiday. Pure functions of their inputs (no database, no clock), for deadlines counted in working
minutes (a hand-off's answer is due within HANDOFF_ANSWER_MINUTES of them)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from project.lib.kz_calendar import is_public_holiday

# A bound against hours that can never be worked, not a business rule: a year has working days.
SEARCH_DAYS = 400


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_public_holiday(day)


def add_working_minutes(start: datetime, minutes: float, *, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime:
    """The moment `minutes` working minutes after `start` (aware). Time outside working hours does
    not count: a hand-off opened on Friday evening is due on Monday morning. Returns an aware
    datetime in `tz`."""
    if not 0 <= start_hour < end_hour <= 24:
        raise ValueError(f"working hours {start_hour}-{end_hour} are not within one day")
    left = timedelta(minutes=max(0.0, minutes))
    moment = start.astimezone(tz)
    for _ in range(SEARCH_DAYS):
        day = moment.date()
        opens = datetime.combine(day, time(start_hour), tzinfo=tz)
        closes = opens + timedelta(hours=end_hour - start_hour)
        if is_working_day(day) and moment < closes:
            moment = max(moment, opens)
            if moment + left <= closes:
                return moment + left
            left -= closes - moment
        moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    raise ValueError("no working time within a year")
