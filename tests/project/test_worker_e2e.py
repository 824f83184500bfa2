"""A real worker process, started the way the Procfile starts it, runs a task end to end."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.core.cache import cache

from project import health
from project.celery import app
from project.tasks import heartbeat
from tests.processes import ROOT, process_env

pytestmark = [pytest.mark.django_db, pytest.mark.e2e]

READY_TIMEOUT = 60
TASK_TIMEOUT = 30


@pytest.fixture
def worker():
    """`celery -A project worker` with no queue, pool or concurrency flags."""
    app.control.purge()
    hostname = f"e2e-{uuid.uuid4().hex[:8]}@localhost"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--hostname", hostname, "--loglevel", "INFO"],
        cwd=ROOT,
        env=process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not app.control.inspect(destination=[hostname], timeout=1).ping():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker did not start:\n{proc.stdout.read() if proc.poll() is not None else ''}")
        yield hostname
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_worker_started_without_flags_serves_all_four_queues_with_a_thread_pool(worker):
    inspect = app.control.inspect(destination=[worker], timeout=5)
    queues = {q["name"] for q in inspect.active_queues()[worker]}
    pool = inspect.stats()[worker]["pool"]
    assert queues == {"ingest", "llm", "send", "default"}
    assert pool["implementation"].endswith("thread:TaskPool")
    assert pool["max-concurrency"] == 32


def test_a_task_sent_through_redis_runs_in_the_worker_and_shows_on_health(worker, client):
    assert cache.get(health.HEARTBEAT_KEY) is None
    heartbeat.delay()

    deadline = time.monotonic() + TASK_TIMEOUT
    while cache.get(health.HEARTBEAT_KEY) is None:
        assert time.monotonic() < deadline, "the worker never ran project.heartbeat"
        time.sleep(0.2)

    assert client.get("/health").json()["processes"]["worker"]["status"] == "ok"
