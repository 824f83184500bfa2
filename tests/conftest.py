from __future__ import annotations

import socket
from importlib import import_module
from urllib.parse import urlparse

import pytest
from django.conf import settings

from tests.settings import TEST_DATABASE_URL, TEST_REDIS_URL

# Local fakes of the third parties, over real HTTP: fixtures `fake_gemini`, `fake_wappi`,
# `fake_kaspi`, `fake_kaspi_shop`; and the fixtures tests in several folders share.
pytest_plugins = ["tests.fakes.gemini", "tests.fakes.wappi", "tests.fakes.kaspi", "tests.fixtures"]


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [
        f"{name} ({urlparse(url).hostname}:{urlparse(url).port or port})"
        for name, url, port in (("PostgreSQL", TEST_DATABASE_URL, 5432), ("Redis", TEST_REDIS_URL, 6379))
        if not _reachable(url, port)
    ]
    if missing:
        pytest.exit(
            f"{' and '.join(missing)} not reachable: the tests need both; start them with "
            "`docker compose up -d db redis`",
            returncode=3,
        )
    # The URLconf mounts /sandbox/ by SANDBOX_ENABLED when project.urls is first imported: import it
    # now, with the test settings, so a test that switches the sandbox off (and runs something that
    # loads the URLconf, such as Django's checks) cannot leave every later test without it.
    import_module(settings.ROOT_URLCONF)


def _django_db_options(
    transaction=False, reset_sequences=False, databases=None, serialized_rollback=False, available_apps=None
) -> dict:
    return {
        "transaction": transaction,
        "reset_sequences": reset_sequences,
        "databases": databases,
        "serialized_rollback": serialized_rollback,
        "available_apps": available_apps,
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every transactional test runs with serialized rollback, so each starts from the database
    `migrate` made (content types, permissions, the seeded whitelist, the periodic tasks) whatever
    ran before it. A TransactionTestCase empties every table when it ends; without serialized
    rollback it then recreates content types and permissions under new ids, and a serialized
    test after it failed to reload the snapshot (duplicate key on django_content_type), while
    a plain one after a serialized test found empty tables. Which neighbour comes first depends
    on the shuffled order and on what is installed (the browser tests skip without Chromium)."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        options = _django_db_options(*marker.args, **marker.kwargs) if marker else _django_db_options()
        transactional = (
            options["transaction"]
            or options["reset_sequences"]
            or "transactional_db" in item.fixturenames
            or "live_server" in item.fixturenames
        )
        if transactional and not options["serialized_rollback"]:
            options.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**options), append=False)


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """Each test starts with an empty cache (locks, pacing, heartbeats): this run's keys only,
    so a developer's run and CI's on one machine do not wipe each other's locks."""
    import redis

    from tests.settings import TEST_CACHE_PREFIX, TEST_CACHE_URL

    client = redis.Redis.from_url(TEST_CACHE_URL)
    try:
        keys = list(client.scan_iter(f"{TEST_CACHE_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
