"""AI step benchmarks (`make bench`): numbers are printed, never asserted as timings."""

from __future__ import annotations

import math
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from assistant.pipeline import incoming_process
from assistant.tasks import process_incoming
from messaging.models import Message
from project.celery import app
from tests.factories import ContactFactory, InboundMessageFactory
from tests.processes import celery_worker
from tests.system.bench.util import QueryCounter, record, report

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CONTACTS, MODEL_SECONDS = 200, 1.0


def waiting_clients(n: int, text: str) -> list[Message]:
    moment = timezone.now() - timedelta(seconds=30)
    return [
        InboundMessageFactory(
            contact=ContactFactory(phone=f"7706{i:07d}", is_client=True, classified_by="model"),
            text=text,
            timestamp=moment,
            received_at=moment,
        )
        for i in range(n)
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (its own, not its children: the pools run in-process)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# The model worker's shapes: the threads fallback, and the gevent pool the Procfile and the
# compose file start (CELERY_LLM_POOL); at 32 the two compare like for like, at 200 every
# client's call is in flight at once.
@pytest.mark.parametrize(
    ("pool", "concurrency"), [("threads", 8), ("threads", 32), ("gevent", 32), ("gevent", 200)], ids=str
)
def test_200_clients_answered_by_one_worker_against_a_model_taking_1s(fake_gemini, pool, concurrency):
    messages = waiting_clients(CONTACTS, "Здравствуйте! Сколько стоит доставка?")
    for _ in range(CONTACTS):
        fake_gemini.reply_text("Здравствуйте! 😊 Стоимость уточнит менеджер. Куда нужна доставка?", delay=MODEL_SECONDS)
    env = {
        "LLM_BACKEND": "gemini",
        "TEST_GEMINI_API_KEY": fake_gemini.api_key,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "REPLY_DEBOUNCE_SECONDS": "0",
        "CELERY_WORKER_CONCURRENCY": str(concurrency),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    # Only the llm queue: the AI step alone, as the benchmark asks (replies are queued, not sent).
    with celery_worker(queues="llm", pool=pool, **env) as worker:
        idle_rss = rss_mb(worker.process.pid)
        load = Path("/proc/loadavg").read_text().split(" ", 3)[:3]
        load = " ".join(load)
        cpu_before = cpu_seconds(worker.process.pid)
        started = time.perf_counter()
        for message in messages:
            process_incoming.delay(message.pk)
        deadline = time.monotonic() + 90
        done = 0
        while done < CONTACTS and time.monotonic() < deadline:
            time.sleep(0.1)
            done = Message.objects.filter(direction="out", purpose="reply").count()
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(worker.process.pid) - cpu_before
        busy_rss = rss_mb(worker.process.pid)
        worker.kill()  # a stalled run must not wait for its hanging calls
    app.control.purge()
    fake_gemini._released.set()  # wake replies still sleeping for a killed worker
    fake_gemini.unexpected.clear()
    ideal = math.ceil(CONTACTS / concurrency) * MODEL_SECONDS
    if done == CONTACTS:
        record(f"AI: 200 replies queued, model 1 s, {pool} x{concurrency}", elapsed, "s")
        # The ideal, ceil(200 / concurrency) x 1 s, cannot be beaten: the ratio says how close we are.
        # The yardstick is the 32-thread ideal (7 s); a wider pool is held to it too
        # (its own ideal, 1 s at x200, is what the report prints).
        reference = math.ceil(CONTACTS / 32) * MODEL_SECONDS
        record(
            f"AI: time / 32-thread ideal ({reference:.0f} s), {pool} x{concurrency}",
            elapsed / reference,
            target=1.2 if concurrency >= 32 else None,
        )
        record(f"AI: worker CPU per reply, {pool} x{concurrency}", 1000 * cpu / CONTACTS, "ms")
    record(f"AI: worker RSS after 200 replies, {pool} x{concurrency}", busy_rss, "MB")
    report(
        f"AI step: {CONTACTS} clients, one worker ({pool} x{concurrency}), model answers in {MODEL_SECONDS:.0f} s",
        [
            ("replies queued", f"{done} of {CONTACTS}" + ("" if done == CONTACTS else "  (did not finish in 90 s)")),
            ("time", f"{elapsed:.1f} s"),
            (f"ideal ceil({CONTACTS} / {concurrency}) x 1 s", f"{ideal:.0f} s"),
            ("ratio to ideal", f"{elapsed / ideal:.2f}x" if done == CONTACTS else "n/a"),
            ("worker memory (RSS) idle -> after", f"{idle_rss:.0f} MB -> {busy_rss:.0f} MB"),
            ("worker CPU per reply", f"{1000 * cpu / CONTACTS:.0f} ms"),
            ("machine load (uptime) before", load),
        ],
    )


def test_database_queries_per_processed_message(fake_gemini):
    messages = waiting_clients(20, "Добрый день, есть ли доставка в Караганду?")
    for _ in messages:
        fake_gemini.reply_text("Добрый день! 😊 Да, уточню детали. Какой объём груза?")
    with QueryCounter() as queries:
        for message in messages:
            assert incoming_process(message_id=message.pk).status == "answered"
    app.control.purge()
    record("AI: database queries per processed message", queries.count / len(messages), target=12)
    report(
        "AI step: database work",
        [("queries per processed message (client, no classification)", f"{queries.count / len(messages):.1f}")],
    )


def test_ai_step_profile(fake_gemini):
    """Where the AI step's CPU goes (the model answers at once, so only our own work is left):
    the top functions by own CPU and by cumulative CPU, printed and written to var/bench/."""
    import cProfile
    import io
    import pstats

    from tests.system.bench.conftest import BENCH_DIR

    messages = waiting_clients(50, "Добрый день, есть ли доставка в Караганду?")
    for _ in messages:
        fake_gemini.reply_text("Добрый день! 😊 Да, уточню детали. Какой объём груза?")
    profiler = cProfile.Profile(time.thread_time)  # this thread's CPU: not the fake's threads
    started = time.thread_time()
    profiler.enable()
    for message in messages:
        assert incoming_process(message_id=message.pk).status == "answered"
    profiler.disable()
    cpu_ms = 1000 * (time.thread_time() - started) / len(messages)
    app.control.purge()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    text.write(f"AI step profile: {len(messages)} messages, {cpu_ms:.1f} ms CPU each (profiler overhead included)\n")
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(25)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "profile-ai-step.txt").write_text(text.getvalue(), encoding="utf-8")
    record("AI: CPU per processed message, in-process (profiled)", cpu_ms, "ms")
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]  # by own CPU
    report(
        "AI step: profile, top functions by own CPU (var/bench/profile-ai-step.txt has the rest)",
        [("CPU per processed message (profiled)", f"{cpu_ms:.1f} ms")]
        + [
            (f"{func[2][:28]} ({func[0].rsplit('/', 1)[-1]}:{func[1]})", f"{1000 * own / len(messages):.2f} ms/msg")
            for func, (_, _, own, _, _) in top
        ],
    )
