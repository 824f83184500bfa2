"""A misspelt CELERY_* setting is silently ignored, so read the config the app really uses."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("messaging.ingest_event", "ingest"),
        ("messaging.poll_wappi", "ingest"),
        ("messaging.send_outgoing", "send"),
        ("messaging.sweep_outbox", "send"),
        ("ai.process_incoming", "llm"),
        ("ai.transcribe_voice", "llm"),
        ("followups.run_due", "default"),
        ("project.heartbeat", "default"),
    ],
)
def test_tasks_are_routed_to_their_queue_by_name(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue


def test_the_project_tasks_are_registered_under_stable_names():
    app.loader.import_default_modules()
    assert "project.heartbeat" in app.tasks
