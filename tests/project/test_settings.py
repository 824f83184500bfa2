"""How the product starts from its environment: what is required, what is optional."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

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


def test_the_deployment_checks_pass_with_production_like_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_invalid_llm_backend_is_refused_at_start():
    result = manage("check", **production_env(LLM_BACKEND="gpt"))
    assert result.returncode != 0
    assert "LLM_BACKEND must be" in result.stderr


@pytest.mark.django_db
def test_with_debug_off_the_server_still_answers_plain_http(client, settings):
    # Behind a TLS-terminating proxy or on localhost: no forced redirect to https.
    assert settings.DEBUG is False
    assert settings.SECURE_SSL_REDIRECT is False
    assert client.get("/health").status_code == 200


def test_the_models_and_the_migrations_agree():
    result = manage("makemigrations", "--check", "--dry-run", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
