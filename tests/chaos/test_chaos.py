"""Faults against the running product: after each, nothing lost (every customer message stored
and answered, every queued outbound sent), nothing sent twice, recovery with no manual step,
and /health showing the fault while it lasted."""

from __future__ import annotations

import threading
import time

import pytest

from tests.chaos.conftest import FAULT_SECONDS, Customers, HealthWatch, settle

pytestmark = [pytest.mark.chaos]


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def worker_stale(report: dict) -> bool:
    return report.get("processes", {}).get("worker", {}).get("status") == "stale"


def start_all(run, *, worker: bool = True):
    run.stack.start_web()
    proc = run.stack.start_worker() if worker else None
    run.stack.start_beat()
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
            lambda: any(worker_stale(r) for _, r in health.between(fault, time.time())), timeout=60, what="stale"
        )
        run.wappi.latency = 0.2
        run.stack.start_worker()
        recovered = time.time()
        tally = settle(run, customers, timeout=240)
    check(tally, "worker killed mid-send")
    assert any(worker_stale(r) for _, r in health.between(fault, recovered))


def test_a_worker_killed_mid_gemini_call_is_replaced_and_nothing_is_lost_or_sent_twice(deployment):
    run = deployment
    run.gemini.latency = 5.0
    worker = start_all(run)
    customers = Customers(run, prefix="7707")
    with HealthWatch(run) as health:
        customers.write(10, voice_every=4)
        wait_until(lambda: len(run.gemini.calls) >= 3, timeout=60, what="Gemini calls in flight")
        fault = time.time()
        worker.kill()
        wait_until(
            lambda: any(worker_stale(r) for _, r in health.between(fault, time.time())), timeout=60, what="stale"
        )
        run.gemini.latency = 0.2
        run.stack.start_worker()
        recovered = time.time()
        tally = settle(run, customers, timeout=240)
    check(tally, "worker killed mid-Gemini call")
    assert any(worker_stale(r) for _, r in health.between(fault, recovered))


def test_redis_restarted_with_messages_queued_loses_nothing(deployment):
    run = deployment
    start_all(run, worker=False)  # no worker yet: the webhook's tasks wait in Redis
    customers = Customers(run, prefix="7708")
    with HealthWatch(run) as health:
        customers.write(10, voice_every=5)
        import redis

        queued = redis.Redis.from_url(run.broker_url).llen("ingest")
        assert queued > 0, "nothing was queued"
        fault = time.time()
        run.infra.redis.stop()
        time.sleep(3)
        customers.write(3)  # while the broker is down the webhook ingests inline
        run.infra.redis.start()
        recovered = time.time()
        run.stack.start_worker()
        tally = settle(run, customers, timeout=240)
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
        tally = settle(run, customers, timeout=240)
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
    shown = [r.get("wappi", {}) for _, r in health.between(fault, recovered)]
    assert any(w.get("last_poll_error") or w.get("status") not in ("ok", None) for w in shown)


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


def test_beat_started_twice_sends_nothing_twice(deployment):
    run = deployment
    start_all(run)
    run.stack.start_beat()  # the mistake: a second beat
    customers = Customers(run, prefix="7712")
    with HealthWatch(run) as health:
        customers.write(20, voice_every=5)
        tally = settle(run, customers, timeout=240)
    check(tally, "beat started twice")
    print(f"   /health: {health.seen[-1][2].get('processes') if health.seen else None}")  # noqa: T201
