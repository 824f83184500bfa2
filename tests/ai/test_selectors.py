"""What /health and /metrics read of the model layer: recent calls, totals, customers waiting."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ai.models import ModelCall, PendingReply
from ai.selectors import model_call_totals, model_calls_recent, pending_replies_waiting_count
from tests.factories import ContactFactory, InboundMessageFactory

pytestmark = pytest.mark.django_db


def call(**fields) -> ModelCall:
    return ModelCall.objects.create(**{"backend": "gemini", "purpose": "reply", "model": "gemini-3.8-flash", **fields})


def test_recent_calls_leave_out_the_offline_backend_and_older_calls_and_say_whether_the_newest_failed():
    old = call(ok=False, error="503")
    ModelCall.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    call(ok=False, error="429")
    call(backend="offline", model="offline", ok=False, error="-")
    since = timezone.now() - timedelta(minutes=5)

    recent = model_calls_recent(since=since)
    assert (recent.calls, recent.errors, recent.latest_failed) == (1, 1, True)

    call()  # Gemini is back
    assert model_calls_recent(since=since).latest_failed is False


def test_no_recent_call_is_not_a_failing_model():
    assert model_calls_recent(since=timezone.now() - timedelta(minutes=5)).latest_failed is False


def test_call_totals_sum_tokens_cost_and_latency_into_cumulative_buckets():
    call(prompt_tokens=900, cached_tokens=300, output_tokens=40, cost_usd=Decimal("0.001"), latency_ms=1500)
    call(ok=False, error="503", latency_ms=30000)
    call(purpose="classify", model="gemini-3.5-flash-lite", latency_ms=200)

    totals = {(row.model, row.purpose): row for row in model_call_totals(latency_buckets=(0.5, 2.0, 60.0))}

    reply = totals[("gemini-3.8-flash", "reply")]
    assert (reply.calls, reply.errors) == (2, 1)
    assert (reply.prompt_tokens, reply.cached_tokens, reply.output_tokens) == (900, 300, 40)
    assert reply.cost_usd == Decimal("0.001")
    assert reply.latency_at_most == (0, 1, 2)
    assert reply.latency_seconds_total == pytest.approx(31.5)
    assert totals[("gemini-3.5-flash-lite", "classify")].latency_at_most == (1, 1, 1)


def test_customers_waiting_for_the_model_are_the_unresolved_pending_replies():
    for resolved_at in (None, None, timezone.now()):
        contact = ContactFactory()
        message = InboundMessageFactory(contact=contact)
        PendingReply.objects.create(contact=contact, message=message, due_at=timezone.now(), resolved_at=resolved_at)

    assert pending_replies_waiting_count() == 2
