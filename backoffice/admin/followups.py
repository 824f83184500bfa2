from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from contacts.audit import Action, Via, operator_action_record
from followups.models import MAX_TOUCHES, FollowUp, FollowUpTouch
from followups.services import followup_restart, followup_send_now, followup_stop


def astana_time(moment: datetime | None) -> str:
    """A moment as the business reads it: local time (TIME_ZONE, Asia/Almaty) with the date."""
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%d.%m.%Y %H:%M")


class FollowUpForm(forms.ModelForm):
    class Meta:
        model = FollowUp
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        # Django skips the partial unique constraint here (it involves a read-only field),
        # so say it in words rather than fail on the database's refusal.
        cleaned = super().clean()
        contact = cleaned.get("contact")
        is_completed = self.instance.is_completed if self.instance.pk else False
        if contact and not is_completed:
            others = FollowUp.objects.filter(contact=contact, is_completed=False).exclude(pk=self.instance.pk)
            if others.exists():
                raise forms.ValidationError(
                    "У этого контакта уже есть активный follow-up: остановите его, прежде чем начинать новый."
                )
        return cleaned


class StateFilter(admin.SimpleListFilter):
    """Active chains by default: what an operator opens the list for."""

    title = "состояние"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Активные"), ("completed", "Завершённые"), ("all", "Все")]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "active") == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[FollowUp]) -> QuerySet[FollowUp]:
        value = self.value() or "active"
        if value == "active":
            return queryset.filter(is_completed=False)
        if value == "completed":
            return queryset.filter(is_completed=True)
        return queryset


class FollowUpTouchInline(admin.TabularInline):
    model = FollowUpTouch
    extra = 0
    fields = ("touch_number", "queued_at", "message_status", "sent_at", "text")
    readonly_fields = fields
    can_delete = False
    ordering = ("touch_number",)
    verbose_name_plural = "отправленные касания"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[FollowUpTouch]:
        return super().get_queryset(request).select_related("message")

    @admin.display(description="поставлено в очередь")
    def queued_at(self, obj: FollowUpTouch) -> str:
        return astana_time(obj.created_at)

    @admin.display(description="статус")
    def message_status(self, obj: FollowUpTouch) -> str:
        return obj.message.get_status_display()

    @admin.display(description="отправлено")
    def sent_at(self, obj: FollowUpTouch) -> str:
        return astana_time(obj.message.sent_at)

    @admin.display(description="текст")
    def text(self, obj: FollowUpTouch) -> str:
        return obj.message.text


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    form = FollowUpForm
    list_display = (
        "contact",
        "touch_col",
        "next_touch_local",
        "last_touch_local",
        "reason",
        "is_completed",
        "stop_reason",
    )
    list_filter = (StateFilter, "stop_reason", "reason", "touch_number")
    search_fields = ("contact__phone", "contact__name", "contact__full_name", "contact__business_name")
    list_select_related = ("contact",)
    autocomplete_fields = ("contact",)
    readonly_fields = (
        "last_touch_at",
        "is_completed",
        "stop_reason",
        "completed_at",
        "anchor_message",
        "anchor_at",
        "created_at",
        "updated_at",
    )
    inlines = (FollowUpTouchInline,)
    date_hierarchy = "next_touch_at"
    actions = ("stop", "restart", "send_now")

    @admin.display(description="касание", ordering="touch_number")
    def touch_col(self, obj: FollowUp) -> str:
        return f"{obj.touch_number}/{MAX_TOUCHES}"

    @admin.display(description="следующее касание (Астана)", ordering="next_touch_at")
    def next_touch_local(self, obj: FollowUp) -> str:
        return astana_time(obj.next_touch_at)

    @admin.display(description="последнее касание (Астана)", ordering="last_touch_at")
    def last_touch_local(self, obj: FollowUp) -> str:
        return astana_time(obj.last_touch_at)

    @admin.action(description="Остановить выбранные follow-up", permissions=("change",))
    def stop(self, request: HttpRequest, queryset: QuerySet[FollowUp]) -> None:
        stopped = 0
        for followup in queryset.filter(is_completed=False).select_related("contact"):
            stopped += followup_stop(contact=followup.contact, reason=FollowUp.StopReason.STOPPED_BY_OPERATOR)
            _record(request, Action.STOP_FOLLOWUPS, followup.contact, f"follow-up #{followup.pk}")
        self.message_user(request, f"Остановлено follow-up: {stopped}", messages.SUCCESS)

    @admin.action(description="Перезапустить с касания 1", permissions=("change",))
    def restart(self, request: HttpRequest, queryset: QuerySet[FollowUp]) -> None:
        contacts = {f.contact_id: f.contact for f in queryset.select_related("contact")}
        for contact in contacts.values():
            followup_restart(contact=contact)
            _record(request, Action.RESTART_FOLLOWUPS, contact)
        self.message_user(
            request,
            f"Перезапущено follow-up: {len(contacts)}. Первое касание — через "
            f"{settings.FOLLOW_UP_INTERVALS[0]:g} ч, в рабочее время.",
            messages.SUCCESS,
        )

    @admin.action(description="Отправить следующее касание сейчас", permissions=("change",))
    def send_now(self, request: HttpRequest, queryset: QuerySet[FollowUp]) -> None:
        now = timezone.now()
        due = 0
        for followup in queryset.filter(is_completed=False).select_related("contact"):
            if followup_send_now(followup=followup, now=now):
                due += 1
                _record(request, Action.SEND_FOLLOWUP_NOW, followup.contact, f"follow-up #{followup.pk}")
        skipped = queryset.count() - due
        text = f"Касаний к отправке: {due}. Уйдут в течение минуты (в рабочее время и в пределах дневного лимита)."
        if skipped:
            text += f" Пропущено завершённых: {skipped}."
        self.message_user(request, text, messages.SUCCESS)


def _record(request: HttpRequest, action: str, contact: Any, detail: str = "") -> None:
    operator_action_record(actor=request.user, via=Via.ADMIN, action=action, contact=contact, detail=detail)
