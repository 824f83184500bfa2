"""How the product starts from its environment: what is required, what is optional; the business
time zone and the pinned time zone data; the payment defaults."""

from __future__ import annotations

import secrets
import subprocess
import sys
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from project import settings as product
from tests.processes import ROOT, clean_env
from tests.settings import TEST_DATABASE_URL, TEST_REDIS_URL


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs manage.py with only the given variables (no .env, nothing from this test run)."""
    clean = clean_env(**env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_env(**extra: str) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "sales.example.kz",
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": f"{TEST_REDIS_URL}/14",
        **extra,
    }


def test_without_debug_a_missing_secret_key_stops_the_start_with_a_clear_message():
    env = production_env()
    del env["SECRET_KEY"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_without_debug_allowed_hosts_are_required():
    env = production_env()
    del env["ALLOWED_HOSTS"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is required" in result.stderr


def test_secret_key_allowed_hosts_and_service_urls_are_all_it_takes_to_start():
    # No Wappi, Gemini, Kaspi or Flower settings at all.
    result = manage("check", **production_env())
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_the_deployment_checks_pass_with_production_like_settings(collected_static):
    # After the one-time set-up: a migrated database (this test's) and collected static files.
    db = connection.settings_dict
    migrated = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = production_env(DATABASE_URL=migrated, STATIC_ROOT=str(collected_static))
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_invalid_llm_backend_is_refused_at_start():
    result = manage("check", **production_env(LLM_BACKEND="gpt"))
    assert result.returncode != 0
    assert "LLM_BACKEND: 'gpt' is not one of gemini, offline; write e.g. " in result.stderr


@pytest.mark.django_db
def test_with_debug_off_the_server_still_answers_plain_http(client, settings):
    # Behind a TLS-terminating proxy or on localhost: no forced redirect to https.
    assert settings.DEBUG is False
    assert settings.SECURE_SSL_REDIRECT is False
    assert client.get("/health").status_code == 200


def test_the_models_and_the_migrations_agree():
    result = manage("makemigrations", "--check", "--dry-run", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr


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


def test_payment_defaults():
    assert isinstance(product.PAYMENT_APPROVAL_THRESHOLD, Decimal)
    assert product.PAYMENT_CHECK_DEBOUNCE_SECONDS == 30.0
    assert product.POST_PURCHASE_MAX_PER_CUSTOMER == 3
    assert product.POST_PURCHASE_COOLDOWN_HOURS == 24.0
    assert product.POST_PURCHASE_DAILY_LIMIT == 100
    assert product.POST_PURCHASE_ENABLED is False
