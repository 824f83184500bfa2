"""The Celery app `project`: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery, signals

from project.lib import heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("project.tasks",)

# /health tells two beats apart by the name a beat stamps on the heartbeats it sends.
signals.beat_init.connect(heartbeat.beat_started, dispatch_uid="project.heartbeat.beat_started")
signals.before_task_publish.connect(heartbeat.stamp_heartbeat, dispatch_uid="project.heartbeat.stamp_heartbeat")
