"""The Celery app `project`: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import redis
import structlog
from celery import Celery, signals
from django.conf import settings
from django.db import close_old_connections

from project.lib import heartbeat, liveness

log = structlog.get_logger(__name__)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.imports = ("project.tasks",)

# /health tells two beats apart by the name a beat stamps on the heartbeats it sends.
signals.beat_init.connect(heartbeat.beat_started, dispatch_uid="project.heartbeat.beat_started")
signals.before_task_publish.connect(heartbeat.stamp_heartbeat, dispatch_uid="project.heartbeat.stamp_heartbeat")


# --- Database connections: kept between tasks, as between web requests ---


def _close_old_connections(sender: Any = None, **_: Any) -> None:
    """Before and after every task: Django's rule for a request, closing a connection that broke
    or outlived CONN_MAX_AGE (on the model worker's pool, CONN_MAX_AGE 0: handed back to the
    pool) and keeping the others (settings.CELERY_DB_REUSE_MAX keeps Celery's fix-up from
    closing them all). Not for a task run eagerly: it shares the caller's connection."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


signals.task_prerun.connect(_close_old_connections, dispatch_uid="project.db.task_prerun")
signals.task_postrun.connect(_close_old_connections, dispatch_uid="project.db.task_postrun")


# --- Worker leases: a dead worker's tasks are re-handed within seconds (project.lib.liveness) ---

SEND_TASK, RECONCILE_TASK = "messaging.send_outgoing", "messaging.reconcile_outgoing"
_identity: str | None = None
_client: Any = None  # the broker's Redis (redis-py: thread- and greenlet-safe)
_stopping = threading.Event()


def _on_redis_broker() -> bool:
    return str(app.conf.broker_url or "").startswith(("redis://", "rediss://"))


def _worker_ready(sender: Any = None, **_: Any) -> None:
    """celery's worker_ready (the worker's main process): take a lease and keep it."""
    global _identity, _client
    if not _on_redis_broker():
        return  # the local filesystem broker has no redelivery to speed up
    _client = redis.Redis.from_url(app.conf.broker_url, socket_timeout=10)
    _identity = liveness.new_identity(getattr(sender, "hostname", None))
    threading.Thread(target=_lease_loop, args=(_identity,), name="worker-lease", daemon=True).start()


def _task_received(request: Any = None, **_: Any) -> None:
    """celery's task_received: note the message this worker now holds, unacked until done."""
    if _identity is None or request is None:
        return
    try:
        liveness.task_held(
            _client,
            _identity,
            tag=str(request.message.delivery_tag),
            task=request.name,
            first_arg=request.args[0] if request.args else "",
        )
    except Exception as exc:  # noqa: BLE001 - the sweepers still cover a task we failed to note
        log.warning("worker.lease_note_failed", error=str(exc))


def _worker_shutdown(**_: Any) -> None:
    _stopping.set()
    if _identity is None:
        return
    try:
        liveness.worker_left(_client, _identity)
    except Exception as exc:  # noqa: BLE001
        log.warning("worker.lease_release_failed", error=str(exc))


def _lease_loop(identity: str) -> None:
    lease = settings.WORKER_LEASE_SECONDS
    # After Redis was unreachable (or before this worker's first round) every worker's lease may
    # have lapsed together: judge the others only once they have had two renewal rounds to renew
    # theirs, or a live worker's tasks would be handed out a second time.
    grace = 2 * max(1.0, lease / 3) + 1
    unsure_until = time.monotonic() + grace
    while not _stopping.is_set():
        try:
            liveness.lease_renew(_client, identity, lease=lease)
            for dead in liveness.dead_workers(_client, me=identity) if time.monotonic() >= unsure_until else []:
                with app.connection_for_write() as conn:
                    channel = conn.default_channel
                    recovered = liveness.recover(
                        _client,
                        dead,
                        restore=lambda tag, qos=channel.qos: qos.restore_by_tag(tag, leftmost=True),
                        send_task=SEND_TASK,
                    )
                    # A send in flight may have reached WhatsApp: look for it once the dead
                    # worker's request would have timed out, never resend blindly.
                    for pk in recovered.sends if recovered else []:
                        app.send_task(RECONCILE_TASK, (pk,), countdown=settings.WAPPI_TIMEOUT + 1, expires=600)
        except Exception as exc:  # noqa: BLE001 - Redis away: try again next round
            log.warning("worker.lease_failed", error=str(exc))
            unsure_until = time.monotonic() + grace
        _stopping.wait(max(1.0, lease / 3))


signals.worker_ready.connect(_worker_ready, dispatch_uid="project.liveness.worker_ready")
signals.task_received.connect(_task_received, dispatch_uid="project.liveness.task_received")
signals.worker_shutdown.connect(_worker_shutdown, dispatch_uid="project.liveness.worker_shutdown")
