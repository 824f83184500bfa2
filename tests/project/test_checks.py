"""`manage.py check` reports a setting whose value the product cannot use, also when it was changed
after start-up (an override in a test, a settings module that assigns it)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_check_reports_send_days_set_at_runtime_to_a_day_that_does_not_exist(settings):
    settings.FOLLOW_UP_SEND_DAYS = ["mon", "sux"]

    with pytest.raises(SystemCheckError, match=r"FOLLOW_UP_SEND_DAYS: .* is not a day list; write e\.g\. mon-fri"):
        call_command("check")
