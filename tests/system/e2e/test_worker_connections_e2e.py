"""A worker keeps its database connection from task to task, as the web keeps one from request to
request (CONN_MAX_AGE), and replaces it when it broke. Celery's own Django fix-up closes every
connection before and after each task: one new PostgreSQL session (a forked backend, its
authentication and set-up) per stored message, per send, per heartbeat."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from messaging.models import Message
from messaging.tasks import ingest_webhook
from tests.factories import wappi_incoming
from tests.processes import celery_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

TASK_TIMEOUT = 30


def worker_backends(name: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [name])
        return {pid for (pid,) in cursor.fetchall()}


def customer_event(i: int) -> dict:
    return wappi_incoming(f"3EB0CONN{i:012d}", phone=f"7701555100{i}")


def stored(provider_id: str) -> None:
    deadline = time.monotonic() + TASK_TIMEOUT
    while not Message.objects.filter(provider_message_id=provider_id).exists():
        assert time.monotonic() < deadline, f"the worker never stored {provider_id}"
        time.sleep(0.1)


def test_the_worker_reuses_its_connection_and_replaces_a_broken_one():
    name = f"worker-{uuid.uuid4().hex[:8]}"  # the worker's sessions, told apart in pg_stat_activity
    with celery_worker(queues="ingest", CELERY_WORKER_CONCURRENCY="1", PGAPPNAME=name):
        seen: list[set[int]] = []
        for i in range(3):
            event = customer_event(i)
            ingest_webhook.delay({"messages": [event]})
            stored(event["id"])
            time.sleep(0.3)  # the task's end (and, before, the fix-up's close) has run
            seen.append(worker_backends(name))
        # One session served all three messages and is still open for the next.
        assert len(seen[0]) == 1, f"no connection kept after the task: {seen}"
        assert seen[0] == seen[1] == seen[2]

        # PostgreSQL ends that session (a restart, a failover, an idle timeout): the next
        # message is stored all the same, on a new connection.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [next(iter(seen[0]))])
        event = customer_event(3)
        ingest_webhook.delay({"messages": [event]})
        stored(event["id"])
        time.sleep(0.3)
        assert worker_backends(name) - seen[0], "the broken connection was not replaced"
