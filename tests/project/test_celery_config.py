"""A misspelt CELERY_* setting is silently ignored, so read the config the app really uses."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from project.celery import app


def test_the_app_uses_json_only_and_keeps_no_results():
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_ignore_result is True
    assert conf.result_backend is None


def test_tasks_are_acknowledged_after_they_ran_and_fetched_one_at_a_time():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_time_limits_events_and_beat_scheduler_are_set():
    conf = app.conf
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.worker_send_task_events is True
    assert conf.task_send_sent_event is True
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
    assert conf.timezone == "Asia/Almaty"


def test_a_worker_with_no_flags_runs_a_threads_pool_on_all_four_queues():
    conf = app.conf
    assert conf.worker_pool == "threads"
    assert conf.worker_concurrency >= 16
    assert {q.name for q in conf.task_queues} == {"ingest", "llm", "send", "default"}
    assert conf.task_default_queue == "default"


# Task names are a contract with running systems: beat rows in the database, messages already
# in the broker, routes, dashboards. A renamed task fails here, never silently in production.
QUEUE_OF_TASK = {
    "ai.answer_pending": "llm",
    "ai.apply_retention": "default",
    "ai.process_incoming": "llm",
    "ai.reclassify": "llm",
    "ai.refresh_knowledge_base": "llm",
    "ai.retry_pending": "llm",
    "assistant.check_handoffs": "default",
    "assistant.handoff_brief": "llm",
    "contacts.send_call_reminders": "default",
    "followups.run_due": "default",
    "messaging.check_wappi_status": "default",
    "messaging.ingest_webhook": "ingest",
    "messaging.poll_wappi": "ingest",
    "messaging.reconcile_outgoing": "send",
    "messaging.send_outgoing": "send",
    "messaging.sweep_inbound": "send",
    "messaging.sweep_outbox": "send",
    "messaging.voice_transcribe": "llm",
    "payments.check_payment": "default",
    "payments.expire_invoices": "default",
    "payments.post_purchase_tick": "default",
    "project.heartbeat": "default",
}


def registered_task_names() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_the_registered_tasks_are_exactly_the_named_ones():
    assert registered_task_names() == set(QUEUE_OF_TASK)


@pytest.mark.parametrize(("task_name", "queue"), QUEUE_OF_TASK.items())
def test_each_task_is_routed_to_its_queue_by_name(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue


def test_every_route_names_a_registered_task_and_every_task_has_its_own_route(settings):
    # No patterns: a route for a task that does not exist, or a task left to a catch-all, is a
    # mistake a glob would hide.
    assert set(settings.CELERY_TASK_ROUTES) == registered_task_names()


@pytest.mark.django_db
def test_every_periodic_task_names_a_registered_task(settings):
    call_command("migrate", verbosity=0)  # registers PERIODIC_TASKS as beat rows
    scheduled = set(PeriodicTask.objects.values_list("task", flat=True))
    assert set(settings.PERIODIC_TASKS) <= scheduled
    assert scheduled <= registered_task_names()
