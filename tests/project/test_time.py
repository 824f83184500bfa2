from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone


def test_business_time_zone_is_almaty_and_timestamps_are_aware():
    assert settings.TIME_ZONE == "Asia/Almaty"
    assert settings.USE_TZ is True
    assert timezone.now().tzinfo is not None


def test_ten_in_the_morning_in_almaty_is_five_utc_since_the_2024_change():
    # Kazakhstan moved to a single UTC+5 zone on 2024-03-01; older tz data says UTC+6.
    local = datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
    assert local.astimezone(UTC) == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert timezone.localtime(datetime(2026, 11, 23, 5, 0, tzinfo=UTC)).hour == 10


def test_zones_come_from_the_pinned_tzdata_package_not_the_host():
    assert zoneinfo.TZPATH == ()
