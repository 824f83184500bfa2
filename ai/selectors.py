"""What the model layer's rows say, for /health, /metrics and reports: model calls (ModelCall)
and customers waiting for an answer the model could not give (PendingReply). Read-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum

from ai.models import ModelCall, PendingReply


@dataclass(frozen=True)
class RecentCalls:
    """Calls to a real model (the offline backend never fails for Gemini's reasons) since a moment."""

    calls: int
    errors: int
    latest_failed: bool  # the newest of them failed (False when there were none)


def model_calls_recent(*, since: datetime) -> RecentCalls:
    """Calls to a real model backend since `since`, how many failed, and whether the newest one
    did. Two queries."""
    recent = ModelCall.objects.filter(created_at__gte=since).exclude(backend="offline")
    counts = recent.aggregate(calls=Count("id"), errors=Count("id", filter=Q(ok=False)))
    latest_ok = recent.order_by("-created_at", "-id").values_list("ok", flat=True).first()
    return RecentCalls(calls=counts["calls"], errors=counts["errors"], latest_failed=latest_ok is False)


@dataclass(frozen=True)
class CallTotals:
    """All model calls of one backend, model and purpose, ever (Prometheus counters)."""

    backend: str
    model: str
    purpose: str
    calls: int
    errors: int
    prompt_tokens: int  # cached ones included
    cached_tokens: int
    output_tokens: int
    thinking_tokens: int
    cost_usd: Decimal
    latency_seconds_total: float
    # Calls at or under each bound of `latency_buckets`, in their order (cumulative, as Prometheus wants).
    latency_at_most: tuple[int, ...]


def model_call_totals(*, latency_buckets: Sequence[float]) -> list[CallTotals]:
    """Every model call so far, per backend, model and purpose, with latency counted against
    `latency_buckets` (seconds, ascending). One query."""
    buckets = {f"le_{i}": Count("id", filter=Q(latency_ms__lte=int(b * 1000))) for i, b in enumerate(latency_buckets)}
    rows = (
        ModelCall.objects.values("backend", "model", "purpose")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(ok=False)),
            prompt=Sum("prompt_tokens"),
            cached=Sum("cached_tokens"),
            output=Sum("output_tokens"),
            thinking=Sum("thinking_tokens"),
            cost=Sum("cost_usd"),
            latency_total_ms=Sum("latency_ms"),
            **buckets,
        )
        .order_by("backend", "model", "purpose")
    )
    return [
        CallTotals(
            backend=row["backend"],
            model=row["model"],
            purpose=row["purpose"],
            calls=row["calls"],
            errors=row["errors"],
            prompt_tokens=row["prompt"] or 0,
            cached_tokens=row["cached"] or 0,
            output_tokens=row["output"] or 0,
            thinking_tokens=row["thinking"] or 0,
            cost_usd=row["cost"] or Decimal(0),
            latency_seconds_total=(row["latency_total_ms"] or 0) / 1000,
            latency_at_most=tuple(row[f"le_{i}"] for i in range(len(latency_buckets))),
        )
        for row in rows
    ]


def pending_replies_waiting_count() -> int:
    """Customers who got the fallback and still wait for the real answer."""
    return PendingReply.objects.filter(resolved_at__isnull=True).count()
