"""Private infrastructure for one run: a Redis server and a PostgreSQL cluster of our own (so a
fault injected here never touches the shared ones other engineers test against), and fresh
migrated databases on any PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psycopg

from tests.processes import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, *, timeout: float = 30.0, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} in {timeout} s")


@dataclass
class RedisServer:
    """`redis-server` on a free port, no persistence unless `appendonly` (a restart with
    append-only keeps the queued messages, as production's Redis does)."""

    port: int = field(default_factory=free_port)
    appendonly: bool = True
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="loadlab-redis-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.workdir),
        ]
        # As production's Redis (docker-compose.yml): append-only, fsync once a second. "always"
        # made every write wait for the disk and Redis, single-threaded, the whole lab's bottleneck.
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if self.appendonly else ["--appendonly", "no"]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        self._wait_loaded()
        return self

    def _wait_loaded(self, timeout: float = 60.0) -> None:
        """The port opens before the append-only file is replayed; until then every command
        answers LOADING (BusyLoadingError). Wait for a real PONG."""
        import redis

        deadline = time.monotonic() + timeout
        while True:
            client = redis.Redis.from_url(self.url, socket_timeout=2)
            try:
                if client.ping():
                    return
            except redis.exceptions.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        wait_port(self.port, up=False)

    def restart(self, *, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise FileNotFoundError(name)
    return path


@dataclass
class PgCluster:
    """A throwaway PostgreSQL cluster (initdb in a temp dir, trust auth, no fsync), run as the
    `postgres` system user when we are root (initdb refuses root)."""

    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="loadlab-pg-")))
    # pg_stat_statements counts every statement: the "queries per message" of the load test.
    options: str = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_utility=on"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> PgCluster:
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        result = self._run(
            pg_bin("initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr[-2000:]}")
        return self.start()

    def start(self) -> PgCluster:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 -k {self.workdir}"
        options += f" {self.options}"
        result = self._run(
            pg_bin("pg_ctl"), "-D", str(self.datadir), "-l", str(self.workdir / "pg.log"), "-o", options, "-w", "start"
        )
        if result.returncode:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr[-2000:]} {result.stdout[-2000:]}")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop")

    @property
    def pid(self) -> int:
        """The postmaster's pid (its backends are its children)."""
        return int((self.datadir / "postmaster.pid").read_text().split()[0])

    def close(self) -> None:
        if self.datadir.exists():
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _with_db(url: str, name: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(_with_db(url, "postgres"), autocommit=True, connect_timeout=10)


def database_drop(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_migrated(server_url: str, name: str, *, template: str | None = None) -> str:
    """A new database `name` on the server of `server_url` with the product's schema: copied
    from `template` when given (fast), else created and migrated with `manage.py migrate` (which
    also seeds the whitelist and the beat schedules). Returns its URL."""
    database_drop(server_url, name)
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    url = _with_db(server_url, name)
    if template is None:
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=product_env(DATABASE_URL=url, CELERY_BROKER_URL="memory://", CACHE_URL="locmemcache://"),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if result.returncode:
            raise RuntimeError(f"migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return url


def product_env(**extra: str) -> dict[str, str]:
    """The environment of a product process configured as a server is: project.settings, every
    value from the environment, no .env, nothing inherited from this test run."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
        "ENV_FILE": "",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DEBUG": "false",
        "SECRET_KEY": "loadlab-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_MANIFEST": "false",
        "LOG_FORMAT": "console",
        "LOG_LEVEL": "WARNING",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "ENABLE_FOLLOW_UPS": "false",
    }
    env.update(extra)
    return env
