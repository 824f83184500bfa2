"""A real worker process, started the way the Procfile starts it, runs a task end to end."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from project.celery import app
from project.lib.heartbeat import HEARTBEAT_KEY
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
    assert cache.get(HEARTBEAT_KEY) is None
    heartbeat.delay()

    deadline = time.monotonic() + TASK_TIMEOUT
    while cache.get(HEARTBEAT_KEY) is None:
        assert time.monotonic() < deadline, "the worker never ran project.heartbeat"
        time.sleep(0.2)

    assert client.get("/health").json()["processes"]["worker"]["status"] == "ok"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_customers_messages_are_taken_before_queued_model_work():
    """A backlog of model work (queue `llm`) never delays storing customers' messages: a worker
    takes from `ingest` first (with round robin they would interleave with the model tasks)."""
    import re

    from assistant.tasks import retry_pending
    from messaging.models import Message
    from messaging.tasks import ingest_webhook

    app.control.purge()
    for _ in range(20):
        retry_pending.delay()  # queued first
    for i in range(5):
        ingest_webhook.delay({"messages": [customer_event(i)]})

    with celery_worker(purge=False, CELERY_WORKER_CONCURRENCY="1") as worker:
        deadline = time.monotonic() + TASK_TIMEOUT
        while worker.log().count("ai.retry_pending[") < 20 * 2:  # received + succeeded
            assert time.monotonic() < deadline, f"the worker never ran the backlog:\n{worker.log()[-3000:]}"
            time.sleep(0.1)
        order = re.findall(r"Task (\S+?)\[\S+\] received", worker.log())

    assert order[:5] == ["messaging.ingest_webhook"] * 5
    assert order[5:25] == ["ai.retry_pending"] * 20
    assert Message.objects.filter(direction="in").count() == 5


def customer_event(i: int) -> dict:
    return {
        "wh_type": "incoming_message",
        "id": f"3EB0ORDER{i:011d}",
        "type": "chat",
        "body": "Здравствуйте! Сколько стоит доставка?",
        "from": f"7701555000{i}@c.us",
        "to": "77000000000@c.us",
        "chatId": f"7701555000{i}@c.us",
        "senderName": f"Клиент {i}",
        "time": 1795410000 + i,
        "is_me": False,
        "chat_type": "dialog",
    }
