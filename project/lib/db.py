"""Database connections on a green pool (the model worker, `celery -P gevent`).

Each greenlet gets its own Django connection; with a connection pool configured
(settings.DATABASE_POOL_SIZE, psycopg_pool) a connection is taken from the pool at the first
query and given back on close. A model call takes seconds and needs no database: handing the
connection back before it lets a pool of ~20 serve 200 calls in flight.
"""

from __future__ import annotations

import sys


def green_pool() -> bool:
    """Whether this process runs on gevent (the standard library patched by `celery -P gevent`)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def release_connection() -> None:
    """Gives this greenlet's (or thread's) connection back to the pool before a long wait that
    needs no database. Only with a pool, and never inside a transaction (its work is not done);
    elsewhere a persistent connection stays open, as CONN_MAX_AGE says."""
    from django.db import connection  # settings import this module: no django.db at import time

    if not connection.settings_dict.get("OPTIONS", {}).get("pool"):
        return
    if connection.connection is None or connection.in_atomic_block:
        return
    connection.close()
