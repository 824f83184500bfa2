"""The product's processes as a server runs them: gunicorn (project/gunicorn.conf.py), Celery
workers on the real queue layout (no -Q: all four queues, the threads pool of the settings),
and beat, each a real process with its own log file, against the given database and Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.system.loadlab.infra import ROOT, free_port, product_env, wait_port

WEBHOOK_SECRET = "loadlab-webhook-secret"


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: no cleanup, no acknowledgement."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Stack:
    """One deployment: `env` (DATABASE_URL, broker, cache, the fakes' addresses...) is given to
    every process. Use as a context manager; every process and the temp dir go at exit."""

    env: dict[str, str]
    web_workers: int = 2
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="loadlab-stack-")))
    procs: list[Proc] = field(default_factory=list)
    web_port: int = field(default_factory=free_port)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop(timeout=15)
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- processes ---------------------------------------------------------------------------

    def _env(self, **extra: str) -> dict[str, str]:
        return product_env(WAPPI_WEBHOOK_SECRET=WEBHOOK_SECRET, **{**self.env, **extra})

    def _spawn(self, name: str, args: list[str], **extra: str) -> Proc:
        log = self.workdir / f"{name}-{len(self.procs)}.log"
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self._env(**{"PGAPPNAME": name, **extra}),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches gunicorn's children too
        )
        proc = Proc(name, process, log)
        self.procs.append(proc)
        return proc

    def start_web(self) -> Proc:
        metrics = self.workdir / "prometheus"
        metrics.mkdir(exist_ok=True)
        proc = self._spawn(
            "web",
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "project.wsgi",
                "-c",
                str(ROOT / "project" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(self.web_workers),
                "--access-logfile",
                "/dev/null",
                # Not ~/.gunicorn/gunicorn.ctl: shared by every gunicorn of the user, and outside
                # the temp dir.
                "--control-socket",
                str(self.workdir / "gunicorn.ctl"),
            ],
            PROMETHEUS_MULTIPROC_DIR=str(metrics),
        )
        wait_port(self.web_port, timeout=60)
        return proc

    def start_worker(self, *, wait: bool = True, shape: str = "", **extra: str) -> Proc:
        """A worker on all four queues (no `shape`), or one of the production shapes the
        Procfile starts: "main" (ingest, send, default; threads) or "llm" (the model worker,
        gevent), with the options `manage.py worker_options` prints for this environment."""
        hostname = f"loadlab-{shape or 'all'}-{uuid.uuid4().hex[:8]}@localhost"
        options: list[str] = []
        if shape:
            printed = subprocess.run(
                [sys.executable, "manage.py", "worker_options", shape],
                cwd=ROOT,
                env=self._env(**extra),
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            options = [o for o in printed.stdout.split() if o]
            if "-n" in options:  # the test names its nodes itself
                del options[options.index("-n") : options.index("-n") + 2]
        proc = self._spawn(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "project",
                "worker",
                *options,
                "--hostname",
                hostname,
                "--loglevel",
                "INFO",
            ],
            **{"PGAPPNAME": f"worker-{shape or 'all'}", **extra},
        )
        if wait:
            self.wait_worker(proc, hostname, timeout=90)
        return proc

    def wait_worker(self, proc: Proc, hostname: str, *, timeout: float) -> None:
        """Until the worker answers a ping over the broker (its log is quiet at WARNING)."""
        from celery import Celery
        from kombu.exceptions import OperationalError as KombuOperationalError
        from redis.exceptions import RedisError

        # Celery's broker_url prefers $CELERY_BROKER_URL, which in the test process names the
        # shared test broker (tests.settings): hide it while this app talks to the lab's Redis.
        saved = os.environ.pop("CELERY_BROKER_URL", None)
        app = Celery("loadlab", broker=self.env["CELERY_BROKER_URL"])
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if app.control.inspect(destination=[hostname], timeout=1).ping():
                        return
                except (RedisError, KombuOperationalError, OSError):
                    # Just after a broker restart: a pooled connection the server closed, or
                    # Redis still loading its append-only file. The next attempt reconnects.
                    time.sleep(0.2)
                if not proc.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{proc.tail()}")
        finally:
            app.close()
            if saved is not None:
                os.environ["CELERY_BROKER_URL"] = saved

    def start_beat(self) -> Proc:
        n = len(self.procs)
        return self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "project",
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile",
                str(self.workdir / f"beat-{n}.pid"),
            ],
        )

    def workers(self) -> list[Proc]:
        return [p for p in self.procs if p.name == "worker" and p.alive()]

    @staticmethod
    def wait_log(proc: Proc, marker: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in proc.tail(200_000):
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not print {marker!r}:\n{proc.tail()}")
            time.sleep(0.2)

    # --- HTTP --------------------------------------------------------------------------------

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/webhooks/wappi/?secret={WEBHOOK_SECRET}"

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/health", timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return 0, {"error": str(exc)}
