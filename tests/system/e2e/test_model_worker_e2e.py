"""The model worker as the Procfile starts it (`-Q llm -P gevent`): many slow model calls in
flight in one process, one greenlet each, on a few pooled database connections."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from assistant.tasks import process_incoming
from messaging.models import Message
from project.celery import app
from tests.factories import ContactFactory, InboundMessageFactory
from tests.processes import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CLIENTS, POOL = 40, 5


def database_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_forty_model_calls_in_flight_hold_no_more_database_connections_than_the_pool(fake_gemini):
    moment = timezone.now() - timedelta(seconds=30)
    for i in range(CLIENTS):
        InboundMessageFactory(
            contact=ContactFactory(phone=f"7706555{i:04d}", is_client=True, classified_by="model"),
            text="Здравствуйте! Сколько стоит доставка?",
            timestamp=moment,
            received_at=moment,
        )
        fake_gemini.reply_text("Здравствуйте! 😊 Стоимость уточнит менеджер. Куда нужна доставка?", delay=4)
    env = {
        "LLM_BACKEND": "gemini",
        "TEST_GEMINI_API_KEY": fake_gemini.api_key,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "REPLY_DEBOUNCE_SECONDS": "0",
        "CELERY_WORKER_CONCURRENCY": "200",
        "DATABASE_POOL_SIZE": str(POOL),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    baseline = database_connections()
    with celery_worker(queues="llm", pool="gevent", **env):
        for message in Message.objects.filter(direction="in"):
            process_incoming.delay(message.pk)
        # Every client's call is waiting on the model at once (4 s each), in one process...
        wait_for(lambda: len(fake_gemini.generate_requests()) >= CLIENTS, what="all calls in flight", timeout=60)
        in_flight = database_connections() - baseline
        wait_for(
            lambda: Message.objects.filter(direction="out", purpose="reply").count() == CLIENTS,
            what="every client answered",
            timeout=90,
        )
    app.control.purge()
    # ...on at most the pool's connections (a greenlet gives its own back before the call).
    assert in_flight <= POOL, f"{in_flight} database connections for {CLIENTS} model calls in flight"
    assert Message.objects.filter(direction="out", purpose="reply").count() == CLIENTS
