"""Token and cost accounting (ai.usage): what a model call cost in USD, the ModelCall row every
call writes, and the usage and caching figures /stats and the admin show. PostgreSQL, prices
from settings.LLM_PRICES, time frozen with time-machine."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from ai.llm import CallContext
from ai.models import ContextCache, ModelCall
from ai.usage import Usage, cost_usd, record_call, storage_cost_usd, usage_summary
from tests.factories import ContactFactory

ASTANA = ZoneInfo("Asia/Almaty")
PRO = "gemini-test-pro"
LITE = "gemini-test-lite"  # no "cached" price: cached tokens cost the input price
REPLY = CallContext(purpose="reply", prompt_name="sales_agent_prompt", prompt_version="file:0123abcd")
CLASSIFY = CallContext(purpose="classify", prompt_name="moderator_prompt", prompt_version="file:89abcdef")


@pytest.fixture(autouse=True)
def prices(settings):
    settings.LLM_PRICES = {
        PRO: {"input": 1.00, "cached": 0.10, "output": 4.00, "storage": 2.00},
        LITE: {"input": 0.30, "output": 2.50},
    }
    return settings.LLM_PRICES


def at(hour: int, minute: int = 0, *, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ASTANA)


def call_at(moment: datetime, **fields) -> ModelCall:
    """A ModelCall row written by record_call at `moment` (created_at is the time of writing)."""
    fields.setdefault("backend", "gemini")
    fields.setdefault("model", PRO)
    fields.setdefault("ctx", REPLY)
    with time_machine.travel(moment, tick=False):
        return record_call(started=time.monotonic(), **fields)


def cache_at(moment: datetime, **fields) -> ContextCache:
    fields.setdefault("model", PRO)
    fields.setdefault("status", ContextCache.Status.ACTIVE)
    fields.setdefault("key", f"key-{ContextCache.objects.count()}")
    with time_machine.travel(moment, tick=False):
        return ContextCache.objects.create(**fields)


# --- cost_usd ---------------------------------------------------------------------------------------


def test_cost_is_fresh_input_plus_cached_input_plus_output_and_thinking_at_the_output_price():
    usage = Usage(prompt=1_000_000, cached=400_000, output=100_000, thinking=20_000)

    # 600k fresh x 1.00 + 400k cached x 0.10 + (100k + 20k) x 4.00, per million tokens
    assert cost_usd(model=PRO, usage=usage) == Decimal("0.60") + Decimal("0.04") + Decimal("0.48")


def test_without_a_cached_price_cached_tokens_cost_the_input_price():
    usage = Usage(prompt=2_000_000, cached=1_000_000, output=0)

    assert cost_usd(model=LITE, usage=usage) == Decimal("0.60")


def test_a_model_missing_from_the_price_list_costs_nothing():
    assert cost_usd(model="gemini-unpriced", usage=Usage(prompt=5_000_000, output=1_000_000)) == 0


def test_more_cached_tokens_than_prompt_tokens_never_makes_a_negative_fresh_part():
    # Inconsistent usage metadata must not give a discount below the cached tokens' own price.
    usage = Usage(prompt=100_000, cached=300_000, output=0)

    assert cost_usd(model=PRO, usage=usage) == Decimal("0.03")


def test_prices_from_json_floats_are_counted_exactly_not_as_binary_fractions(settings):
    settings.LLM_PRICES = {PRO: {"input": 0.1, "output": 0.7}}

    cost = cost_usd(model=PRO, usage=Usage(prompt=3_000_000, output=3_000_000))

    assert cost == Decimal("2.4")


# --- record_call ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_successful_call_is_recorded_with_its_context_tokens_cost_and_latency():
    contact = ContactFactory()
    ctx = CallContext(purpose="reply", contact_id=contact.pk, prompt_name="sales_agent_prompt", prompt_version="db:7")
    started = time.monotonic() - 1.25  # the call took a second and a quarter

    row = record_call(
        backend="gemini",
        model=PRO,
        ctx=ctx,
        started=started,
        usage=Usage(prompt=12_000, cached=10_000, output=300, thinking=100),
        cache_name="cachedContents/abc",
    )

    row.refresh_from_db()
    assert (row.backend, row.model, row.purpose, row.contact_id) == ("gemini", PRO, "reply", contact.pk)
    assert (row.prompt_name, row.prompt_version, row.cache_name) == ("sales_agent_prompt", "db:7", "cachedContents/abc")
    assert (row.prompt_tokens, row.cached_tokens, row.output_tokens, row.thinking_tokens) == (12_000, 10_000, 300, 100)
    # 2k fresh x 1.00 + 10k cached x 0.10 + 400 x 4.00, per million
    assert row.cost_usd == Decimal("0.0046")
    assert 1250 <= row.latency_ms < 60_000
    assert (row.ok, row.error) == (True, "")


@pytest.mark.django_db
def test_a_failed_call_is_recorded_as_an_error_and_its_billed_tokens_still_cost():
    row = record_call(
        backend="gemini",
        model=PRO,
        ctx=CLASSIFY,
        started=time.monotonic(),
        usage=Usage(prompt=1_000_000),
        error="LLMPermanentError: " + "x" * 5000,
    )

    row.refresh_from_db()
    assert row.ok is False
    assert row.error.startswith("LLMPermanentError: xxx")
    assert len(row.error) == 2000
    assert row.cost_usd == Decimal("1.00")


@pytest.mark.django_db
def test_a_call_without_usage_metadata_is_recorded_with_zero_tokens_and_zero_cost():
    row = record_call(backend="offline", model="offline-rules", ctx=REPLY, started=time.monotonic())

    row.refresh_from_db()
    assert (row.prompt_tokens, row.cached_tokens, row.output_tokens, row.thinking_tokens) == (0, 0, 0, 0)
    assert row.cost_usd == 0
    assert row.contact_id is None


# --- usage_summary ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_summary_counts_calls_tokens_errors_and_cost_inside_the_window_only(settings):
    since, until = at(0), at(0, day=21)
    call_at(since - timedelta(seconds=1), usage=Usage(prompt=999_999, output=999))  # the day before
    call_at(since, ctx=CLASSIFY, usage=Usage(prompt=2_000, output=100))
    call_at(at(11), usage=Usage(prompt=10_000, cached=8_000, output=200, thinking=50), cache_name="cachedContents/a")
    call_at(at(12), usage=Usage(prompt=4_000, output=100))
    call_at(at(13), error="LLMTransientError: 503 UNAVAILABLE")
    call_at(at(14), backend="offline", model="offline-rules")
    call_at(until, usage=Usage(prompt=999_999, output=999))  # the next day

    summary = usage_summary(since=since, until=until)

    assert summary["backend"] == settings.LLM_BACKEND
    assert (summary["calls"], summary["errors"]) == (5, 1)
    assert summary["calls_by_purpose"] == {"classify": 1, "reply": 4}
    assert (summary["prompt_tokens"], summary["cached_tokens"]) == (16_000, 8_000)
    assert (summary["output_tokens"], summary["thinking_tokens"]) == (400, 50)
    assert summary["cached_share"] == 0.5
    # classify 2,000 + 400; cached reply 2,000 + 800 + 1,000; plain reply 4,000 + 400 (per million, USD)
    assert summary["cost_usd"] == pytest.approx(0.0106)


@pytest.mark.django_db
def test_an_empty_window_gives_zeros_not_errors():
    summary = usage_summary(since=at(0), until=at(0, day=21))

    assert (summary["calls"], summary["errors"], summary["prompt_tokens"], summary["cost_usd"]) == (0, 0, 0, 0.0)
    assert (summary["cached_share"], summary["cache_hit_rate"], summary["cache_saved_usd"]) == (0.0, 0.0, 0.0)
    assert summary["calls_by_purpose"] == {}


@pytest.mark.django_db
def test_the_cache_hit_rate_is_the_share_of_successful_gemini_replies_that_named_a_cache():
    call_at(at(10), usage=Usage(prompt=10_000, cached=9_000), cache_name="cachedContents/a")
    call_at(at(11), usage=Usage(prompt=10_000, cached=9_000), cache_name="cachedContents/a")
    call_at(at(12), usage=Usage(prompt=10_000))
    call_at(at(13), usage=Usage(prompt=10_000))
    # Not sales replies on Gemini, or failed: not part of the rate.
    call_at(at(14), cache_name="cachedContents/a", error="LLMPermanentError: 403")
    call_at(at(15), ctx=CLASSIFY, usage=Usage(prompt=1_000))
    call_at(at(16), backend="offline", model="offline-rules")

    summary = usage_summary(since=at(0), until=at(0, day=21))

    assert summary["cache_requests"] == 2
    assert summary["cache_hit_rate"] == 0.5


@pytest.mark.django_db
def test_the_money_saved_by_caching_is_the_cached_discount_minus_what_storing_the_cache_cost():
    # 100k cached tokens at 1.00 instead of 0.10: 0.09 saved; a 10k-token cache kept one hour at 2.00: 0.02
    call_at(at(10, 30), usage=Usage(prompt=110_000, cached=100_000), cache_name="cachedContents/a")
    cache_at(at(10), name="cachedContents/a", token_count=10_000, expire_at=at(11))

    summary = usage_summary(since=at(0), until=at(0, day=21))

    assert summary["cache_storage_usd"] == pytest.approx(0.02)
    assert summary["cache_saved_usd"] == pytest.approx(0.07)


@pytest.mark.django_db
def test_caching_that_costs_more_to_store_than_it_saves_shows_a_negative_saving():
    call_at(at(10, 30), usage=Usage(prompt=11_000, cached=10_000), cache_name="cachedContents/a")  # 0.009 saved
    cache_at(at(10), name="cachedContents/a", token_count=50_000, expire_at=at(11))  # 0.1 stored

    summary = usage_summary(since=at(0), until=at(0, day=21))

    assert summary["cache_saved_usd"] == pytest.approx(0.009 - 0.1)


# --- storage_cost_usd -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_storage_is_tokens_times_hours_alive_inside_the_window_times_the_storage_price():
    since, until = at(10), at(14)
    # Made before the window, expired inside it: 10:00-12:00 counts, 2 h x 100k x 2.00 per 1M token-hours.
    cache_at(at(9), name="cachedContents/a", token_count=100_000, expire_at=at(12))
    # Replaced (closed) half an hour after it was made: 0.5 h x 50k x 2.00.
    cache_at(
        at(11), name="cachedContents/b", token_count=50_000, expire_at=at(15), ended_at=at(11, 30), status="replaced"
    )
    # Still alive, with no known end: until the end of the window, 1 h x 20k x 2.00.
    cache_at(at(13), name="cachedContents/c", token_count=20_000)

    assert storage_cost_usd(since=since, until=until) == Decimal("0.4") + Decimal("0.05") + Decimal("0.04")


@pytest.mark.django_db
def test_caches_never_made_outside_the_window_or_without_a_storage_price_cost_nothing_to_store():
    since, until = at(10), at(14)
    cache_at(at(10), token_count=10_000, status=ContextCache.Status.TOO_SMALL, expire_at=at(13))
    cache_at(at(10), token_count=10_000, status=ContextCache.Status.FAILED, expire_at=at(13))
    cache_at(at(5), name="cachedContents/old", token_count=10_000, expire_at=at(8), status="expired")
    cache_at(at(15), name="cachedContents/later", token_count=10_000, expire_at=at(16))
    cache_at(at(10), name="cachedContents/lite", model=LITE, token_count=10_000, expire_at=at(13))
    cache_at(at(10), name="cachedContents/empty", token_count=0, expire_at=at(13))

    assert storage_cost_usd(since=since, until=until) == 0


# --- spend spikes (suspicious activity) -------------------------------------------------------------


def spend_notices() -> list[str]:
    from messaging.models import Message

    return list(
        Message.objects.filter(contact__phone="77019990011", purpose=Message.Purpose.NOTIFICATION).values_list(
            "text", flat=True
        )
    )


@pytest.fixture
def spend_watch(settings, db):
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    settings.SUSPICIOUS_SPEND_FACTOR = 3.0
    settings.SUSPICIOUS_SPEND_MIN_USD = 1.0


def test_a_day_spending_far_more_on_the_model_than_usual_is_told_to_the_managers_once(spend_watch):
    big = Usage(prompt=1_000_000, output=0)  # $1.00 a call
    for day in (13, 14, 15, 16, 17, 18, 19):
        call_at(at(12, day=day), usage=big)  # the usual day: $1

    for minute in (0, 10, 20):
        call_at(at(9, minute), usage=big)  # $3 by 09:20: not yet more than 3 x usual
    assert spend_notices() == []
    call_at(at(9, 30), usage=big)  # $4
    call_at(at(9, 40), usage=big)

    (notice,) = spend_notices()
    assert "Расход на модель" in notice
    assert "$4" in notice


def test_an_ordinary_day_of_model_calls_raises_nothing(spend_watch):
    for day in (17, 18, 19):
        call_at(at(12, day=day), usage=Usage(prompt=1_000_000))
    for minute in (0, 10):
        call_at(at(9, minute), usage=Usage(prompt=1_000_000))
    assert spend_notices() == []


def test_a_first_day_below_the_minimum_spend_raises_nothing(spend_watch):
    call_at(at(9), usage=Usage(prompt=900_000))  # $0.90, no history
    assert spend_notices() == []
