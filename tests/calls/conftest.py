from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def working_hours(settings):
    """Calls are booked Monday to Friday, 10:00-18:00 Astana time, in 30-minute slots at least an
    hour ahead, one call per slot; the manager's number gets the notices."""
    settings.TIME_ZONE = "Asia/Almaty"
    settings.WORKING_HOURS_START, settings.WORKING_HOURS_END = 10, 18
    settings.CALL_SLOT_MINUTES, settings.CALL_MIN_LEAD_MINUTES, settings.MANAGER_CAPACITY = 30, 60, 1
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    return settings
