"""`manage.py check` reports a setting whose value the product cannot use, also when it was changed
after start-up (an override in a test, a settings module that assigns it)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from messaging.window import SendWindow
from project.checks import settings_problems


def test_check_reports_send_days_set_at_runtime_to_a_day_that_does_not_exist(settings):
    settings.FOLLOW_UP_SEND_DAYS = ["mon", "sux"]

    with pytest.raises(SystemCheckError, match=r"FOLLOW_UP_SEND_DAYS: .* is not a day list; write e\.g\. mon-fri"):
        call_command("check")


def test_the_settings_the_tests_run_with_pass_the_check():
    assert settings_problems() == []


def test_send_days_changed_at_runtime_are_read_as_an_operator_writes_them(settings):
    settings.FOLLOW_UP_SEND_DAYS = ["пн-пт", "sun"]

    assert settings_problems() == []
    assert SendWindow.from_settings().days == frozenset({0, 1, 2, 3, 4, 6})


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"MANAGER_PHONES": ["+7 701 999 00 11", "manager"]},
            "MANAGER_PHONES: 'manager' is not a phone number; write e.g. +7 701 234 56 78,+7 702 345 67 89",
        ),
        (
            {"WORKING_HOURS_START": 18, "WORKING_HOURS_END": 10},
            "WORKING_HOURS_END: 10 is not after WORKING_HOURS_START (18); write e.g. 18 or 18:00",
        ),
        ({"FOLLOW_UP_SEND_END": 25}, "FOLLOW_UP_SEND_END: 25 is not an hour of the day (0-24, whole hours)"),
        ({"LLM_BACKEND": "gemini", "GEMINI_API_KEY": ""}, "LLM_BACKEND: 'gemini' is not usable without GEMINI_API_KEY"),
        ({"SEND_MAX_ATTEMPTS": 0}, "SEND_MAX_ATTEMPTS: 0 is not a whole number of at least 1; write e.g. 6"),
        ({"FOLLOW_UP_INTERVALS": [24, 72]}, "FOLLOW_UP_INTERVALS: [24, 72] is not 5 positive numbers of hours"),
        ({"ENABLE_FOLLOW_UPS": "yes please"}, "ENABLE_FOLLOW_UPS: 'yes please' is not true or false"),
    ],
    ids=["phones", "working-hours", "hour", "gemini-without-key", "attempts", "intervals", "flag"],
)
def test_check_reports_a_setting_changed_at_runtime_in_the_words_of_the_start_up(settings, overrides, line):
    for name, value in overrides.items():
        setattr(settings, name, value)

    problems = settings_problems()

    assert len(problems) == 1
    assert problems[0].startswith(line)
