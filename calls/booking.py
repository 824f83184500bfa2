"""Booking rules for calls with a manager: pure functions of their inputs (no database, no clock).

A slot is `slot_minutes` long and starts on a boundary counted from `start_hour`; the whole slot
must fit inside the working window, Monday to Friday in the business's time zone, outside
Kazakhstan's public holidays, at least `min_lead_minutes` from `now` and on a day at most
`horizon_days` after today, with fewer than `capacity` calls already in it. `taken` maps a
slot's start (an aware datetime) to how many calls it holds.

A time given as text (`parse_start`) is the business's wall clock: the model copies the time the
customer named, so an offset it adds is dropped, never converted (`+06:00`, Almaty's offset
before March 2024, would otherwise book an hour early).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from project.lib.kz_calendar import is_public_holiday

IN_THE_PAST = "in the past"
TOO_SOON = "too soon"
WEEKEND = "weekend"
PUBLIC_HOLIDAY = "public holiday"
OUTSIDE_WORKING_HOURS = "outside working hours"
NOT_ON_SLOT_BOUNDARY = "not on a slot boundary"
SLOT_FULL = "slot full"
TOO_FAR_AHEAD = "too far ahead"

SEARCH_DAYS = 30  # how far free_slots looks ahead: a bound, not a business rule


@dataclass(frozen=True)
class BookingRules:
    tz: ZoneInfo
    start_hour: int
    end_hour: int
    slot_minutes: int = 30
    min_lead_minutes: int = 60
    capacity: int = 1
    horizon_days: int = 60

    @classmethod
    def from_settings(cls) -> BookingRules:
        return cls(
            tz=ZoneInfo(settings.TIME_ZONE),
            start_hour=settings.WORKING_HOURS_START,
            end_hour=settings.WORKING_HOURS_END,
            slot_minutes=getattr(settings, "CALL_SLOT_MINUTES", 30),
            min_lead_minutes=getattr(settings, "CALL_MIN_LEAD_MINUTES", 60),
            capacity=getattr(settings, "MANAGER_CAPACITY", 1),
            horizon_days=getattr(settings, "CALL_BOOKING_HORIZON_DAYS", 60),
        )

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    def latest_day(self, now: datetime) -> date:
        """The last local day a call may be booked on (`horizon_days` after today)."""
        return now.astimezone(self.tz).date() + timedelta(days=self.horizon_days)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_public_holiday(day)


def parse_start(value: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 date and time (`2026-11-23T11:00`, `2026-11-23 11:00+05:00`, `...Z`) read as the
    wall clock in `tz`: an offset, whatever it says, is dropped (the time is the one the customer
    named; see the module's note). Anything else raises ValueError."""
    text = str(value or "").strip()
    try:
        if len(text) < 16:  # a date alone parses as midnight, which nobody means
            raise ValueError
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid start {text[:40]!r}: expected ISO 8601 date and time, e.g. 2026-11-23T11:00:00+05:00"
        ) from None
    return parsed.replace(tzinfo=tz)


def slot_problem(start: datetime, *, rules: BookingRules, now: datetime, taken: Mapping[datetime, int]) -> str | None:
    """None when `start` is a bookable slot, otherwise the first rule it breaks."""
    local = start.astimezone(rules.tz)
    if start < now:
        return IN_THE_PAST
    if start < now + timedelta(minutes=rules.min_lead_minutes):
        return TOO_SOON
    if local.date() > rules.latest_day(now):
        return TOO_FAR_AHEAD
    if local.weekday() >= 5:
        return WEEKEND
    if is_public_holiday(local.date()):
        return PUBLIC_HOLIDAY
    window_start = datetime.combine(local.date(), time(rules.start_hour), tzinfo=rules.tz)
    window_end = window_start + timedelta(hours=rules.end_hour - rules.start_hour)
    if local < window_start or local + rules.slot > window_end:
        return OUTSIDE_WORKING_HOURS
    if (local - window_start) % rules.slot:
        return NOT_ON_SLOT_BOUNDARY
    if taken.get(start, 0) >= rules.capacity:
        return SLOT_FULL
    return None


def day_slots(day: date, *, rules: BookingRules) -> list[datetime]:
    """Every slot start of a day's working window (whether or not the day is a working day)."""
    start = datetime.combine(day, time(rules.start_hour), tzinfo=rules.tz)
    count = (rules.end_hour - rules.start_hour) * 60 // rules.slot_minutes
    return [start + i * rules.slot for i in range(count)]


def free_slots(
    *, rules: BookingRules, now: datetime, taken: Mapping[datetime, int], after: datetime, limit: int = 3
) -> list[datetime]:
    """The first `limit` bookable slots starting at or after `after`, within SEARCH_DAYS and the
    booking horizon."""
    found: list[datetime] = []
    first_day = after.astimezone(rules.tz).date()
    for offset in range(SEARCH_DAYS + 1):
        if first_day > rules.latest_day(now) - timedelta(days=offset):
            break  # past the booking horizon: nothing more to offer
        day = first_day + timedelta(days=offset)
        if not is_working_day(day):
            continue
        for start in day_slots(day, rules=rules):
            if start >= after and slot_problem(start, rules=rules, now=now, taken=taken) is None:
                found.append(start)
                if len(found) >= limit:
                    return found
    return found


def nearest_free_slots(
    *, rules: BookingRules, now: datetime, taken: Mapping[datetime, int], around: datetime, limit: int = 3
) -> list[datetime]:
    """The `limit` bookable slots closest to `around` (earlier the same day or later), in time order."""
    local_day_start = datetime.combine(around.astimezone(rules.tz).date(), time(0), tzinfo=rules.tz)
    per_day = (rules.end_hour - rules.start_hour) * 60 // rules.slot_minutes
    candidates = free_slots(
        rules=rules, now=now, taken=taken, after=max(local_day_start, now), limit=2 * per_day + limit
    )
    return sorted(sorted(candidates, key=lambda slot: abs(slot - around))[:limit])
