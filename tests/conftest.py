from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

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
