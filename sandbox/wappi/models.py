"""State of the Wappi sandbox.

Kept in the database, not in memory: the web server (which answers the emulated API and
the chat page), the worker (which sends) and beat (which polls) are separate processes
and must all see the same fake WhatsApp account.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

# The sandbox business's own WhatsApp number: `to` of customer messages, `from` of ours.
BUSINESS_PHONE = "77000000000"
DEFAULT_WEBHOOK_TYPES = ["authorization_status", "incoming_message", "delivery_status"]


def default_webhook_types() -> list[str]:
    return list(DEFAULT_WEBHOOK_TYPES)


class SandboxProfile(models.Model):
    """The one emulated Wappi profile (a singleton, pk=1): webhook settings and fault switches."""

    SINGLETON_PK = 1

    class MediaMode(models.TextChoices):
        LINK = "link", "Ссылка на файл (file_link)"
        B64 = "b64", "Файл в base64 (file_b64)"

    name = models.CharField("имя в WhatsApp", max_length=100, default="Sandbox")
    phone = models.CharField("номер бизнеса", max_length=20, default=BUSINESS_PHONE)
    webhook_url = models.CharField("адрес вебхука", max_length=2048, blank=True)
    webhook_auth = models.CharField(
        "секрет вебхука", max_length=256, blank=True, help_text="Параметр auth из webhook/url/set."
    )
    webhook_types = models.JSONField("типы вебхуков", default=default_webhook_types, blank=True)
    media_mode = models.CharField(
        "ответ media/download", max_length=4, choices=MediaMode.choices, default=MediaMode.LINK
    )

    # Fault injection: each switch reproduces a behaviour of the real Wappi (see wappi.md §7).
    failing_chats = models.JSONField(
        "чаты с ошибкой 400",
        default=list,
        blank=True,
        help_text='Номера, для которых messages/get отвечает 400 "chat not found", например ["77011234567"].',
    )
    fail_next_count = models.PositiveIntegerField(
        "сломать следующих ответов", default=0, help_text="Столько следующих запросов к API получат ошибку."
    )
    fail_status = models.PositiveSmallIntegerField("код ошибки", default=502)
    send_delay_seconds = models.FloatField(
        "задержка message/send, с",
        default=0,
        help_text="Сообщение создаётся сразу, ответ приходит после задержки (имитация таймаута отправки).",
    )
    cross_messages_get = models.BooleanField(
        "путать чаты в messages/get", default=False, help_text="Отвечать сообщениями другого чата (баг Wappi)."
    )
    duplicate_webhooks = models.BooleanField("дублировать вебхуки", default=False)

    updated_at = models.DateTimeField("изменено", auto_now=True)

    class Meta:
        verbose_name = "профиль песочницы"
        verbose_name_plural = "профиль песочницы"

    def __str__(self) -> str:
        return f"Песочница Wappi (+{self.phone})"

    def save(self, *args, **kwargs) -> None:
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)


class SandboxChat(models.Model):
    """A customer's dialog with the sandbox business; the name is the customer's WhatsApp push name."""

    phone = models.CharField("номер клиента", max_length=20, unique=True)
    name = models.CharField("имя клиента", max_length=100, blank=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)

    class Meta:
        verbose_name = "чат песочницы"
        verbose_name_plural = "чаты песочницы"

    def __str__(self) -> str:
        return f"+{self.phone} {self.name}".strip()


class SandboxMessage(models.Model):
    class Type(models.TextChoices):
        TEXT = "chat", "Текст"
        VOICE = "ptt", "Голосовое"

    class Delivery(models.TextChoices):
        SENT = "sent", "Отправлено"
        DELIVERED = "delivered", "Доставлено"
        READ = "read", "Прочитано"

    class FromWhere(models.TextChoices):
        PHONE = "phone", "С телефона"
        API = "api", "Через API"

    chat = models.ForeignKey(SandboxChat, on_delete=models.CASCADE, related_name="messages", verbose_name="чат")
    message_id = models.CharField("id в WhatsApp", max_length=64, unique=True)
    from_me = models.BooleanField("от бизнеса", default=False)
    type = models.CharField("тип", max_length=8, choices=Type.choices, default=Type.TEXT)
    body = models.TextField("текст", blank=True)
    sender_name = models.CharField("имя отправителя", max_length=100, blank=True)
    time = models.DateTimeField("время", default=timezone.now)
    is_read = models.BooleanField("прочитано", default=False)
    # Outgoing only: what Wappi reports about our message on the customer's phone.
    delivery_status = models.CharField("доставка", max_length=16, choices=Delivery.choices, blank=True)
    from_where = models.CharField("откуда", max_length=8, choices=FromWhere.choices, default=FromWhere.PHONE)
    quoted_message_id = models.CharField("ответ на id", max_length=64, blank=True)
    task_id = models.CharField("task_id", max_length=64, blank=True)
    # Voice notes reference a file bundled under sandbox/wappi/samples/ (no uploads).
    voice_file = models.CharField("файл голосового", max_length=100, blank=True)
    created_at = models.DateTimeField("создано", auto_now_add=True)

    class Meta:
        verbose_name = "сообщение песочницы"
        verbose_name_plural = "сообщения песочницы"
        ordering = ("time", "id")
        indexes = [models.Index(fields=["chat", "time"], name="sandbox_msg_chat_time")]

    def __str__(self) -> str:
        return self.message_id
