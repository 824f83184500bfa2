from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from followups.models import FollowUp
from followups.services import followup_stop


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


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    form = FollowUpForm
    list_display = (
        "contact",
        "touch_number",
        "next_touch_at",
        "last_touch_at",
        "reason",
        "is_completed",
        "stop_reason",
    )
    list_filter = ("is_completed", "stop_reason", "reason", "touch_number")
    search_fields = ("contact__phone", "contact__name", "contact__full_name", "contact__business_name")
    list_select_related = ("contact",)
    autocomplete_fields = ("contact",)
    readonly_fields = ("last_touch_at", "is_completed", "stop_reason", "completed_at", "created_at", "updated_at")
    date_hierarchy = "next_touch_at"
    actions = ("stop",)

    @admin.action(description="Остановить выбранные follow-up")
    def stop(self, request: HttpRequest, queryset: QuerySet[FollowUp]) -> None:
        stopped = 0
        for followup in queryset.filter(is_completed=False).select_related("contact"):
            stopped += followup_stop(contact=followup.contact, reason=FollowUp.StopReason.STOPPED_BY_OPERATOR)
        self.message_user(request, f"Остановлено follow-up: {stopped}", messages.SUCCESS)
