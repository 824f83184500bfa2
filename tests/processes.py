"""Helpers for tests that start real processes of the product (workers, a second Django)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def process_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process that shares this test's database (the test
    database pytest-django created), broker and cache."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONPATH": str(ROOT),
    }
    env.update(overrides)
    return env


def clean_env(**extra: str) -> dict[str, str]:
    """A child's environment with nothing from this test run and no .env: only PATH, HOME
    and what is given, as a freshly configured server would start."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "ENV_FILE": "", **extra}  # noqa: S108


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a production-shaped process (`project.settings`, DEBUG off, no sandbox,
    no .env) on this test's database and broker: how a freshly configured server starts. `extra`
    adds or replaces variables."""
    db = connection.settings_dict
    server = {
        "PYTHONPATH": str(ROOT),
        "DEBUG": "false",
        "SECRET_KEY": "tests-only-secret-key-not-used-anywhere-else-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CACHE_URL": settings.CELERY_BROKER_URL,
        "STATIC_MANIFEST": "false",
        "SANDBOX_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    return clean_env(**{**server, **extra})


def manage_clean(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` as a freshly configured server runs it: only the given variables (clean_env)."""
    return _run([sys.executable, "manage.py", *args], env=clean_env(**env), timeout=120)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-c", code], env=process_env(**env), timeout=60)


def _run(argv: list[str], *, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class WorkerProcess:
    hostname: str
    process: subprocess.Popen[str]
    log_file: Any = None

    def log(self) -> str:
        """Everything the worker has logged so far. Read with pread: the worker writes through
        the same open file, and moving its offset (seek) would let it overwrite the start."""
        fd = self.log_file.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task, with no chance to clean up or acknowledge."""
        self.process.kill()
        self.process.wait()


@contextmanager
def celery_worker(*, purge: bool = True, queues: str = "", pool: str = "", **env: str) -> Iterator[WorkerProcess]:
    """`celery -A project worker` as the Procfile starts it (no queue, pool or concurrency
    flags unless `queues` names some), sharing this test's database, broker and cache."""
    from project.celery import app

    if purge:
        app.control.purge()
    hostname = f"e2e-{uuid.uuid4().hex[:8]}@localhost"
    # A file, not a pipe: nobody reads a pipe while the test runs, and a worker whose log
    # fills the pipe's buffer blocks on its next log line (it looked like a stalled worker).
    log_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "--hostname",
            hostname,
            "--loglevel",
            "INFO",
            *(["-Q", queues] if queues else []),
            *(["-P", pool] if pool else []),
        ],
        cwd=ROOT,
        env=process_env(**env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.inspect(destination=[hostname], timeout=1).ping():
            if proc.poll() is not None or time.monotonic() > deadline:
                log_file.seek(0)
                raise RuntimeError(f"worker did not start:\n{log_file.read()[-5000:]}")
        yield WorkerProcess(hostname, proc, log_file)
    finally:
        stop_process(proc)
        log_file.close()


def stop_process(proc: subprocess.Popen[str], *, timeout: float = 30) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL if it has not exited within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(condition, *, timeout: float = 30.0, what: str):
    """Polls `condition` until it returns something true (returned) or `timeout` seconds pass
    (the test fails naming `what`): for effects another process makes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def free_port() -> int:

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WebProcess:
    url: str
    process: subprocess.Popen[str]
    log_file: Any = None

    def log(self) -> str:
        """Everything the server (master and workers, stdout and stderr) has logged so far."""
        fd = self.log_file.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", errors="replace")


# The production web command's arguments after `gunicorn` (the Dockerfile's CMD; the systemd unit
# deploy/systemd/sales-assistant-web.service adds only its --bind: tests/system/test_plain_server.py).
WEB_ARGS = ("project.wsgi", "--config", "project/gunicorn.conf.py")


def gunicorn_argv(*, port: int, workdir: str, args: Sequence[str] = WEB_ARGS) -> list[str]:
    """`gunicorn <args>` from this interpreter, bound to a local port."""
    return [
        *(sys.executable, "-m", "gunicorn", *args),
        *("--bind", f"127.0.0.1:{port}"),
        # Not ~/.gunicorn/gunicorn.ctl, which every gunicorn of the user shares.
        *("--control-socket", f"{workdir}/gunicorn.ctl"),
    ]


def gunicorn_env(env: dict[str, str]) -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "WEB_CONCURRENCY": "1", **env}


@contextmanager
def gunicorn_server(
    *, env: dict[str, str], port: int | None = None, args: Sequence[str] = WEB_ARGS
) -> Iterator[WebProcess]:
    """The production web command (WEB_ARGS, or `args`) on a free local port, in the given
    environment (clean_env: only what is given), until it answers."""
    import requests

    port = port or free_port()
    log_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    workdir = tempfile.mkdtemp(prefix="gunicorn-")
    proc = subprocess.Popen(
        gunicorn_argv(port=port, workdir=workdir, args=args),
        cwd=ROOT,
        env=gunicorn_env(env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    server = WebProcess(url, proc, log_file)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{server.log()[-5000:]}")
            try:
                requests.get(f"{url}/admin/login/", timeout=10, allow_redirects=False)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield server
    finally:
        stop_process(proc)
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)
