from __future__ import annotations

from django.db import models
from django.db.models import Q

from contacts.models import Contact

MAX_TOUCHES = 5


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

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="followups", verbose_name="контакт")
    touch_number = models.PositiveSmallIntegerField("касание", default=1, help_text="Номер следующего касания, 1–5")
    next_touch_at = models.DateTimeField("следующее касание", null=True, blank=True)
    last_touch_at = models.DateTimeField("последнее касание", null=True, blank=True)
    is_completed = models.BooleanField("завершён", default=False)
    stop_reason = models.CharField("причина остановки", max_length=32, choices=StopReason.choices, blank=True)
    reason = models.CharField("почему запущен", max_length=32, choices=Reason.choices, default=Reason.NO_REPLY)
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
