"""Registers the project's periodic tasks with django-celery-beat's database scheduler."""

from __future__ import annotations

import structlog
from django_celery_beat.models import IntervalSchedule, PeriodicTask

log = structlog.get_logger(__name__)

MANAGED_PREFIX = "Managed by PERIODIC_TASKS"


def _interval(seconds: float) -> tuple[int, str]:
    if seconds <= 0:
        raise ValueError(f"periodic interval must be positive, got {seconds}")
    if float(seconds).is_integer():
        return int(seconds), IntervalSchedule.SECONDS
    return round(seconds * 1_000_000), IntervalSchedule.MICROSECONDS


def periodic_tasks_sync(*, declared: dict[str, float], using: str = "default") -> list[str]:
    """Creates a PeriodicTask row for each declared task that has none, and re-applies the
    declared interval when the setting changed since the last sync. An operator's admin
    edits (interval, enabled) stand until the setting itself changes. Returns the names
    of the rows created or updated."""
    touched: list[str] = []
    for task_name, seconds in declared.items():
        every, period = _interval(seconds)
        # IntervalSchedule has no unique constraint (operators add rows in the admin): reuse
        # the first match rather than fail on duplicates.
        schedule = IntervalSchedule.objects.using(using).filter(every=every, period=period).order_by(
            "pk"
        ).first() or IntervalSchedule.objects.using(using).create(every=every, period=period)
        description = f"{MANAGED_PREFIX}: every {seconds:g} s"
        # A tick that waited longer than two intervals is stale: a stopped worker must
        # not come back to a pile of identical polls.
        expires = max(10, round(seconds * 2))
        task, created = PeriodicTask.objects.using(using).get_or_create(
            name=task_name,
            defaults={"task": task_name, "interval": schedule, "description": description, "expire_seconds": expires},
        )
        if created:
            touched.append(task_name)
        elif task.description != description:
            task.interval, task.description, task.expire_seconds = schedule, description, expires
            task.save(using=using)
            touched.append(task_name)
    if touched:
        log.info("beat.schedules_synced", tasks=touched)
    return touched
