"""The sales agent (assistant.agent): one answer to the customer's latest messages, with the
tools the model calls, and the request the model gets (stable system instruction, this request's
facts and retrieved knowledge in the context). The real google-genai SDK against the fake Gemini
over HTTP, PostgreSQL, nothing of ours patched."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

import assistant.tools as tools
from ai.llm import LLMPermanentError, ToolSpec, Turn
from ai.models import KnowledgeChunk, KnowledgeDocument, ModelCall, PromptOverride
from assistant.agent import (
    MAX_TOOL_STEPS,
    NO_KNOWLEDGE,
    RETRIEVED_KNOWLEDGE,
    SEE_CONTEXT_PHONE,
    SEE_CONTEXT_TIME,
    agent_reply,
    sales_request,
)
from assistant.handoff import handoff_brief_deliver
from assistant.tools import Tool, tool_register
from contacts.models import Contact
from messaging.models import HandOff, Message
from tests.factories import ContactFactory, OutboundMessageFactory, customer_says
from tests.fakes.gemini import function_call_response

pytestmark = pytest.mark.django_db

ASTANA = ZoneInfo("Asia/Almaty")
FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=ASTANA)
MANAGER = "77019990011"


@pytest.fixture(autouse=True)
def uncached(settings):
    """Every request carries its system instruction and tools (context caching has its own tests)."""
    settings.GEMINI_CACHE_ENABLED = False


def system_of(request) -> str:
    return request.camel["systemInstruction"]["parts"][0]["text"]


def context_of(request) -> str:
    """The first part of the first user turn: this request's facts, between markers."""
    return request.camel["contents"][0]["parts"][0]["text"]


def tool_answers(request) -> list[dict]:
    return [part["functionResponse"] for part in request.camel["contents"][-1]["parts"] if "functionResponse" in part]


def document(title, chunks, *, status=KnowledgeDocument.Status.INDEXED):
    doc = KnowledgeDocument.objects.create(path=f"{title}.pdf", title=title, status=status, indexed_at=timezone.now())
    for position, (heading, text) in enumerate(chunks):
        KnowledgeChunk.objects.create(document=doc, position=position, heading=heading, text=text)
    return doc


PRICE_LIST = [
    ("Доставка", "Доставка по Алматы — 1 500 ₸, по области — 3 000 ₸."),
    ("Аренда кулеров", "Аренда кулера Тау-2 — 2 500 ₸ в месяц."),
    ("Гарантия", "Гарантия на оборудование — 12 месяцев."),
]


# --- the tool loop ----------------------------------------------------------------------------------


def test_a_plain_answer_comes_back_with_the_model_call_it_cost(fake_gemini, settings):
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Здравствуйте! Вы работаете по субботам?")
    fake_gemini.reply_text("Здравствуйте! По субботам работаем до 15:00 😊", prompt_tokens=900, output_tokens=20)

    reply = agent_reply(contact=contact, message=message, now=FRIDAY_NOON)

    assert reply.text == "Здравствуйте! По субботам работаем до 15:00 😊"
    assert reply.handed_off is False
    [call] = ModelCall.objects.all()
    assert reply.call_ids == (call.pk,)
    assert (call.purpose, call.model, call.contact_id, call.prompt_name) == (
        "reply",
        settings.GEMINI_MODEL,
        contact.pk,
        "sales_agent_prompt",
    )
    declared = {d["name"] for d in fake_gemini.last_request().camel["tools"][0]["functionDeclarations"]}
    assert {"handoff_to_manager", "check_availability", "book_call"} <= declared


def test_a_tool_the_model_calls_is_run_and_its_result_goes_back_before_the_answer(fake_gemini):
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Можно созвониться в понедельник?")
    fake_gemini.enqueue(function_call_response("check_availability", {"date": "2026-11-23"}, call_id="c1"))
    fake_gemini.reply_text("В понедельник свободно с 10:00 😊 Вам удобно?")

    reply = agent_reply(contact=contact, message=message, now=FRIDAY_NOON)

    assert reply.text.startswith("В понедельник свободно")
    assert len(reply.call_ids) == 2
    assert set(reply.call_ids) == set(ModelCall.objects.values_list("pk", flat=True))
    _first, second = fake_gemini.generate_requests()
    [answer] = tool_answers(second)
    assert answer["name"] == "check_availability"
    assert answer["response"]["ok"] is True
    assert answer["response"]["free"][0] == "2026-11-23T10:00:00+05:00"
    # The model turn that asked for the tool is repeated before the tool's answer.
    asked = second.camel["contents"][-2]
    assert asked["role"] == "model"
    assert asked["parts"][0]["functionCall"]["name"] == "check_availability"


def test_the_agent_gives_up_after_max_tool_steps_rounds_of_tool_calls(fake_gemini):
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Когда можно созвониться?")
    for _ in range(MAX_TOOL_STEPS):
        fake_gemini.enqueue(function_call_response("check_availability", {"date": "2026-11-23"}))

    with pytest.raises(LLMPermanentError, match=f"{MAX_TOOL_STEPS} tool rounds"):
        agent_reply(contact=contact, message=message, now=FRIDAY_NOON)

    # No further request was made (the fake fails the test on an unscripted one).
    assert len(fake_gemini.generate_requests()) == MAX_TOOL_STEPS
    assert ModelCall.objects.filter(purpose="reply").count() == MAX_TOOL_STEPS


def test_a_second_handoff_in_one_answer_notifies_the_managers_only_once(fake_gemini, settings):
    settings.MANAGER_PHONES = [MANAGER]
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Позовите живого человека!")
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "просит человека"}))
    fake_gemini.enqueue(function_call_response("handoff_to_manager", {"reason": "снова просит человека"}))
    fake_gemini.reply_text("Передал ваш вопрос менеджеру, он скоро напишет 👍")

    reply = agent_reply(contact=contact, message=message, now=FRIDAY_NOON)

    [handoff] = HandOff.objects.filter(contact=contact)
    fake_gemini.reply_text("Хочет: поговорить с человеком")
    handoff_brief_deliver(handoff_id=handoff.pk)

    contact.refresh_from_db()
    assert reply.handed_off is True
    assert contact.bot_mode == Contact.BotMode.HUMAN
    assert Message.objects.filter(contact__phone=MANAGER, purpose="notification").count() == 1
    second_answer = tool_answers(fake_gemini.generate_requests()[2])[0]["response"]
    assert "уже уведомлён" in second_answer["note"]


def test_a_call_of_a_tool_that_does_not_exist_is_answered_with_an_error_and_the_step_goes_on(fake_gemini):
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Дайте скидку 50%")
    fake_gemini.enqueue(function_call_response("give_discount", {"percent": 50}))
    fake_gemini.reply_text("Скидки согласует менеджер 😊")

    reply = agent_reply(contact=contact, message=message, now=FRIDAY_NOON)

    assert reply.text == "Скидки согласует менеджер 😊"
    assert tool_answers(fake_gemini.last_request())[0]["response"] == {"error": "unknown tool give_discount"}


def test_a_tool_that_raises_is_reported_to_the_model_instead_of_crashing_the_answer(fake_gemini, monkeypatch):
    monkeypatch.setattr(tools, "_REGISTRY", dict(tools._REGISTRY))  # forget the test's tool afterwards

    def broken(ctx, args):
        raise ConnectionError("склад не отвечает")

    tool_register(Tool(spec=ToolSpec("stock", "Остатки на складе", {"type": "object", "properties": {}}), run=broken))
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Есть кулеры в наличии?")
    fake_gemini.enqueue(function_call_response("stock", {"sku": "TAU-2"}))
    fake_gemini.reply_text("Уточню наличие у менеджера 😊")

    reply = agent_reply(contact=contact, message=message, now=FRIDAY_NOON)

    assert reply.text == "Уточню наличие у менеджера 😊"
    assert tool_answers(fake_gemini.last_request())[0]["response"] == {"error": "ConnectionError: склад не отвечает"}


def test_an_answer_with_no_text_is_an_error_not_an_empty_message(fake_gemini):
    contact = ContactFactory(is_client=True)
    message = customer_says(contact, "Алло?")
    fake_gemini.reply_text("   ")

    with pytest.raises(LLMPermanentError):
        agent_reply(contact=contact, message=message, now=FRIDAY_NOON)


def test_a_conversation_without_a_customer_message_is_never_sent_to_the_model(fake_gemini):
    contact = ContactFactory(is_client=True)
    ours = OutboundMessageFactory(contact=contact, text="Добрый день! Напоминаем о нашем предложении 😊")

    with pytest.raises(LLMPermanentError, match="no customer message"):
        agent_reply(contact=contact, message=ours, now=FRIDAY_NOON)

    assert fake_gemini.requests == []


# --- what the model is told -------------------------------------------------------------------------


def test_time_and_phone_travel_in_the_context_and_the_system_instruction_is_the_same_for_everyone(fake_gemini):
    first = ContactFactory(is_client=True, phone="77011234567")
    second = ContactFactory(is_client=True, phone="77027654321")
    fake_gemini.reply_text("Ответ первому 😊")
    fake_gemini.reply_text("Ответ второму 😊")

    agent_reply(contact=first, message=customer_says(first, "Сколько стоит доставка?"), now=FRIDAY_NOON)
    later = FRIDAY_NOON + timedelta(days=3, hours=2, minutes=17)
    agent_reply(contact=second, message=customer_says(second, "А аренда?"), now=later)

    one, two = fake_gemini.generate_requests()
    assert system_of(one) == system_of(two)
    assert "77011234567" not in system_of(one)
    assert "+7 701 123 45 67" not in system_of(one)
    assert "Текущая дата и время: пятница, 20.11.2026 12:00 (Астана, UTC+5)" in context_of(one)
    assert "Телефон клиента: +7 701 123 45 67" in context_of(one)
    assert "Текущая дата и время: понедельник, 23.11.2026 14:17" in context_of(two)
    assert "Телефон клиента: +7 702 765 43 21" in context_of(two)
    # The customer's words come after our facts, not inside them.
    assert "Сколько стоит доставка?" not in context_of(one)


def test_an_operators_prompt_with_time_and_phone_placeholders_still_gets_a_stable_system_instruction():
    PromptOverride.objects.create(
        name=PromptOverride.Name.SALES_AGENT,
        text="Сейчас {current_datetime}. Номер клиента {phone}. База знаний:\n{knowledge_base}",
    )
    contact = ContactFactory(phone="77011234567")
    turns = [Turn(role="user", text="Здравствуйте")]

    request = sales_request(contact=contact, turns=turns, now=FRIDAY_NOON)

    assert request.system.startswith(f"Сейчас {SEE_CONTEXT_TIME}. Номер клиента {SEE_CONTEXT_PHONE}.")
    assert "+7 701 123 45 67" in request.context
    assert "20.11.2026 12:00" in request.context
    assert request.prompt.version == f"db:{PromptOverride.objects.get().pk}"


def test_a_correction_after_a_rejected_draft_is_an_instruction_for_this_request_only():
    contact = ContactFactory()
    turns = [Turn(role="user", text="Сколько стоит?")]
    correction = "Не называй цену 1 999 ₸: её нет в базе знаний."

    corrected = sales_request(contact=contact, turns=turns, now=FRIDAY_NOON, correction=correction)
    plain = sales_request(contact=contact, turns=turns, now=FRIDAY_NOON)

    assert f"ВАЖНО: {correction}" in corrected.context
    assert correction not in corrected.system
    assert corrected.system == plain.system
    assert "ВАЖНО" not in plain.context


def test_a_knowledge_base_that_fits_goes_whole_into_the_system_instruction():
    document("Прайс", PRICE_LIST)
    contact = ContactFactory()

    request = sales_request(contact=contact, turns=[Turn(role="user", text="Сколько стоит доставка?")], now=FRIDAY_NOON)

    assert request.knowledge_mode == "whole"
    assert all(text in request.system for _heading, text in PRICE_LIST)
    assert "Фрагменты базы знаний" not in request.context
    assert request.knowledge_chars >= sum(len(text) for _heading, text in PRICE_LIST)


def test_a_large_knowledge_base_is_searched_and_only_the_matching_chunks_travel_with_the_request(settings):
    settings.KNOWLEDGE_PROMPT_MAX_CHARS = 50
    document("Прайс", PRICE_LIST)
    contact = ContactFactory()

    request = sales_request(contact=contact, turns=[Turn(role="user", text="Сколько стоит доставка?")], now=FRIDAY_NOON)

    assert request.knowledge_mode == "retrieved"
    assert RETRIEVED_KNOWLEDGE in request.system
    assert not any(text in request.system for _heading, text in PRICE_LIST)
    assert f"=== Прайс / Доставка ===\n{PRICE_LIST[0][1]}" in request.context
    assert "Гарантия на оборудование" not in request.context
    assert request.knowledge_chars > 0


def test_retrieval_searches_the_customers_last_two_messages_not_older_ones(settings):
    settings.KNOWLEDGE_PROMPT_MAX_CHARS = 50
    document("Прайс", PRICE_LIST)
    turns = [
        Turn(role="user", text="Какая гарантия?"),
        Turn(role="model", text="12 месяцев 😊"),
        Turn(role="user", text="Доставка по Алматы есть?"),
        Turn(role="model", text="Есть 😊"),
        Turn(role="user", text="А аренда кулера?"),
    ]

    request = sales_request(contact=ContactFactory(), turns=turns, now=FRIDAY_NOON)

    assert "Доставка по Алматы — 1 500 ₸" in request.context
    assert "Аренда кулера Тау-2" in request.context
    assert "Гарантия на оборудование" not in request.context


def test_retrieval_with_no_match_tells_the_model_a_manager_will_confirm(settings):
    settings.KNOWLEDGE_PROMPT_MAX_CHARS = 50
    document("Прайс", PRICE_LIST)

    request = sales_request(
        contact=ContactFactory(), turns=[Turn(role="user", text="Вы ремонтируете вертолёты?")], now=FRIDAY_NOON
    )

    assert request.knowledge_mode == "retrieved"
    assert "ничего не найдено: точные данные уточнит менеджер" in request.context


def test_without_an_indexed_knowledge_base_the_model_is_told_to_name_no_prices():
    document("Сломанный прайс", PRICE_LIST, status=KnowledgeDocument.Status.FAILED)

    request = sales_request(
        contact=ContactFactory(), turns=[Turn(role="user", text="Сколько стоит доставка?")], now=FRIDAY_NOON
    )

    assert (request.knowledge_mode, request.knowledge_chars) == ("none", 0)
    assert NO_KNOWLEDGE in request.system
    assert "1 500" not in request.system + request.context
