"""Payments in the admin: the list (status, amount, contact, who created it), creating an invoice
by hand, and the actions: check status, approve, cancel an unpaid invoice, refund in full or in
part. Every action calls a service; the rules live there."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from contacts.audit import Action, Via, operator_action_record, payment_detail
from payments.kaspi import money
from payments.models import Payment, PostPurchaseMessage, Refund
from payments.services import (
    PaymentError,
    amount_text,
    payment_approve,
    payment_cancel,
    payment_check,
    payment_open,
    payment_refund,
    payment_send,
)

log = structlog.get_logger(__name__)


class PaymentAddForm(forms.ModelForm):
    class Meta:
        model = Payment
        fields = ("contact", "amount", "description")

    def clean_amount(self) -> Decimal:
        try:
            return money(self.cleaned_data["amount"])
        except ValueError as exc:
            raise forms.ValidationError(
                "Сумма — положительное число тенге, не больше двух знаков после запятой"
            ) from exc


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label="Сумма возврата, ₸",
        required=False,
        min_value=Decimal("0.01"),
        decimal_places=2,
        max_digits=12,
        help_text="Пусто — вернуть всё, что ещё можно вернуть",
    )


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("created_at", "amount", "state", "kaspi_operation_id", "available_before", "error", "created_by_user")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "contact",
        "amount_display",
        "description",
        "status",
        "created_by",
        "refunded_amount",
        "last_checked_at",
    )
    list_filter = ("status", "created_by")
    search_fields = ("contact__phone", "contact__name", "contact__full_name", "description", "=kaspi_payment_id")
    list_select_related = ("contact",)
    date_hierarchy = "created_at"
    actions = ("action_check", "action_approve", "action_cancel", "action_refund")
    inlines = (RefundInline,)
    autocomplete_fields = ("contact",)
    readonly_fields = (
        "status",
        "kaspi_status",
        "amount",
        "description",
        "phone",
        "contact",
        "created_by",
        "created_by_user",
        "requested_in",
        "approved_by",
        "approved_at",
        "approval_reason",
        "sent_at",
        "expires_at",
        "last_checked_at",
        "paid_at",
        "refundable_amount",
        "refunded_amount",
        "last_error",
        "create_request_id",
        "refund_link",
        "raw_responses",
        "created_at",
        "updated_at",
    )

    @admin.display(description="сумма", ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return amount_text(obj.amount)

    @admin.display(description="возврат")
    def refund_link(self, obj: Payment) -> str:
        if obj.status != Payment.Status.PROCESSED:
            return "—"
        url = reverse("admin:payments_payment_refund", args=[obj.pk])
        return format_html('<a class="button" href="{}">Вернуть деньги…</a>', url)

    def get_inlines(self, request: HttpRequest, obj: Payment | None = None) -> Any:
        return self.inlines if obj is not None else ()

    def get_form(self, request: HttpRequest, obj: Payment | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = PaymentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Payment | None = None) -> Any:
        if obj is None:
            return ("contact", "amount", "description")
        fields = list(self.readonly_fields)
        # Editable only on an unknown invoice without an id: an operator who found it in the
        # Kaspi Pay app enters its id, then checks it (get_readonly_fields).
        fields.insert(2, "kaspi_payment_id")
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Payment | None = None) -> Any:
        if obj is None:
            return ()
        if obj.status == Payment.Status.UNKNOWN and obj.kaspi_payment_id is None:
            return self.readonly_fields
        return (*self.readonly_fields, "kaspi_payment_id")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # money records are never deleted

    def save_model(self, request: HttpRequest, obj: Payment, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # The admin saves inside a transaction: the row must be committed before Kaspi hears of
        # it, so the invoice is sent once this transaction has committed.
        result = payment_open(
            contact=form.cleaned_data["contact"],
            amount=form.cleaned_data["amount"],
            description=form.cleaned_data["description"],
            created_by=Payment.CreatedBy.OPERATOR,
            user=request.user,
        )
        obj.pk = result.payment.pk
        obj.refresh_from_db()
        if result.created and result.payment.status == Payment.Status.SENDING:
            transaction.on_commit(lambda: self._report(request, payment_send(payment=result.payment)))
        else:
            self._report(request, result.payment, created=result.created)

    def _report(self, request: HttpRequest, payment: Payment, *, created: bool = True) -> None:
        if not created:
            messages.warning(request, f"У клиента уже есть открытый счёт «{payment.description}»: новый не выставлен")
        elif payment.status == Payment.Status.CREATED:
            messages.success(request, f"Счёт на {amount_text(payment.amount)} выставлен; клиенту отправлено сообщение")
        elif payment.status == Payment.Status.AWAITING_APPROVAL:
            messages.info(request, "Сумма выше порога: счёт ждёт одобрения (действие «Одобрить и выставить»)")
        else:
            messages.error(request, f"Счёт не выставлен: {payment.last_error or payment.get_status_display()}")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        # Opening an open invoice is one of the events that checks it (debounced per invoice).
        if request.method == "GET":
            payment = Payment.objects.filter(
                pk=object_id, status__in=Payment.CHECKABLE_STATUSES, kaspi_payment_id__isnull=False
            ).first()
            if payment is not None:
                payment_check(payment=payment, reason="operator opened")
        return super().change_view(request, object_id, form_url, extra_context)

    # -- actions --

    @admin.action(description="Проверить статус в Kaspi")
    def action_check(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset:
            if payment.kaspi_payment_id is None or payment.status not in Payment.CHECKABLE_STATUSES:
                messages.warning(request, f"#{payment.pk}: нечего проверять ({payment.get_status_display()})")
                continue
            checked = payment_check(payment=payment, reason="operator check")
            level = messages.ERROR if checked.last_error else messages.INFO
            messages.add_message(
                request, level, f"#{checked.pk}: {checked.get_status_display()} {checked.last_error}".strip()
            )

    @admin.action(description="Одобрить и выставить счёт", permissions=("change",))
    def action_approve(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset:
            try:
                self._report(request, payment_approve(payment=payment, user=request.user))
                _record(request, Action.APPROVE_PAYMENT, payment)
            except PaymentError as exc:
                messages.error(request, f"#{payment.pk}: {exc}")

    @admin.action(description="Отменить неоплаченный счёт", permissions=("change",))
    def action_cancel(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset:
            try:
                payment_cancel(payment=payment, user=request.user)
                _record(request, Action.CANCEL_PAYMENT, payment)
                messages.success(request, f"#{payment.pk}: счёт отменён")
            except PaymentError as exc:
                messages.error(request, f"#{payment.pk}: {exc}")

    @admin.action(description="Вернуть деньги (полностью или частично)…", permissions=("change",))
    def action_refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        if queryset.count() != 1:
            messages.error(request, "Возврат делается по одному платежу: выберите один")
            return None
        return HttpResponseRedirect(reverse("admin:payments_payment_refund", args=[queryset.get().pk]))

    # -- the refund page --

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<int:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            )
        ]
        return own + super().get_urls()

    def refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        payment = get_object_or_404(Payment, pk=payment_id)
        if not self.has_change_permission(request, payment):
            raise PermissionDenied
        back = reverse("admin:payments_payment_change", args=[payment.pk])
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                refund = payment_refund(payment=payment, amount=form.cleaned_data["amount"], user=request.user)
            except PaymentError as exc:
                messages.error(request, str(exc))
            else:
                _record(request, Action.REFUND, payment, amount=refund.amount, state=refund.state)
                if refund.state == Refund.State.DONE:
                    messages.success(request, f"Возвращено {amount_text(refund.amount)}")
                else:
                    messages.warning(request, refund.error)
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Возврат по счёту #{payment.pk}",
            "payment": payment,
            "form": form,
            "opts": self.model._meta,
            "back": back,
        }
        return TemplateResponse(request, "admin/payments/payment/refund.html", context)


def _record(request: HttpRequest, action: str, payment: Payment, **detail: Any) -> None:
    operator_action_record(
        actor=request.user,
        via=Via.ADMIN,
        action=action,
        contact=payment.contact,
        detail=payment_detail(payment_id=payment.pk, **detail),
    )


@admin.register(PostPurchaseMessage)
class PostPurchaseMessageAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "order_code",
        "order_status",
        "kind",
        "customer_name",
        "state",
        "skip_reason",
        "due_at",
    )
    list_filter = ("state", "kind", "order_status")
    search_fields = ("order_code", "order_id", "phone", "customer_name")
    readonly_fields = [f.name for f in PostPurchaseMessage._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
