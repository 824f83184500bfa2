"""Gateway benchmarks (`make bench`): numbers are printed, never asserted as timings."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from messaging.ingest import ingest_events
from messaging.models import GatewayState, Message
from messaging.poller import poll_once
from messaging.wire import parse_webhook
from project.celery import app
from tests.system.bench.util import QueryCounter, record, report

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EVENTS, CONTACTS, DUPLICATE_SHARE = 2000, 500, 0.10


def webhook_event(i: int, phone: str) -> dict:
    return {
        "wh_type": "incoming_message",
        "id": f"3EB0BENCH{i:011d}",
        "type": "chat",
        "body": f"Сообщение {i}: сколько стоит?",
        "from": f"{phone}@c.us",
        "to": "77000000000@c.us",
        "chatId": f"{phone}@c.us",
        "senderName": f"Клиент {phone[-3:]}",
        "time": 1795410000 + i,
        "timestamp": "2026-11-23T10:00:00+05:00",
        "is_me": False,
        "chat_type": "dialog",
    }


def test_ingest_throughput_and_queries_per_message():
    rng = random.Random(7)
    phones = [f"7701{n:07d}" for n in range(CONTACTS)]
    unique = int(EVENTS * (1 - DUPLICATE_SHARE))
    events = [webhook_event(i, phones[i % CONTACTS]) for i in range(unique)]
    events += [rng.choice(events) for _ in range(EVENTS - unique)]  # re-deliveries
    rng.shuffle(events)

    started = time.perf_counter()
    with QueryCounter() as queries:
        stored = duplicates = 0
        for event in events:  # one webhook delivery per event, as Wappi sends them
            result = ingest_events(events=parse_webhook({"messages": [event]}), via="webhook")
            stored += len(result.stored)
            duplicates += result.duplicates
    elapsed = time.perf_counter() - started
    app.control.purge()

    assert (stored, duplicates) == (unique, EVENTS - unique)
    assert Message.objects.count() == unique

    # Queries for one more message with a small history and with a large one.
    def queries_for_one(i: int, phone: str) -> int:
        with QueryCounter() as one:
            ingest_events(events=parse_webhook([webhook_event(i, phone)]), via="webhook")
        return one.count

    # The same burst again with other ids, ingested by 8 threads at once (the worker's pool
    # runs ingest tasks concurrently); duplicates raced between threads must still be one row.
    parallel_events = [{**e, "id": e["id"].replace("BENCH", "PARAL")} for e in events]

    def ingest_chunk(chunk: list[dict]) -> int:
        # Like a worker thread: one connection kept across tasks, one delivery per event.
        try:
            return sum(len(ingest_events(events=parse_webhook([e]), via="webhook").stored) for e in chunk)
        finally:
            connection.close()

    parallel_started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        stored_by_thread = list(pool.map(ingest_chunk, [parallel_events[i::8] for i in range(8)]))
    parallel_elapsed = time.perf_counter() - parallel_started
    app.control.purge()
    assert sum(stored_by_thread) == unique
    assert Message.objects.count() == 2 * unique

    fresh_contact = queries_for_one(10_000_001, "77099999999")
    busy_phone = phones[0]
    history = Message.objects.filter(contact__phone=busy_phone).count()
    busy_contact = queries_for_one(10_000_002, busy_phone)
    app.control.purge()
    record("ingest: webhook events per second, 1 thread", EVENTS / elapsed, "ev/s", better="higher")
    record("ingest: webhook events per second, 8 threads", EVENTS / parallel_elapsed, "ev/s", better="higher")
    record("ingest: queries per event", queries.count / EVENTS)
    record("ingest: queries for a message, long history vs new contact", busy_contact / fresh_contact, target=1.0)
    report(
        "ingest: webhook events through parse + ingest on PostgreSQL",
        [
            ("events (unique + re-delivered)", f"{EVENTS} ({unique} + {EVENTS - unique}) from {CONTACTS} contacts"),
            ("stored / duplicates", f"{stored} / {duplicates}"),
            ("elapsed", f"{elapsed:.2f} s"),
            ("throughput, 1 thread", f"{EVENTS / elapsed:.0f} events/s, {stored / elapsed:.0f} stored/s"),
            (
                "throughput, 8 threads",
                f"{EVENTS / parallel_elapsed:.0f} events/s ({elapsed / parallel_elapsed:.1f}x one thread)",
            ),
            ("queries per event (whole burst)", f"{queries.count / EVENTS:.1f}"),
            ("queries for a message, new contact", f"{fresh_contact}"),
            (f"queries for a message, contact with {history} msgs", f"{busy_contact}"),
        ],
    )


def test_poll_cost_with_1000_chats_of_which_10_changed(fake_wappi):
    GatewayState.objects.update_or_create(pk=1, defaults={"started_at": timezone.now().replace(year=2020)})
    for n in range(1000):
        fake_wappi.customer_writes(f"7702{n:07d}", "первое сообщение")
    client = fake_wappi.client()
    first_started = time.perf_counter()
    first = poll_once(client=client)
    first_elapsed = time.perf_counter() - first_started
    for n in range(0, 1000, 100):
        fake_wappi.customer_writes(f"7702{n:07d}", "новое сообщение")
    fake_wappi.calls.clear()

    started = time.perf_counter()
    second = poll_once(client=client)
    elapsed = time.perf_counter() - started
    idle_started = time.perf_counter()
    idle = poll_once(client=client)
    idle_elapsed = time.perf_counter() - idle_started
    app.control.purge()

    assert second.changed == 10
    assert second.api_calls == 11
    assert idle.api_calls == 1
    record("poll: Wappi API calls, 1,000 chats with 10 changed", second.api_calls, target=11)
    report(
        "poll: one cycle over 1,000 chats",
        [
            ("first cycle (all 1,000 new)", f"{first.api_calls} API calls, {first_elapsed:.2f} s"),
            (
                "cycle with 10 changed chats",
                f"{second.api_calls} API calls ({len(second.ingest.stored)} stored), {elapsed * 1000:.0f} ms",
            ),
            ("cycle with nothing changed", f"{idle.api_calls} API call, {idle_elapsed * 1000:.0f} ms"),
            ("API calls, changed vs all chats", f"{second.api_calls} vs {1 + 1000} ({second.api_calls / 1001:.1%})"),
        ],
    )
