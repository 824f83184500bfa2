"""The booking tools of the sales assistant: `check_availability` and `book_call`. Importing
this module registers them (AiConfig.ready() imports it)."""

from __future__ import annotations

from typing import Any

from ai.llm import ToolSpec
from assistant.tools import Tool, ToolContext, tool_register
from calls.services import call_availability, call_book


def _check_availability(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return call_availability(date_text=str(args.get("date") or ""), time_text=args.get("time") or None, now=ctx.now)


def _book_call(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return call_book(
        contact=ctx.contact, start_text=str(args.get("start") or ""), topic=str(args.get("topic") or ""), now=ctx.now
    )


CHECK_AVAILABILITY = tool_register(
    Tool(
        spec=ToolSpec(
            name="check_availability",
            description=(
                "Проверить свободное время для созвона с менеджером (пн–пт в рабочие часы, время Астаны, "
                "UTC+5; запись не дальше нескольких недель вперёд). "
                "Вызывай, когда клиент спрашивает, когда можно созвониться, или называет день/время. "
                'Ответ: {"ok": true, "free": [...]} — свободные слоты (ISO 8601), или '
                '{"ok": false, "error": ..., "alternatives": [...]} — предложи клиенту альтернативы. '
                "Время клиенту называй по-русски (например, «вторник, 24.11 в 11:00»), не в ISO."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "date": {"type": "string", "description": "Дата в формате YYYY-MM-DD"},
                    "time": {
                        "type": "string",
                        "description": "Необязательно: время HH:MM по Астане (UTC+5), как назвал клиент",
                    },
                },
                "required": ["date"],
            },
        ),
        run=_check_availability,
    )
)

BOOK_CALL = tool_register(
    Tool(
        spec=ToolSpec(
            name="book_call",
            description=(
                "Записать клиента на созвон с менеджером. Вызывай ТОЛЬКО после того, как клиент явно "
                "согласился на звонок и подтвердил конкретное время; не записывай без согласия. "
                "Клиент сам получит подтверждение с датой и временем, менеджер будет уведомлён. "
                'Если ответ {"ok": false, ...}, объясни причину и предложи время из "alternatives"; '
                'при "already booked" скажи, на какое время клиент уже записан; при "too far ahead" '
                'скажи, что так далеко не записываем, запись возможна до "latest_date". '
                "Время — всегда время Астаны (UTC+5), то, что назвал клиент."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "start": {
                        "type": "string",
                        "description": "Начало звонка по времени Астаны (UTC+5) в ISO 8601, например "
                        "2026-11-23T11:00 — то время, что назвал клиент. Смещение не нужно: любое "
                        "указанное смещение отбрасывается, время читается как время Астаны",
                    },
                    "topic": {"type": "string", "description": "Кратко, что клиент хочет обсудить"},
                },
                "required": ["start", "topic"],
            },
        ),
        run=_book_call,
    )
)
