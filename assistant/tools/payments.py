"""The sales assistant's payment tool, `create_payment_link`. Importing this module registers it
with the assistant's tool registry (PaymentsConfig.ready() imports it).

An invoice goes to Kaspi at once only for a price on the knowledge base's price list: the
amount is the listed price (times a quantity) of the items the description names
(`ai.knowledge.price_match`). Any other amount, a customer's "по акции за 3 тг" included, waits
for an operator's approval, and the managers' notice says how it differs from the list. One open
invoice per customer is the payments service's rule (`payment_open`)."""

from __future__ import annotations

from typing import Any

from ai.knowledge import PriceMatch, knowledge_prices, price_match
from ai.llm import ToolSpec
from assistant.tools import Tool, ToolContext, tool_register
from payments.kaspi import money
from payments.models import Payment
from payments.services import amount_text, kaspi_configured, payment_request, payments_customer_says_paid

WHERE = "в приложении Kaspi.kz клиента (уведомление от Kaspi), по его номеру телефона"


def _lines_text(match: PriceMatch) -> str:
    return " + ".join(
        f"{qty} × {row.item} ({amount_text(row.amount)})" if qty > 1 else f"{row.item} — {amount_text(row.amount)}"
        for row, qty in match.lines
    )


def price_doubt(match: PriceMatch) -> str:
    """Why an amount is not taken as it stands, for the managers and the model; "" when it is the
    listed price of what the description names."""
    if match.matched:
        return ""
    if match.list_amount is None:
        return f"в прайсе нет позиции из описания счёта, сумма {amount_text(match.amount)} не проверена"
    listed = _lines_text(match)
    if len(match.lines) > 1 or match.lines[0][1] > 1:
        listed = f"{listed} = {amount_text(match.list_amount)}"
    if match.below_list:
        return f"сумма {amount_text(match.amount)} ниже цены по прайсу: {listed}"
    return f"сумма {amount_text(match.amount)} не совпадает с ценой по прайсу: {listed}"


def _invoice(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.pk,
        "amount": amount_text(payment.amount),
        "description": payment.description,
        "payment_status": payment.status,
        "where": WHERE if payment.kaspi_payment_id else "ещё не выставлен в Kaspi",
    }


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
    match = price_match(description=description, amount=amount, prices=knowledge_prices())
    request = payment_request(
        contact=ctx.contact,
        amount=amount,
        description=description,
        created_by=Payment.CreatedBy.AI,
        requested_in=ctx.message,
        approval_reason=price_doubt(match),
        now=ctx.now,
    )
    payment = request.payment
    base = {"payment_id": payment.pk, "amount": amount_text(payment.amount), "description": payment.description}
    if not request.created:
        waiting = payment.status == Payment.Status.AWAITING_APPROVAL
        return {
            **base,
            "ok": True,
            "status": "already_open",
            "payment_status": payment.status,
            "where": "ждёт одобрения менеджера" if waiting else WHERE,
            "note": "новый счёт НЕ выставлен: у клиента уже есть открытый счёт (выше). "
            + (
                "Он ждёт одобрения менеджера; скажи клиенту, что менеджер проверит и напишет."
                if waiting
                else "Напомни клиенту про этот счёт в приложении Kaspi.kz; если нужен другой счёт, "
                "его выставит менеджер."
            ),
        }
    if payment.status == Payment.Status.AWAITING_APPROVAL:
        answer = {
            **base,
            "ok": True,
            "status": "awaiting_approval",
            "reason": payment.approval_reason,
            "note": "счёт ещё НЕ выставлен: его проверит и одобрит менеджер, тогда он придёт в Kaspi.kz. "
            "Скажи клиенту, что менеджер подтвердит счёт; не обещай эту сумму и не называй её ценой.",
        }
        if request.open_before is not None:
            answer["open_invoice"] = _invoice(request.open_before)
        return answer
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
                "Вызывай ТОЛЬКО когда клиент явно согласился купить. Сумма — цена из прайса базы знаний "
                "или цена × количество; в description пиши позиции, как они названы в прайсе, с количеством "
                "(например «Вода 19 л (бутыль), 3 шт.» на 3 600). Сумма не из прайса (скидка, «акция», цена "
                "со слов клиента) не выставляется сразу: счёт ждёт одобрения менеджера. У клиента один "
                "открытый счёт: новый не выставляется, пока открыт прежний. Клиент сам получит сообщение о "
                'счёте. Ответ: "status": "sent" — счёт выставлен; "awaiting_approval" — счёт ещё НЕ выставлен, '
                'его одобрит менеджер (почему — в "reason"; открытый счёт — в "open_invoice"); '
                '"already_open" — у клиента уже есть открытый счёт (сумма и описание в ответе): напомни о нём, '
                'не проси выставить заново; {"ok": false, "error": ...} — объясни клиенту или передай менеджеру.'
            ),
            parameters={
                "type": "object",
                "properties": {
                    "amount": {
                        "type": "number",
                        "description": "Сумма в тенге: цена из прайса (× количество), например 25000",
                    },
                    "description": {
                        "type": "string",
                        "description": "За что счёт: позиции прайса, как они там названы, и количество",
                    },
                },
                "required": ["amount", "description"],
            },
        ),
        run=_create_payment_link,
    )
)


def _check_payment_status(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Kaspi's word on the customer's invoices, never the picture's: each open invoice is checked
    at Kaspi now (debounced per invoice; a paid one is confirmed to the customer and the
    managers by the payments service), and the latest invoices are reported as they stand."""
    checked = payments_customer_says_paid(contact=ctx.contact, now=ctx.now)
    recent = list(Payment.objects.filter(contact=ctx.contact).order_by("-created_at")[:3])
    if not checked and not recent:
        return {
            "ok": True,
            "invoices": [],
            "note": "у клиента нет счетов Kaspi от нас: оплату по картинке не подтверждай; если клиент "
            "платил, передай диалог менеджеру (handoff_to_manager), он проверит",
        }
    invoices = [
        {**_invoice(payment), "paid": payment.status == Payment.Status.PROCESSED}
        for payment in {p.pk: p for p in [*checked, *recent]}.values()
    ]
    return {
        "ok": True,
        "invoices": invoices,
        "note": "оплачен только счёт с paid=true (статус из Kaspi). Картинка клиента ничего не доказывает: "
        "если paid=false, скажи, что оплата пока не поступила и мы сообщим, как только Kaspi её подтвердит",
    }


CHECK_PAYMENT_STATUS = tool_register(
    Tool(
        spec=ToolSpec(
            name="check_payment_status",
            description=(
                "Проверить в Kaspi статус счетов клиента. Вызывай, когда клиент прислал скриншот или фото, "
                "похожее на чек или квитанцию Kaspi об оплате, или пишет, что оплатил. Картинка — не "
                "доказательство: об оплате говори только по ответу инструмента (paid=true)."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "seen": {
                        "type": "string",
                        "description": "Что видно на картинке: сумма, получатель, дата (для менеджера)",
                    }
                },
            },
        ),
        run=_check_payment_status,
    )
)
