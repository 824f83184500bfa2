"""Faults against the running product: after each, nothing lost (every customer message stored
and answered, every queued outbound sent), nothing sent twice, recovery with no manual step,
and /health showing the fault while it lasted."""

from __future__ import annotations

import threading
import time

import pytest

from tests.chaos.conftest import FAULT_SECONDS, Customers, HealthWatch, settle

pytestmark = [pytest.mark.chaos]

# How long the product may take to heal by itself after a fault: a task lost with a killed worker
# (Redis redelivers unacked tasks only after the visibility timeout, an hour) is re-handed by the
# sweepers, which leave text 2 minutes and voice notes 5 minutes (messaging.selectors.
# inbound_unhandled), and a row left `sending` 3 minutes (messaging.sender.outbox_due), before
# they act; plus a sweep interval. `settle` returns as soon as everything is answered.
RECOVERY_SECONDS = 7 * 60


def wait_until(condition, *, timeout: float, what: str, detail=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what} {detail()}"
        time.sleep(0.1)


def worker_stale(report: dict) -> bool:
    return report.get("processes", {}).get("worker", {}).get("status") == "stale"


def worker_fresh(report: dict) -> bool:
    return report.get("processes", {}).get("worker", {}).get("status") == "ok"


def start_all(run, *, worker: bool = True):
    run.stack.start_web()
    proc = run.stack.start_worker() if worker else None
    run.stack.start_beat()
    if worker:
        # A fault before the first heartbeat would leave /health at "unknown", never "stale".
        wait_until(lambda: worker_fresh(run.stack.health()[1]), timeout=60, what="a first worker heartbeat")
    return proc


def check(tally, case: str) -> None:
    tally.print(case)
    assert not tally.lost, f"lost: {tally.lost[:10]}"
    assert not tally.duplicated, f"duplicated: {tally.duplicated[:10]}"
    assert tally.pending == 0, "outbound rows left queued, sending or failed"


def test_a_worker_killed_mid_send_is_replaced_and_nothing_is_lost_or_sent_twice(deployment):
    run = deployment
    run.wappi.latency = 4.0  # WhatsApp takes the message at once but answers slowly
    worker = start_all(run)
    customers = Customers(run)
    with HealthWatch(run) as health:
        customers.write(10)
        wait_until(lambda: run.wappi.send_started >= 3, timeout=60, what="sends in flight")
        fault = time.time()
        worker.kill()
        # A supervisor notices (the heartbeat goes stale) and starts a replacement.
        wait_until(
            lambda: any(worker_stale(r) for _, r in health.between(fault, time.time())),
            timeout=60,
            what="stale",
            detail=lambda: health.seen[-3:],
        )
        run.wappi.latency = 0.2
        run.stack.start_worker()
        recovered = time.time()
        tally = settle(run, customers, timeout=RECOVERY_SECONDS)
    check(tally, "worker killed mid-send")
    assert any(worker_stale(r) for _, r in health.between(fault, recovered))


def test_a_worker_killed_mid_gemini_call_is_replaced_and_nothing_is_lost_or_sent_twice(deployment):
    run = deployment
    run.gemini.latency = 5.0
    worker = start_all(run)
    customers = Customers(run, prefix="7707")
    with HealthWatch(run) as health:
        customers.write(10, voice_every=4)

        def ai_step_calls() -> int:  # the AI step's own calls (a transcription holds no contact)
            return sum(c.kind != "transcribe" for c in run.gemini.calls)

        wait_until(lambda: ai_step_calls() >= 3, timeout=60, what="AI-step Gemini calls in flight")
        fault = time.time()
        worker.kill()
        wait_until(
            lambda: any(worker_stale(r) for _, r in health.between(fault, time.time())),
            timeout=60,
            what="stale",
            detail=lambda: health.seen[-3:],
        )
        run.gemini.latency = 0.2
        run.stack.start_worker()
        recovered = time.time()
        tally = settle(run, customers, timeout=RECOVERY_SECONDS)
    check(tally, "worker killed mid-Gemini call")
    assert any(worker_stale(r) for _, r in health.between(fault, recovered))


def test_redis_restarted_with_messages_queued_loses_nothing(deployment):
    run = deployment
    start_all(run, worker=False)  # no worker yet: the webhook's tasks wait in Redis
    customers = Customers(run, prefix="7708")
    with HealthWatch(run) as health:
        customers.write(10, voice_every=5)
        import redis

        client = redis.Redis.from_url(run.broker_url)
        try:
            queued = client.llen("ingest")
        finally:
            client.close()  # no connection of ours left open across the restart
        assert queued > 0, "nothing was queued"
        fault = time.time()
        run.infra.redis.stop()
        time.sleep(3)
        customers.write(3)  # while the broker is down the webhook ingests inline
        run.infra.redis.start()
        recovered = time.time()
        run.stack.start_worker()
        tally = settle(run, customers, timeout=RECOVERY_SECONDS)
    print(f"   tasks queued in Redis at the restart: {queued}")  # noqa: T201
    check(tally, "Redis restarted with messages queued")
    down = health.between(fault, recovered)
    assert any(
        status == 503 or report.get("checks", {}).get("broker", {}).get("status") == "error" for status, report in down
    )


def test_postgresql_stopped_for_20_seconds_loses_nothing(deployment):
    run = deployment
    start_all(run)
    customers = Customers(run, prefix="7709")
    with HealthWatch(run) as health:
        customers.write(5)
        fault = time.time()
        run.infra.pg.stop()
        writer = threading.Thread(target=customers.write, args=(5,))
        writer.start()  # Wappi keeps delivering (and retrying) while the database is down
        time.sleep(20)
        run.infra.pg.start()
        recovered = time.time()
        writer.join()
        tally = settle(run, customers, timeout=RECOVERY_SECONDS)
    check(tally, "PostgreSQL stopped for 20 s")
    assert any(status != 200 for status, _ in health.between(fault, recovered)), "/health never reported the outage"


def test_wappi_answering_500_then_timing_out_loses_nothing(deployment):
    run = deployment
    start_all(run)
    customers = Customers(run, prefix="7710")
    with HealthWatch(run) as health:
        run.wappi.fault_status = 500
        fault = time.time()
        customers.write(10)
        time.sleep(FAULT_SECONDS)
        run.wappi.fault_status = None
        run.wappi.fault_hang = 8.0  # longer than WAPPI_TIMEOUT=5
        time.sleep(FAULT_SECONDS)
        run.wappi.fault_hang = 0.0
        recovered = time.time()
        tally = settle(run, customers, timeout=900)
    print(f"   Wappi outage: {FAULT_SECONDS:.0f} s of 500s, then {FAULT_SECONDS:.0f} s of timeouts")  # noqa: T201
    check(tally, f"Wappi 500 for {FAULT_SECONDS:.0f} s, then timeouts for {FAULT_SECONDS:.0f} s")
    # "unknown" is not a fault: it is the state until the first status check (every 300 s).
    shown = [r.get("wappi", {}) for _, r in health.between(fault, recovered)]
    faulted = [w for w in shown if w.get("last_poll_error") or w.get("status") in ("degraded", "error")]
    print(f"   /health during the outage: {len(faulted)} of {len(shown)} reports show Wappi failing")  # noqa: T201
    assert faulted, f"/health never showed the Wappi outage: {shown[-1:]}"


def test_gemini_answering_429_loses_nothing(deployment):
    run = deployment
    start_all(run)
    customers = Customers(run, prefix="7711")
    with HealthWatch(run) as health:
        run.gemini.fault_status = 429
        fault = time.time()
        customers.write(10)
        time.sleep(FAULT_SECONDS)
        run.gemini.fault_status = None
        recovered = time.time()
        tally = settle(run, customers, timeout=300)
    print(f"   Gemini 429 for {FAULT_SECONDS:.0f} s")  # noqa: T201
    check(tally, f"Gemini 429 for {FAULT_SECONDS:.0f} s")
    during = health.between(fault, recovered)
    print(f"   /health during the outage: {during[-1] if during else None}")  # noqa: T201
    if not any(model_trouble(report) for _, report in during):
        # Delivery held (checked above); only the visibility requirement is missing.
        pytest.xfail(
            "product: project/health.py health_report has no model section (no Gemini error "
            "rate, no pending-answer count), so /health stays 'healthy' through a Gemini outage"
        )


def model_trouble(report: dict) -> bool:
    """/health names the model as failing (a section for it whose status is not ok)."""
    sections = [report.get(key) for key in ("llm", "gemini", "model", "ai")]
    return any(isinstance(s, dict) and s.get("status") not in (None, "ok") for s in sections)


def test_beat_started_twice_sends_nothing_twice(deployment):
    run = deployment
    start_all(run)
    run.stack.start_beat()  # the mistake: a second beat
    customers = Customers(run, prefix="7712")
    with HealthWatch(run) as health:
        customers.write(20, voice_every=5)
        tally = settle(run, customers, timeout=RECOVERY_SECONDS)
    beats = [p for p in run.stack.procs if p.name == "beat"]
    assert all(p.alive() for p in beats), "a beat exited: the case did not run two schedulers"
    check(tally, "beat started twice")
    print(f"   /health: {health.seen[-1][2].get('processes') if health.seen else None}")  # noqa: T201
