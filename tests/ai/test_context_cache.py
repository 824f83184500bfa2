"""Gemini explicit context caching of the sales assistant's stable prefix, through the real SDK
against the fake Gemini (which enforces the real API's rules on caches)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from ai.models import ContextCache, ModelCall, PromptOverride
from assistant.agent import agent_reply
from assistant.pipeline import incoming_process
from messaging.models import Message
from tests.factories import ClientFactory, customer_says
from tests.fakes.gemini import function_call_response
from tests.fixtures import DEMO_KNOWLEDGE
from tests.processes import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def caching(settings, fake_gemini, demo_knowledge):
    """The demo knowledge base is about 3,000 tokens: lower the model's minimum so that it is
    cached, as a real company's catalogue above 4,096 tokens would be."""
    settings.GEMINI_CACHE_MIN_TOKENS = 1000
    fake_gemini.min_cache_tokens = 1000
    fake_gemini.auto_usage = True
    return fake_gemini


def reply_to(text):
    message = customer_says(ClientFactory(), text)
    return agent_reply(contact=message.contact, message=message)


def creates(fake):
    return [r for r in fake.cache_requests() if r.method == "POST"]


def assert_cached(request, name):
    body = request.camel
    assert body["cachedContent"] == name
    # The real API answers 400 when a cached request also carries these.
    assert "systemInstruction" not in body
    assert "tools" not in body
    assert "toolConfig" not in body


def test_the_cache_is_created_once_and_reused_by_every_client(caching):
    caching.reply_text("Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊")
    caching.reply_text("Доставка по Алматы — 1 500 ₸ 👍")

    reply_to("Сколько стоит аренда кулера?")
    reply_to("А доставка сколько?")

    assert len(creates(caching)) == 1
    created = creates(caching)[0].camel
    # The stable prefix lives in the cache: the prompt with the whole knowledge base, and the tools.
    assert "2 500" in created["systemInstruction"]["parts"][0]["text"]
    names = {d["name"] for d in created["tools"][0]["functionDeclarations"]}
    assert {"handoff_to_manager", "check_availability", "book_call"} <= names
    assert created["toolConfig"]["functionCallingConfig"]["mode"] == "AUTO"
    (row,) = ContextCache.objects.filter(status="active")
    first, second = caching.generate_requests()
    assert_cached(first, row.name)
    assert_cached(second, row.name)
    # Only the conversation travels: each request's own facts first, then the customer's words.
    assert "Сколько стоит аренда кулера?" in first.texts()[0] + first.texts()[-1]
    assert "Телефон клиента" in first.texts()[0]
    row.refresh_from_db()
    assert row.hits == 2
    calls = ModelCall.objects.filter(purpose="reply").order_by("pk")
    assert [c.cache_name for c in calls] == [row.name, row.name]
    assert all(c.cached_tokens == row.token_count > 1000 for c in calls)
    # Nearly all of what the model read came from the cache.
    assert all(c.cached_tokens / c.prompt_tokens > 0.9 for c in calls)


def test_a_tool_loop_step_uses_the_cache_too(caching):
    caching.enqueue(function_call_response("handoff_to_manager", {"reason": "просит человека"}, call_id="c1"))
    caching.reply_text("Передала ваш вопрос менеджеру, он скоро напишет 👍")

    reply = reply_to("Позовите, пожалуйста, живого человека")

    assert reply.handed_off
    (row,) = ContextCache.objects.filter(status="active")
    first, second = caching.generate_requests()
    assert_cached(first, row.name)
    assert_cached(second, row.name)
    assert any("functionResponse" in part for part in second.parts())


def test_a_changed_knowledge_base_or_prompt_gets_a_new_cache_and_the_old_one_is_deleted(caching, tmp_path):
    from ai.knowledge import knowledge_load

    caching.reply_text("Ответ 1")
    reply_to("Сколько стоит аренда кулера?")
    old = ContextCache.objects.get(status="active")

    PromptOverride.objects.create(
        name="sales_agent_prompt",
        text=(ROOT / "ai/prompts/sales_agent_prompt.txt").read_text() + "\nБудь краток.",
        is_active=True,
    )
    caching.reply_text("Ответ 2")
    reply_to("А доставка?")

    new = ContextCache.objects.get(status="active")
    assert new.name != old.name
    old.refresh_from_db()
    assert old.status == ContextCache.Status.REPLACED
    assert old.name not in caching.caches  # deleted at Gemini: storage is billed per hour
    assert [r.method for r in caching.cache_requests()] == ["POST", "POST", "DELETE"]

    # A new document in the knowledge base: a third cache.
    (tmp_path / "extra.pdf").write_bytes((DEMO_KNOWLEDGE / "faq.pdf").read_bytes())
    knowledge_load(path=tmp_path)
    caching.reply_text("Ответ 3")
    reply_to("Есть гарантия?")
    assert ContextCache.objects.filter(status="active").count() == 1
    assert ContextCache.objects.get(status="active").name not in (old.name, new.name)
    assert len(caching.caches) == 1


def test_a_cache_in_use_is_extended_before_its_ttl_runs_out_and_a_lapsed_one_is_recreated(caching, settings):
    settings.GEMINI_CACHE_TTL_SECONDS = 3600
    start = timezone.now()
    with time_machine.travel(start, tick=True) as clock:
        caching.reply_text("Ответ 1")
        reply_to("Сколько стоит аренда кулера?")
        row = ContextCache.objects.get(status="active")

        clock.move_to(start + timedelta(minutes=55))  # 5 minutes left: extend, do not re-create
        caching.reply_text("Ответ 2")
        reply_to("А доставка?")
        assert [r.method for r in caching.cache_requests()] == ["POST", "PATCH"]
        assert caching.cache_requests()[-1].camel == {"ttl": "3600s"}
        row.refresh_from_db()
        assert row.expire_at > start + timedelta(minutes=110)
        assert_cached(caching.generate_requests()[-1], row.name)

        clock.move_to(start + timedelta(hours=3))  # nobody used it for two hours: it lapsed
        caching.reply_text("Ответ 3")
        reply_to("Есть гарантия?")
        assert [r.method for r in caching.cache_requests()] == ["POST", "PATCH", "POST"]
        row.refresh_from_db()
        assert row.status == ContextCache.Status.EXPIRED
        assert_cached(caching.generate_requests()[-1], ContextCache.objects.get(status="active").name)


def test_a_cache_gone_at_gemini_costs_the_customer_nothing(caching):
    caching.reply_text("Ответ 1")
    reply_to("Сколько стоит аренда кулера?")
    lost = ContextCache.objects.get(status="active")
    caching.expire_caches()  # deleted at Gemini behind our back

    caching.reply_text("Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊")
    caching.reply_text("Ответ 3")
    reply = reply_to("А аренда кулера?")

    assert reply.text.startswith("Аренда кулера")
    retried = caching.generate_requests()[-1].camel
    assert "cachedContent" not in retried
    assert "2 500" in retried["systemInstruction"]["parts"][0]["text"]
    lost.refresh_from_db()
    assert lost.status == ContextCache.Status.GONE
    # The next reply makes a new cache.
    reply_to("Спасибо, а доставка?")
    assert_cached(caching.generate_requests()[-1], ContextCache.objects.get(status="active").name)


def test_a_prefix_below_the_models_minimum_is_not_cached_and_not_tried_again(settings, fake_gemini, demo_knowledge):
    settings.GEMINI_CACHE_MIN_TOKENS = 1000  # our estimate says "big enough"...
    fake_gemini.min_cache_tokens = 50_000  # ...the server says "too small", and it decides
    fake_gemini.reply_text("Ответ 1")
    fake_gemini.reply_text("Ответ 2")

    reply_to("Сколько стоит аренда кулера?")
    reply_to("А доставка?")

    assert len(creates(fake_gemini)) == 1
    (row,) = ContextCache.objects.all()
    assert row.status == ContextCache.Status.TOO_SMALL
    assert row.token_count > 1000
    for request in fake_gemini.generate_requests():
        body = request.camel
        assert "cachedContent" not in body
        assert "2 500" in body["systemInstruction"]["parts"][0]["text"]
        assert body["tools"]


def test_below_our_own_estimate_no_create_is_even_tried(fake_gemini, demo_knowledge):
    # The default minimum (4,096 tokens of Gemini 3.x Flash) is above the small demo catalogue.
    fake_gemini.reply_text("Ответ")
    reply_to("Сколько стоит аренда кулера?")
    assert fake_gemini.cache_requests() == []
    assert "systemInstruction" in fake_gemini.last_request().camel


def test_a_large_knowledge_base_sends_the_top_chunks_with_each_request(settings, fake_gemini, demo_knowledge):
    settings.KNOWLEDGE_PROMPT_MAX_CHARS = 1500  # the demo catalogue no longer fits whole
    fake_gemini.reply_text("Ответ 1")
    fake_gemini.reply_text("Ответ 2")

    reply_to("Сколько стоит аренда кулера?")
    reply_to("Какие у вас условия доставки по Алматы?")

    first, second = (r.camel for r in fake_gemini.generate_requests())
    # The stable prefix is the same for both (cacheable), without the catalogue itself.
    assert first["systemInstruction"] == second["systemInstruction"]
    assert "2 500" not in first["systemInstruction"]["parts"][0]["text"]
    assert "фрагменты" in first["systemInstruction"]["parts"][0]["text"].lower()
    # Each request carries the chunks that answer its question.
    first_context = first["contents"][0]["parts"][0]["text"]
    second_context = second["contents"][0]["parts"][0]["text"]
    assert "Аренда" in first_context
    assert "2 500" in first_context
    assert "оставк" in second_context
    assert first_context != second_context


def test_the_whole_flow_and_stats_show_hit_rate_cached_tokens_and_money_saved(caching, client, admin_client):
    for text in ("Сколько стоит аренда кулера?", "А доставка?", "Есть гарантия?"):
        caching.reply_text("Аренда кулера «Тау-2» — 2 500 ₸ в месяц 😊")
        message = customer_says(ClientFactory(), text)
        assert incoming_process(message_id=message.pk).status == "answered"
    assert Message.objects.filter(direction="out").count() == 3

    stats = client.get("/stats").json()["llm_today"]
    assert stats["cache_requests"] == 3
    assert stats["cache_hit_rate"] == 1.0
    assert stats["cached_tokens"] == 3 * ContextCache.objects.get(status="active").token_count
    assert stats["cached_share"] > 0.9
    assert stats["cache_saved_usd"] > 0

    page = admin_client.get(reverse("admin:ai_modelcall_changelist")).content.decode()
    assert "Кэш контекста Gemini за 30 дней: ответов с кэшем 3 (100% запросов ответа)" in page
    page = admin_client.get(reverse("admin:ai_contextcache_changelist")).content.decode()
    assert ContextCache.objects.get(status="active").name in page
