"""The Celery app `project`: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("project.tasks",)


# /health tells two beats apart by the name a beat stamps on the heartbeats it sends.
@signals.beat_init.connect
def _beat_init(**kwargs: Any) -> None:
    from project import health

    health.beat_started(**kwargs)


@signals.before_task_publish.connect
def _before_task_publish(**kwargs: Any) -> None:
    from project import health

    health.stamp_heartbeat(**kwargs)
