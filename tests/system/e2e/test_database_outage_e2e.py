"""PostgreSQL away: a webhook's messages are not lost. The ingest task of a worker that cannot
reach the database retries with backoff instead of being acknowledged as failed, and a worker
that can reach it stores the message once the database is back."""

from __future__ import annotations

import time

import pytest

from messaging.models import Message
from messaging.tasks import ingest_webhook
from tests.processes import celery_worker, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Nothing listens on port 1: every connection is refused at once, as with a stopped server.
UNREACHABLE_DATABASE = "postgres://postgres:postgres@127.0.0.1:1/whatsapp_agent"


def customer_event(msg_id: str) -> dict:
    return {
        "wh_type": "incoming_message",
        "id": msg_id,
        "type": "chat",
        "body": "Здравствуйте! Есть доставка в Астану?",
        "from": "77015550011@c.us",
        "chatId": "77015550011@c.us",
        "senderName": "Ерлан",
        "time": int(time.time()),
        "is_me": False,
    }


def test_a_webhook_taken_while_the_database_is_down_is_stored_when_it_is_back():
    payload = {"messages": [customer_event("3EB0DBDOWN1")]}

    # The database is down for this worker: the ingest task fails to connect and must retry.
    with celery_worker(queues="ingest", TEST_DATABASE_URL=UNREACHABLE_DATABASE):
        ingest_webhook.delay(payload)
        time.sleep(3)  # a few failed attempts: connection refused, retry scheduled
    assert not Message.objects.filter(provider_message_id="3EB0DBDOWN1").exists()

    # The database is back (a worker that reaches it): the same task is delivered again.
    with celery_worker(purge=False, queues="ingest"):
        stored = wait_for(
            lambda: Message.objects.filter(provider_message_id="3EB0DBDOWN1").first(),
            what="the message to be stored once the database is back",
            timeout=90,
        )
    assert stored.text == "Здравствуйте! Есть доставка в Астану?"
    assert Message.objects.filter(provider_message_id="3EB0DBDOWN1").count() == 1
