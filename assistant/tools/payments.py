"""The sales assistant's payment tool, `create_payment_link`. Importing this module registers it
with the assistant's tool registry (PaymentsConfig.ready() imports it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ai.knowledge import knowledge_figures
from ai.llm import ToolSpec
from ai.rules.guard import unsupported_figures
from assistant.tools import Tool, ToolContext, tool_register
from payments.kaspi import money
from payments.models import Payment
from payments.services import amount_text, kaspi_configured, payment_request


def _figure(amount: Decimal) -> str:
    """How the number guard reads an amount: 25000, or 2500.50 with tiyn."""
    return str(int(amount)) if amount == amount.to_integral_value() else format(amount, "f")


def _create_payment_link(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:

    description = " ".join(str(args.get("description") or "").split())[:255]
    if not description:
        return {"ok": False, "error": "нужно описание: за что выставляется счёт"}
    try:
        amount = money(args.get("amount"))
    except ValueError:
        return {"ok": False, "error": "сумма должна быть положительным числом тенге"}
    if not kaspi_configured():
        return {"ok": False, "error": "оплата через Kaspi не подключена; передай диалог менеджеру"}
    if ctx.contact.is_client is not True:
        return {"ok": False, "error": "счёт выставляется только клиенту; передай диалог менеджеру"}
    if unsupported_figures(f"{_figure(amount)} ₸", knowledge_figures()):
        return {
            "ok": False,
            "error": "такой суммы нет в базе знаний: счёт выставляется только по цене из базы знаний; "
            "если цена другая, передай диалог менеджеру",
        }
    request = payment_request(
        contact=ctx.contact,
        amount=amount,
        description=description,
        created_by=Payment.CreatedBy.AI,
        requested_in=ctx.message,
        now=ctx.now,
    )
    payment = request.payment
    base = {"payment_id": payment.pk, "amount": amount_text(payment.amount), "description": payment.description}
    if not request.created:
        return {**base, "ok": True, "status": "already_open", "note": "такой счёт уже выставлен, новый не нужен"}
    if payment.status == Payment.Status.AWAITING_APPROVAL:
        return {
            **base,
            "ok": True,
            "status": "awaiting_approval",
            "note": "сумма выше порога: счёт уйдёт клиенту после одобрения менеджером; скажи об этом клиенту",
        }
    if payment.status == Payment.Status.CREATED:
        return {
            **base,
            "ok": True,
            "status": "sent",
            "note": "счёт отправлен в приложение Kaspi.kz клиента, клиент получит об этом сообщение; "
            "оплатить можно в течение 24 часов",
        }
    if payment.status == Payment.Status.UNKNOWN:
        return {**base, "ok": False, "status": "unknown", "error": "Kaspi не ответил; менеджер проверит счёт и напишет"}
    return {**base, "ok": False, "status": payment.status, "error": payment.last_error or "счёт не выставлен"}


CREATE_PAYMENT_LINK = tool_register(
    Tool(
        spec=ToolSpec(
            name="create_payment_link",
            description=(
                "Выставить клиенту счёт Kaspi Pay на его номер телефона (счёт придёт в приложение Kaspi.kz). "
                "Вызывай ТОЛЬКО когда клиент явно согласился купить и сумма — цена из базы знаний. "
                "Не выставляй счёт без согласия клиента. Клиент сам получит сообщение о счёте. "
                'Ответ {"ok": true, "status": "sent"} — счёт выставлен; "awaiting_approval" — счёт уйдёт '
                'после одобрения менеджером; {"ok": false, "error": ...} — объясни клиенту или передай менеджеру.'
            ),
            parameters={
                "type": "object",
                "properties": {
                    "amount": {"type": "number", "description": "Сумма в тенге, как в базе знаний, например 25000"},
                    "description": {"type": "string", "description": "За что счёт, коротко: товар или услуга"},
                },
                "required": ["amount", "description"],
            },
        ),
        run=_create_payment_link,
    )
)
