"""System checks of the product's settings (`manage.py check`, and every command that runs checks).

At start-up settings.py refuses a variable the product cannot use. A setting can still change
after that (a settings module that assigns it, an override in a test); this check holds each
setting to the rule its variable was read with (settings.ENV_RULES, filled by
project.lib.settings_parsing.Env) and to the rules across settings, and reports the same one
line as the start-up would, as an Error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import LazySettings, settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from project.lib.settings_parsing import check_hours_window, check_jitter, check_llm_backend, check_time_limits

_MISSING = object()


def _rules_across(s: LazySettings) -> list[Callable[[], None]]:
    """The rules that hold between settings, each a call that raises InvalidSetting."""
    return [
        lambda: check_hours_window(
            s.WORKING_HOURS_START,
            s.WORKING_HOURS_END,
            start_name="WORKING_HOURS_START",
            end_name="WORKING_HOURS_END",
            example="18 or 18:00",
        ),
        lambda: check_hours_window(
            s.FOLLOW_UP_SEND_START,
            s.FOLLOW_UP_SEND_END,
            start_name="FOLLOW_UP_SEND_START",
            end_name="FOLLOW_UP_SEND_END",
            example="19 or 19:00",
        ),
        lambda: check_jitter(
            s.FOLLOW_UP_JITTER_MINUTES,
            start=s.FOLLOW_UP_SEND_START,
            end=s.FOLLOW_UP_SEND_END,
            name="FOLLOW_UP_JITTER_MINUTES",
            window="FOLLOW_UP_SEND_START-FOLLOW_UP_SEND_END",
        ),
        lambda: check_llm_backend(s.LLM_BACKEND, api_key=s.GEMINI_API_KEY),
        lambda: check_time_limits(s.CELERY_TASK_SOFT_TIME_LIMIT, s.CELERY_TASK_TIME_LIMIT),
    ]


def settings_problems(s: LazySettings = settings) -> list[str]:
    """One line per setting the product cannot use, as the start-up would word it."""
    problems: list[str] = []
    rules: dict[str, Callable[[object], object]] = getattr(s, "ENV_RULES", {})
    for name, rule in rules.items():
        value: Any = getattr(s, name, _MISSING)
        if value is _MISSING:
            continue  # read into a setting of another name (TIMEZONE -> TIME_ZONE) or none at all
        try:
            rule(value)
        except ImproperlyConfigured as exc:
            problems.append(str(exc))
    # A rule across settings whose own values are already reported would only repeat them.
    if not problems:
        for rule_across in _rules_across(s):
            try:
                rule_across()
            except ImproperlyConfigured as exc:
                problems.append(str(exc))
            except (AttributeError, TypeError) as exc:
                problems.append(f"settings: {exc}")
    return problems


def check_settings(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    return [
        checks.Error(problem, hint="See .env.example for the forms each variable takes.", id="project.E001")
        for problem in settings_problems()
    ]
