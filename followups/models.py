from __future__ import annotations

from django.db import models
from django.db.models import Q

from contacts.models import Contact
from followups.timetable import MAX_TOUCHES
from messaging.models import Message

__all__ = ["MAX_TOUCHES", "FollowUp", "FollowUpTouch", "ReplyIntent"]


class FollowUp(models.Model):
    """A contact's follow-up sequence: at most one active (not completed) per contact."""

    class Reason(models.TextChoices):
        NO_REPLY = "no_reply", "Не ответил"
        UNCERTAIN_ANSWER = "uncertain_answer", "Неопределённый ответ"

    class StopReason(models.TextChoices):
        CLIENT_RESPONDED = "client_responded", "Клиент ответил"
        CLIENT_SAID_YES = "client_said_yes", "Клиент сказал «да»"
        CLIENT_SAID_NO = "client_said_no", "Клиент сказал «нет»"
        OPTED_OUT = "opted_out", "Отписался"
        HUMAN_TOOK_OVER = "human_took_over", "Оператор взял диалог"
        STOPPED_BY_OPERATOR = "stopped_by_operator", "Остановлено оператором"
        COMPLETED_5_TOUCHES = "completed_5_touches", "Все 5 касаний"
        NOT_A_CLIENT = "not_a_client", "Не клиент"
        SEND_FAILED = "send_failed", "Касание не удалось отправить"
        UNANSWERED = "unanswered", "Клиент не отвечает на сообщения"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="followups", verbose_name="контакт")
    touch_number = models.PositiveSmallIntegerField("касание", default=1, help_text="Номер следующего касания, 1–5")
    next_touch_at = models.DateTimeField("следующее касание", null=True, blank=True)
    last_touch_at = models.DateTimeField("последнее касание", null=True, blank=True)
    is_completed = models.BooleanField("завершён", default=False)
    stop_reason = models.CharField("причина остановки", max_length=32, choices=StopReason.choices, blank=True)
    reason = models.CharField("почему запущен", max_length=32, choices=Reason.choices, default=Reason.NO_REPLY)
    # The bot message the current due time counts from (the reply, or the last touch sent):
    # what makes followup_after_bot_message idempotent, and "since" for "has the client
    # written since?".
    anchor_message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="отсчёт от сообщения",
    )
    anchor_at = models.DateTimeField("отсчёт от", null=True, blank=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)
    completed_at = models.DateTimeField("завершён в", null=True, blank=True)

    class Meta:
        verbose_name = "follow-up"
        verbose_name_plural = "follow-up"
        ordering = ("is_completed", "next_touch_at")
        indexes = [
            models.Index(fields=["next_touch_at"], condition=Q(is_completed=False), name="followup_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(touch_number__gte=1, touch_number__lte=MAX_TOUCHES), name="followup_touch_1_to_5"
            ),
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_completed=False), name="followup_one_active_per_contact"
            ),
            # A finished sequence says why it finished; a running one has no stop reason.
            models.CheckConstraint(
                condition=Q(is_completed=True, completed_at__isnull=False) & ~Q(stop_reason="")
                | Q(is_completed=False, stop_reason=""),
                name="followup_stop_reason_iff_completed",
            ),
        ]

    def __str__(self) -> str:
        state = self.get_stop_reason_display() if self.is_completed else f"касание {self.touch_number}/{MAX_TOUCHES}"
        return f"{self.contact} — {state}"


class FollowUpTouch(models.Model):
    """One touch queued by the runner: the message it became. At most one per (follow-up,
    touch), so a retried runner never writes a touch twice; the sent ones feed /stats."""

    followup = models.ForeignKey(FollowUp, on_delete=models.CASCADE, related_name="touches", verbose_name="follow-up")
    touch_number = models.PositiveSmallIntegerField("касание")
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="followup_touch", verbose_name="сообщение"
    )
    created_at = models.DateTimeField("поставлено в очередь", auto_now_add=True)

    class Meta:
        verbose_name = "касание follow-up"
        verbose_name_plural = "касания follow-up"
        ordering = ("followup", "touch_number")
        constraints = [
            models.UniqueConstraint(fields=["followup", "touch_number"], name="followup_touch_once"),
            models.CheckConstraint(
                condition=Q(touch_number__gte=1, touch_number__lte=MAX_TOUCHES), name="followup_touch_number_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"касание {self.touch_number}/{MAX_TOUCHES}"


class ReplyIntent(models.Model):
    """The intent of a contact's latest reply, as far as follow-ups care: after a clear yes
    or no the contact is not enrolled again until it writes something else; after an
    uncertain answer the next chain's reason is `uncertain_answer`."""

    class Intent(models.TextChoices):
        YES = "yes", "Да"
        NO = "no", "Нет"
        UNCERTAIN = "uncertain", "Неопределённо"
        OTHER = "other", "Другое"

    BLOCKING = (Intent.YES, Intent.NO)

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, related_name="reply_intent", verbose_name="контакт"
    )
    intent = models.CharField("намерение", max_length=16, choices=Intent.choices)
    replied_at = models.DateTimeField("ответ получен")

    class Meta:
        verbose_name = "намерение последнего ответа"
        verbose_name_plural = "намерения последних ответов"

    def __str__(self) -> str:
        return f"{self.contact}: {self.get_intent_display()}"

    @property
    def blocks_enrolment(self) -> bool:
        return self.intent in self.BLOCKING
