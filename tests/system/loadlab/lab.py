"""One deployment of the product for a test: a private PostgreSQL cluster and Redis, a migrated
database, the fakes, and the processes (tests.system.loadlab.stack) wired to all of them."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from tests.system.loadlab.fakes import LoadGemini, LoadWappi
from tests.system.loadlab.infra import ROOT, PgCluster, RedisServer, database_drop, database_migrated
from tests.system.loadlab.stack import Stack

TEMPLATE = "loadlab_template"


@dataclass
class Infra:
    """Private servers shared by the cases of one session; `template` is a migrated database."""

    pg: PgCluster
    redis: RedisServer

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[Infra]:
        pg, rds = PgCluster(), RedisServer()
        try:
            pg.init()
            rds.start()
            template = database_migrated(pg.url, TEMPLATE)
            with psycopg_conn(template) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            yield cls(pg, rds)
        finally:
            rds.close()
            pg.close()


def psycopg_conn(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


@dataclass
class Lab:
    infra: Infra
    db_url: str
    wappi: LoadWappi
    gemini: LoadGemini
    stack: Stack

    @property
    def broker_url(self) -> str:
        return f"{self.infra.redis.url}/0"


@contextlib.contextmanager
def lab(infra: Infra, *, gemini_latency: float = 1.0, web_workers: int = 2, **env: str) -> Iterator[Lab]:
    """A fresh database (from the template), an empty Redis, both fakes and a Stack whose
    processes the caller starts. Everything is stopped and dropped at exit."""
    name = f"loadlab_{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(infra.redis.url)
    client.flushall()
    client.close()
    db_url = database_migrated(infra.pg.url, name, template=TEMPLATE)
    wappi = LoadWappi()
    gemini = LoadGemini(latency=gemini_latency)
    gemini.__enter__()
    stack = Stack(
        env={
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": f"{infra.redis.url}/0",
            "CACHE_URL": f"{infra.redis.url}/1",
            **wappi.env(),
            **gemini.env(),
            **env,
        },
        web_workers=web_workers,
    )
    try:
        # Beat's intervals are written by `migrate` (project/schedules.py): apply this lab's.
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=stack._env(),
            capture_output=True,
            check=True,
            timeout=300,
        )
        yield Lab(infra, db_url, wappi, gemini, stack)
    finally:
        try:
            stack.close()
        finally:
            gemini.__exit__(None, None, None)
            wappi.close()
            database_drop(infra.pg.url, name)
