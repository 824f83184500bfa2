from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.phones import format_phone

# Digits with the country code, as contacts.phones.normalize_phone returns them.
PHONE_REGEX = r"^[1-9][0-9]{9,14}$"


class Contact(models.Model):
    class RequestType(models.TextChoices):
        SALES = "sales", "Продажа"
        SUPPORT = "support", "Поддержка"
        COMPLAINT = "complaint", "Жалоба"
        GENERAL = "general", "Общий вопрос"

    class BotMode(models.TextChoices):
        AI = "ai", "Отвечает ИИ"
        HUMAN = "human", "Ведёт оператор"

    phone = models.CharField("телефон", max_length=15, unique=True, help_text="Цифры с кодом страны: 77012345678")
    chat_id = models.CharField("WhatsApp chat id", max_length=64, blank=True)
    name = models.CharField("имя", max_length=255, blank=True)
    full_name = models.CharField("полное имя", max_length=255, blank=True)
    push_name = models.CharField("имя в WhatsApp", max_length=255, blank=True)
    business_name = models.CharField("компания", max_length=255, blank=True)

    is_client = models.BooleanField("клиент", null=True, blank=True, help_text="Пусто: данных пока недостаточно")
    classification_confidence = models.FloatField("уверенность", null=True, blank=True)
    classification_reasoning = models.TextField("обоснование", blank=True)
    classified_at = models.DateTimeField("классифицирован", null=True, blank=True)
    classified_by = models.CharField(
        "кем классифицирован",
        max_length=16,
        choices=[("model", "Модель"), ("operator", "Оператор")],
        blank=True,
        help_text="Решение оператора модель никогда не меняет",
    )
    request_type = models.CharField("тип обращения", max_length=16, choices=RequestType.choices, null=True, blank=True)

    bot_mode = models.CharField("режим", max_length=8, choices=BotMode.choices, default=BotMode.AI)
    paused_until = models.DateTimeField(
        "оператор ведёт до", null=True, blank=True, help_text="Пусто в режиме оператора: до ручного возобновления"
    )
    opted_out_at = models.DateTimeField("отписался", null=True, blank=True)

    first_inbound_at = models.DateTimeField("первое входящее", null=True, blank=True)
    last_inbound_at = models.DateTimeField("последнее входящее", null=True, blank=True)
    first_outbound_at = models.DateTimeField("первое исходящее", null=True, blank=True)
    last_outbound_at = models.DateTimeField("последнее исходящее", null=True, blank=True)
    # The end of the quiet window of the customer's latest burst: the latest typed message's
    # arrival plus REPLY_DEBOUNCE_SECONDS, set by ingest. While it is ahead, a run of the AI
    # step is scheduled for the burst; a message arriving after it opens a new burst and
    # schedules one (assistant.pipeline.incoming_process answers the whole burst).
    reply_due_at = models.DateTimeField("ответ после", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "контакт"
        verbose_name_plural = "контакты"
        ordering = ("-last_inbound_at", "-id")
        indexes = [
            models.Index(fields=["is_client"], name="contact_is_client_idx"),
            models.Index(fields=["-last_inbound_at"], name="contact_last_inbound_idx"),
            models.Index(
                fields=["reply_due_at"], name="contact_reply_due_idx", condition=Q(reply_due_at__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(phone__regex=PHONE_REGEX), name="contact_phone_normalised"),
            models.CheckConstraint(
                condition=Q(classification_confidence__isnull=True)
                | Q(classification_confidence__gte=0, classification_confidence__lte=1),
                name="contact_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=Q(bot_mode="human") | Q(paused_until__isnull=True),
                name="contact_paused_until_only_in_human_mode",
            ),
        ]

    def __str__(self) -> str:
        label = self.display_name
        return f"{label} ({format_phone(self.phone)})" if label else format_phone(self.phone)

    @property
    def display_name(self) -> str:
        return self.full_name or self.name or self.push_name or self.business_name

    @property
    def last_message_at(self) -> datetime | None:
        moments = [m for m in (self.last_inbound_at, self.last_outbound_at) if m]
        return max(moments) if moments else None

    def bot_is_paused(self, now: datetime | None = None) -> bool:
        """True while an operator owns the conversation (indefinitely or until paused_until)."""
        if self.bot_mode != self.BotMode.HUMAN:
            return False
        return self.paused_until is None or self.paused_until > (now or timezone.now())

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None


class WhitelistEntry(models.Model):
    """The owners' personal numbers: never stored beyond a counter, never answered or messaged."""

    phone = models.CharField("телефон", max_length=15, unique=True)
    note = models.CharField("заметка", max_length=255, blank=True)
    added_at = models.DateTimeField("добавлен", auto_now_add=True)
    skipped_messages = models.PositiveIntegerField("пропущено сообщений", default=0, editable=False)
    last_skipped_at = models.DateTimeField("последнее пропущенное", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "номер в белом списке"
        verbose_name_plural = "белый список (личные номера)"
        ordering = ("phone",)
        constraints = [
            models.CheckConstraint(condition=Q(phone__regex=PHONE_REGEX), name="whitelist_phone_normalised"),
        ]

    def __str__(self) -> str:
        return f"{format_phone(self.phone)} {self.note}".strip()


class ScheduledCall(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Запланирован"
        COMPLETED = "completed", "Состоялся"
        CANCELLED = "cancelled", "Отменён"
        NO_SHOW = "no_show", "Клиент не пришёл"

    class CreatedBy(models.TextChoices):
        AI = "ai", "ИИ"
        OPERATOR = "operator", "Оператор"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="calls", verbose_name="контакт")
    scheduled_at = models.DateTimeField("время звонка")
    timezone = models.CharField("часовой пояс", max_length=64, default=settings.TIME_ZONE)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    notes = models.TextField("заметки", blank=True)
    created_by = models.CharField("кем создан", max_length=16, choices=CreatedBy.choices, default=CreatedBy.AI)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "созвон"
        verbose_name_plural = "созвоны"
        ordering = ("scheduled_at",)
        indexes = [models.Index(fields=["scheduled_at"], name="call_scheduled_at_idx")]

    def __str__(self) -> str:
        when = timezone.localtime(self.scheduled_at).strftime("%d.%m.%Y %H:%M")
        return f"{when} — {self.contact}"


class CallReminder(models.Model):
    """A reminder of a scheduled call, sent by beat (contacts.send_call_reminders) once due."""

    class Audience(models.TextChoices):
        CLIENT = "client", "Клиенту"
        MANAGER = "manager", "Менеджеру"

    call = models.ForeignKey(ScheduledCall, on_delete=models.CASCADE, related_name="reminders", verbose_name="созвон")
    audience = models.CharField("кому", max_length=16, choices=Audience.choices)
    due_at = models.DateTimeField("когда отправить")
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)
    created_at = models.DateTimeField("создано", auto_now_add=True)

    class Meta:
        verbose_name = "напоминание о созвоне"
        verbose_name_plural = "напоминания о созвонах"
        ordering = ("due_at",)
        indexes = [models.Index(fields=["due_at"], condition=Q(sent_at__isnull=True), name="call_reminder_due_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "audience"], condition=Q(sent_at__isnull=True), name="call_reminder_one_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_audience_display()}: {self.call}"


class OperatorAction(models.Model):
    """The audit trail of what operators did to customers, through the admin or the API: one
    row per action, written by contacts.audit.operator_action_record. When the contact is
    forgotten its rows lose the link and the detail: who did what and when stays."""

    class Action(models.TextChoices):
        CLASSIFY = "classify", "Классификация оператором"
        RECLASSIFY = "reclassify", "Переклассификация моделью"
        PAUSE = "pause", "Пауза бота"
        RESUME = "resume", "Возврат диалога боту"
        SEND = "send", "Сообщение оператора"
        FORGET = "forget", "Удаление по запросу"
        STOP_FOLLOWUPS = "stop_followups", "Остановка follow-up"
        RESTART_FOLLOWUPS = "restart_followups", "Перезапуск follow-up"
        SEND_FOLLOWUP_NOW = "send_followup_now", "Касание follow-up сейчас"
        CANCEL_CALL = "cancel_call", "Отмена созвона"
        APPROVE_PAYMENT = "approve_payment", "Одобрение счёта"
        CANCEL_PAYMENT = "cancel_payment", "Отмена счёта"
        REFUND = "refund", "Возврат денег"

    class Via(models.TextChoices):
        ADMIN = "admin", "Админка"
        API = "api", "API"

    at = models.DateTimeField("когда", default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="оператор",
    )
    actor_name = models.CharField("оператор (логин)", max_length=150, blank=True)
    via = models.CharField("через", max_length=8, choices=Via.choices)
    action = models.CharField("действие", max_length=32, choices=Action.choices)
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="operator_actions",
        verbose_name="контакт",
    )
    detail = models.CharField("подробности", max_length=255, blank=True)

    class Meta:
        verbose_name = "действие оператора"
        verbose_name_plural = "действия операторов (журнал)"
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return f"{self.actor_name or '—'}: {self.get_action_display()}"


class OptOutRecord(models.Model):
    """A number that asked for no proactive messages, kept as a keyed hash only (HMAC with
    SECRET_KEY, contacts.optouts), so the wish outlives the contact's erasure without keeping
    the number: a contact created again for it starts opted out."""

    phone_hash = models.CharField("хеш номера", max_length=64, unique=True)
    opted_out_at = models.DateTimeField("отписался")

    class Meta:
        verbose_name = "отписка (хеш номера)"
        verbose_name_plural = "отписки удалённых контактов (хеши номеров)"

    def __str__(self) -> str:
        return self.phone_hash[:12]
