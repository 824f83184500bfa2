"""Heartbeat bookkeeping in the cache: a worker records that it ran the heartbeat task, and a
beat process names itself on the heartbeats it sends, so /health can tell a stopped worker,
a stopped beat and two beats scheduling at once apart.

The lowest layer: the Celery app connects the signal handlers here, the heartbeat task writes
through here and /health reads through here, and none of them imports another.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from project.lib.locks import LockTimeout, cache_lock

HEARTBEAT_TASK = "project.heartbeat"
HEARTBEAT_KEY = "health:worker-heartbeat"
# Beat processes (host:pid) whose heartbeat a worker ran, with when; forgotten after a day.
BEATS_KEY = "health:beats"
BEATS_FORGET_SECONDS = 24 * 3600


def heartbeat_record(now: datetime | None = None, *, beat: str | None = None) -> None:
    """A worker ran the heartbeat; `beat` names the beat process that sent it (its host:pid),
    so /health can tell when two beats schedule at once (a mistake every periodic task then
    runs twice for). Writes the cache only."""
    moment = (now or timezone.now()).isoformat()
    cache.set(HEARTBEAT_KEY, moment, timeout=None)
    if not beat:
        return
    try:
        # Two beats started together send their heartbeats together: serialise the update.
        with cache_lock(BEATS_KEY, ttl=10, wait=5):
            seen = {k: v for k, v in (cache.get(BEATS_KEY) or {}).items() if _age(v, now) < BEATS_FORGET_SECONDS}
            seen[beat] = moment
            cache.set(BEATS_KEY, seen, timeout=None)
    except LockTimeout:
        pass  # the next heartbeat records it


def heartbeat_worker_seen() -> datetime | None:
    """When a worker last ran the heartbeat task (None: never, or the cache was emptied)."""
    value = cache.get(HEARTBEAT_KEY)
    return datetime.fromisoformat(value) if value else None


def heartbeat_beats_live(*, now: datetime | None = None, within_seconds: float) -> list[str]:
    """The beat processes (host:pid) whose heartbeat a worker ran in the last `within_seconds`,
    sorted. More than one is a fault."""
    return sorted(k for k, v in (cache.get(BEATS_KEY) or {}).items() if _age(v, now) <= within_seconds)


# This process's identity when it is a beat (set on celery's beat_init), stamped on the
# heartbeat messages it sends.
_beat_identity: str | None = None


def beat_started(**_: Any) -> None:
    """celery's beat_init: this process is a beat; remember its name."""
    global _beat_identity
    _beat_identity = f"{socket.gethostname()}:{os.getpid()}"


def stamp_heartbeat(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    """celery's before_task_publish: a beat process names itself on the heartbeat it sends."""
    if _beat_identity and sender == HEARTBEAT_TASK and headers is not None:
        headers["beat_id"] = _beat_identity


def _age(iso: str, now: datetime | None) -> float:
    return ((now or timezone.now()) - datetime.fromisoformat(iso)).total_seconds()
