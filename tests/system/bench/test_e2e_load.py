"""End-to-end load (`make bench`): the product in its production shape (gunicorn, Celery
worker(s) on the real queue layout, beat) on a private PostgreSQL cluster and Redis, Wappi and
Gemini faked over loopback (Gemini answers in 1 s). 500 contacts write 2,000 messages over a
minute, with bursts, repeated deliveries, voice notes, whitelisted numbers and groups.

Timings are printed and recorded, never asserted; the correctness of the outcome is asserted
(every customer message stored once, every client answered once, nothing to whitelisted
numbers or groups, no duplicate sends). Quick run: LOAD_CONTACTS=100 LOAD_MESSAGES=300
LOAD_SECONDS=20. Database queries are counted by pg_stat_statements on the private cluster.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.system.bench.util import record, report
from tests.system.loadlab.collect import (
    ProcSampler,
    db_counters,
    db_stats_reset,
    outcome,
    percentile,
    reply_stages,
    top_statements,
)
from tests.system.loadlab.lab import Infra, lab
from tests.system.loadlab.traffic import GROUPS, WHITELISTED, plan_traffic, run_traffic

pytestmark = [pytest.mark.bench]

CONTACTS = int(os.environ.get("LOAD_CONTACTS", "500"))
MESSAGES = int(os.environ.get("LOAD_MESSAGES", "2000"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
WORKERS = int(os.environ.get("LOAD_WORKERS", "1"))
# "split": the production shape (Procfile, docker-compose.yml): one worker on ingest/send/default
# (threads) and LOAD_WORKERS model workers on `llm` (gevent). "single": LOAD_WORKERS workers on all
# four queues (threads x32), the shape before the model worker existed.
SHAPE = os.environ.get("LOAD_SHAPE", "split")
# The model workers' pool in the split shape (CELERY_LLM_POOL): empty = the settings' default.
LLM_POOL = os.environ.get("LOAD_LLM_POOL", "")
DB_POOL = os.environ.get("LOAD_DATABASE_POOL_SIZE", "")  # the model workers' DATABASE_POOL_SIZE
GEMINI_SECONDS = float(os.environ.get("LOAD_GEMINI_SECONDS", "1.0"))
DEBOUNCE = os.environ.get("LOAD_DEBOUNCE_SECONDS", "2")
SETTLE_SECONDS = float(os.environ.get("LOAD_SETTLE_SECONDS", "240"))


@pytest.fixture(scope="module")
def infra():
    with Infra.running() as running:
        yield running


def test_a_minute_of_customers_end_to_end(infra):
    plan = plan_traffic(contacts=CONTACTS, messages=MESSAGES, duration=SECONDS)
    env = {
        "REPLY_DEBOUNCE_SECONDS": DEBOUNCE,
        # Pacing is an anti-ban throttle (40 a minute by default); off here, to measure the pipeline.
        "SEND_MIN_GAP_SECONDS": "0",
        "SEND_GAP_JITTER_SECONDS": "0",
        "SEND_MAX_PER_MINUTE": "1000000",
        "SEND_NUMBER_GAP_SECONDS": "0",
        "SEND_MAX_PER_HOUR": "1000000",
        "SEND_MAX_PER_DAY": "1000000",
        "HEARTBEAT_INTERVAL": "5",
        **({"CELERY_LLM_POOL": LLM_POOL} if LLM_POOL else {}),
        **({"DATABASE_POOL_SIZE": DB_POOL} if DB_POOL else {}),
    }
    with lab(infra, gemini_latency=GEMINI_SECONDS, **env) as run:
        stack = run.stack
        web = stack.start_web()
        if SHAPE == "split":
            workers = [stack.start_worker(shape="main"), *(stack.start_worker(shape="llm") for _ in range(WORKERS))]
        else:
            workers = [stack.start_worker() for _ in range(WORKERS)]
        beat = stack.start_beat()
        # The stages by process: the webhook (web), storing and sending (the worker, or the one
        # worker of the "single" shape), the AI step (worker-llm).
        names = (
            ["worker (ingest, send, default)", *(f"worker-llm {i + 1} (AI step)" for i in range(WORKERS))]
            if SHAPE == "split"
            else [f"worker {i + 1} (all queues)" for i in range(WORKERS)]
        )
        roots = {"web (gunicorn)": web.pid, "beat": beat.pid} | {
            name: w.pid for name, w in zip(names, workers, strict=True)
        }
        # Not the product, but on the same cores: where the rest of the machine went.
        harness = {
            "PostgreSQL (private cluster)": infra.pg.pid,
            "Redis (private)": infra.redis.process.pid,
            "test process (traffic + fakes)": os.getpid(),
        }
        time.sleep(3)  # beat's first ticks and the workers' connections, outside the measurement
        load_at_start = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        db_stats_reset(run.db_url)
        before = db_counters(run.db_url)
        with ProcSampler(roots | harness, alone=frozenset({"test process (traffic + fakes)"})) as sampler:
            traffic = run_traffic(plan, wappi=run.wappi, gemini=run.gemini, webhook_url=stack.webhook_url)
            clients = set(plan.contacts)
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline:
                answered = {s.recipient for s in run.wappi.sends} & clients
                if len(answered) == len(clients):
                    break
                time.sleep(0.5)
            time.sleep(2 * float(DEBOUNCE) + 3)  # room for a late duplicate to show up
            settled = time.time()
        after = db_counters(run.db_url)
        statements_top = top_statements(run.db_url)
        result = outcome(run.db_url)
        stages = reply_stages(run.db_url)
        sends = list(run.wappi.sends)
        wappi_calls = Counter(path.rsplit("/api/sync/", 1)[-1] for _method, path, _query in list(run.wappi.calls))
        calls = list(run.gemini.calls)
        for proc in stack.procs:
            assert proc.alive(), f"{proc.name} died:\n{proc.tail()}"

    # --- numbers ---------------------------------------------------------------------------------
    originals = [p for p in traffic.posted if not p.duplicate]
    customer = [p for p in originals if p.kind == "client"]
    posted_at = {p.msg_id: p.posted_at for p in originals}
    stored = [mid for mid in posted_at if result.inbound_copies.get(mid)]
    bad_posts = [p for p in traffic.posted if p.status != 200]
    post_seconds = [p.seconds for p in traffic.posted]
    traffic_span = traffic.finished - traffic.started

    last_post: dict[str, float] = defaultdict(float)
    for p in customer:
        last_post[p.phone] = max(last_post[p.phone], p.posted_at)
    first_send: dict[str, float] = {}
    for s in sorted(sends, key=lambda s: s.at):
        first_send.setdefault(s.recipient, s.at)
    gemini_wait: dict[str, float] = defaultdict(float)
    for c in calls:
        for phone in c.phones:
            if c.status == 200 and phone in last_post and c.started >= last_post[phone] - 5:
                gemini_wait[phone] += c.seconds
    first_call: dict[str, float] = {}
    for c in sorted(calls, key=lambda c: c.started):
        for phone in c.phones:
            if phone in last_post and c.started >= last_post[phone]:
                first_call.setdefault(phone, c.started)
    # From the end of the customer's quiet window to the AI step's first model call: the wait in
    # the llm queue and the step's own work before it asks the model.
    to_first_call = [first_call[ph] - last_post[ph] - float(DEBOUNCE) for ph in first_call]
    raw_latency = [first_send[ph] - last_post[ph] for ph in last_post if ph in first_send]
    net_latency = [first_send[ph] - last_post[ph] - gemini_wait[ph] for ph in last_post if ph in first_send]
    send_times = sorted(s.at for s in sends)
    send_span = (send_times[-1] - send_times[0]) if len(send_times) > 1 else float("nan")
    calls_by_kind = Counter(c.kind for c in calls)
    in_flight = calls_in_flight(calls)
    statements = after["statements"] - before["statements"]
    queries = after["queries"] - before["queries"]
    xacts = after["xacts"] - before["xacts"]
    n_msgs = len(originals)
    ingest_rate = len(stored) / traffic_span

    rows = [
        (
            "scale",
            f"{CONTACTS} contacts, {n_msgs} messages (+{len(traffic.posted) - n_msgs} repeats) over {SECONDS:.0f} s",
        ),
        (
            "processes",
            f"gunicorn x{stack.web_workers} workers, "
            + (
                f"Celery: 1 worker ingest/send/default (threads x32) + {WORKERS} model worker(s) "
                f"(llm, {LLM_POOL or 'CELERY_LLM_POOL default'})"
                if SHAPE == "split"
                else f"{WORKERS} Celery worker(s) on all queues (threads x32)"
            )
            + ", beat",
        ),
        ("machine load (uptime) at the start", load_at_start),
        ("Gemini latency / reply debounce", f"{GEMINI_SECONDS:.1f} s / {DEBOUNCE} s"),
        ("webhook POSTs answered 200", f"{len(traffic.posted) - len(bad_posts)} of {len(traffic.posted)}"),
        ("webhook deliveries retried (connection error / non-200)", f"{traffic.retries}"),
        (
            "webhook POST p50 / p95",
            f"{percentile(post_seconds, 50) * 1000:.0f} / {percentile(post_seconds, 95) * 1000:.0f} ms",
        ),
        ("messages ingested per second (stored / traffic span)", f"{ingest_rate:.1f} /s"),
        (
            "reply latency p50 / p95, webhook -> send (raw)",
            f"{percentile(raw_latency, 50):.2f} / {percentile(raw_latency, 95):.2f} s",
        ),
        (
            "same, minus the fake Gemini's own latency",
            f"{percentile(net_latency, 50):.2f} / {percentile(net_latency, 95):.2f} s",
        ),
        *stage_rows(stages, posted_at),
        (
            "  quiet window's end -> first model call p50 / p95",
            f"{percentile(to_first_call, 50):.2f} / {percentile(to_first_call, 95):.2f} s",
        ),
        ("replies per second (first to last send)", f"{len(sends) / send_span:.1f} /s" if sends else "none"),
        ("Gemini calls", ", ".join(f"{k} {v}" for k, v in sorted(calls_by_kind.items()))),
        ("Wappi calls", ", ".join(f"{k} {v}" for k, v in wappi_calls.most_common(5))),
        ("Gemini calls in flight: peak / mean while any", f"{in_flight[0]} / {in_flight[1]:.1f}"),
        ("DB statements per message (pg_stat_statements, all)", f"{statements / n_msgs:.1f}"),
        ("DB queries per message (without BEGIN/COMMIT/SAVEPOINT)", f"{queries / n_msgs:.1f}"),
        ("DB transactions per message (pg_stat_database)", f"{xacts / n_msgs:.1f}"),
        ("DB sessions opened (connections)", f"{after['sessions'] - before['sessions']}"),
        *(
            (f"  top statement {i + 1}: {calls} calls, {ms:.0f} ms", text[:90])
            for i, (calls, ms, text) in enumerate(statements_top)
        ),
    ]
    wall = settled - traffic.started
    for name in sampler.roots:
        rows.append(
            (
                f"{name}: CPU / peak RSS",
                f"{sampler.cpu_used(name):.1f} s CPU ({100 * sampler.cpu_used(name) / wall:.0f} %), "
                f"{sampler.rss_peak[name]:.0f} MB",
            )
        )
    cores = os.cpu_count() or 1
    total = sum(sampler.cpu_used(name) for name in sampler.roots)
    share = 100 * total / (wall * cores)
    rows.append(("sampled processes: CPU used of all cores", f"{total:.0f} s of {wall * cores:.0f} s ({share:.0f} %)"))
    busy, elapsed = sampler.machine
    machine_share = 100 * busy / elapsed if elapsed else float("nan")
    rows.append(
        (
            "machine: CPU busy (/proc/stat, everything)",
            f"{busy:.0f} s of {elapsed:.0f} s ({machine_share:.0f} %), unattributed {busy - total:.0f} s",
        )
    )
    product_cpu = sum(sampler.cpu_used(name) for name in roots)  # web, workers, beat: not the harness
    per_reply_ms = 1000 * product_cpu / max(1, len(sends))
    rows.append(("product CPU per reply (web + workers + beat)", f"{per_reply_ms:.0f} ms"))
    for name in roots:  # CPU per stage: each process's share of a reply
        rows.append((f"  CPU per reply: {name}", f"{1000 * sampler.cpu_used(name) / max(1, len(sends)):.0f} ms"))
    report("End-to-end load: webhook -> gunicorn -> Celery -> Gemini fake -> Wappi fake", rows)

    record("E2E: messages ingested per second", ingest_rate, "/s", note=f"{n_msgs} messages over {SECONDS:.0f} s")
    p50 = percentile(net_latency, 50)
    record("E2E: reply latency p50 (minus Gemini)", p50, "s", target=float(DEBOUNCE) + 3)
    record("E2E: reply latency p95 (minus Gemini)", percentile(net_latency, 95), "s", target=2 * p50)
    if sends:
        record("E2E: replies per second, Gemini 1 s", len(sends) / send_span, "/s", target=25, better="higher")
    record("E2E: worker CPU per reply (all product processes)", per_reply_ms, "ms", target=40)
    record("E2E: DB queries per message", queries / n_msgs, note="pg_stat_statements, without transaction control")
    for name in roots:
        record(f"E2E: {name} CPU", 100 * sampler.cpu_used(name) / wall, "%", note="% of one core")
        record(f"E2E: {name} peak RSS", sampler.rss_peak[name], "MB")
    record("E2E: machine CPU used (all processes)", share, "%", note=f"% of {cores} cores")
    record("E2E: machine CPU busy (/proc/stat)", machine_share, "%", note=f"% of {cores} cores, any process")

    # --- correctness -----------------------------------------------------------------------------
    sent_to = Counter(s.recipient for s in sends)
    assert not bad_posts, f"{len(bad_posts)} webhook POSTs were not answered 200"
    missing = [p.msg_id for p in customer if not result.inbound_copies.get(p.msg_id)]
    assert not missing, f"{len(missing)} customer messages were never stored"
    twice = {mid: n for mid, n in result.inbound_copies.items() if n > 1}
    assert not twice, f"messages stored more than once: {twice}"
    assert all(result.clients.get(phone) is True for phone in plan.contacts), "a contact was not classified a client"
    unanswered = sorted(set(plan.contacts) - set(sent_to))
    assert not unanswered, f"{len(unanswered)} clients never answered: {unanswered[:10]}"
    more_than_once = {phone: n for phone, n in sent_to.items() if n > 1}
    assert not more_than_once, f"clients answered more than once: {dict(list(more_than_once.items())[:10])}"
    forbidden = [s for s in sends if s.recipient in WHITELISTED or any(s.recipient in g for g in GROUPS)]
    assert not forbidden, f"messages sent to whitelisted numbers or groups: {forbidden[:5]}"
    assert all(n == 1 for n in Counter((s.recipient, s.body) for s in sends).values()), "a send was repeated"
    assert sum(result.replies_sent.values()) == len(sends), "Wappi saw a different number of sends than the outbox"
    assert result.outbound_pending == 0
    assert result.outbound_failed == 0


def calls_in_flight(calls) -> tuple[int, float]:
    """The most model calls the fake held at once, and the mean while it held any: how much of
    the model's concurrency the AI step used."""
    edges = sorted([(c.started, 1) for c in calls] + [(c.started + c.seconds, -1) for c in calls])
    peak = level = 0
    busy = weighted = 0.0
    previous = edges[0][0] if edges else 0.0
    for at, step in edges:
        if level:
            busy += at - previous
            weighted += level * (at - previous)
        level += step
        peak = max(peak, level)
        previous = at
    return peak, (weighted / busy if busy else 0.0)


def stage_rows(stages, posted_at: dict[str, float]) -> list[tuple[str, str]]:
    """Where a reply's time goes: webhook -> stored, stored -> reply queued (the 2 s quiet
    window, the queue wait, the classification and the reply call), queued -> sent."""
    spans = {
        "webhook -> stored": [float(stored) - posted_at[mid] for mid, stored, _, _ in stages if mid in posted_at],
        "stored -> reply queued (debounce + AI step)": [float(q) - float(s) for _, s, q, _ in stages],
        "reply queued -> sent to Wappi": [float(sent) - float(q) for _, _, q, sent in stages],
    }
    return [
        (f"  {name} p50 / p95", f"{percentile(values, 50):.2f} / {percentile(values, 95):.2f} s")
        for name, values in spans.items()
    ]
