"""Task names are a contract with running systems (beat rows, queued messages, routes):
a task that moves to another module keeps its name, its registration and its queue."""

from __future__ import annotations

import pytest

from project.celery import app

QUEUE_OF = {
    "messaging.ingest_webhook": "ingest",
    "messaging.poll_wappi": "ingest",
    "messaging.send_outgoing": "send",
    "messaging.reconcile_outgoing": "send",
    "messaging.sweep_outbox": "send",
    "messaging.sweep_inbound": "send",
    "messaging.voice_transcribe": "llm",
    "messaging.check_wappi_status": "default",
    "ai.process_incoming": "llm",
    "ai.retry_pending": "llm",
    "ai.answer_pending": "llm",
    "ai.reclassify": "llm",
    "ai.refresh_knowledge_base": "llm",
    "ai.apply_retention": "default",
    "followups.run_due": "default",
    "payments.check_payment": "default",
    "payments.expire_invoices": "default",
    "payments.post_purchase_tick": "default",
    "contacts.send_call_reminders": "default",
    "project.heartbeat": "default",
    "evals.run": "default",
}


@pytest.mark.parametrize(("name", "queue"), QUEUE_OF.items())
def test_every_task_is_registered_under_its_stable_name_and_routed_to_its_queue(name, queue):
    app.loader.import_default_modules()
    assert name in app.tasks
    assert app.amqp.router.route({}, name)["queue"].name == queue


def test_the_voice_note_task_keeps_its_retry_policy():
    app.loader.import_default_modules()
    assert app.tasks["messaging.voice_transcribe"].max_retries == 3
