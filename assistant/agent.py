"""The sales assistant: one answer to a client's latest messages, with tools."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import structlog
from django.conf import settings
from django.utils import timezone

from ai.backends import get_backend
from ai.conversation import conversation_turns
from ai.knowledge import knowledge_for_prompt, knowledge_search
from ai.llm import CallContext, Image, LLMPermanentError, ToolResult, Turn
from ai.prompts import PromptText, prompt_get, prompt_render
from ai.rules.language import KAZAKH, RUSSIAN, conversation_language
from assistant.tools import HANDOFF, ToolContext, tool_run, tool_specs
from contacts.models import Contact
from contacts.phones import format_phone
from messaging.models import Message
from project.lib.localtime import local_now_text

log = structlog.get_logger(__name__)

MAX_TOOL_STEPS = 4
NO_KNOWLEDGE = (
    "База знаний пока не загружена. Не называй цены, скидки, сроки и условия: скажи, что точные "
    "данные уточнит менеджер, и предложи связаться с ним."
)
ALREADY_HANDED_OFF = {"status": "ok", "note": "Менеджер уже уведомлён; ответь клиенту коротко, без новых вызовов."}
RETRIEVED_KNOWLEDGE = (
    "База знаний большая: фрагменты, относящиеся к вопросу клиента, переданы в служебных данных в начале "
    "диалога. Отвечай только по ним; если нужного там нет, скажи, что уточнишь у менеджера."
)
SEE_CONTEXT_TIME = "см. «Служебные данные» в начале диалога"
SEE_CONTEXT_PHONE = "[номер телефона клиента из служебных данных]"
# This request's language, in its facts (an operator's own prompt may not mention languages).
LANGUAGE_FACT = {
    RUSSIAN: "Язык ответа: русский.",
    KAZAKH: (
        "Язык ответа: казахский. Клиент пишет по-казахски: отвечай на казахском языке, коротко и просто. "
        "Где в базе знаний есть текст на казахском, опирайся на него; цены, суммы и названия бери из базы "
        "знаний как есть."
    ),
}


@dataclass(frozen=True)
class AgentReply:
    text: str
    handed_off: bool
    call_ids: tuple[int, ...]
    # What the tools answered in this reply, as JSON texts: facts of our own (an invoice's total,
    # a booked slot) that the reply may repeat.
    tool_facts: tuple[str, ...] = ()
    language: str = RUSSIAN  # the customer's, which the reply is asked to be in


def agent_reply(
    *,
    contact: Contact,
    message: Message,
    now: datetime | None = None,
    correction: str = "",
    images: dict[int, Image] | None = None,
) -> AgentReply:
    """Asks the model for the answer to the conversation ending with `message`, running the
    tools it calls (at most MAX_TOOL_STEPS rounds). The photos the customer sent since our last
    answer go along as pictures (downloaded once into `images`, a cache the caller may keep
    between drafts); the answer is asked for in the customer's language. The text is the model's
    draft: the caller sends it through ai.compose before a customer reads it. Raises
    LLMTransientError when the model is unavailable, LLMPermanentError when it gives no usable answer."""
    now = now or timezone.now()
    backend = get_backend()
    turns = conversation_turns(
        contact=contact,
        limit=settings.MAX_CONTEXT_MESSAGES,
        images={} if images is None else images,
        download_images=backend.name != "offline",
    )
    if not turns:
        raise LLMPermanentError("nothing to answer: the conversation has no customer message")
    language = conversation_language(
        (turn.text for turn in reversed(turns) if turn.role == "user"), allowed=settings.REPLY_LANGUAGES
    )
    request = sales_request(contact=contact, turns=turns, now=now, correction=correction, language=language)
    system, context, prompt = request.system, request.context, request.prompt
    ctx = CallContext(
        purpose="reply",
        contact_id=contact.pk,
        prompt_name=prompt.name,
        prompt_version=prompt.version,
        extra={
            "knowledge_chars": request.knowledge_chars,
            "knowledge_mode": request.knowledge_mode,
            "language": language,
        },
    )
    tools = tool_specs()
    tool_ctx = ToolContext(contact=contact, message=message, now=now)
    call_ids: list[int] = []
    tool_facts: list[str] = []
    handed_off = False
    for _step in range(MAX_TOOL_STEPS):
        generation = backend.converse(system=system, turns=turns, tools=tools, ctx=ctx, context=context)
        call_ids.extend(generation.call_ids)
        if not generation.tool_calls:
            # The model's words as written: cleanup and the number guard are the compose step's
            # (ai.compose), which every customer text passes.
            text = (generation.text or "").strip()
            if not text:
                raise LLMPermanentError("the model answered with no text")
            return AgentReply(
                text=text,
                handed_off=handed_off,
                call_ids=tuple(call_ids),
                tool_facts=tuple(tool_facts),
                language=language,
            )
        results = tuple(
            # The tool set stays the same for the whole loop (it is part of the cached prefix), so
            # a second hand-off in one answer is answered here instead of notifying twice.
            ToolResult(name=call.name, id=call.id, response=ALREADY_HANDED_OFF)
            if handed_off and call.name == HANDOFF.spec.name
            else tool_run(call=call, ctx=tool_ctx)
            for call in generation.tool_calls
        )
        tool_facts.extend(json.dumps(result.response, ensure_ascii=False) for result in results)
        handed_off = handed_off or any(call.name == HANDOFF.spec.name for call in generation.tool_calls)
        turns = [*turns, Turn(role="model", tool_calls=generation.tool_calls), Turn(role="user", tool_results=results)]
    raise LLMPermanentError(f"no answer after {MAX_TOOL_STEPS} tool rounds")


@dataclass(frozen=True)
class SalesRequest:
    """A sales request as the model gets it. `system` is the stable prefix (the same for every
    client and every minute until the knowledge base or the prompt changes, so it can be cached);
    `context` is this request's facts."""

    prompt: PromptText
    system: str
    context: str
    knowledge_mode: str  # "whole" / "retrieved" / "none"
    knowledge_chars: int


def sales_request(
    *, contact: Contact, turns: list[Turn], now: datetime, correction: str = "", language: str = RUSSIAN
) -> SalesRequest:
    """Assembles the sales prompt. A knowledge base up to KNOWLEDGE_PROMPT_MAX_CHARS goes whole
    into the system instruction; a larger one is searched with the client's latest messages and
    its KNOWLEDGE_TOP_CHUNKS best chunks go into the context. The prompt's per-request
    placeholders ({current_datetime}, {phone}) point to the context instead of holding values,
    so that the system instruction does not change every minute (an operator's prompt that
    still uses them keeps working). The reply's `language` is one of the facts."""
    prompt = prompt_get("sales_agent_prompt")
    whole, indexed = knowledge_for_prompt(max_chars=settings.KNOWLEDGE_PROMPT_MAX_CHARS)
    facts = [
        f"Текущая дата и время: {local_now_text(now)} (Астана, UTC+5)",
        f"Телефон клиента: {format_phone(contact.phone)}",
    ]
    if len(settings.REPLY_LANGUAGES) > 1 or language != RUSSIAN:
        facts.append(LANGUAGE_FACT.get(language, LANGUAGE_FACT[RUSSIAN]))
    if whole:
        mode, knowledge, chars = "whole", whole, len(whole)
    elif indexed:
        mode, knowledge, chars = "retrieved", RETRIEVED_KNOWLEDGE, 0
        excerpts = retrieved_knowledge(turns)
        chars = len(excerpts)
        facts.append(f"Фрагменты базы знаний по вопросу клиента (отвечай только по ним):\n{excerpts}")
    else:
        mode, knowledge, chars = "none", NO_KNOWLEDGE, 0
    if correction:
        # Our note after a rejected draft: an instruction for this request only.
        facts.append(f"ВАЖНО: {correction}")
    system = prompt_render(prompt, knowledge_base=knowledge, current_datetime=SEE_CONTEXT_TIME, phone=SEE_CONTEXT_PHONE)
    return SalesRequest(
        prompt=prompt, system=system, context="\n".join(facts), knowledge_mode=mode, knowledge_chars=chars
    )


def retrieved_knowledge(turns: list[Turn]) -> str:
    """The best chunks for the client's latest messages (the last two customer turns), each
    under its document and heading; a note when nothing matches."""
    asked = [turn.text for turn in turns if turn.role == "user" and turn.text][-2:]
    hits = knowledge_search(query="\n".join(asked), limit=settings.KNOWLEDGE_TOP_CHUNKS)
    if not hits:
        return "(ничего не найдено: точные данные уточнит менеджер)"
    blocks = []
    for hit in hits:
        title = f"=== {hit.document_title}" + (f" / {hit.heading}" if hit.heading else "") + " ==="
        blocks.append(f"{title}\n{hit.text}")
    return "\n\n".join(blocks)
