"""Retry policies shared by tasks of every app."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

# The database away (restart, failover, network): the task waits and tries again instead of
# being acknowledged as failed, which would lose what it carries. About an hour of cover.
DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_RETRY = {
    "autoretry_for": DATABASE_DOWN,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 60,
}
