"""Test settings: the product's own settings, pointed at PostgreSQL and Redis on localhost.

Infrastructure URLs can be overridden from the environment (TEST_DATABASE_URL,
TEST_REDIS_URL, TEST_BROKER_URL); integrations with third parties are forced off, and a developer's .env is
never read, so a real Wappi token or Gemini key can never reach a test. The password
matches docker compose's default and is ignored by a trust-auth server.
"""

from __future__ import annotations

import os

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/whatsapp_agent")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
TEST_BROKER_URL = os.environ.get("TEST_BROKER_URL", f"{TEST_REDIS_URL}/14")
TEST_CACHE_URL = f"{TEST_REDIS_URL}/13"
# Runs on one machine share Redis: each run (and the worker processes it starts, which
# inherit the variable) keeps its cache keys under its own prefix and clears only those.
TEST_CACHE_PREFIX = os.environ.setdefault("TEST_CACHE_PREFIX", f"test{os.getpid()}")

os.environ.update(
    {
        "ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-secret-key-not-used-anywhere-else-0123456789",
        "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "CACHE_URL": TEST_CACHE_URL,
        "STATIC_MANIFEST": "false",
        "LOG_FORMAT": "console",
        "WAPPI_TOKEN": "",
        # The sandbox app is installed and the Wappi emulator asked for by name (its tests and the
        # e2e tests talk to it; without DEBUG no sandbox follows from another); the Kaspi emulator
        # stays off unless a test switches it on, so Kaspi is unconfigured.
        "SANDBOX_ENABLED": "true",
        "WAPPI_SANDBOX": "true",
        "KASPI_SANDBOX": "false",
        # The published sandbox token (what DEBUG uses), so tests can speak to the emulator.
        "WAPPI_SANDBOX_TOKEN": "sandbox-token",
        "WAPPI_PROFILE_ID": "",
        # A developer's real key never reaches a test; a test that starts a worker against the
        # fake Gemini hands it over as TEST_GEMINI_API_KEY.
        "GEMINI_API_KEY": os.environ.get("TEST_GEMINI_API_KEY", ""),
        "KASPI_API_KEY": "",
        # Sends from the number are spaced out only where a test asks for it (tests.fixtures):
        # a second's wait between two customers' answers would only slow every test down.
        "SEND_NUMBER_GAP_SECONDS": "0",
        "WAPPI_TYPING": "false",
    }
)

from project.settings import *  # noqa: E402, F403

CACHES["default"]["KEY_PREFIX"] = TEST_CACHE_PREFIX  # noqa: F405
