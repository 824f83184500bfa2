from __future__ import annotations

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from project.schedules import periodic_tasks_sync

pytestmark = pytest.mark.django_db


def test_migrate_alone_registers_the_periodic_tasks():
    PeriodicTask.objects.all().delete()
    call_command("migrate", verbosity=0)
    task = PeriodicTask.objects.get(name="project.heartbeat")
    assert task.task == "project.heartbeat"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (30, IntervalSchedule.SECONDS)


def test_an_operators_admin_edit_survives_the_next_migrate():
    call_command("migrate", verbosity=0)
    task = PeriodicTask.objects.get(name="project.heartbeat")
    task.enabled = False
    task.interval = IntervalSchedule.objects.create(every=300, period=IntervalSchedule.SECONDS)
    task.save()

    call_command("migrate", verbosity=0)

    task.refresh_from_db()
    assert task.enabled is False
    assert task.interval.every == 300


def test_a_changed_setting_is_applied_at_the_next_sync_and_fractions_are_kept():
    periodic_tasks_sync(declared={"messaging.poll_wappi": 5})
    touched = periodic_tasks_sync(declared={"messaging.poll_wappi": 2.5})
    task = PeriodicTask.objects.get(name="messaging.poll_wappi")
    assert touched == ["messaging.poll_wappi"]
    assert (task.interval.every, task.interval.period) == (2_500_000, IntervalSchedule.MICROSECONDS)
    assert task.expire_seconds == 10
    assert periodic_tasks_sync(declared={"messaging.poll_wappi": 2.5}) == []


def test_a_non_positive_interval_is_refused():
    with pytest.raises(ValueError, match="positive"):
        periodic_tasks_sync(declared={"project.heartbeat": 0})
