"""Two runners at once never send one touch twice (real transactions, separate connections)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction

from followups.models import FollowUp
from followups.runner import LEASE, _claim, followups_run_due
from messaging.models import Message
from tests.factories import local, silent_client

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

DUE = local(2026, 12, 8, 11, 0)


def in_thread(target):
    """Runs `target` in a thread with its own database connection; returns its result."""
    result: dict = {}

    def run():
        try:
            result["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if "error" in result:
        raise result["error"]
    return result.get("value")


def test_two_runners_started_together_send_each_touch_once(settings):
    settings.FOLLOW_UP_BATCH_SIZE = 5  # many small claims, so the runners interleave
    followups = [silent_client(due=DUE) for _ in range(40)]
    barrier = threading.Barrier(2)
    reports = []

    def runner(seed: int):
        try:
            barrier.wait(timeout=10)
            reports.append(followups_run_due(now=DUE, rng=random.Random(seed)))
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(reports) == 2
    sent = [row.followup_id for report in reports for row in report.sent]
    assert sorted(sent) == sorted(f.pk for f in followups)  # every touch, each once
    per_contact = Counter(Message.objects.filter(purpose="follow_up").values_list("contact_id", flat=True))
    assert set(per_contact.values()) == {1}
    assert len(per_contact) == 40


def test_a_claim_in_progress_hides_its_rows_and_a_finished_claim_leases_them():
    followups = [silent_client(due=DUE) for _ in range(3)]
    with transaction.atomic():
        mine, lease = _claim(now=DUE, size=10)
        assert [pk for pk, _ in mine] == [f.pk for f in followups]
        # Another runner, another connection, while our claim transaction is open: rows skipped.
        assert in_thread(lambda: _claim(now=DUE, size=10)[0]) == []
    # Committed: the rows are leased, not due, for LEASE.
    assert in_thread(lambda: _claim(now=DUE + LEASE - timedelta(seconds=1), size=10)[0]) == []
    assert set(FollowUp.objects.values_list("next_touch_at", flat=True)) == {lease}
    # A runner that died holding them: after the lease they are due again.
    again = in_thread(lambda: _claim(now=DUE + LEASE, size=10)[0])
    assert [pk for pk, _ in again] == [f.pk for f in followups]
