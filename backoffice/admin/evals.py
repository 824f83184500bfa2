"""The conversation checks in the admin: run a card or the whole suite against the current
prompts and knowledge base (a Celery task), read the report, and the cards drafted from bot
messages an operator marked as wrong."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from evals.cards import CATEGORIES, CardError, card_parse, cards_load
from evals.models import CardDraft, EvalRun
from evals.services import card_draft_from_message, eval_run_request
from messaging.models import Message


def _card_choices() -> list[tuple[str, str]]:
    try:
        cards = cards_load()
    except CardError as exc:
        return [("", f"сценарии не загружаются: {exc}")]
    categories = [(key, f"категория: {title}") for key, title in CATEGORIES.items()]
    return categories + [(card.id, f"{card.id} — {card.title}") for card in cards]


class EvalRunForm(forms.ModelForm):
    """The add form: which cards to run (none chosen: all of them)."""

    chosen = forms.MultipleChoiceField(
        label="сценарии", required=False, choices=_card_choices, help_text="Ничего не выбрано — все сценарии."
    )

    class Meta:
        model = EvalRun
        fields = ()


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = ("created_at", "cards_label", "status", "summary", "requested_by", "report_link")
    list_filter = ("status",)
    readonly_fields = (
        "created_at",
        "finished_at",
        "requested_by",
        "cards",
        "status",
        "summary",
        "report_link",
        "error",
    )

    def get_form(self, request: HttpRequest, obj: EvalRun | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = EvalRunForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: EvalRun | None = None) -> Any:
        return ("chosen",) if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: EvalRun | None = None) -> tuple[str, ...]:
        return self.readonly_fields if obj else ()

    def save_model(self, request: HttpRequest, obj: EvalRun, form: Any, change: bool) -> None:
        if change:
            return
        run = eval_run_request(cards=list(form.cleaned_data.get("chosen") or []), user=request.user)
        obj.pk = run.pk
        self.message_user(request, "Проверка поставлена в очередь; отчёт появится здесь, когда она закончится.")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.report_view)
        return [path("<int:run_id>/report/", view, name="evals_evalrun_report"), *super().get_urls()]

    def report_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        run = get_object_or_404(EvalRun, pk=run_id)
        response = HttpResponse(run.report_html or "Отчёта пока нет.", content_type="text/html; charset=utf-8")
        # The report is our own page, but it quotes customers' words: no scripts run in it.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response

    @admin.display(description="сценарии")
    def cards_label(self, obj: EvalRun) -> str:
        return obj.cards or "все"

    @admin.display(description="отчёт")
    def report_link(self, obj: EvalRun) -> str:
        if not obj.report_html:
            return "—"
        return format_html('<a href="{}">открыть отчёт</a>', reverse("admin:evals_evalrun_report", args=[obj.pk]))

    def has_change_permission(self, request: HttpRequest, obj: EvalRun | None = None) -> bool:
        return False


class CardDraftForm(forms.ModelForm):
    class Meta:
        model = CardDraft
        fields = ("title", "yaml")
        widgets = {"yaml": forms.Textarea(attrs={"rows": 30, "cols": 110, "style": "font-family: monospace"})}


@admin.register(CardDraft)
class CardDraftAdmin(admin.ModelAdmin):
    form = CardDraftForm
    list_display = ("created_at", "title", "message", "created_by", "schema_check")
    readonly_fields = ("created_at", "created_by", "message", "schema_check")
    fields = ("title", "yaml", "schema_check", "message", "created_by", "created_at")

    @admin.display(description="проверка схемы")
    def schema_check(self, obj: CardDraft) -> str:
        try:
            card_parse(text=obj.yaml, source=f"draft #{obj.pk}")
        except CardError as exc:
            return str(exc)
        return "сценарий читается; сохраните его в evals/cards/"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def mark_wrong(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
    """The Message admin's action: each chosen bot message drafts a card from its conversation."""
    drafted = 0
    for message in queryset.filter(direction=Message.Direction.OUT, author=Message.Author.BOT).select_related(
        "contact"
    ):
        try:
            card_draft_from_message(message=message, user=request.user)
        except CardError as exc:
            modeladmin.message_user(request, f"#{message.pk}: {exc}", messages.WARNING)
            continue
        drafted += 1
    url = reverse("admin:evals_carddraft_changelist")
    modeladmin.message_user(
        request,
        format_html('Черновиков сценариев: {}. <a href="{}">Открыть черновики</a>', drafted, url),
        messages.SUCCESS if drafted else messages.WARNING,
    )
