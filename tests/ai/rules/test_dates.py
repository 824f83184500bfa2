"""The day and time a customer names for a call, Russian and Kazakh, read against today's date."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ai.rules.dates import CallTime, call_time_parse, slot_human, slot_parse

THURSDAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("в пятницу в 11:00", CallTime(date(2026, 11, 27), time(11)), id="friday-at-11"),
        pytest.param("завтра после обеда", CallTime(date(2026, 11, 27), time(14), approximate=True), id="after-lunch"),
        pytest.param("послезавтра в 15", CallTime(date(2026, 11, 28), time(15)), id="day-after-tomorrow-at-15"),
        pytest.param("ертең сағат 11-де", CallTime(date(2026, 11, 27), time(11)), id="kazakh-tomorrow-at-11"),
        pytest.param("в понедельник в 3 часа дня", CallTime(date(2026, 11, 30), time(15)), id="3-pm"),
        pytest.param("Давайте 1 декабря в 10.30", CallTime(date(2026, 12, 1), time(10, 30)), id="a-date-in-words"),
        pytest.param("в четверг", CallTime(date(2026, 12, 3), None), id="today-s-weekday-is-next-week"),
        pytest.param("давайте в 12", CallTime(None, time(12)), id="a-time-alone"),
        pytest.param(
            "бүгін түстен кейін", CallTime(THURSDAY, time(14), approximate=True), id="kazakh-today-after-lunch"
        ),
    ],
)
def test_a_day_and_time_phrase_is_read_as_the_local_day_and_time(text, expected):
    assert call_time_parse(text, today=THURSDAY) == expected


@pytest.mark.parametrize(
    "text",
    ["Хочу созвониться", "Сколько стоит вода 19 л?", "", "Хочу обсудить аренду на 3 месяца", "нужно в 2 бутыли"],
)
def test_a_text_without_a_day_or_time_names_none(text):
    assert call_time_parse(text, today=THURSDAY) is None


def test_a_date_without_a_year_is_the_next_such_date():
    assert call_time_parse("05.01 в 11:00", today=date(2026, 12, 20)) == CallTime(date(2027, 1, 5), time(11))


def test_our_own_wording_of_a_slot_reads_back_as_that_slot():
    slot = datetime(2026, 11, 27, 11, 30, tzinfo=ZoneInfo("Asia/Almaty"))

    text = f"Ближайшее свободное время: {slot_human(slot)} (время Астаны). Записать Вас?"

    assert "пятница, 27.11 в 11:30" in text
    assert slot_parse(text, today=THURSDAY) == CallTime(date(2026, 11, 27), time(11, 30))
