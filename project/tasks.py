from __future__ import annotations

from celery import shared_task

from project import health


@shared_task(name="project.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Sent by beat, run by a worker: its timestamp on /health shows both are alive."""
    health.heartbeat_record()
