"""The Redis cache: one connection pool per process, whatever thread or greenlet asks."""

from __future__ import annotations

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
