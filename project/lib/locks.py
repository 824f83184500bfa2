"""Cross-process locks on the Django cache (Redis in production, files for `make run`)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connections

# A renewed lock is held under this short lease (renewed every third of it): a killed holder
# loses it within seconds, so the work it held is taken up again at once (the worker leases,
# project.lib.liveness, re-hand its task within about as long).
RENEWED_LEASE_SECONDS = 15.0


class LockTimeout(Exception):
    """The lock stayed taken for longer than the caller was willing to wait."""


@contextmanager
def cache_lock(
    name: str, *, ttl: float = 60.0, wait: float = 30.0, poll: float = 0.05, renew: bool = False
) -> Iterator[None]:
    """Holds `name` while the block runs. `ttl` bounds how long a crashed holder can keep it;
    `wait` bounds how long to queue behind another holder (0 = try once). With `renew`, a
    background thread extends the lock every ttl/3 while the block runs, so a long block keeps
    it and a killed process loses it within `ttl` (not after the longest block imaginable), at
    most RENEWED_LEASE_SECONDS."""
    if renew:
        ttl = min(ttl, RENEWED_LEASE_SECONDS)
    key, token = f"lock:{name}", uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while not cache.add(key, token, timeout=ttl):
        if time.monotonic() >= deadline:
            raise LockTimeout(name)
        time.sleep(poll)
    done = threading.Event()
    renewer = None
    if renew:
        renewer = threading.Thread(target=_renew, args=(key, token, ttl, done), name=f"lock-renew:{name}", daemon=True)
        renewer.start()
    try:
        yield
    finally:
        done.set()
        if renewer is not None:
            renewer.join(timeout=5)
        # Release only our own lock (a slow holder may have outlived its ttl).
        if cache.get(key) == token:
            cache.delete(key)


def _renew(key: str, token: str, ttl: float, done: threading.Event) -> None:
    try:
        while not done.wait(ttl / 3):
            if cache.get(key) != token or not cache.touch(key, ttl):
                return  # lost (expired and taken by another holder): never steal it back
    except Exception:  # noqa: BLE001 - a cache outage: the lock then simply expires at its ttl
        return
    finally:
        connections.close_all()  # a file/db cache backend may have opened one in this thread
