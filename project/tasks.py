from __future__ import annotations

from celery import shared_task

from project.lib.heartbeat import heartbeat_record


@shared_task(name="project.heartbeat", bind=True, ignore_result=True)
def heartbeat(self) -> None:
    """Sent by beat, run by a worker: its timestamp on /health shows both are alive, and the
    beat's name on the message shows when two beats are running."""
    heartbeat_record(beat=getattr(self.request, "beat_id", None))
