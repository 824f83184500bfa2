"""Cross-process locks on the Django cache (Redis in production, files for `make run`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache


class LockTimeout(Exception):
    """The lock stayed taken for longer than the caller was willing to wait."""


@contextmanager
def cache_lock(name: str, *, ttl: float = 60.0, wait: float = 30.0, poll: float = 0.05) -> Iterator[None]:
    """Holds `name` while the block runs. `ttl` bounds how long a crashed holder can keep it;
    `wait` bounds how long to queue behind another holder (0 = try once)."""
    key, token = f"lock:{name}", uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not cache.add(key, token, timeout=ttl):
        if time.monotonic() >= deadline:
            raise LockTimeout(name)
        time.sleep(poll)
    try:
        yield
    finally:
        # Release only our own lock (a slow holder may have outlived its ttl).
        if cache.get(key) == token:
            cache.delete(key)
