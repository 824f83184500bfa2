"""Local time as the assistant and its messages say it (the business's time zone, Russian)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

_WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")


def local_now_text(now: datetime) -> str:
    local = timezone.localtime(now)
    return f"{_WEEKDAYS[local.weekday()]}, {local:%d.%m.%Y %H:%M}"
