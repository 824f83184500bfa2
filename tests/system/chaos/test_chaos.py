"""Faults against the running product: after each, nothing lost (every customer message stored
and answered, every queued outbound sent), nothing sent twice, recovery with no manual step,
and /health showing the fault while it lasted."""

from __future__ import annotations

import threading
import time

import pytest

from tests.system.chaos.conftest import FAULT_SECONDS, Customers, HealthWatch, record, settle

pytestmark = [pytest.mark.chaos]

# How long the product may take to heal by itself after a fault. A killed worker's tasks are
# handed back by the surviving (here: the replacement) worker as soon as its lease lapses
# (WORKER_LEASE_SECONDS, project.lib.liveness), its in-flight sends reconciled after WAPPI_TIMEOUT;
# the sweepers (text after 2 minutes, voice notes after 5, a row left `sending` after 3) are the
# backstop for a lost broker. `settle` returns as soon as everything is answered; for a killed
# worker the recovery time it reports counts from the kill.
RECOVERY_SECONDS = 7 * 60


def wait_until(condition, *, timeout: float, what: str, detail=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what} {detail()}"
        time.sleep(0.1)


def worker_stale(report: dict) -> bool:
    return report.get("processes", {}).get("worker", {}).get("status") == "stale"


def beat_duplicate(report: dict) -> bool:
    return report.get("processes", {}).get("beat", {}).get("status") == "duplicate"


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


def check(tally, case: str, *, health_shown: bool, health_detail: str) -> None:
    """Records the case for the summary table, then: nothing lost, nothing twice, the outbox
    drained by itself, and /health showed the fault while it lasted."""
    record(case, tally, health_shown=health_shown, health_detail=health_detail)
    assert not tally.lost, f"lost: {tally.lost[:10]}"
    assert not tally.duplicated, f"duplicated: {tally.duplicated[:10]}"
    assert tally.pending == 0, "outbound rows left queued, sending or failed"
    assert health_shown, f"/health never showed the fault: {health_detail}"


def shown(reports: list, fault) -> tuple[bool, str]:
    """Whether any /health report during the fault matched `fault`, and how many did."""
    hits = sum(1 for status, report in reports if fault(status, report))
    return bool(hits), f"{hits} of {len(reports)} reports"


def kill_and_replace(run, worker, health: HealthWatch, *, heal) -> tuple[float, float]:
    """kill -9 the worker; once /health shows it stale (what a supervisor watches), `heal` the
    slow fake and start a replacement. Returns when the fault began and when it ended."""
    fault = time.time()
    worker.kill()
    wait_until(
        lambda: any(worker_stale(r) for _, r in health.between(fault, time.time())),
        timeout=60,
        what="stale",
        detail=lambda: health.seen[-3:],
    )
    heal()
    run.stack.start_worker()
    return fault, time.time()


def test_a_worker_killed_mid_send_is_replaced_and_nothing_is_lost_or_sent_twice(deployment):
    run = deployment
    run.wappi.latency = 4.0  # WhatsApp takes the message at once but answers slowly
    worker = start_all(run)
    customers = Customers(run)
    with HealthWatch(run) as health:
        customers.write(10)
        wait_until(lambda: run.wappi.send_started >= 3, timeout=60, what="sends in flight")
        fault, recovered = kill_and_replace(run, worker, health, heal=lambda: setattr(run.wappi, "latency", 0.2))
        tally = settle(run, customers, timeout=RECOVERY_SECONDS, since=fault)
    seen, detail = shown(health.between(fault, recovered), lambda _, r: worker_stale(r))
    check(tally, "worker killed mid-send", health_shown=seen, health_detail=f"worker stale in {detail}")


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
        fault, recovered = kill_and_replace(run, worker, health, heal=lambda: setattr(run.gemini, "latency", 0.2))
        tally = settle(run, customers, timeout=RECOVERY_SECONDS, since=fault)
    seen, detail = shown(health.between(fault, recovered), lambda _, r: worker_stale(r))
    check(tally, "worker killed mid-Gemini call", health_shown=seen, health_detail=f"worker stale in {detail}")


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
    seen, detail = shown(
        health.between(fault, recovered),
        lambda status, report: status == 503 or report.get("checks", {}).get("broker", {}).get("status") == "error",
    )
    check(tally, "Redis restarted with messages queued", health_shown=seen, health_detail=f"broker down in {detail}")


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
    seen, detail = shown(health.between(fault, recovered), lambda status, _: status != 200)
    check(tally, "PostgreSQL stopped for 20 s", health_shown=seen, health_detail=f"not 200 in {detail}")


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
    # "unknown" is not a fault: it is the state until the first status check (every 300 s).
    seen, detail = shown(
        health.between(fault, recovered),
        lambda _, r: (
            bool(r.get("wappi", {}).get("last_poll_error")) or r.get("wappi", {}).get("status") in ("degraded", "error")
        ),
    )
    check(
        tally,
        f"Wappi 500 {FAULT_SECONDS:.0f} s, then timeouts {FAULT_SECONDS:.0f} s",
        health_shown=seen,
        health_detail=f"Wappi failing in {detail}",
    )


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
    seen, detail = shown(health.between(fault, recovered), lambda _, r: r.get("llm", {}).get("status") == "degraded")
    check(tally, f"Gemini 429 for {FAULT_SECONDS:.0f} s", health_shown=seen, health_detail=f"llm degraded in {detail}")


def test_beat_started_twice_sends_nothing_twice(deployment):
    run = deployment
    start_all(run)
    run.stack.start_beat()  # the mistake: a second beat
    customers = Customers(run, prefix="7712")
    with HealthWatch(run) as health:
        customers.write(20, voice_every=5)
        tally = settle(run, customers, timeout=RECOVERY_SECONDS)
        # The fault lasts while both beats run: give /health a minute to name it if the
        # customers were answered sooner than both beats' heartbeats came round.
        deadline = time.monotonic() + 60
        while not any(beat_duplicate(r) for _, _, r in health.seen) and time.monotonic() < deadline:
            time.sleep(1)
    beats = [p for p in run.stack.procs if p.name == "beat"]
    assert all(p.alive() for p in beats), "a beat exited: the case did not run two schedulers"
    seen, detail = shown([(status, report) for _, status, report in health.seen], lambda _, r: beat_duplicate(r))
    check(tally, "beat started twice", health_shown=seen, health_detail=f"beat duplicate in {detail}")
