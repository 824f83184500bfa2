"""The environment is read strictly: the forms an operator writes are understood, anything else
stops the start with one line that names the variable and shows an example."""

from __future__ import annotations

import secrets

from tests.processes import manage_clean
from tests.settings import TEST_DATABASE_URL, TEST_REDIS_URL


def server_env(**extra: str) -> dict[str, str]:
    """What a production server sets (and nothing else), plus `extra`."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "sales.example.kz",
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": f"{TEST_REDIS_URL}/14",
        **extra,
    }


def send_days_of(value: str) -> str:
    result = manage_clean(
        "shell",
        "-c",
        "from messaging.window import SendWindow; print(sorted(SendWindow.from_settings().days))",
        **server_env(FOLLOW_UP_SEND_DAYS=value),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_follow_ups_may_go_out_on_all_seven_days_when_the_send_days_say_mon_to_sun():
    # Read as "mon" (the first three letters) the whole week's follow-ups waited for Monday.
    assert send_days_of("mon-sun") == "[0, 1, 2, 3, 4, 5, 6]"


def test_a_wrong_day_list_stops_the_start_with_one_line_naming_the_variable_and_an_example():
    result = manage_clean("check", **server_env(FOLLOW_UP_SEND_DAYS="mon-sux"))

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        "django.core.exceptions.ImproperlyConfigured: "
        "FOLLOW_UP_SEND_DAYS: 'mon-sux' is not a day list; write e.g. mon-fri or пн,ср,пт"
    )
