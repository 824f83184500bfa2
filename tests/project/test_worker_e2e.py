"""A real worker process, started the way the Procfile starts it, runs a task end to end."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from project import health
from project.celery import app
from project.tasks import heartbeat
from tests.processes import celery_worker

pytestmark = [pytest.mark.django_db, pytest.mark.e2e]

TASK_TIMEOUT = 30


@pytest.fixture
def worker():
    with celery_worker() as process:
        yield process.hostname


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
