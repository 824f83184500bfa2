"""Nobody runs up the model bill without limit: a message reaches the model cut to
LLM_MAX_MESSAGE_CHARS, one contact spends at most LLM_CONTACT_DAILY_TOKENS a local day, and
no request reaches the model past LLM_DAILY_BUDGET_USD a local day, whatever asks (a reply, a
classification, a follow-up, an intent, a voice note). The real pipeline, the real google-genai
SDK against the fake Gemini over HTTP, PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ai.backends.gemini import GeminiBackend
from ai.llm import CallContext, ContactCard, LLMBudgetExceededError, Turn
from ai.models import ModelCall
from ai.transcription import transcribe_voice
from assistant.pipeline import FALLBACK_TEXT, HANDOFF_WAITING_TEXT, incoming_process
from contacts.models import Contact
from messaging.models import Message
from tests.factories import ContactFactory, customer_says

pytestmark = pytest.mark.django_db

MANAGER = "77019990011"


def spent(contact: Contact | None = None, *, usd: str = "0", tokens: int = 0, at: datetime | None = None) -> ModelCall:
    """A model call already on the books (today by default)."""
    row = ModelCall.objects.create(
        backend="gemini",
        purpose="reply",
        model="gemini-3.8-flash",
        contact=contact,
        prompt_tokens=tokens,
        cost_usd=Decimal(usd),
    )
    if at is not None:
        ModelCall.objects.filter(pk=row.pk).update(created_at=at)
    return row


def out_texts(contact: Contact) -> list[str]:
    return list(Message.objects.filter(contact=contact, direction="out").order_by("id").values_list("text", flat=True))


def manager_notices() -> list[str]:
    return list(Message.objects.filter(contact__phone=MANAGER).order_by("id").values_list("text", flat=True))


def local_midnight() -> datetime:
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


# --- a) one message's text ---------------------------------------------------------------------


def test_a_huge_message_is_stored_whole_but_reaches_the_model_cut_with_a_marker(fake_gemini, settings):
    settings.LLM_MAX_MESSAGE_CHARS = 2000
    contact = ContactFactory(is_client=True, classified_by="model")
    huge = "Сколько стоит доставка? " + "бла " * 5000
    message = customer_says(contact, huge)
    fake_gemini.reply_text("Доставку подтвердит менеджер 😊 Какой у вас объём?")

    assert incoming_process(message_id=message.pk).status == "answered"

    message.refresh_from_db()
    assert message.text == huge  # the record keeps every word
    sent = json.dumps(fake_gemini.last_request().json, ensure_ascii=False)
    assert "Сколько стоит доставка?" in sent
    assert "бла " * 600 not in sent  # 2,400 characters of it: past the cap
    assert "[сообщение обрезано" in sent


# --- b) one contact's tokens a day ---------------------------------------------------------------


def test_a_contact_over_its_daily_tokens_gets_the_fallback_once_and_no_more_model_calls(fake_gemini, settings):
    settings.LLM_CONTACT_DAILY_TOKENS = 10_000
    settings.MANAGER_PHONES = [MANAGER]
    spender = ContactFactory(is_client=True, classified_by="model")
    spent(spender, tokens=9_000, at=local_midnight() - timedelta(minutes=1))  # yesterday: not counted
    spent(spender, tokens=6_000)
    spent(spender, tokens=5_000)
    fake_gemini.reply_text("Ответ, который не должен понадобиться")  # today's code asks the model anyway

    first = customer_says(spender, "Ещё вопрос", seconds_ago=30)
    assert incoming_process(message_id=first.pk).status == "handed off"
    second = customer_says(spender, "И ещё один", seconds_ago=10)
    incoming_process(message_id=second.pk)

    assert fake_gemini.requests == []  # no request for this contact today
    # The fallback once; the customer who writes again hears once that the manager knows.
    assert out_texts(spender) == [FALLBACK_TEXT, HANDOFF_WAITING_TEXT]
    assert Message.objects.filter(contact=spender, direction="out").order_by("id").first().purpose == "handoff"
    spender.refresh_from_db()
    assert spender.bot_is_paused()  # the managers have the conversation
    assert len(manager_notices()) == 1


def test_a_contact_under_its_daily_tokens_is_answered_as_usual(fake_gemini, settings):
    settings.LLM_CONTACT_DAILY_TOKENS = 10_000
    contact = ContactFactory(is_client=True, classified_by="model")
    spent(contact, tokens=9_999, at=local_midnight() - timedelta(minutes=1))
    spent(ContactFactory(), tokens=50_000)  # someone else's tokens are theirs
    fake_gemini.reply_text("Доставку подтвердит менеджер 😊")

    assert incoming_process(message_id=customer_says(contact, "Доставка?").pk).status == "answered"


# --- c) the business's money a day -----------------------------------------------------------------


def test_past_the_daily_budget_no_request_reaches_the_model_customers_get_the_fallback_and_managers_one_notice(
    fake_gemini, settings, client
):
    settings.LLM_DAILY_BUDGET_USD = Decimal("0.01")
    settings.MANAGER_PHONES = [MANAGER]
    spent(usd="5.00", at=local_midnight() - timedelta(minutes=1))  # yesterday's money is not today's
    assert client.get("/health").json()["llm"]["status"] == "ok"
    first = ContactFactory(is_client=True, classified_by="model")
    # 20,000 prompt tokens of gemini-3.8-flash at $0.75 per 1M: $0.015, over the budget.
    fake_gemini.reply_text("Доставку подтвердит менеджер 😊", prompt_tokens=20_000)
    assert incoming_process(message_id=customer_says(first, "Доставка?").pk).status == "answered"
    requests_before = len(fake_gemini.requests)

    later = [ContactFactory(is_client=True, classified_by="model"), ContactFactory()]  # a client and a new lead
    for contact in later:
        assert incoming_process(message_id=customer_says(contact, "Сколько стоит?").pk).status == "fallback"

    assert len(fake_gemini.requests) == requests_before  # nothing more reached the model
    for contact in later:
        assert out_texts(contact) == [FALLBACK_TEXT]
    budget_notices = [text for text in manager_notices() if "бюджет" in text.lower()]
    assert len(budget_notices) == 1
    llm = client.get("/health").json()["llm"]
    assert (llm["status"], llm["reason"]) == ("degraded", "budget")


CTX = CallContext(purpose="follow_up", contact_id=None)


@pytest.mark.parametrize(
    "ask",
    [
        lambda: GeminiBackend().classify(
            system="s", contact=ContactCard(), history=[Turn(role="user", text="Привет")], ctx=CTX
        ),
        lambda: GeminiBackend().converse(system="s", turns=[Turn(role="user", text="Привет")], tools=[], ctx=CTX),
        lambda: GeminiBackend().generate_text(system="s", turns=[Turn(role="user", text="Привет")], ctx=CTX),
        lambda: GeminiBackend().classify_intent(system="s", text="да", last_bot_text="Созвонимся?", ctx=CTX),
        lambda: transcribe_voice(audio=b"OggS" + b"\0" * 100),
    ],
    ids=["classify", "reply", "follow_up", "intent", "transcribe"],
)
def test_past_the_budget_every_kind_of_model_call_is_refused_before_any_request(fake_gemini, settings, ask):
    settings.LLM_DAILY_BUDGET_USD = Decimal("1")
    spent(usd="1.00")

    with pytest.raises(LLMBudgetExceededError):
        ask()

    assert fake_gemini.requests == []
    assert ModelCall.objects.count() == 1  # a refused call costs nothing and writes no row


def test_without_a_budget_any_spend_is_allowed(fake_gemini, settings):
    settings.LLM_DAILY_BUDGET_USD = Decimal("0")
    spent(usd="1000.00")
    fake_gemini.reply_text("Привет!")

    GeminiBackend().generate_text(system="s", turns=[Turn(role="user", text="Привет")], ctx=CTX)

    assert len(fake_gemini.requests) == 1
