"""The Redis cache backend with one connection pool and one client per process.

Django keeps a cache object per thread, and each builds its own redis-py connection pool: a
worker's 32 threads hold 32 pools, and a gevent worker, which runs every task in a new greenlet
(a new "thread" to Django), opened a new pool and a new TCP connection to Redis for every task.
Django's client also builds a new `redis.Redis` object for every operation. Here every cache
object of a process with the same LOCATION and OPTIONS shares one client (redis-py's pool is
thread-safe and greenlet-safe once gevent has patched the sockets; after a fork it starts afresh
by itself). Keys are not checked for memcached's limits, which Redis does not have.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

# Connections one process may open to the cache's Redis (Redis's own limit is 10,000 clients).
MAX_CONNECTIONS = 1000
_lock = threading.Lock()
# INCRBY only when the key exists (Django's incr raises ValueError for a missing key), atomically.
_INCR_IF_EXISTS = (
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incrby', KEYS[1], ARGV[1]) end return false"
)
_clients: dict[tuple[str, ...], SharedRedisCacheClient] = {}


class SharedRedisCacheClient(RedisCacheClient):
    """Django's client with one `redis.Redis` per server, made once."""

    def __init__(self, servers: list[str], **options: Any) -> None:
        # All threads and greenlets of the process share the pool: redis-py's default cap of 100
        # connections (one more raises MaxConnectionsError, it does not wait) would fail a gevent
        # worker with 200 tasks in flight. The pool only opens what is in use at once.
        options.setdefault("max_connections", MAX_CONNECTIONS)
        super().__init__(servers, **options)
        self._redis: dict[int, Any] = {}
        self._incr_scripts: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._redis.get(index)
        if client is None:
            with _lock:
                client = self._redis.get(index)
                if client is None:
                    if index not in self._pools:
                        self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    client = self._client(connection_pool=self._pools[index])
                    self._incr_scripts[index] = client.register_script(_INCR_IF_EXISTS)
                    self._redis[index] = client
        return client

    def incr(self, key: Any, delta: int) -> int:
        """Django's incr (ValueError for a missing key) in one round trip, not EXISTS then INCRBY
        (which also let the key expire in between and come back as a new count of `delta`)."""
        client = self.get_client(key, write=True)
        value = self._incr_scripts[self._get_connection_pool_index(True)](keys=[key], args=[delta], client=client)
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(DjangoRedisCache):
    """django.core.cache.backends.redis.RedisCache sharing its client within the process."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient

    @cached_property
    def _cache(self) -> SharedRedisCacheClient:
        key = (*self._servers, repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    def validate_key(self, key: str) -> None:
        """Redis takes any key: no per-character scan for memcached's limits on every operation."""
