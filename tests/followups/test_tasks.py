from __future__ import annotations

import pytest
import time_machine

from followups.tasks import run_due
from project.celery import app
from tests.factories import local, silent_client
from tests.followups.conftest import follow_up_messages

pytestmark = pytest.mark.django_db


def test_the_beat_task_is_registered_under_its_stable_name_on_a_queue_a_worker_consumes(settings):
    app.loader.import_default_modules()
    task = app.tasks["followups.run_due"]
    assert task.name == run_due.name
    assert task.acks_late is True
    assert task.soft_time_limit < task.time_limit
    assert "followups.run_due" in settings.PERIODIC_TASKS
    queue = app.amqp.router.route({}, "followups.run_due")["queue"].name
    assert queue in {q.name for q in app.conf.task_queues}


def test_one_run_of_the_task_sends_the_due_touches():
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    with time_machine.travel(due, tick=False):
        summary = run_due.apply().get()
    assert summary == "sent=1 deferred=0 stopped=0 released=0"
    assert list(follow_up_messages().values_list("contact_id", flat=True)) == [followup.contact_id]
