"""The Redis cache: one connection pool per process, whatever thread or greenlet asks."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches


def test_a_new_threads_cache_reuses_the_processs_redis_connections():
    """Django builds a cache object per thread, and a gevent worker runs each task in a new
    greenlet (a new "thread" to Django): each must not open its own connections to Redis."""
    first, second = caches.create_connection("default"), caches.create_connection("default")
    first.get("pool-probe")
    second.get("pool-probe")

    pool = first._cache.get_client().connection_pool
    assert second._cache.get_client().connection_pool is pool
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1


def test_the_cache_stores_counts_and_forgets_as_django_promises():
    cache.set("pool-probe-value", {"a": 1}, timeout=30)
    assert cache.get("pool-probe-value") == {"a": 1}
    cache.delete("pool-probe-count")
    assert cache.add("pool-probe-count", 1)
    assert cache.incr("pool-probe-count") == 2
    assert cache.get_many(["pool-probe-value", "pool-probe-count"]) == {
        "pool-probe-value": {"a": 1},
        "pool-probe-count": 2,
    }
    cache.delete("pool-probe-value")
    assert cache.get("pool-probe-value") is None


def test_counting_up_a_missing_key_fails_and_creates_nothing():
    cache.delete("pool-probe-missing")
    with pytest.raises(ValueError, match="not found"):
        cache.incr("pool-probe-missing", 5)
    assert cache.get("pool-probe-missing") is None


def test_counting_up_costs_one_round_trip_to_redis():
    """Counters (/metrics' tallies, pacing) count up on every send: Django's backend asked
    whether the key exists first, two round trips per count."""
    cache.set("pool-probe-counter", 0, timeout=30)
    cache.incr("pool-probe-counter")  # the first count also loads the script into Redis
    client = cache._cache.get_client(write=True)
    sent = []
    original = client.execute_command

    def spy(*args, **kwargs):
        sent.append(args[0])
        return original(*args, **kwargs)

    client.execute_command = spy
    try:
        assert cache.incr("pool-probe-counter", 2) == 3
    finally:
        del client.execute_command
    assert len(sent) == 1
