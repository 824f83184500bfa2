"""The built-in Kaspi Pay emulator for `make run` (KASPI_SANDBOX): the enhanced scheme's remote
invoice calls under /sandbox/kaspi/r3/ (urls.py), in the wire format of reference/kaspi.md, with
invoices kept in SandboxInvoice rows. An operator plays the customer in the admin ("Песочница
Kaspi"): open, pay or decline an invoice, then press "check" on the payment.

Every view answers 404 unless settings.KASPI_SANDBOX is on, so the emulator is never reachable
next to a real Kaspi configuration. No certificate: plain HTTP on our own web server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import SandboxInvoice

View = Callable[..., HttpResponse]


def _envelope(data: dict[str, Any]) -> JsonResponse:
    return JsonResponse({"StatusCode": 0, "Message": "OK", "Data": data}, json_dumps_params={"ensure_ascii": False})


def _error(code: int, message: str) -> JsonResponse:
    return JsonResponse({"StatusCode": code, "Message": message}, json_dumps_params={"ensure_ascii": False})


def _number(value: Decimal) -> float:
    return float(value)


def sandbox_only(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.KASPI_SANDBOX:
            raise Http404("The Kaspi sandbox is off")
        if not request.headers.get("X-Request-ID"):
            return JsonResponse({"StatusCode": -1, "Message": "X-Request-ID is required"}, status=400)
        if request.method == "POST":
            try:
                body = json.loads(request.body or b"{}", parse_float=Decimal)
            except ValueError:
                return JsonResponse({"StatusCode": -1, "Message": "invalid JSON"}, status=400)
            if body.get("OrganizationBin") != settings.KASPI_ORGANIZATION_BIN or str(body.get("DeviceToken")) != str(
                settings.KASPI_DEVICE_TOKEN
            ):
                return _error(-1501, "Устройство не найдено")
            kwargs["body"] = body
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def _amount(value: Any) -> Decimal | None:
    if not isinstance(value, Decimal | int):
        return None
    amount = Decimal(value)
    return amount if amount > 0 and amount.as_tuple().exponent >= -2 else None


@sandbox_only
def remote_create(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    amount = _amount(body.get("Amount"))
    if amount is None:
        return _error(990000028, "Неверная сумма операции")
    invoice = SandboxInvoice.objects.create(
        amount=amount, phone=str(body.get("PhoneNumber") or "")[:20], comment=str(body.get("Comment") or "")[:255]
    )
    return _envelope({"QrPaymentId": invoice.pk})


@sandbox_only
def payment_status(request: HttpRequest, qr_payment_id: int) -> HttpResponse:
    invoice = SandboxInvoice.objects.filter(pk=qr_payment_id).first()
    if invoice is None:
        return _error(-1601, "Покупка не найдена")
    return _envelope({"Status": invoice.status})


@sandbox_only
def payment_details(request: HttpRequest) -> HttpResponse:
    invoice = SandboxInvoice.objects.filter(pk=int(request.GET.get("QrPaymentId") or 0)).first()
    if invoice is None or invoice.status != SandboxInvoice.Status.PROCESSED:
        return _error(-99000001, "Покупка с указанным идентификатором не найдена")
    return _envelope(
        {
            "QrPaymentId": invoice.pk,
            "TotalAmount": _number(invoice.amount),
            "AvailableReturnAmount": _number(invoice.available),
            "TransactionDate": invoice.created_at.isoformat(),
        }
    )


@sandbox_only
def payment_return(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    amount = _amount(body.get("Amount"))
    if amount is None:
        return _error(990000028, "Неверная сумма операции")
    with transaction.atomic():
        invoice = SandboxInvoice.objects.select_for_update().filter(pk=int(body.get("QrPaymentId") or 0)).first()
        if invoice is None:
            return _error(-99000001, "Покупка с указанным идентификатором не найдена")
        if invoice.status != SandboxInvoice.Status.PROCESSED:
            return _error(-99000011, "Покупку нельзя вернуть в текущем статусе")
        if amount > invoice.available:
            return _error(-99000005, "Сумма возврата превышает сумму покупки")
        if not invoice.partial_refunds_allowed and amount != invoice.available:
            return _error(-99000020, "Частичный возврат невозможен")
        invoice.available -= amount
        invoice.save(update_fields=["available"])
    return _envelope({"ReturnOperationId": int(invoice.pk * 1000 + invoice.available)})


@sandbox_only
def remote_cancel(request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
    invoice = SandboxInvoice.objects.filter(pk=int(body.get("QrPaymentId") or 0)).first()
    if invoice is None:
        return _error(-99000001, "Покупка с указанным идентификатором не найдена")
    if invoice.status not in (SandboxInvoice.Status.CREATED, SandboxInvoice.Status.WAIT):
        return _error(-99000011, "Покупку нельзя отменить в текущем статусе")
    invoice.status = SandboxInvoice.Status.CANCELED
    invoice.save(update_fields=["status"])
    return _envelope({"Status": invoice.status})
