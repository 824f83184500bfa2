"""Follow-up runner benchmark (`make bench`): one tick with 1,000 touches due among 10,000 and
among 100,000 contacts with follow-ups. Numbers are printed, never asserted as timings: the
point is the ratio, which says whether a tick works on due rows only."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from contacts.models import Contact
from followups.models import FollowUp
from followups.runner import followups_run_due
from messaging.models import Message
from tests.system.bench.util import QueryCounter, record, report

pytestmark = [pytest.mark.bench, pytest.mark.django_db]

DUE = 1_000
NOW = datetime(2026, 12, 8, 11, 0, tzinfo=ZoneInfo("Asia/Almaty"))  # a Tuesday, inside the window
BATCH = 5_000


def add_contacts(start: int, count: int, *, due: int) -> None:
    """`count` clients, each with a question, the bot's answer and a running chain; the first
    `due` chains are due now, the rest spread over the next 30 days."""
    rng = random.Random(start)
    for offset in range(0, count, BATCH):
        n = min(BATCH, count - offset)
        contacts = Contact.objects.bulk_create(
            Contact(phone=f"7702{start + offset + i:07d}", name=f"Клиент {start + offset + i}", is_client=True)
            for i in range(n)
        )
        answered = [NOW - timedelta(hours=24 + rng.uniform(0, 48)) for _ in contacts]
        Message.objects.bulk_create(
            [
                Message(
                    contact=c,
                    direction="in",
                    author="customer",
                    text="Здравствуйте, сколько стоит доставка воды в офис?",
                    timestamp=at - timedelta(minutes=5),
                    received_at=at - timedelta(minutes=5),
                )
                for c, at in zip(contacts, answered, strict=True)
            ]
        )
        replies = Message.objects.bulk_create(
            [
                Message(
                    contact=c,
                    direction="out",
                    author="bot",
                    purpose="reply",
                    status="sent",
                    text="Здравствуйте! Доставим в любой район. Сколько бутылей нужно в неделю? 😊",
                    timestamp=at,
                    sent_at=at,
                )
                for c, at in zip(contacts, answered, strict=True)
            ]
        )
        FollowUp.objects.bulk_create(
            FollowUp(
                contact=c,
                touch_number=1,
                next_touch_at=NOW if offset + i < due else NOW + timedelta(minutes=1 + rng.uniform(0, 30 * 24 * 60)),
                anchor_message=reply,
                anchor_at=reply.timestamp,
            )
            for i, (c, reply) in enumerate(zip(contacts, replies, strict=True))
        )
    with connection.cursor() as cursor:
        for table in ("contacts_contact", "messaging_message", "followups_followup"):
            cursor.execute(f"ANALYZE {table}")


def reset_due() -> None:
    """Back to the state before the tick: the touches it queued gone, the same 1,000 due."""
    due_ids = list(Message.objects.filter(purpose="follow_up").values_list("followup_touch__followup_id", flat=True))
    Message.objects.filter(purpose="follow_up").delete()
    FollowUp.objects.filter(pk__in=due_ids).update(next_touch_at=NOW, last_touch_at=None)


def one_tick() -> tuple[float, int, int]:
    with QueryCounter() as counter:
        started = time.perf_counter()
        result = followups_run_due(now=NOW, rng=random.Random(1), budget_seconds=3600)
        elapsed = time.perf_counter() - started
    return elapsed, counter.count, len(result.sent)


def test_one_tick_costs_the_same_with_10_000_and_100_000_contacts(settings):
    settings.LLM_BACKEND = "offline"
    settings.ENABLE_FOLLOW_UPS = True
    settings.PROACTIVE_DAILY_LIMIT = 10_000  # the cap is not what this measures
    settings.FOLLOW_UP_MIN_GAP_HOURS = 20.0
    settings.FOLLOW_UP_BATCH_SIZE = 200

    followups_run_due(now=NOW, rng=random.Random(0))  # warm-up: nothing due yet, imports and caches

    started = time.perf_counter()
    add_contacts(0, 10_000, due=DUE)
    setup_small = time.perf_counter() - started
    small_time, small_queries, small_sent = one_tick()
    assert small_sent == DUE

    reset_due()
    started = time.perf_counter()
    add_contacts(10_000, 90_000, due=0)
    setup_large = time.perf_counter() - started
    assert FollowUp.objects.count() == 100_000
    assert FollowUp.objects.filter(next_touch_at__lte=NOW).count() == DUE
    large_time, large_queries, large_sent = one_tick()
    assert large_sent == DUE

    record("follow-ups: tick with 1,000 due, 10,000 contacts", small_time, "s")
    record("follow-ups: tick with 1,000 due, 100,000 contacts", large_time, "s")
    record("follow-ups: tick time ratio 100k / 10k contacts", large_time / small_time, target=1.5)
    record("follow-ups: tick queries ratio 100k / 10k contacts", large_queries / small_queries, target=1.05)
    record("follow-ups: queries per touch sent", large_queries / DUE)
    report(
        f"Follow-up runner: one tick, {DUE:,} touches due (offline backend, PostgreSQL)",
        [
            ("setup 10,000 contacts (bulk_create)", f"{setup_small:.1f} s"),
            ("setup +90,000 contacts (bulk_create)", f"{setup_large:.1f} s"),
            ("10,000 contacts: tick time", f"{small_time:.2f} s ({small_time / DUE * 1000:.1f} ms per touch)"),
            ("10,000 contacts: queries", f"{small_queries:,} ({small_queries / DUE:.1f} per touch)"),
            ("100,000 contacts: tick time", f"{large_time:.2f} s ({large_time / DUE * 1000:.1f} ms per touch)"),
            ("100,000 contacts: queries", f"{large_queries:,} ({large_queries / DUE:.1f} per touch)"),
            ("ratio 100,000 / 10,000: time", f"{large_time / small_time:.2f}"),
            ("ratio 100,000 / 10,000: queries", f"{large_queries / small_queries:.2f}"),
        ],
    )
