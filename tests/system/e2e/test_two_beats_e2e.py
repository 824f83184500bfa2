"""Two real beat processes started by mistake show on /health, and the fault clears when one
is stopped: each beat stamps its name on the heartbeats it sends, the worker records them."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import pytest
from django_celery_beat.models import PeriodicTask

from project.schedules import periodic_tasks_sync
from tests.processes import ROOT, celery_worker, process_env, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def start_beat(log_file) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel", "INFO"],
        cwd=ROOT,
        env=process_env(),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_beat(client, condition, *, timeout: float, logs) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        beat = client.get("/health").json()["processes"]["beat"]
        if condition(beat):
            return beat
        if time.monotonic() > deadline:
            logs.seek(0)
            pytest.fail(f"/health never showed it: {beat}\n{logs.read()[-3000:]}")
        time.sleep(0.5)


def test_a_second_beat_shows_as_duplicate_on_health_until_it_is_stopped(client, settings):
    # Heartbeat every second and nothing else scheduled; stale after 3 x 1 + 10 s.
    periodic_tasks_sync(declared={"project.heartbeat": 1})
    PeriodicTask.objects.exclude(name__in=["project.heartbeat", "celery.backend_cleanup"]).update(enabled=False)
    settings.HEARTBEAT_INTERVAL = 1

    with tempfile.TemporaryFile(mode="w+") as logs, celery_worker():
        first, second = start_beat(logs), start_beat(logs)
        try:
            beat = wait_for_beat(client, lambda b: b["status"] == "duplicate", timeout=60, logs=logs)
            assert beat["instances"] == 2
            assert str(first.pid) in beat["error"]
            assert str(second.pid) in beat["error"]

            stop_process(second)
            beat = wait_for_beat(client, lambda b: b["status"] == "ok", timeout=60, logs=logs)
            assert beat["instances"] == 1
            assert str(second.pid) not in str(beat)
        finally:
            stop_process(first)
            stop_process(second)
