"""Liveness of the parts the product needs: the database, the broker, beat and workers.

Reads only: the heartbeat bookkeeping lives in project.lib.heartbeat (the Celery app and the
heartbeat task write it), the state of Wappi and of the model comes from their apps' selectors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ai.selectors import model_calls_recent, pending_replies_waiting_count
from messaging.selectors import gateway_status, inbound_unanswered_count
from messaging.suspicious import suspicious_status
from project.celery import app
from project.lib.backups import backup_status
from project.lib.heartbeat import HEARTBEAT_TASK, heartbeat_beats_live, heartbeat_worker_seen

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


# A model call is "recent" for this long; this many failures with the latest one failing means
# the model is in trouble (a blip retried by the SDK does not count).
LLM_WINDOW_MINUTES = 5
LLM_FAILURES_DEGRADED = 3


def llm_status(now: datetime | None = None) -> dict[str, Any]:
    """The model (Gemini) as the customers feel it: calls and failures in the last minutes and
    customers waiting for an answer it could not give. "degraded" while anyone waits or the
    latest calls keep failing (429, 5xx, timeouts); the web itself is fine, so /health stays 200."""
    now = now or timezone.now()
    recent = model_calls_recent(since=now - timedelta(minutes=LLM_WINDOW_MINUTES))
    waiting = pending_replies_waiting_count()
    failing = recent.latest_failed and recent.errors >= LLM_FAILURES_DEGRADED
    return {
        "status": "degraded" if (waiting or failing) else "ok",
        "backend": settings.LLM_BACKEND,
        f"calls_{LLM_WINDOW_MINUTES}m": recent.calls,
        f"errors_{LLM_WINDOW_MINUTES}m": recent.errors,
        "customers_waiting": waiting,
    }


def messaging_status(now: datetime | None = None) -> dict[str, Any]:
    """Customers nobody answered within a day (messaging.selectors.inbound_unanswered: no bot
    or operator message reached them after theirs). "degraded" while there is any; the web
    itself is fine, so /health stays 200."""
    unanswered = inbound_unanswered_count(now=now or timezone.now())
    return {"status": "degraded" if unanswered else "ok", "unanswered_day": unanswered}


def heartbeat_status(now: datetime | None = None) -> dict[str, Any]:
    """Informational: when beat last sent the heartbeat and a worker last ran it."""
    now = now or timezone.now()
    stale_after = 3 * settings.HEARTBEAT_INTERVAL + 10
    beat_sent = PeriodicTask.objects.filter(name=HEARTBEAT_TASK).values_list("last_run_at", flat=True).first()

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
    live = heartbeat_beats_live(now=now, within_seconds=stale_after)
    if live:
        beat["instances"] = len(live)
    if len(live) > 1:
        beat["status"] = "duplicate"
        beat["error"] = f"{len(live)} beat processes are scheduling at once ({', '.join(live)}): stop all but one"
    return {"beat": beat, "worker": state(heartbeat_worker_seen())}


def health_report() -> tuple[bool, dict[str, Any]]:
    """Healthy when the database and the broker answer; beat/worker liveness, the state of
    Wappi (authorised, last poll, last webhook, quarantined chats), of the model (recent
    failures, customers waiting) and the customers nobody answered within a day are reported
    alongside without failing the check (a deploy may run web alone; Wappi's or Gemini's
    trouble is not ours)."""
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
        for key, probe in (
            ("processes", heartbeat_status),
            ("wappi", gateway_status),
            ("llm", llm_status),
            ("messaging", messaging_status),
            ("backups", backup_status),
            ("suspicious", suspicious_status),
        ):
            try:
                report[key] = probe()
            except Exception as exc:  # noqa: BLE001 - the cache being down must not hide DB/broker state
                report[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return healthy, report
