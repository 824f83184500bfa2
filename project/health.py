"""Liveness of the parts the product needs: the database, the broker, beat and workers."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

HEARTBEAT_KEY = "health:worker-heartbeat"
# Beat processes (host:pid) whose heartbeat a worker ran, with when; forgotten after a day.
BEATS_KEY = "health:beats"
BEATS_FORGET_SECONDS = 24 * 3600
BROKER_TIMEOUT_SECONDS = 3.0


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "error", **self.detail}


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", named in the reply
        return Check(False, {"error": f"{type(exc).__name__}: {exc}"})
    return Check(True, {"vendor": connection.vendor})


def check_broker() -> Check:
    from project.celery import app

    conn = app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS)
    transport = conn.transport_cls
    try:
        if transport == "filesystem":
            # The filesystem transport never fails to "connect"; what matters is that
            # the shared folders exist and can be written.
            opts = app.conf.broker_transport_options
            for key in ("data_folder_in", "data_folder_out", "control_folder"):
                folder = Path(opts.get(key, ""))
                if not folder.is_dir() or not os.access(folder, os.W_OK):
                    return Check(False, {"transport": transport, "error": f"{key} {folder} is not a writable folder"})
        else:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return Check(False, {"transport": transport, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.release()
    return Check(True, {"transport": transport})


def heartbeat_record(now: datetime | None = None, *, beat: str | None = None) -> None:
    """A worker ran the heartbeat; `beat` names the beat process that sent it (its host:pid),
    so /health can tell when two beats schedule at once (a mistake every periodic task then
    runs twice for)."""
    moment = (now or timezone.now()).isoformat()
    cache.set(HEARTBEAT_KEY, moment, timeout=None)
    if not beat:
        return
    from project.lib.locks import LockTimeout, cache_lock

    try:
        # Two beats started together send their heartbeats together: serialise the update.
        with cache_lock(BEATS_KEY, ttl=10, wait=5):
            seen = {k: v for k, v in (cache.get(BEATS_KEY) or {}).items() if _age(v, now) < BEATS_FORGET_SECONDS}
            seen[beat] = moment
            cache.set(BEATS_KEY, seen, timeout=None)
    except LockTimeout:
        pass  # the next heartbeat records it


# This process's identity when it is a beat (set on celery's beat_init), stamped on the
# heartbeat messages it sends.
_beat_identity: str | None = None


def beat_started(**_: Any) -> None:
    global _beat_identity
    _beat_identity = f"{socket.gethostname()}:{os.getpid()}"


def stamp_heartbeat(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    """celery's before_task_publish: a beat process names itself on the heartbeat it sends."""
    if _beat_identity and sender == "project.heartbeat" and headers is not None:
        headers["beat_id"] = _beat_identity


def _age(iso: str, now: datetime | None) -> float:
    return ((now or timezone.now()) - datetime.fromisoformat(iso)).total_seconds()


# A model call is "recent" for this long; this many failures with the latest one failing means
# the model is in trouble (a blip retried by the SDK does not count).
LLM_WINDOW_MINUTES = 5
LLM_FAILURES_DEGRADED = 3


def llm_status(now: datetime | None = None) -> dict[str, Any]:
    """The model (Gemini) as the customers feel it: calls and failures in the last minutes and
    customers waiting for an answer it could not give. "degraded" while anyone waits or the
    latest calls keep failing (429, 5xx, timeouts); the web itself is fine, so /health stays 200."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count, Q

    from ai.models import ModelCall, PendingReply

    now = now or timezone.now()
    recent = ModelCall.objects.filter(created_at__gte=now - timedelta(minutes=LLM_WINDOW_MINUTES)).exclude(
        backend="offline"
    )
    counts = recent.aggregate(calls=Count("id"), errors=Count("id", filter=Q(ok=False)))
    latest = recent.order_by("-created_at", "-id").values_list("ok", flat=True).first()
    waiting = PendingReply.objects.filter(resolved_at__isnull=True).count()
    failing = latest is False and counts["errors"] >= LLM_FAILURES_DEGRADED
    return {
        "status": "degraded" if (waiting or failing) else "ok",
        "backend": settings.LLM_BACKEND,
        f"calls_{LLM_WINDOW_MINUTES}m": counts["calls"],
        f"errors_{LLM_WINDOW_MINUTES}m": counts["errors"],
        "customers_waiting": waiting,
    }


def heartbeat_status(now: datetime | None = None) -> dict[str, Any]:
    """Informational: when beat last sent the heartbeat and a worker last ran it."""
    from django.conf import settings
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    stale_after = 3 * settings.HEARTBEAT_INTERVAL + 10
    worker_seen = _parse(cache.get(HEARTBEAT_KEY))
    beat_sent = PeriodicTask.objects.filter(name="project.heartbeat").values_list("last_run_at", flat=True).first()

    def state(moment: datetime | None) -> dict[str, Any]:
        if moment is None:
            return {"status": "unknown", "last_seen": None}
        age = (now - moment).total_seconds()
        return {
            "status": "ok" if age <= stale_after else "stale",
            "last_seen": moment.isoformat(),
            "age_seconds": round(age, 1),
        }

    beat = state(beat_sent)
    # Beats whose heartbeat a worker ran within the stale window: more than one is a fault.
    live = sorted(k for k, v in (cache.get(BEATS_KEY) or {}).items() if _age(v, now) <= stale_after)
    if live:
        beat["instances"] = len(live)
    if len(live) > 1:
        beat["status"] = "duplicate"
        beat["error"] = f"{len(live)} beat processes are scheduling at once ({', '.join(live)}): stop all but one"
    return {"beat": beat, "worker": state(worker_seen)}


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def health_report() -> tuple[bool, dict[str, Any]]:
    """Healthy when the database and the broker answer; beat/worker liveness, the state of
    Wappi (authorised, last poll, last webhook, quarantined chats) and of the model (recent
    failures, customers waiting) are reported alongside without failing the check (a deploy
    may run web alone; Wappi's or Gemini's trouble is not ours)."""
    database, broker = check_database(), check_broker()
    healthy = database.ok and broker.ok
    report: dict[str, Any] = {
        "status": "healthy" if healthy else "unhealthy",
        "time": timezone.localtime().isoformat(),
        "checks": {"database": database.as_dict(), "broker": broker.as_dict()},
    }
    if not healthy:
        report["failed"] = [name for name, check in (("database", database), ("broker", broker)) if not check.ok]
    if database.ok:
        from messaging.selectors import gateway_status

        for key, probe in (("processes", heartbeat_status), ("wappi", gateway_status), ("llm", llm_status)):
            try:
                report[key] = probe()
            except Exception as exc:  # noqa: BLE001 - the cache being down must not hide DB/broker state
                report[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return healthy, report
