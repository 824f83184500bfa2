"""Tools the sales assistant may call (function calling). Booking and payments register
theirs here (`check_availability`, `book_call`, `create_payment_link`, `check_payment_status`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from ai.llm import ToolCall, ToolResult, ToolSpec
from assistant.handoff import contact_hand_off
from contacts.models import Contact
from messaging.models import Message
from project.lib.tallies import tally_add

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ToolContext:
    contact: Contact
    message: Message  # the newest customer message being answered
    now: datetime


@dataclass(frozen=True)
class Tool:
    spec: ToolSpec
    run: Callable[[ToolContext, dict[str, Any]], dict[str, Any]]


_REGISTRY: dict[str, Tool] = {}


def tool_register(tool: Tool) -> Tool:
    _REGISTRY[tool.spec.name] = tool
    return tool


def tool_specs() -> list[ToolSpec]:
    return [tool.spec for tool in _REGISTRY.values()]


# /metrics (project/metrics.py) reads this tally (project/lib/tallies.py): tool calls by tool
# name ("unknown" for a name the model made up) and outcome.
TOOL_CALLS_TALLY = "assistant_tool_calls"


def tool_run(*, call: ToolCall, ctx: ToolContext) -> ToolResult:
    """Runs one call; an unknown tool or a failure becomes an error the model can read. Counted
    by outcome: "ok", "refused" (an unknown tool, or the tool's own rules said no: a taken slot,
    an invoice not issued) or "error" (the tool broke)."""
    tool = _REGISTRY.get(call.name)
    if tool is None:
        tally_add(TOOL_CALLS_TALLY, {"tool": "unknown", "outcome": "refused"})
        return ToolResult(name=call.name, id=call.id, response={"error": f"unknown tool {call.name}"})
    try:
        response = tool.run(ctx, dict(call.args or {}))
        outcome = "refused" if "error" in response or response.get("ok") is False else "ok"
    except Exception as exc:
        log.exception("tool.failed", tool=call.name, contact_id=ctx.contact.pk)
        response = {"error": f"{type(exc).__name__}: {exc}"}
        outcome = "error"
    tally_add(TOOL_CALLS_TALLY, {"tool": call.name, "outcome": outcome})
    log.info("tool.ran", tool=call.name, contact_id=ctx.contact.pk, ok="error" not in response, outcome=outcome)
    return ToolResult(name=call.name, id=call.id, response=response)


def _handoff(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    # The customer is told in the model's answer, which the pipeline sends as the hand-off message.
    reason = str(args.get("reason") or "клиент просит менеджера").strip()[:200]
    notified = contact_hand_off(
        contact=ctx.contact,
        message=ctx.message,
        reason=f"Передача менеджеру: {reason}",
        key=f"handoff:{ctx.message.pk}",
        now=ctx.now,
    )
    return {"status": "ok", "managers_notified": notified, "note": "Менеджер продолжит диалог; бот больше не отвечает."}


HANDOFF = tool_register(
    Tool(
        spec=ToolSpec(
            name="handoff_to_manager",
            description=(
                "Передать диалог живому менеджеру: клиент просит человека, жалуется, или вопрос выходит "
                "за рамки базы знаний. После вызова коротко скажи клиенту, что менеджер скоро напишет."
            ),
            parameters={
                "type": "object",
                "properties": {"reason": {"type": "string", "description": "Кратко, почему нужен менеджер"}},
                "required": ["reason"],
            },
        ),
        run=_handoff,
    )
)
