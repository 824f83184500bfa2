"""The sales assistant: one answer to a client's latest messages, with tools."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import structlog
from django.conf import settings
from django.utils import timezone

from ai.conversation import conversation_turns
from ai.llm import CallContext, LLMPermanentError, Turn, get_backend
from ai.prompts import prompt_get, prompt_render
from ai.tools import HANDOFF, ToolContext, tool_run, tool_specs
from contacts.models import Contact
from contacts.phones import format_phone
from messaging.models import Message

log = structlog.get_logger(__name__)

MAX_TOOL_STEPS = 4
MAX_REPLY_CHARS = 900
NO_KNOWLEDGE = (
    "База знаний пока не загружена. Не называй цены, скидки, сроки и условия: скажи, что точные "
    "данные уточнит менеджер, и предложи связаться с ним."
)
_WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")


@dataclass(frozen=True)
class AgentReply:
    text: str
    handed_off: bool
    call_ids: tuple[int, ...]


def agent_reply(*, contact: Contact, message: Message, now: datetime | None = None, correction: str = "") -> AgentReply:
    """Asks the model for the answer to the conversation ending with `message`, running the
    tools it calls (at most MAX_TOOL_STEPS rounds). Raises LLMTransientError when the model is
    unavailable, LLMPermanentError when it gives no usable answer."""
    now = now or timezone.now()
    prompt = prompt_get("sales_agent_prompt")
    system = prompt_render(
        prompt,
        knowledge_base=knowledge_text(),
        current_datetime=local_now_text(now),
        phone=format_phone(contact.phone),
    )
    if correction:
        # Our note after a rejected draft: it belongs to the instructions, never to the dialogue.
        system = f"{system}\n\nВАЖНО: {correction}"
    ctx = CallContext(purpose="reply", contact_id=contact.pk, prompt_name=prompt.name, prompt_version=prompt.version)
    turns = conversation_turns(contact=contact, limit=settings.MAX_CONTEXT_MESSAGES)
    if not turns:
        raise LLMPermanentError("nothing to answer: the conversation has no customer message")
    tools, backend = tool_specs(), get_backend()
    tool_ctx = ToolContext(contact=contact, message=message, now=now)
    call_ids: list[int] = []
    handed_off = False
    for _step in range(MAX_TOOL_STEPS):
        generation = backend.converse(system=system, turns=turns, tools=tools, ctx=ctx)
        call_ids.extend(generation.call_ids)
        if not generation.tool_calls:
            text = clean_reply(generation.text)
            if not text:
                raise LLMPermanentError("the model answered with no text")
            return AgentReply(text=text, handed_off=handed_off, call_ids=tuple(call_ids))
        results = tuple(tool_run(call=call, ctx=tool_ctx) for call in generation.tool_calls)
        handed_off = handed_off or any(call.name == HANDOFF.spec.name for call in generation.tool_calls)
        turns = [*turns, Turn(role="model", tool_calls=generation.tool_calls), Turn(role="user", tool_results=results)]
        if handed_off:
            tools = [spec for spec in tools if spec.name != HANDOFF.spec.name]
    raise LLMPermanentError(f"no answer after {MAX_TOOL_STEPS} tool rounds")


def knowledge_text() -> str:
    try:
        from ai.knowledge import knowledge_prompt_text  # the knowledge base issue provides it
    except ImportError:
        return NO_KNOWLEDGE
    return knowledge_prompt_text() or NO_KNOWLEDGE


def local_now_text(now: datetime) -> str:
    local = timezone.localtime(now)
    return f"{_WEEKDAYS[local.weekday()]}, {local:%d.%m.%Y %H:%M}"


_MARKDOWN = [
    (re.compile(r"\*\*(.+?)\*\*", re.S), r"\1"),
    (re.compile(r"__(.+?)__", re.S), r"\1"),
    (re.compile(r"(?<!\w)\*(?!\s)(.+?)(?<!\s)\*(?!\w)", re.S), r"\1"),
    (re.compile(r"`{1,3}([^`]*)`{1,3}"), r"\1"),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),
    (re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)"), r"\1: \2"),
]
_META = re.compile(r"^\s*(ответ|ответ клиенту|сообщение|assistant|ассистент)\s*:\s*", re.I)


def clean_reply(text: str) -> str:
    """The message text only: no markdown, no "Ответ:" prefix, no surrounding quotes, no
    notes to ourselves in brackets, at most MAX_REPLY_CHARS (cut at a sentence)."""
    text = (text or "").strip()
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    text = _META.sub("", text).strip()
    if len(text) >= 2 and text[0] in '"«' and text[-1] in '"»':
        text = text[1:-1].strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > MAX_REPLY_CHARS:
        cut = text[:MAX_REPLY_CHARS]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
        text = (cut[: end + 1] if end > MAX_REPLY_CHARS // 2 else cut).strip()
    return text
