"""Kazakhstan's public holidays: no working day for calls, no send day for proactive messages."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=16)
def _kz_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("KZ", years=year))


def is_public_holiday(day: date) -> bool:
    return day in _kz_holidays(day.year)
