"""The Kaspi emulator's side in the admin: the operator plays the customer of an invoice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import SandboxInvoice


@admin.register(SandboxInvoice)
class SandboxInvoiceAdmin(admin.ModelAdmin):
    """Shown only while KASPI_SANDBOX is on (the Kaspi client talks to the emulator)."""

    list_display = ("id", "created_at", "amount", "phone", "comment", "status", "available")
    readonly_fields = ("amount", "phone", "comment", "status", "available", "created_at")
    fields = (*readonly_fields, "partial_refunds_allowed")
    actions = ("customer_opens", "customer_pays", "customer_declines")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return settings.KASPI_SANDBOX and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return settings.KASPI_SANDBOX and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def _move(self, request: HttpRequest, queryset: QuerySet[SandboxInvoice], status: str, **extra: Any) -> None:
        open_ = (SandboxInvoice.Status.CREATED, SandboxInvoice.Status.WAIT)
        moved = 0
        for invoice in queryset.filter(status__in=open_):
            fields = {"status": status, **{k: (v(invoice) if callable(v) else v) for k, v in extra.items()}}
            moved += SandboxInvoice.objects.filter(pk=invoice.pk, status__in=open_).update(**fields)
        messages.info(
            request, f"Изменено счетов: {moved}. Статус оплаты обновится при проверке (кнопка «Проверить статус»)."
        )

    @admin.action(description="Клиент открыл счёт (Wait)")
    def customer_opens(self, request: HttpRequest, queryset: QuerySet[SandboxInvoice]) -> None:
        self._move(request, queryset, SandboxInvoice.Status.WAIT)

    @admin.action(description="Клиент оплатил (Processed)")
    def customer_pays(self, request: HttpRequest, queryset: QuerySet[SandboxInvoice]) -> None:
        self._move(request, queryset, SandboxInvoice.Status.PROCESSED, available=lambda invoice: invoice.amount)

    @admin.action(description="Клиент отклонил (Error)")
    def customer_declines(self, request: HttpRequest, queryset: QuerySet[SandboxInvoice]) -> None:
        self._move(request, queryset, SandboxInvoice.Status.ERROR)
