"""`make run`'s infrastructure: SQLite and kombu's filesystem broker, with real processes.

Tasks and remote control (what Flower uses) cross from one process to another through the
broker folders; nothing here touches PostgreSQL or Redis.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.processes import ROOT, clean_env

pytestmark = pytest.mark.e2e

DRIVER = """
import json, time, django
django.setup()
from django.core.cache import cache
from project.lib.heartbeat import HEARTBEAT_KEY
from project.celery import app
from project.tasks import heartbeat

deadline = time.monotonic() + 60
replies = None
while not replies and time.monotonic() < deadline:
    replies = app.control.inspect(timeout=2).active_queues()
heartbeat.delay()
while cache.get(HEARTBEAT_KEY) is None and time.monotonic() < deadline:
    time.sleep(0.2)
queues = sorted({q["name"] for node in (replies or {}).values() for q in node})
print(json.dumps({"queues": queues, "heartbeat": cache.get(HEARTBEAT_KEY)}))
"""


def local_env(var_dir) -> dict[str, str]:
    # Exactly what `make run` has: no DATABASE_URL, CELERY_BROKER_URL or CACHE_URL at all.
    return clean_env(DEBUG="true", VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="project.settings")


def test_a_task_and_remote_control_cross_processes_through_the_filesystem_broker(tmp_path):
    env = local_env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        driver = subprocess.run(
            [sys.executable, "-c", DRIVER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker_log = worker.communicate(timeout=30)[0]

    assert driver.returncode == 0, driver.stderr
    outcome = json.loads(driver.stdout.strip().splitlines()[-1])
    assert outcome["queues"] == ["default", "ingest", "llm", "send"], worker_log
    assert outcome["heartbeat"] is not None, worker_log
    assert (tmp_path / "db.sqlite3").exists()
    assert (tmp_path / "broker" / "control").is_dir()
