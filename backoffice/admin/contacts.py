from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from assistant.tasks import reclassify
from backoffice.admin.followups import astana_time
from calls.booking import BookingRules, slot_problem
from calls.services import call_cancel, call_reschedule, call_taken_counts
from contacts import audit, services
from contacts.forget import contact_forget
from contacts.models import Contact, OperatorAction, ScheduledCall, WhitelistEntry
from contacts.phones import JidKind, NotAPhoneError, PhoneError, format_phone, normalize_phone
from followups.models import FollowUp
from followups.services import followup_stop
from messaging.models import HandOff

CONVERSATION_PAGE_SIZE = 30


_JID_KIND_RU = {
    JidKind.GROUP: "группы",
    JidKind.LID: "скрытого номера (lid)",
    JidKind.BROADCAST: "рассылки или статуса",
    JidKind.NEWSLETTER: "канала",
}


def phone_form_field() -> forms.CharField:
    # Wider than the stored 15 digits: people type spaces, brackets and dashes.
    return forms.CharField(
        label="телефон", max_length=64, help_text="В любом написании: +7 (701) 234-56-78, 87012345678…"
    )


class PhoneFormMixin:
    """Normalises the phone field so any spelling is accepted and stored one way."""

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"]  # type: ignore[attr-defined]
        try:
            return normalize_phone(raw)
        except NotAPhoneError as exc:
            raise forms.ValidationError(
                f"«{raw}» — это id {_JID_KIND_RU[exc.kind]} WhatsApp, а не номер телефона.", code="not_a_phone"
            ) from exc
        except PhoneError as exc:
            raise forms.ValidationError(
                f"«{raw}» — не номер телефона: нужны цифры с кодом страны, например +7 701 234 56 78.",
                code="invalid_phone",
            ) from exc


class ContactForm(PhoneFormMixin, forms.ModelForm):
    phone = phone_form_field()

    class Meta:
        model = Contact
        fields = "__all__"


class WhitelistEntryForm(PhoneFormMixin, forms.ModelForm):
    phone = phone_form_field()

    class Meta:
        model = WhitelistEntry
        fields = ("phone", "note")


def _search_phone_term(search_term: str) -> str | None:
    try:
        return normalize_phone(search_term)
    except PhoneError:
        return None


class OptedOutFilter(admin.SimpleListFilter):
    title = "отписка"
    parameter_name = "opted_out"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Отписались"), ("no", "Не отписывались")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> QuerySet[Contact]:
        if self.value() == "yes":
            return queryset.filter(opted_out_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(opted_out_at__isnull=True)
        return queryset


class FollowUpInline(admin.TabularInline):
    """The contact's follow-up chains, the running one first: its touch, when the next one is
    due (Astana time), the last touch, why it started and, for a finished one, why it stopped."""

    model = FollowUp
    extra = 0
    fields = (
        "touch_number",
        "next_touch_local",
        "last_touch_local",
        "touches_sent",
        "reason",
        "is_completed",
        "stop_reason",
        "created_at",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ("is_completed", "-created_at")
    verbose_name_plural = "follow-up"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[FollowUp]:
        return super().get_queryset(request).annotate(touch_count=Count("touches"))

    @admin.display(description="следующее касание (Астана)")
    def next_touch_local(self, obj: FollowUp) -> str:
        return astana_time(obj.next_touch_at)

    @admin.display(description="последнее касание (Астана)")
    def last_touch_local(self, obj: FollowUp) -> str:
        return astana_time(obj.last_touch_at)

    @admin.display(description="касаний")
    def touches_sent(self, obj: FollowUp) -> int:
        return getattr(obj, "touch_count", 0)


class RecordInline(admin.TabularInline):
    """A record the product keeps (an audit trail, a hand-off): shown on the contact, never added,
    changed or deleted there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OperatorActionInline(RecordInline):
    """The operators' audit trail of this contact: who did what, when, through which interface."""

    model = OperatorAction
    fields = ("at", "actor_name", "via", "action", "detail")
    ordering = ("-at", "-id")
    verbose_name_plural = "Действия операторов"


class HandOffInline(RecordInline):
    """The contact's hand-offs to the managers: when, why, the brief, whether a person answered
    in time, and when and why the assistant took the chat back."""

    model = HandOff
    fields = (
        "opened_at",
        "reason",
        "brief",
        "answered_at",
        "reminded_at",
        "escalated_at",
        "closed_at",
        "closed_reason",
    )
    ordering = ("-opened_at", "-id")
    verbose_name_plural = "Передачи менеджерам"


def assistant_resumes_text(contact: Contact) -> str:
    """When the assistant takes the chat back, as the admin says it."""
    if not contact.bot_is_paused():
        return "Отвечает ассистент"
    if contact.paused_until:
        return f"Ассистент вернётся {timezone.localtime(contact.paused_until):%d.%m.%Y %H:%M} (после тишины менеджеров)"
    if HandOff.objects.filter(contact=contact, closed_at__isnull=True, answered_at__isnull=True).exists():
        hours = f"{settings.BOT_PAUSE_AFTER_OPERATOR:g}"
        return (
            f"Чат передан менеджеру, ответа ещё нет: ассистент вернётся через {hours} ч "
            "после последнего сообщения менеджера"
        )
    return "Ассистент вернётся, когда оператор возобновит бота"


class ScheduledCallInline(admin.TabularInline):
    model = ScheduledCall
    extra = 0
    fields = ("scheduled_at", "status", "notes", "created_by", "created_at")
    readonly_fields = ("created_at",)
    ordering = ("-scheduled_at",)
    show_change_link = True


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    change_form_template = "admin/contacts/contact/change_form.html"
    list_display = (
        "phone_display",
        "display_name_col",
        "business_name",
        "client_col",
        "request_type",
        "mode_col",
        "opted_out_col",
        "last_inbound_at",
        "message_count",
    )
    list_display_links = ("phone_display", "display_name_col")
    list_filter = ("is_client", "bot_mode", OptedOutFilter, "request_type", "created_at")
    search_fields = ("phone", "name", "full_name", "push_name", "business_name", "messages__text")
    search_help_text = "Телефон в любом написании, имя, компания или текст сообщения"
    list_per_page = 50
    date_hierarchy = "last_inbound_at"
    readonly_fields = (
        "chat_id",
        "assistant_resumes",
        "classified_at",
        "opted_out_at",
        "first_inbound_at",
        "last_inbound_at",
        "first_outbound_at",
        "last_outbound_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("phone", "chat_id", "name", "full_name", "push_name", "business_name")}),
        (
            "Классификация",
            {
                "description": "Решение оператора модель сама не меняет. Действие «Переклассифицировать "
                "моделью» просит её решить заново, даже поверх решения оператора; в журнале решений "
                "остаётся, кто и когда это запросил.",
                "fields": (
                    "is_client",
                    "classification_confidence",
                    "classification_reasoning",
                    "classified_at",
                    "request_type",
                ),
            },
        ),
        ("Режим бота", {"fields": ("bot_mode", "paused_until", "assistant_resumes", "opted_out_at")}),
        (
            "Активность",
            {
                "classes": ("collapse",),
                "fields": (
                    ("first_inbound_at", "last_inbound_at"),
                    ("first_outbound_at", "last_outbound_at"),
                    ("created_at", "updated_at"),
                ),
            },
        ),
    )
    inlines = (FollowUpInline, ScheduledCallInline, HandOffInline, OperatorActionInline)
    actions = (
        "mark_client",
        "mark_not_client",
        "mark_unknown",
        "reclassify",
        "pause_bot",
        "resume_bot",
        "stop_followups",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Contact | None = None) -> tuple[str, ...]:
        # The phone is the contact's identity: set once, never edited.
        return (*self.readonly_fields, "phone") if obj else self.readonly_fields

    def get_fieldsets(self, request: HttpRequest, obj: Contact | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": ("phone", "name", "full_name", "business_name", "is_client")}),)
        return self.fieldsets

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).annotate(_message_count=Count("messages", distinct=True))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str
    ) -> tuple[QuerySet[Contact], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        phone = _search_phone_term(search_term)
        if phone:
            results = results | queryset.filter(phone=phone)
        return results, may_have_duplicates

    @admin.display(description="телефон", ordering="phone")
    def phone_display(self, obj: Contact) -> str:
        return format_phone(obj.phone)

    @admin.display(description="имя")
    def display_name_col(self, obj: Contact) -> str:
        return obj.display_name or "—"

    @admin.display(description="клиент", ordering="is_client")
    def client_col(self, obj: Contact) -> str:
        return {True: "✅ клиент", False: "⛔ не клиент", None: "❔ неизвестно"}[obj.is_client]

    @admin.display(description="режим", ordering="bot_mode")
    def mode_col(self, obj: Contact) -> str:
        if not obj.bot_is_paused():
            return "🤖 ИИ"
        if obj.paused_until:
            return f"👤 оператор, ассистент вернётся {timezone.localtime(obj.paused_until):%d.%m %H:%M}"
        return "👤 оператор"

    @admin.display(description="ассистент вернётся")
    def assistant_resumes(self, obj: Contact) -> str:
        return assistant_resumes_text(obj)

    @admin.display(description="отписка", boolean=True, ordering="opted_out_at")
    def opted_out_col(self, obj: Contact) -> bool:
        return obj.opted_out_at is not None

    @admin.display(description="сообщений", ordering="_message_count")
    def message_count(self, obj: Contact) -> int:
        return getattr(obj, "_message_count", 0)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        # The conversation is shown below the form, newest first, paged with ?conv_page=N.
        extra_context = dict(extra_context or {})
        contact = self.get_object(request, object_id)
        if contact is not None:
            paginator = Paginator(
                contact.messages.select_related("reply_to").order_by("-timestamp", "-id"), CONVERSATION_PAGE_SIZE
            )
            extra_context["conversation_page"] = paginator.get_page(request.GET.get("conv_page"))
        return super().change_view(request, object_id, form_url, extra_context)

    # --- deleting is forgetting (contacts.forget): never a bare cascade ---

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        # What the confirmation page lists. Erasure is one service (the same as the API's
        # DELETE), so delete_contact is the only permission it needs, as in the API.
        contacts = list(objs)
        lines = [
            f"{contact}: переписка, follow-up, созвоны и журнал классификации удаляются; "
            "платежи остаются без номера телефона"
            for contact in contacts
        ]
        return lines, {Contact._meta.verbose_name_plural: len(contacts)}, set(), []

    def log_deletions(self, request: HttpRequest, queryset: Any) -> list[Any]:
        # Django's admin log would keep the contact's name and number after the erasure; the
        # operators' audit trail records the forgetting instead (delete_model, delete_queryset).
        return []

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        self._forget(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        for contact in queryset:
            self._forget(request, contact)

    def _forget(self, request: HttpRequest, contact: Contact) -> None:
        with transaction.atomic():
            contact_forget(contact=contact)
            audit.operator_action_record(actor=request.user, via=audit.Via.ADMIN, action=audit.Action.FORGET)

    # --- actions: each calls a service per contact, so the rules live in one place; each is
    # recorded in the operators' audit trail (contacts.audit) ---

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Contact], fn: Any, done: str, action: str, detail: str = ""
    ) -> None:
        count = 0
        for contact in queryset:
            with transaction.atomic():
                fn(contact)
                audit.operator_action_record(
                    actor=request.user, via=audit.Via.ADMIN, action=action, contact=contact, detail=detail
                )
            count += 1
        self.message_user(request, f"{done}: {count}", messages.SUCCESS)

    def _classify(self, request: HttpRequest, queryset: QuerySet[Contact], is_client: bool | None, done: str) -> None:
        self._apply(
            request,
            queryset,
            lambda c: services.contact_set_client_status(
                contact=c,
                is_client=is_client,
                confidence=1.0 if is_client is not None else None,
                reasoning=_by(request) if is_client is not None else "",
            ),
            done,
            audit.Action.CLASSIFY,
            audit.verdict_detail(is_client),
        )

    @admin.action(description="Отметить как клиентов", permissions=("change",))
    def mark_client(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._classify(request, queryset, True, "Отмечены как клиенты")

    @admin.action(description="Отметить как не клиентов", permissions=("change",))
    def mark_not_client(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._classify(request, queryset, False, "Отмечены как не клиенты")

    @admin.action(description="Сбросить классификацию (неизвестно)", permissions=("change",))
    def mark_unknown(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._classify(request, queryset, None, "Классификация сброшена")

    @admin.action(
        description="Переклассифицировать моделью (решит заново, даже поверх решения оператора)",
        permissions=("change",),
    )
    def reclassify(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        # The same action as the API's classify: assistant.moderator.contact_reclassify, run by
        # the task after the request commits (a model call per contact is too slow to wait for).
        contacts = list(queryset)
        forced_at = timezone.now().isoformat()
        for contact in contacts:
            reclassify.delay_on_commit(contact.pk, forced_by_id=request.user.pk, forced_at=forced_at)
            audit.operator_action_record(
                actor=request.user, via=audit.Via.ADMIN, action=audit.Action.RECLASSIFY, contact=contact
            )
        self.message_user(
            request,
            f"Отправлено на классификацию: {len(contacts)}. Модель решит заново, даже если решение принял "
            f"оператор; в журнале решений будет записано, что пересмотр запросил {request.user.get_username()}.",
            messages.SUCCESS,
        )

    @admin.action(description="Поставить бота на паузу (ведёт оператор)", permissions=("change",))
    def pause_bot(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._apply(
            request,
            queryset,
            lambda c: services.contact_pause_bot(contact=c),
            "Бот на паузе",
            audit.Action.PAUSE,
            audit.pause_detail(None),
        )

    @admin.action(description="Вернуть диалог боту", permissions=("change",))
    def resume_bot(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._apply(
            request,
            queryset,
            lambda c: services.contact_resume_bot(contact=c),
            "Бот снова отвечает",
            audit.Action.RESUME,
        )

    @admin.action(description="Остановить follow-up", permissions=("change",))
    def stop_followups(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        stopped = 0
        for contact in queryset:
            with transaction.atomic():
                count = followup_stop(contact=contact, reason=FollowUp.StopReason.STOPPED_BY_OPERATOR)
                audit.operator_action_record(
                    actor=request.user,
                    via=audit.Via.ADMIN,
                    action=audit.Action.STOP_FOLLOWUPS,
                    contact=contact,
                    detail=f"остановлено: {count}",
                )
            stopped += count
        self.message_user(request, f"Остановлено follow-up: {stopped}", messages.SUCCESS)


def _by(request: HttpRequest) -> str:
    return f"Отмечено оператором {request.user.get_username()}"


@admin.register(OperatorAction)
class OperatorActionAdmin(admin.ModelAdmin):
    """The whole audit trail, forgotten contacts' rows included (without the contact). Nobody
    edits or deletes it here."""

    list_display = ("at", "actor_name", "via", "action", "contact", "detail")
    list_filter = ("action", "via", "at")
    search_fields = ("actor_name", "detail", "contact__name", "contact__full_name")
    list_select_related = ("contact",)
    date_hierarchy = "at"
    readonly_fields = ("at", "actor", "actor_name", "via", "action", "contact", "detail")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WhitelistEntry)
class WhitelistEntryAdmin(admin.ModelAdmin):
    form = WhitelistEntryForm
    list_display = ("phone_display", "note", "skipped_messages", "last_skipped_at", "added_at")
    search_fields = ("phone", "note")
    search_help_text = "Телефон в любом написании или заметка"
    readonly_fields = ("skipped_messages", "last_skipped_at", "added_at")

    @admin.display(description="телефон", ordering="phone")
    def phone_display(self, obj: WhitelistEntry) -> str:
        return format_phone(obj.phone)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WhitelistEntry], search_term: str
    ) -> tuple[QuerySet[WhitelistEntry], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        phone = _search_phone_term(search_term)
        if phone:
            results = results | queryset.filter(phone=phone)
        return results, may_have_duplicates


class ScheduledCallForm(forms.ModelForm):
    """Changing an existing call's time is a reschedule: the booking rules apply and the client
    is told (calls.services.call_reschedule); a broken rule is shown on the field."""

    class Meta:
        model = ScheduledCall
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start = cleaned.get("scheduled_at")
        if self.instance.pk and start and start != self.instance.scheduled_at:
            taken = call_taken_counts(start=start, end=start + timedelta(minutes=1))
            problem = slot_problem(start, rules=BookingRules.from_settings(), now=timezone.now(), taken=taken)
            if problem:
                raise forms.ValidationError({"scheduled_at": f"Нельзя назначить на это время: {problem}."})
        return cleaned


@admin.register(ScheduledCall)
class ScheduledCallAdmin(admin.ModelAdmin):
    form = ScheduledCallForm

    def save_model(self, request: HttpRequest, obj: ScheduledCall, form: Any, change: bool) -> None:
        if change and "scheduled_at" in form.changed_data and obj.status == ScheduledCall.Status.SCHEDULED:
            new_start = obj.scheduled_at
            other = {f: getattr(obj, f) for f in form.changed_data if f != "scheduled_at"}
            if other:
                ScheduledCall.objects.filter(pk=obj.pk).update(**other)
            try:
                call_reschedule(call=obj, start=new_start)
            except ValueError as exc:
                self.message_user(request, f"Созвон не перенесён: {exc}", messages.ERROR)
                return
            self.message_user(request, "Созвон перенесён, клиенту отправлено сообщение.", messages.SUCCESS)
            return
        super().save_model(request, obj, form, change)

    list_display = ("scheduled_local", "contact", "status", "created_by", "notes_short", "created_at")
    list_filter = ("status", "created_by", "scheduled_at")
    search_fields = ("contact__phone", "contact__name", "contact__full_name", "contact__business_name", "notes")
    date_hierarchy = "scheduled_at"
    autocomplete_fields = ("contact",)
    readonly_fields = ("created_at", "updated_at")
    list_select_related = ("contact",)

    actions = ("cancel_calls",)

    @admin.action(description="Отменить созвон (клиенту придёт сообщение)", permissions=("change",))
    def cancel_calls(self, request: HttpRequest, queryset: QuerySet[ScheduledCall]) -> None:
        cancelled = 0
        for call in queryset.filter(status=ScheduledCall.Status.SCHEDULED).select_related("contact"):
            call_cancel(call=call, by_operator=True)
            audit.operator_action_record(
                actor=request.user,
                via=audit.Via.ADMIN,
                action=audit.Action.CANCEL_CALL,
                contact=call.contact,
                detail=f"созвон #{call.pk}",
            )
            cancelled += 1
        self.message_user(request, f"Отменено созвонов: {cancelled}", messages.SUCCESS)

    @admin.display(description="время звонка", ordering="scheduled_at")
    def scheduled_local(self, obj: ScheduledCall) -> str:
        return format_html("{}", timezone.localtime(obj.scheduled_at).strftime("%a %d.%m.%Y %H:%M"))

    @admin.display(description="заметки")
    def notes_short(self, obj: ScheduledCall) -> str:
        return obj.notes[:80]
