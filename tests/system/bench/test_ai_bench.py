"""AI step benchmarks (`make bench`): numbers are printed, never asserted as timings."""

from __future__ import annotations

import math
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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.parametrize("concurrency", [8, 32])
def test_200_clients_answered_by_one_worker_against_a_model_taking_1s(fake_gemini, concurrency):
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
    with celery_worker(queues="llm", **env) as worker:
        idle_rss = rss_mb(worker.process.pid)
        started = time.perf_counter()
        for message in messages:
            process_incoming.delay(message.pk)
        deadline = time.monotonic() + 90
        done = 0
        while done < CONTACTS and time.monotonic() < deadline:
            time.sleep(0.1)
            done = Message.objects.filter(direction="out", purpose="reply").count()
        elapsed = time.perf_counter() - started
        busy_rss = rss_mb(worker.process.pid)
        worker.kill()  # a stalled run must not wait for its hanging calls
    app.control.purge()
    fake_gemini._released.set()  # wake replies still sleeping for a killed worker
    fake_gemini.unexpected.clear()
    ideal = math.ceil(CONTACTS / concurrency) * MODEL_SECONDS
    if done == CONTACTS:
        record(f"AI: 200 replies queued, model 1 s, {concurrency} threads", elapsed, "s")
        # The ideal, ceil(200 / threads) x 1 s, cannot be beaten: the ratio says how close we are.
        record(f"AI: time / ideal ({ideal:.0f} s), {concurrency} threads", elapsed / ideal)
    record(f"AI: worker RSS after 200 replies, {concurrency} threads", busy_rss, "MB")
    report(
        f"AI step: {CONTACTS} clients, one worker (threads x{concurrency}), model answers in {MODEL_SECONDS:.0f} s",
        [
            ("replies queued", f"{done} of {CONTACTS}" + ("" if done == CONTACTS else "  (did not finish in 90 s)")),
            ("time", f"{elapsed:.1f} s"),
            (f"ideal ceil({CONTACTS} / {concurrency}) x 1 s", f"{ideal:.0f} s"),
            ("ratio to ideal", f"{elapsed / ideal:.2f}x" if done == CONTACTS else "n/a"),
            ("worker memory (RSS) idle -> after", f"{idle_rss:.0f} MB -> {busy_rss:.0f} MB"),
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
    record("AI: database queries per processed message", queries.count / len(messages))
    report(
        "AI step: database work",
        [("queries per processed message (client, no classification)", f"{queries.count / len(messages):.1f}")],
    )
