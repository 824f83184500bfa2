"""Token and cost accounting: every model call is a ModelCall row."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ai.llm import CallContext, LLMBudgetExceededError
from ai.models import ContextCache, ModelCall
from messaging.notify import managers_notify
from messaging.suspicious import suspicious_report

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
    row = ModelCall.objects.create(
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
    if row.cost_usd:
        spend_watch(now=row.created_at)
    return row


# The usual day is the mean cost of the days with calls among this many before today.
SPEND_USUAL_DAYS = 7


def spend_watch(*, now: datetime) -> None:
    """Suspicious activity: today's model cost (the business's local day) above
    SUSPICIOUS_SPEND_FACTOR times the usual day and above SUSPICIOUS_SPEND_MIN_USD (a leaked key,
    a loop, a flood answered at length). Checked at most once a minute, reported once a day;
    never raises (accounting must not fail a call)."""
    try:
        if not cache.add(f"ai:spend-checked:{int(now.timestamp()) // 60}", 1, timeout=120):
            return
        start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        today = ModelCall.objects.filter(created_at__gte=start, created_at__lte=now).aggregate(s=Sum("cost_usd"))["s"]
        today = today or Decimal(0)
        if today <= Decimal(str(settings.SUSPICIOUS_SPEND_MIN_USD)):
            return
        days = [
            row["cost"]
            for row in ModelCall.objects.filter(
                created_at__gte=start - timedelta(days=SPEND_USUAL_DAYS), created_at__lt=start
            )
            .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("day")
            .annotate(cost=Sum("cost_usd"))
        ]
        usual = sum(days, Decimal(0)) / len(days) if days else Decimal(0)
        if today <= Decimal(str(settings.SUSPICIOUS_SPEND_FACTOR)) * usual:
            return
        if not cache.add(f"ai:spend-reported:{start.date()}", 1, timeout=2 * 86400):
            return
        suspicious_report(
            kind="spend",
            detail=f"Сегодня ${today:.2f}, обычно ${usual:.2f} в день (модель: ModelCall в админке)",
            now=now,
        )
    except Exception:
        log.exception("usage.spend_check_failed")


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


# --- Limits on the bill: the business's money a day, one contact's tokens a day ----------------------

BUDGET_NOTICE = "Дневной бюджет на ИИ исчерпан: до конца дня бот не отвечает, клиентам ответят менеджеры"


def local_day_start(now: datetime | None = None) -> datetime:
    """Midnight of the business's local day (settings.TIME_ZONE) that `now` falls in."""
    local = timezone.localtime(now or timezone.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def spent_today_usd(now: datetime | None = None) -> Decimal:
    """What the model calls of the local day cost so far (their recorded cost_usd)."""
    total = ModelCall.objects.filter(created_at__gte=local_day_start(now)).aggregate(cost=Sum("cost_usd"))["cost"]
    return total or Decimal(0)


def budget_spent(now: datetime | None = None) -> bool:
    """True when LLM_DAILY_BUDGET_USD is set (above 0) and the local day's calls reached it."""
    budget = Decimal(settings.LLM_DAILY_BUDGET_USD or 0)
    return budget > 0 and spent_today_usd(now) >= budget


def budget_guard(now: datetime | None = None) -> None:
    """The model door's one check (ai.sdk.generate runs it before every request, whatever its
    purpose). Raises LLMBudgetExceededError once the day's budget is spent; the first refusal
    of a local day tells the managers (one notice a day: a cache mark, and the outbox's
    idempotency key behind it)."""
    now = now or timezone.now()
    if not budget_spent(now):
        return
    day = local_day_start(now)
    log.warning("usage.budget_spent", budget_usd=str(settings.LLM_DAILY_BUDGET_USD), day=day.date().isoformat())
    try:
        if cache.add(f"llm-budget-notice:{day.date().isoformat()}", 1, timeout=2 * 86400):
            managers_notify(
                contact=None,
                who="Все клиенты",
                reason=BUDGET_NOTICE,
                summary=f"Потрачено ${spent_today_usd(now):.2f} из ${settings.LLM_DAILY_BUDGET_USD}",
                key=f"llm-budget:{day.date().isoformat()}",
            )
    except Exception:  # the notice must never turn a refusal into a crash
        log.exception("usage.budget_notice_failed")
    retry_after = (day + timedelta(days=1) - now).total_seconds()
    raise LLMBudgetExceededError("the daily model budget is spent (LLM_DAILY_BUDGET_USD)", retry_after=retry_after)


def budget_health(now: datetime | None = None) -> dict[str, Any]:
    """For /health's llm section: {} while the budget allows calls, else "degraded" with the
    reason "budget" and the figures."""
    if not budget_spent(now):
        return {}
    return {
        "status": "degraded",
        "reason": "budget",
        "budget_usd": float(settings.LLM_DAILY_BUDGET_USD),
        "spent_today_usd": float(spent_today_usd(now)),
    }


def contact_tokens_today(contact_id: int, now: datetime | None = None) -> int:
    """Tokens (input, output and thinking) the contact's model calls used in the local day."""
    total = ModelCall.objects.filter(contact_id=contact_id, created_at__gte=local_day_start(now)).aggregate(
        tokens=Sum(F("prompt_tokens") + F("output_tokens") + F("thinking_tokens"))
    )["tokens"]
    return total or 0


def contact_tokens_today_expression(contact_id: Any, now: datetime | None = None) -> Coalesce:
    """contact_tokens_today as an expression (`contact_id` may be an OuterRef), for a caller
    that reads it along with its own rows instead of in a query of its own."""
    tokens = (
        ModelCall.objects.filter(contact_id=contact_id, created_at__gte=local_day_start(now))
        .order_by()
        .values("contact_id")
        .annotate(tokens=Sum(F("prompt_tokens") + F("output_tokens") + F("thinking_tokens")))
        .values("tokens")[:1]
    )
    return Coalesce(Subquery(tokens), 0)


def contact_over_daily_tokens(contact_id: int, now: datetime | None = None, *, tokens: int | None = None) -> bool:
    """True when LLM_CONTACT_DAILY_TOKENS is set (above 0) and the contact used that many today
    (`tokens`, when the caller read them with contact_tokens_today_expression; else one query)."""
    cap = settings.LLM_CONTACT_DAILY_TOKENS
    if not cap:
        return False
    return (contact_tokens_today(contact_id, now) if tokens is None else tokens) >= cap


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
