from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact


class Message(models.Model):
    """One WhatsApp message, inbound or outbound.

    An outbound row is also the outbox entry: it is written (status ``queued``) in the same
    transaction as the decision to send, and the sender moves it through ``sending`` to
    ``sent``; delivery receipts move it on to ``delivered`` and ``read``.
    """

    class Direction(models.TextChoices):
        IN = "in", "Входящее"
        OUT = "out", "Исходящее"

    class Author(models.TextChoices):
        CUSTOMER = "customer", "Клиент"
        BOT = "bot", "Бот"
        OPERATOR = "operator", "Оператор"

    class Purpose(models.TextChoices):
        REPLY = "reply", "Ответ"
        FOLLOW_UP = "follow_up", "Follow-up"
        BOOKING = "booking", "Запись на звонок"
        PAYMENT = "payment", "Оплата"
        POST_PURCHASE = "post_purchase", "После покупки"
        NOTIFICATION = "notification", "Уведомление"
        FALLBACK = "fallback", "Запасной ответ"
        # The customer is told a person takes over the chat: the record of a hand-off, counted
        # by reports (messaging.selectors), whatever the words were.
        HANDOFF = "handoff", "Передача менеджеру"

    class Status(models.TextChoices):
        QUEUED = "queued", "В очереди"
        SENDING = "sending", "Отправляется"
        SENT = "sent", "Отправлено"
        DELIVERED = "delivered", "Доставлено"
        READ = "read", "Прочитано"
        FAILED = "failed", "Ошибка"

    PENDING_STATUSES = (Status.QUEUED, Status.SENDING)
    # Handed to WhatsApp (and maybe delivered and read since).
    SENT_STATUSES = (Status.SENT, Status.DELIVERED, Status.READ)

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages", verbose_name="контакт")
    direction = models.CharField("направление", max_length=3, choices=Direction.choices)
    author = models.CharField("автор", max_length=8, choices=Author.choices)
    provider_message_id = models.CharField("id в WhatsApp", max_length=128, null=True, blank=True)
    text = models.TextField("текст", blank=True)

    class VoiceStatus(models.TextChoices):
        PENDING = "pending", "Расшифровывается"
        DONE = "done", "Расшифровано"
        FAILED = "failed", "Не удалось расшифровать"

    class Via(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        POLL = "poll", "Опрос"
        API = "api", "Наш API"
        ADMIN = "admin", "Админка"

    is_voice = models.BooleanField("голосовое", default=False)
    voice_status = models.CharField("расшифровка: статус", max_length=8, choices=VoiceStatus.choices, blank=True)
    voice_error = models.TextField("расшифровка: ошибка", blank=True)
    ingested_via = models.CharField("получено через", max_length=8, choices=Via.choices, blank=True)
    provider_task_id = models.CharField("task id у Wappi", max_length=128, blank=True)
    # Outbound: why an operator should look at this reply (e.g. a figure the model made up).
    review_note = models.TextField("на проверку", blank=True)
    # Inbound: when the AI step took the message (it never takes one twice).
    processed_at = models.DateTimeField("обработано ИИ", null=True, blank=True)
    media_type = models.CharField(
        "тип", max_length=32, blank=True, help_text="Тип сообщения у Wappi: text, ptt, image…"
    )
    media_url = models.URLField("ссылка на файл", max_length=2048, blank=True)
    transcription = models.TextField("расшифровка", blank=True)

    # When the message happened: the order of the conversation.
    timestamp = models.DateTimeField("время", default=timezone.now)
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)
    received_at = models.DateTimeField("получено нами", null=True, blank=True)
    delivered_at = models.DateTimeField("доставлено", null=True, blank=True)
    read_at = models.DateTimeField("прочитано", null=True, blank=True)
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies", verbose_name="ответ на"
    )

    # Outbox: outbound rows only.
    purpose = models.CharField("назначение", max_length=16, choices=Purpose.choices, blank=True)
    status = models.CharField("статус", max_length=16, choices=Status.choices, blank=True)
    attempts = models.PositiveSmallIntegerField("попыток", default=0)
    last_error = models.TextField("последняя ошибка", blank=True)
    next_attempt_at = models.DateTimeField("следующая попытка", null=True, blank=True)
    # When the current send attempt began (set when a send claims the row). A reconciliation
    # looks for the echo from here: updated_at moves with every reconciliation and would lose it.
    attempt_started_at = models.DateTimeField("попытка начата", null=True, blank=True)
    idempotency_key = models.CharField("ключ идемпотентности", max_length=128, null=True, blank=True)

    created_at = models.DateTimeField("создано", auto_now_add=True)
    updated_at = models.DateTimeField("изменено", auto_now=True)

    class Meta:
        verbose_name = "сообщение"
        verbose_name_plural = "сообщения"
        ordering = ("-timestamp", "-id")
        indexes = [
            models.Index(fields=["contact", "-timestamp"], name="message_contact_time_idx"),
            models.Index(fields=["-timestamp"], name="message_time_idx"),
            # The inbound sweeper scans only customer messages nobody has taken yet.
            models.Index(
                fields=["received_at"],
                condition=Q(direction="in", processed_at__isnull=True),
                name="message_inbound_unhandled_idx",
            ),
            # The sender's pacing counts what our number sent in the last hour and day.
            models.Index(fields=["sent_at"], condition=Q(direction="out"), name="message_out_sent_at_idx"),
            # The sender's sweeper scans only rows still waiting to go out.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="message_outbox_pending_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_provider_id_unique",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(provider_message_id__isnull=True) | ~Q(provider_message_id=""),
                name="message_provider_id_not_empty",
            ),
            models.CheckConstraint(condition=Q(direction__in=["in", "out"]), name="message_direction_valid"),
            # Inbound: written by the customer, no outbox state. Outbound: by the bot or an
            # operator, always with a purpose and a delivery status.
            models.CheckConstraint(
                condition=(Q(direction="in", author="customer", purpose="", status=""))
                | (
                    Q(direction="out", author__in=["bot", "operator"])
                    & Q(status__in=["queued", "sending", "sent", "delivered", "read", "failed"])
                    & ~Q(purpose="")
                ),
                name="message_direction_consistent",
            ),
        ]

    def __str__(self) -> str:
        arrow = "←" if self.direction == self.Direction.IN else "→"
        text = self.display_text
        return f"{arrow} {text[:60]}{'…' if len(text) > 60 else ''}"

    @property
    def display_text(self) -> str:
        if self.is_voice and self.transcription:
            return f"[ТРАНСКРИБАЦИЯ] {self.transcription}"
        if self.is_voice and not self.text:
            return "[голосовое сообщение]"
        return self.text


class ChatCursor(models.Model):
    """Where polling stopped in one Wappi chat, and whether that chat is quarantined."""

    chat_id = models.CharField("chat id", max_length=64, unique=True)
    last_time = models.BigIntegerField("последнее время (unix)", default=0)
    last_message_id = models.CharField("последнее сообщение", max_length=128, blank=True)
    polled_at = models.DateTimeField("опрошен", null=True, blank=True)
    quarantined_until = models.DateTimeField("карантин до", null=True, blank=True)
    failures = models.PositiveIntegerField("ошибок подряд", default=0)
    last_error = models.TextField("последняя ошибка", blank=True)

    class Meta:
        verbose_name = "курсор чата"
        verbose_name_plural = "курсоры чатов (опрос Wappi)"

    def __str__(self) -> str:
        return self.chat_id


class GatewayState(models.Model):
    """One row: what the gateway knows about Wappi, shown on /health."""

    started_at = models.DateTimeField("опрос начат", null=True, blank=True)
    last_poll_at = models.DateTimeField("последний успешный опрос", null=True, blank=True)
    last_poll_error = models.TextField("ошибка опроса", blank=True)
    last_webhook_at = models.DateTimeField("последний webhook", null=True, blank=True)
    authorized = models.BooleanField("авторизован", null=True)
    auth_error = models.TextField("ошибка авторизации", blank=True)
    auth_checked_at = models.DateTimeField("статус проверен", null=True, blank=True)
    backoff_until = models.DateTimeField("пауза опроса до", null=True, blank=True)
    backoff_seconds = models.FloatField("текущая пауза, с", default=0)

    class Meta:
        verbose_name = "состояние шлюза"
        verbose_name_plural = "состояние шлюза Wappi"

    def __str__(self) -> str:
        return "Wappi"

    @classmethod
    def load(cls) -> GatewayState:
        state, _ = cls.objects.get_or_create(pk=1)
        return state


class HandOff(models.Model):
    """A conversation handed to the managers (assistant.handoff.contact_hand_off), from the moment
    the assistant stepped back until it takes the chat again. The contact's history of hand-offs:
    who was told when (the brief), whether a person answered in time (the deadline, the reminder,
    the owner's escalation), and when and why the assistant came back. At most one is open per
    contact."""

    class Closed(models.TextChoices):
        RESUMED = "resumed", "Ассистент вернулся после тишины менеджеров"
        OPERATOR = "operator", "Оператор вернул чат ассистенту"
        SUPERSEDED = "superseded", "Открыта новая передача"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="handoffs", verbose_name="контакт")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="сообщение клиента"
    )
    key = models.CharField("ключ идемпотентности", max_length=128, unique=True)
    reason = models.CharField("причина", max_length=255)
    opened_at = models.DateTimeField("открыта")
    # The answer is due by then: HANDOFF_ANSWER_MINUTES working minutes after opened_at.
    due_at = models.DateTimeField("ответ нужен до")
    brief = models.TextField("сводка для менеджеров", blank=True)
    brief_by = models.CharField(
        "сводку написал", max_length=8, choices=[("model", "Модель"), ("template", "Шаблон")], blank=True
    )
    brief_sent_at = models.DateTimeField("сводка отправлена", null=True, blank=True)
    answered_at = models.DateTimeField("человек ответил", null=True, blank=True)
    # The customer wrote again before anyone answered and was told once that the manager knows.
    customer_told_at = models.DateTimeField("клиенту сказали «менеджер в курсе»", null=True, blank=True)
    reminded_at = models.DateTimeField("напоминание менеджерам", null=True, blank=True)
    escalated_at = models.DateTimeField("эскалация владельцу", null=True, blank=True)
    closed_at = models.DateTimeField("закрыта", null=True, blank=True)
    closed_reason = models.CharField("как закрыта", max_length=16, choices=Closed.choices, blank=True)

    class Meta:
        verbose_name = "передача менеджеру"
        verbose_name_plural = "передачи менеджерам"
        ordering = ("-opened_at", "-id")
        indexes = [
            models.Index(fields=["opened_at"], name="handoff_open_idx", condition=Q(closed_at__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(closed_at__isnull=True), name="handoff_one_open_per_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} · {timezone.localtime(self.opened_at):%d.%m %H:%M}"


class NumberState(models.Model):
    """One row: the standing of our WhatsApp number with WhatsApp, as the number-safety governor
    (messaging.number) sees it. While `paused_reason` is set nothing proactive goes out (the
    proactive gate reads it at planning and at send time); replies to customers still go."""

    class Reason(models.TextChoices):
        LOGGED_OUT = "logged_out", "Профиль Wappi не авторизован"
        RESTRICTED = "restricted", "WhatsApp ограничил номер"
        UNDELIVERED = "undelivered", "Много недоставленных сообщений"
        REPLY_RATIO = "reply_ratio", "Клиенты не отвечают на проактивные сообщения"

    paused_reason = models.CharField("пауза проактивных: причина", max_length=16, choices=Reason.choices, blank=True)
    paused_detail = models.CharField("пауза: подробности", max_length=300, blank=True)
    paused_at = models.DateTimeField("пауза с", null=True, blank=True)
    # A pause with a cooling-off time lifts only after it (and only while Wappi is healthy); a
    # logged-out pause lifts as soon as the profile is authorised again.
    paused_until = models.DateTimeField("пауза не раньше чем до", null=True, blank=True)
    restriction_events = models.PositiveIntegerField("событий ограничения", default=0)
    last_restriction_at = models.DateTimeField("последнее ограничение", null=True, blank=True)
    # When the profile was (re)linked: the warm-up ramp counts its days from here.
    connected_at = models.DateTimeField("номер подключён", null=True, blank=True)

    class Meta:
        verbose_name = "состояние номера"
        verbose_name_plural = "состояние номера WhatsApp"

    def __str__(self) -> str:
        return self.get_paused_reason_display() or "OK"

    @property
    def paused(self) -> bool:
        return bool(self.paused_reason)

    @classmethod
    def load(cls) -> NumberState:
        state, _ = cls.objects.get_or_create(pk=1)
        return state
