"""When a customer wants the call: Russian and Kazakh day and time phrases ("в пятницу в 11:00",
"завтра после обеда", "послезавтра в 15", "ертең сағат 11-де") read into a local day and time.

Pure: text and today's local date in, values out (no clock, no database). Whether the moment is a
bookable slot (working hours, holidays, the nearest free one) is calls.booking's decision, asked
through the `check_availability` tool; this module only reads what the customer said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

__all__ = ["CallTime", "call_time_parse", "slot_human", "slot_parse"]

WEEKDAYS_RU = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
# Stems of weekday names in Russian (any case: "в пятницу", "в среду") and Kazakh.
_WEEKDAY_STEMS: tuple[tuple[int, str], ...] = (
    (0, r"понедельник\w*|дүйсенбі\w*|пн"),
    (1, r"вторник\w*|сейсенбі\w*|вт"),
    (2, r"сред[аыу]|сәрсенбі\w*|ср"),
    (3, r"четверг\w*|бейсенбі\w*|чт"),
    (4, r"пятниц[аыу]|жұма\w*|пт"),
    (5, r"суббот[аыу]|сенбі\w*|сб"),
    (6, r"воскресень[еяю]|жексенбі\w*|вс"),
)
_RELATIVE: tuple[tuple[int, str], ...] = (
    (2, r"послезавтра|бүрсігүні\w*|арғы\s+күні"),
    (1, r"завтра|ертең\w*"),
    (0, r"сегодня|бүгін\w*"),
)
_MONTHS = (
    "январ",
    "феврал",
    "март",
    "апрел",
    "ма[йя]",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
)
# A part of the day instead of a time: the first slot from this hour is meant.
_PARTS: tuple[tuple[int, str], ...] = (
    (14, r"после\s+обеда|во\s+второй\s+половине\s+дня|түстен\s+кейін"),
    (10, r"до\s+обеда|с\s+утра|утром|в\s+первой\s+половине\s+дня|таңертең|түске\s+дейін"),
    (16, r"вечером|ближе\s+к\s+вечеру|кешке|кешкісін"),
    (12, r"в\s+обед|днем|днём|түсте"),
)

_B = r"(?<![\w-])"
_E = r"(?![\w])"
_WEEKDAY = [(n, re.compile(rf"{_B}(?:{stem}){_E}", re.IGNORECASE)) for n, stem in _WEEKDAY_STEMS]
_REL = [(n, re.compile(rf"{_B}(?:{stem}){_E}", re.IGNORECASE)) for n, stem in _RELATIVE]
_PART = [(h, re.compile(pattern, re.IGNORECASE)) for h, pattern in _PARTS]
_NUMERIC_DATE = re.compile(rf"{_B}(\d{{1,2}})\.(\d{{1,2}})(?:\.(\d{{2,4}}))?{_E}")
_TIME_BEFORE = re.compile(r"(?:^|\s)(?:в|к|на|около|с)\s*$")
_WORD_DATE = re.compile(rf"{_B}(\d{{1,2}})\s+({'|'.join(_MONTHS)})\w*", re.IGNORECASE)
# "11:00", "11.30", "в 11", "к 15", "на 10", "сағат 11", "11-де" / "15-те", "в 3 часа дня".
_CLOCK = re.compile(r"(?<![\d.:])([01]?\d|2[0-3])[:.]([0-5]\d)(?![\d.:])")
# Words after a number that make it a count, not an hour ("на 3 месяца", "в 2 бутыли").
_NOT_TIME = r"мес|шт|бутыл|лет|год|недел|раз|человек|л\b|литр|кг|тенге|тг|₸|%|уп|кулер|помп"
_HOUR = re.compile(
    r"(?:(?<![\w-])(?:в|во|к|на|около|сағат|саг)\s+([01]?\d|2[0-3])(?![\d.:,])(?!\s*(?:"
    rf"{_NOT_TIME}"
    r"))"
    r"|(?<![\d.:])([01]?\d|2[0-3])\s*-?\s*(?:де|да|те|та)(?!\w))"
    r"(?:\s*(?:час\w*|сағат))?(?:\s+(утра|дня|вечера))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CallTime:
    """What the customer named: a local day and a time; `approximate` when it was a part of the
    day ("после обеда"), so the first free slot from that hour fits as well as that very time."""

    day: date | None
    at: time | None
    approximate: bool = False

    @property
    def complete(self) -> bool:
        return self.day is not None and self.at is not None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").lower().replace("ё", "е")).strip()


def _day(text: str, today: date) -> date | None:
    for offset, pattern in _REL:
        if pattern.search(text):
            return today + timedelta(days=offset)
    for match in _NUMERIC_DATE.finditer(text):
        if _TIME_BEFORE.search(text[: match.start()]):
            continue  # "в 10.30" is a time
        found = _date_from(int(match.group(1)), int(match.group(2)), match.group(3), today)
        if found is not None:
            return found
    match = _WORD_DATE.search(text)
    if match:
        month = next(i for i, stem in enumerate(_MONTHS, 1) if re.match(stem, match.group(2), re.IGNORECASE))
        return _date_from(int(match.group(1)), month, None, today)
    for weekday, pattern in _WEEKDAY:
        if pattern.search(text):
            # The coming one: today's weekday means next week ("в пятницу" said on a Friday).
            ahead = (weekday - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    return None


def _date_from(day: int, month: int, year: str | None, today: date) -> date | None:
    try:
        if year:
            full = int(year) + (2000 if len(year) == 2 else 0)
            return date(full, month, day)
        candidate = date(today.year, month, day)
        # Without a year the next such date is meant: "05.01" in December is next January.
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def _time(text: str) -> tuple[time | None, bool]:
    match = _CLOCK.search(text)
    if match:
        return time(int(match.group(1)), int(match.group(2))), False
    match = _HOUR.search(text)
    if match:
        hour = int(match.group(1) or match.group(2))
        part = match.group(3)
        # Office hours: "в 3" or "в 3 часа дня" is 15:00; "в 8 утра" stays 8:00.
        if (part in ("дня", "вечера") or (part is None and 1 <= hour <= 7)) and hour < 12:
            hour += 12
        return time(hour), False
    for hour, pattern in _PART:
        if pattern.search(text):
            return time(hour), True
    return None, False


def _without_dates(text: str) -> str:
    """The text with its dates taken out, so "05.01" is not read as 05:01."""
    text = _WORD_DATE.sub(" ", text)
    return _NUMERIC_DATE.sub(lambda m: m.group(0) if _TIME_BEFORE.search(text[: m.start()]) else " ", text)


def call_time_parse(text: str, *, today: date) -> CallTime | None:
    """The day and time a customer's text names, relative to `today` (the business's local
    date); None when it names neither. A time without a day leaves `day` None (the caller may
    know it from the conversation); a day without a time leaves `at` None."""
    text = _norm(text)
    day = _day(text, today)
    at, approximate = _time(_without_dates(text))
    if day is None and at is None:
        return None
    return CallTime(day=day, at=at, approximate=approximate)


# Our own wording of a slot, as the booking confirmation writes it: "пятница, 04.12 в 11:00".
_SLOT_IN_TEXT = re.compile(r"(\d{2})\.(\d{2}) в (\d{2}):(\d{2})")


def slot_human(moment: datetime) -> str:
    """A slot (aware, in the business's time zone) as the customer reads it: "пятница, 04.12 в 11:00"."""
    return f"{WEEKDAYS_RU[moment.weekday()]}, {moment:%d.%m} в {moment:%H:%M}"


def slot_parse(text: str, *, today: date) -> CallTime | None:
    """The first slot our own text offered ("..., 04.12 в 11:00"), read back; None without one."""
    match = _SLOT_IN_TEXT.search(text or "")
    if match is None:
        return None
    day = _date_from(int(match.group(1)), int(match.group(2)), None, today)
    return CallTime(day=day, at=time(int(match.group(3)), int(match.group(4)))) if day else None
