"""Liveness of the parts the product needs: the database, the broker, beat and workers.

Reads only: the heartbeat bookkeeping lives in project.lib.heartbeat (the Celery app and the
heartbeat task write it), the state of Wappi and of the model comes from their apps' selectors.

The report is built from PROBES, named parts each giving a ProbeResult: a public summary (its
state and counts, safe for anyone on the internet) and details for staff and the monitoring
system. To report one more part, add a Probe there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ai.selectors import model_calls_recent, pending_replies_waiting_count
from ai.usage import budget_health
from messaging.selectors import gateway_status, inbound_unanswered_count, number_health
from messaging.suspicious import suspicious_status
from project.celery import app
from project.lib.backups import backup_status
from project.lib.heartbeat import HEARTBEAT_TASK, heartbeat_beats_live, heartbeat_worker_seen

log = structlog.get_logger(__name__)

BROKER_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class ProbeResult:
    """One part's state as /health shows it. `public` is what anyone may see besides the status:
    states, counts and times only (no phone number, name, error text, host or user); `details`
    is what staff and the monitoring system see on top of it (merged over `public`)."""

    status: str
    public: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def shown(self, *, detailed: bool) -> dict[str, Any]:
        return {"status": self.status, **self.public, **(self.details if detailed else {})}


def check_database() -> ProbeResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down", named in the details
        return ProbeResult("error", details={"error": f"{type(exc).__name__}: {exc}"})
    return ProbeResult("ok", details={"vendor": connection.vendor})


def check_broker() -> ProbeResult:
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
                    return ProbeResult(
                        "error", details={"transport": transport, "error": f"{key} {folder} is not a writable folder"}
                    )
        else:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return ProbeResult("error", details={"transport": transport, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.release()
    return ProbeResult("ok", details={"transport": transport})


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
        **budget_health(now),  # past the day's LLM_DAILY_BUDGET_USD: "degraded", reason "budget"
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


# --- The probes /health runs, each giving a public summary and staff details --------------------

_PROCESS_STATES = ("ok", "unknown", "stale", "duplicate")  # best first


def probe_processes() -> ProbeResult:
    beats = heartbeat_status()
    beat, worker = beats["beat"], beats["worker"]
    status = max((beat["status"], worker["status"]), key=_PROCESS_STATES.index)
    public_beat = {"status": beat["status"], **({"instances": beat["instances"]} if "instances" in beat else {})}
    return ProbeResult(
        status,
        public={"beat": public_beat, "worker": {"status": worker["status"]}},
        # The details name the hosts and processes (host:pid) and when they were last seen.
        details={"beat": beat, "worker": worker},
    )


def _local(moment: str | None) -> str | None:
    """An ISO time from the database as the business's local time (TIME_ZONE), as the spec shows it."""
    return timezone.localtime(datetime.fromisoformat(moment)).isoformat() if moment else None


def probe_wappi() -> ProbeResult:
    """Wappi as messaging.selectors.gateway_status sees it. Public: the state, counts and times;
    the alarm only as a yes/no (it lists the quarantined chats, i.e. customers' numbers). Staff:
    the error texts Wappi gave and the alarm's chats."""
    gateway = gateway_status()
    alarm = gateway["quarantine_alarm"]
    public = {
        "mode": gateway["mode"],
        "authorized": gateway["authorized"],
        "last_poll_at": _local(gateway["last_poll_at"]),
        "last_webhook_at": _local(gateway["last_webhook_at"]),
        "auth_checked_at": _local(gateway["auth_checked_at"]),
        "polling_backoff_until": _local(gateway["polling_backoff_until"]),
        "quarantined_chats": gateway["quarantined_chats"],
        "quarantine_alarm": bool(alarm),
        "failed_sends": gateway["failed_sends"],
    }
    details = {
        "auth_error": gateway["auth_error"],
        "last_poll_error": gateway["last_poll_error"],
        "quarantine_alarm": alarm,
    }
    return ProbeResult(str(gateway["status"]), public=public, details=details)


def probe_number() -> ProbeResult:
    """Our WhatsApp number's standing (messaging.number): "paused" while proactive sending is
    stopped for its safety (why, since when, until when at the earliest), with the restriction
    events seen. States, counts and times only."""
    health = number_health(now=timezone.now())
    public = {
        "proactive": "paused" if health.paused_reason else "running",
        "paused_reason": health.paused_reason or None,
        "paused_at": timezone.localtime(health.paused_at).isoformat() if health.paused_at else None,
        "paused_until": timezone.localtime(health.paused_until).isoformat() if health.paused_until else None,
        "restriction_events": health.restriction_events,
        "undelivered_24h": health.undelivered_24h,
        "unanswered_share": round(health.unanswered_share, 3),
    }
    return ProbeResult("paused" if health.paused_reason else "ok", public=public)


def probe_llm() -> ProbeResult:
    summary = llm_status()
    return ProbeResult(summary.pop("status"), public=summary)


def probe_messaging() -> ProbeResult:
    summary = messaging_status()
    return ProbeResult(summary.pop("status"), public=summary)


def probe_backups() -> ProbeResult:
    """The newest database dump's time and age; the file's name is for staff."""
    summary = backup_status()
    details = {key: summary.pop(key) for key in ("file", "error") if key in summary}
    return ProbeResult(summary.pop("status"), public=summary, details=details)


def probe_suspicious() -> ProbeResult:
    summary = suspicious_status()
    return ProbeResult(summary.pop("status"), public=summary)


@dataclass(frozen=True)
class Probe:
    """A part /health reports under `name`. A `vital` part being down makes /health 503 (it goes
    under "checks"); the others are reported without failing it, and run only while the
    database answers (they read it)."""

    name: str
    run: Callable[[], ProbeResult]
    vital: bool = False


# To report one more part, add a Probe here: a function returning ProbeResult(status,
# public={...states and counts...}, details={...what only staff may see...}).
PROBES: list[Probe] = [
    Probe("database", check_database, vital=True),
    Probe("broker", check_broker, vital=True),
    Probe("processes", probe_processes),
    Probe("wappi", probe_wappi),
    Probe("number", probe_number),
    Probe("llm", probe_llm),
    Probe("messaging", probe_messaging),
    Probe("backups", probe_backups),
    Probe("suspicious", probe_suspicious),
]


def _run(probe: Probe) -> ProbeResult:
    try:
        return probe.run()
    except Exception as exc:  # noqa: BLE001 - the cache being down must not hide DB/broker state
        log.warning("health.probe_failed", probe=probe.name, error=type(exc).__name__)
        return ProbeResult("error", details={"error": f"{type(exc).__name__}: {exc}"})


def health_report(*, detailed: bool) -> tuple[bool, dict[str, Any]]:
    """Healthy when the vital parts (the database and the broker) answer; beat/worker liveness,
    the state of Wappi (authorised, last poll, last webhook, quarantined chats), of the model
    (recent failures, customers waiting) and the customers nobody answered within a day are
    reported alongside without failing the check (a deploy may run web alone; Wappi's or
    Gemini's trouble is not ours).

    Besides, the spec's keys: `status`, `wappi_connection`, `queue_connection`, `last_poll_time`,
    and which sandbox (emulator) is on. Without `detailed` every part shows its public summary
    only: what anyone on the internet may read."""
    vital = [(probe.name, _run(probe)) for probe in PROBES if probe.vital]
    healthy = all(result.ok for _name, result in vital)
    checks = dict(vital)
    database_ok = checks["database"].ok
    others = {probe.name: _run(probe) for probe in PROBES if not probe.vital and database_ok}
    wappi = others.get("wappi")
    report: dict[str, Any] = {
        "status": "healthy" if healthy else "unhealthy",
        "time": timezone.localtime().isoformat(),
        "wappi_connection": wappi.status if wappi else "unknown",
        "queue_connection": checks["broker"].status,
        "last_poll_time": wappi.public.get("last_poll_at") if wappi else None,
        "sandbox": {"wappi": bool(settings.WAPPI_SANDBOX), "kaspi": bool(settings.KASPI_SANDBOX)},
        "checks": {name: result.shown(detailed=detailed) for name, result in vital},
    }
    if not healthy:
        report["failed"] = [name for name, result in vital if not result.ok]
    for name, result in others.items():
        report[name] = result.shown(detailed=detailed)
    return healthy, report
