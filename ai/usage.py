"""Token and cost accounting: every model call is a ModelCall row."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum

from ai.llm import CallContext
from ai.models import ContextCache, ModelCall

log = structlog.get_logger(__name__)

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Usage:
    prompt: int = 0  # all input tokens, cached ones included
    cached: int = 0
    output: int = 0
    thinking: int = 0


def cost_usd(*, model: str, usage: Usage) -> Decimal:
    """Cost from settings.LLM_PRICES (USD per 1M tokens); unknown models cost 0 (and are logged)."""
    prices: dict[str, Any] | None = settings.LLM_PRICES.get(model)
    if not prices:
        if usage.prompt or usage.output:
            log.warning("usage.unpriced_model", model=model)
        return Decimal(0)
    fresh = max(0, usage.prompt - usage.cached)
    total = (
        Decimal(fresh) * Decimal(str(prices.get("input", 0)))
        + Decimal(usage.cached) * Decimal(str(prices.get("cached", prices.get("input", 0))))
        + Decimal(usage.output + usage.thinking) * Decimal(str(prices.get("output", 0)))
    )
    return total / _MILLION


def record_call(
    *,
    backend: str,
    model: str,
    ctx: CallContext,
    started: float,
    usage: Usage | None = None,
    error: str = "",
    cache_name: str = "",
) -> ModelCall:
    """Writes the row for one call; `started` is time.monotonic() taken before the call."""
    usage = usage or Usage()
    return ModelCall.objects.create(
        backend=backend,
        purpose=ctx.purpose,
        model=model,
        contact_id=ctx.contact_id,
        prompt_name=ctx.prompt_name,
        prompt_version=ctx.prompt_version,
        prompt_tokens=usage.prompt,
        cached_tokens=usage.cached,
        output_tokens=usage.output,
        thinking_tokens=usage.thinking,
        cost_usd=cost_usd(model=model, usage=usage),
        latency_ms=int((time.monotonic() - started) * 1000),
        ok=not error,
        error=error[:2000],
        cache_name=cache_name,
    )


def usage_summary(*, since: datetime, until: datetime) -> dict[str, Any]:
    """Calls, tokens, cached share and cost in [since, until), for /stats."""
    rows = ModelCall.objects.filter(created_at__gte=since, created_at__lt=until)
    totals = rows.aggregate(
        calls=Count("id"),
        errors=Count("id", filter=Q(ok=False)),
        prompt_tokens=Sum("prompt_tokens"),
        cached_tokens=Sum("cached_tokens"),
        output_tokens=Sum("output_tokens"),
        thinking_tokens=Sum("thinking_tokens"),
        cost_usd=Sum("cost_usd"),
    )
    prompt = totals["prompt_tokens"] or 0
    cached = totals["cached_tokens"] or 0
    by_purpose = {row["purpose"]: row["n"] for row in rows.values("purpose").annotate(n=Count("id"))}
    return {
        **_cache_summary(rows, since=since, until=until),
        "backend": settings.LLM_BACKEND,
        "calls": totals["calls"],
        "errors": totals["errors"],
        "calls_by_purpose": by_purpose,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "output_tokens": totals["output_tokens"] or 0,
        "thinking_tokens": totals["thinking_tokens"] or 0,
        "cached_share": round(cached / prompt, 4) if prompt else 0.0,
        "cost_usd": float(totals["cost_usd"] or 0),
    }


def _cache_summary(rows: QuerySet[ModelCall], *, since: datetime, until: datetime) -> dict[str, Any]:
    """Explicit context caching in [since, until): the share of Gemini sales requests that named
    a cache, the tokens Gemini read from caches (explicit and implicit), and the money saved:
    cached tokens at the input price minus their cached price, minus what storing the caches
    cost (storage_cost_usd)."""
    replies = rows.filter(backend="gemini", purpose=ModelCall.Purpose.REPLY, ok=True).aggregate(
        n=Count("id"), cached=Count("id", filter=~Q(cache_name=""))
    )
    saved = Decimal(0)
    for row in rows.filter(cached_tokens__gt=0).values("model").annotate(tokens=Sum("cached_tokens")):
        prices = settings.LLM_PRICES.get(row["model"]) or {}
        full = Decimal(str(prices.get("input", 0)))
        discounted = Decimal(str(prices.get("cached", prices.get("input", 0))))
        saved += Decimal(row["tokens"]) * (full - discounted) / _MILLION
    storage = storage_cost_usd(since=since, until=until)
    return {
        "cache_requests": replies["cached"],
        "cache_hit_rate": round(replies["cached"] / replies["n"], 4) if replies["n"] else 0.0,
        "cache_storage_usd": float(round(storage, 6)),
        "cache_saved_usd": float(round(saved - storage, 6)),
    }


def storage_cost_usd(*, since: datetime, until: datetime) -> Decimal:
    """What keeping caches alive cost in [since, until): tokens x hours x the model's "storage"
    price per 1M token-hours (settings.LLM_PRICES)."""
    total = Decimal(0)
    rows = ContextCache.objects.filter(created_at__lt=until, token_count__gt=0).exclude(
        status__in=[ContextCache.Status.TOO_SMALL, ContextCache.Status.FAILED]
    )
    for row in rows.only("model", "token_count", "created_at", "expire_at", "ended_at"):
        start = max(row.created_at, since)
        end = min(x for x in (row.ended_at, row.expire_at, until) if x is not None)
        if end <= start:
            continue
        price = Decimal(str((settings.LLM_PRICES.get(row.model) or {}).get("storage", 0)))
        hours = Decimal((end - start).total_seconds()) / Decimal(3600)
        total += Decimal(row.token_count) * hours * price / Decimal(1_000_000)
    return total


def model_calls_purge(*, before: datetime, batch: int = 1000) -> int:
    """Deletes the model-call rows made before `before`, `batch` rows a transaction (the
    classification log keeps its verdicts, unlinked). The usage and cost totals of /stats
    and /metrics then count only the calls kept. Returns how many."""
    deleted = 0
    while True:
        ids = list(ModelCall.objects.filter(created_at__lt=before).order_by("id").values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += ModelCall.objects.filter(pk__in=ids).delete()[1].get(ModelCall._meta.label, 0)
        if len(ids) < batch:
            return deleted
