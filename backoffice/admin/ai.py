"""Admin of the AI app: model calls (tokens and cost), prompt versions, the moderator's
audit trail and the customers waiting for a model that was down. Everything the model layer
writes is read-only here: it is a record, not something to edit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ai.knowledge import knowledge_document_request_index, knowledge_upload
from ai.models import (
    ClassificationRecord,
    ContextCache,
    KnowledgeChunk,
    KnowledgeDocument,
    ModelCall,
    PendingReply,
    PromptOverride,
    ReplyDecision,
)
from ai.prompts import prompt_file, prompt_get, prompt_placeholders, prompt_reset_to_file
from ai.tasks import refresh_knowledge_base
from ai.usage import usage_summary

OFFLINE_BANNER = "Офлайн-режим: ответы генерируются правилами, без Gemini"


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record: viewable by staff with the view permission, deletable by superusers only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


@admin.register(ModelCall)
class ModelCallAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "purpose",
        "backend",
        "model",
        "contact",
        "prompt_version",
        "prompt_tokens",
        "cached_tokens",
        "output_tokens",
        "thinking_tokens",
        "cost_usd",
        "latency_ms",
        "used_cache",
        "ok",
    )
    list_filter = ("purpose", "model", "backend", "ok", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("contact__phone", "contact__name", "prompt_version", "error")
    list_select_related = ("contact",)
    # The table grows with every message: skip the unfiltered COUNT(*) on each page.
    show_full_result_count = False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Only on GET: a POSTed action redirects back here and would show the banner twice.
        if settings.LLM_BACKEND == "offline" and request.method == "GET":
            messages.info(request, OFFLINE_BANNER)
        if request.method == "GET":
            messages.info(request, cache_summary_line())
        return super().changelist_view(request, extra_context)

    @admin.display(description="кэш", boolean=True)
    def used_cache(self, obj: ModelCall) -> bool:
        return bool(obj.cache_name)


def cache_summary_line(*, days: int = 30) -> str:
    """One line for operators: how the context cache did over the last `days` days."""
    until = timezone.now()
    summary = usage_summary(since=until - timedelta(days=days), until=until)
    return (
        f"Кэш контекста Gemini за {days} дней: ответов с кэшем {summary['cache_requests']} "
        f"({summary['cache_hit_rate']:.0%} запросов ответа), токенов из кэша {summary['cached_tokens']:_} "
        f"({summary['cached_share']:.0%} входящих токенов), сэкономлено ${summary['cache_saved_usd']:.4f} "
        f"(хранение кэша ${summary['cache_storage_usd']:.4f})."
    ).replace("_", " ")


@admin.register(ContextCache)
class ContextCacheAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "status",
        "model",
        "name",
        "token_count",
        "hits",
        "expire_at",
        "prompt_version",
        "knowledge_chars",
    )
    list_filter = ("status", "model")
    readonly_fields = [f.name for f in ContextCache._meta.fields]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET":
            messages.info(request, cache_summary_line())
        return super().changelist_view(request, extra_context)


class PromptOverrideForm(forms.ModelForm):
    class Meta:
        model = PromptOverride
        fields = ("name", "text", "note", "is_active")

    def clean_text(self) -> str:
        # The textarea sends CRLF; store what prompt_get will use.
        return self.cleaned_data["text"].replace("\r\n", "\n").strip()


@admin.register(PromptOverride)
class PromptOverrideAdmin(admin.ModelAdmin):
    """A new version is added, never edited: the rows are the history. Only "действует"
    can be switched on an existing version; the newest active version of a prompt wins."""

    form = PromptOverrideForm
    list_display = ("name", "version", "is_active", "in_effect", "note", "created_by", "created_at")
    list_filter = ("name", "is_active")
    search_fields = ("note", "text")
    list_select_related = ("created_by",)
    actions = ("revert_to_file",)
    add_fields = ("name", "text", "note")
    change_fields = ("name", "version", "in_effect", "is_active", "note", "created_by", "created_at", "text")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PromptOverride]:
        newest_active = (
            PromptOverride.objects.filter(name=OuterRef("name"), is_active=True)
            .order_by("-created_at", "-pk")
            .values("pk")[:1]
        )
        return super().get_queryset(request).annotate(effective_pk=Subquery(newest_active))

    def get_fields(self, request: HttpRequest, obj: PromptOverride | None = None) -> tuple[str, ...]:
        return self.add_fields if obj is None else self.change_fields

    def get_readonly_fields(self, request: HttpRequest, obj: PromptOverride | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return tuple(field for field in self.change_fields if field != "is_active")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="версия")
    def version(self, obj: PromptOverride) -> str:
        return obj.version

    @admin.display(description="действует сейчас", boolean=True)
    def in_effect(self, obj: PromptOverride) -> bool:
        return obj.pk is not None and obj.pk == getattr(obj, "effective_pk", None)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """``?name=<prompt>`` starts the new version from the text in effect (file or newest
        version), so an operator edits rather than retypes."""
        initial = super().get_changeform_initial_data(request)
        name = request.GET.get("name")
        if name in PromptOverride.Name.values and not initial.get("text"):
            initial["text"] = prompt_get(name).text
        return initial

    def get_form(self, request: HttpRequest, obj: PromptOverride | None = None, **kwargs: Any) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "text" in form.base_fields:
            add_url = reverse("admin:ai_promptoverride_add")
            links = format_html_join(
                " · ",
                '<a href="{}?name={}">{}</a>',
                ((add_url, value, label) for value, label in PromptOverride.Name.choices),
            )
            form.base_fields["text"].help_text = format_html(
                "Начать с действующего текста: {}. Подстановки вроде {{knowledge_base}} и "
                "[НАЗВАНИЕ КОМПАНИИ] заполняет программа — сохраните их.",
                links,
            )
        return form

    def save_model(self, request: HttpRequest, obj: PromptOverride, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            missing = sorted(prompt_placeholders(prompt_file(obj.name).text) - prompt_placeholders(obj.text))
            if missing:
                messages.warning(
                    request,
                    "В новом тексте нет подстановок, которые заполняет программа: "
                    + ", ".join(f"{{{name}}}" for name in missing),
                )

    @admin.action(description="Вернуться к тексту из файла")
    def revert_to_file(self, request: HttpRequest, queryset: QuerySet[PromptOverride]) -> None:
        names = sorted(set(queryset.values_list("name", flat=True)))
        prompt_reset_to_file(names=names)
        labels = ", ".join(str(PromptOverride.Name(name).label) for name in names)
        self.message_user(request, f"Снова действует текст из файла: {labels}.", messages.SUCCESS)


@admin.register(ClassificationRecord)
class ClassificationRecordAdmin(ReadOnlyAdmin):
    list_display = ("contact", "source", "is_client", "confidence", "request_type", "forced_by", "created_at")
    list_filter = ("source", "is_client", "request_type")
    search_fields = ("contact__phone", "contact__name", "contact__business_name")
    list_select_related = ("contact", "forced_by")
    date_hierarchy = "created_at"


@admin.register(ReplyDecision)
class ReplyDecisionAdmin(ReadOnlyAdmin):
    """Why a customer got the reply they got: the tools called with their results, the number
    guard's outcome, hand-off (the sandbox playground shows the same beside each reply)."""

    list_display = ("contact", "backend", "tools", "compose_result", "handed_off", "created_at")
    list_filter = ("backend", "compose_result", "handed_off")
    search_fields = ("contact__phone", "contact__name")
    list_select_related = ("contact",)
    date_hierarchy = "created_at"

    @admin.display(description="инструменты")
    def tools(self, obj: ReplyDecision) -> str:
        return ", ".join(call.get("name", "?") for call in obj.tool_calls) or "—"


@admin.register(PendingReply)
class PendingReplyAdmin(ReadOnlyAdmin):
    list_display = ("contact", "due_at", "attempts", "last_error", "resolved_at")
    list_filter = ("resolved_at",)
    search_fields = ("contact__phone", "contact__name")
    list_select_related = ("contact",)


class KnowledgeChunkInline(admin.TabularInline):
    model = KnowledgeChunk
    extra = 0
    fields = ("position", "heading", "text")
    readonly_fields = fields
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KnowledgeDocumentForm(forms.ModelForm):
    password = forms.CharField(
        label="пароль PDF",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Для защищённого файла: после сохранения документ будет переиндексирован с этим паролем.",
    )

    class Meta:
        model = KnowledgeDocument
        fields = ("title", "password")


QUEUED_MESSAGE = "«{name}» сохранён и поставлен в очередь на индексацию: статус и результат появятся здесь."


class KnowledgeUploadForm(forms.ModelForm):
    """Adding a document = uploading a PDF into KNOWLEDGE_BASE_PATH; a worker indexes it (the web
    request never reads the file: a poison PDF is the worker's child process's problem)."""

    file = forms.FileField(
        label="PDF-файл", help_text="Файл попадёт в папку базы знаний, индексация идёт в фоне за несколько секунд."
    )

    class Meta:
        model = KnowledgeDocument
        fields = ()

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit_mb = settings.KNOWLEDGE_PDF_MAX_FILE_MB
        if upload.size > limit_mb * 1024 * 1024:
            raise forms.ValidationError(f"Файл больше {limit_mb} МБ.")
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise forms.ValidationError("Это не PDF-файл.")
        return upload


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    form = KnowledgeDocumentForm
    list_display = ("title", "path", "state", "reason", "pages", "characters", "indexed_at")
    list_filter = ("status",)
    search_fields = ("title", "path", "chunks__text")
    readonly_fields = (
        "path",
        "sha256",
        "state",
        "pages",
        "characters",
        "warnings",
        "indexed_at",
        "failed_at",
        "index_requested_at",
        "created_at",
    )
    inlines = (KnowledgeChunkInline,)
    actions = ("reload",)

    @admin.display(description="статус", ordering="status")
    def state(self, obj: KnowledgeDocument) -> str:
        if obj.index_requested_at is not None and obj.status != KnowledgeDocument.Status.QUEUED:
            return f"{obj.get_status_display()} · ждёт переиндексации"
        return obj.get_status_display()

    @admin.display(description="причина")
    def reason(self, obj: KnowledgeDocument) -> str:
        """Why a failed file is not indexed (the limit it hit); it is not read again until it changes."""
        if obj.status != KnowledgeDocument.Status.FAILED:
            return ""
        return (obj.warnings.strip().splitlines() or [""])[-1]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = KnowledgeUploadForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("file",) if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.inlines

    def save_model(self, request: HttpRequest, obj: KnowledgeDocument, form: Any, change: bool) -> None:
        if not change:
            upload = form.cleaned_data["file"]
            document = knowledge_upload(name=upload.name, chunks=upload.chunks())
            obj.pk = document.pk
            refresh_knowledge_base.delay_on_commit()
            self.message_user(request, QUEUED_MESSAGE.format(name=document.path), messages.INFO)
            return
        password = form.cleaned_data.get("password")
        if password:
            knowledge_document_request_index(document=obj, password=password)
            refresh_knowledge_base.delay_on_commit()
            self.message_user(request, QUEUED_MESSAGE.format(name=obj.path), messages.INFO)
        KnowledgeDocument.objects.filter(pk=obj.pk).update(title=obj.title)

    @admin.action(description="Переиндексировать выбранные документы")
    def reload(self, request: HttpRequest, queryset: QuerySet[KnowledgeDocument]) -> None:
        for document in queryset:
            knowledge_document_request_index(document=document)
            self.message_user(request, QUEUED_MESSAGE.format(name=document.path), messages.INFO)
        refresh_knowledge_base.delay_on_commit()
