from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backoffice.admin.evals import mark_wrong
from contacts.audit import Action, Via, operator_action_record
from contacts.models import Contact
from contacts.phones import PhoneError, normalize_phone
from messaging.models import HandOff, Message
from messaging.number import NotOnWhatsApp, Whitelisted, operator_recipient_check
from messaging.services import message_enqueue_outbound


class OperatorMessageForm(forms.ModelForm):
    """The add form: an operator writes to a customer; the row goes to the outbox."""

    text = forms.CharField(label="текст", widget=forms.Textarea(attrs={"rows": 4}))

    class Meta:
        model = Message
        fields = ("contact", "text")

    def clean_contact(self) -> Contact:
        contact = self.cleaned_data["contact"]
        if contact is not None:
            try:
                operator_recipient_check(phone=contact.phone)
            except Whitelisted as exc:
                raise forms.ValidationError(
                    "Этот номер в белом списке личных номеров владельцев: бот и операторы ему не пишут."
                ) from exc
            except NotOnWhatsApp as exc:
                raise forms.ValidationError(
                    "У этого номера нет WhatsApp (проверка Wappi): сообщение не отправлено. "
                    "Сообщения на такие номера приводят к ограничению нашего номера."
                ) from exc
        return contact


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "contact", "direction", "author", "short_text", "purpose", "status", "attempts")
    list_filter = ("direction", "author", "status", "purpose", "is_voice", "timestamp")
    search_fields = (
        "text",
        "transcription",
        "provider_message_id",
        "contact__phone",
        "contact__name",
        "contact__full_name",
    )
    search_help_text = "Текст, расшифровка, id WhatsApp или телефон"
    date_hierarchy = "timestamp"
    list_select_related = ("contact",)
    list_per_page = 100
    autocomplete_fields = ("contact",)
    actions = ("mark_wrong",)
    # History is not rewritten: every field of an existing message is read-only.
    readonly_fields = tuple(
        f.name for f in Message._meta.get_fields() if getattr(f, "concrete", False) and f.name != "id"
    )

    def get_form(self, request: HttpRequest, obj: Message | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = OperatorMessageForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Message | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj else ()

    def get_fields(self, request: HttpRequest, obj: Message | None = None) -> Any:
        return ("contact", "text") if obj is None else super().get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        if change:
            return
        contact = form.cleaned_data["contact"]
        saved = message_enqueue_outbound(
            contact=contact, text=form.cleaned_data["text"], author=Message.Author.OPERATOR
        )
        operator_action_record(
            actor=request.user, via=Via.ADMIN, action=Action.SEND, contact=contact, detail=f"сообщение #{saved.pk}"
        )
        obj.pk = saved.pk

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Message], search_term: str) -> Any:
        results, dup = super().get_search_results(request, queryset, search_term)
        try:
            results = results | queryset.filter(contact__phone=normalize_phone(search_term))
        except PhoneError:
            pass
        return results, dup

    @admin.action(description="Отметить ответ бота как неверный (черновик сценария проверки)", permissions=("view",))
    def mark_wrong(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        mark_wrong(self, request, queryset)

    @admin.display(description="текст")
    def short_text(self, obj: Message) -> str:
        text = obj.display_text
        return text if len(text) <= 80 else text[:79] + "…"

    def has_delete_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(HandOff)
class HandOffAdmin(admin.ModelAdmin):
    """Every hand-off to the managers: open ones first by age, with the brief they got, whether
    a person answered in time, and when the assistant took the chat back. Read only: the
    record is written by the assistant, ingest and the periodic check."""

    list_display = ("opened_at", "contact", "reason", "answered_at", "reminded_at", "escalated_at", "closed_at")
    list_filter = ("closed_reason", "brief_by")
    list_select_related = ("contact",)
    search_fields = ("contact__phone", "contact__name", "contact__full_name", "reason")
    ordering = ("-opened_at", "-id")
    readonly_fields = (
        "contact",
        "message",
        "key",
        "reason",
        "opened_at",
        "due_at",
        "brief",
        "brief_by",
        "brief_sent_at",
        "answered_at",
        "customer_told_at",
        "reminded_at",
        "escalated_at",
        "closed_at",
        "closed_reason",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
