from __future__ import annotations

from django.conf import settings
from django.db import models


class EvalRun(models.Model):
    """A run of the scenario cards an operator asked for in the admin, and its report."""

    class Status(models.TextChoices):
        QUEUED = "queued", "в очереди"
        RUNNING = "running", "идёт"
        PASSED = "passed", "пройдена"
        FAILED = "failed", "не пройдена"
        ERROR = "error", "ошибка запуска"

    created_at = models.DateTimeField("запрошена", auto_now_add=True)
    finished_at = models.DateTimeField("завершена", null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name="кем запрошена"
    )
    cards = models.CharField(
        "сценарии", max_length=1000, blank=True, help_text="id сценариев или категории через запятую; пусто — все"
    )
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.QUEUED)
    summary = models.CharField("итог", max_length=255, blank=True)
    report = models.JSONField("отчёт (JSON)", null=True, blank=True)
    report_html = models.TextField("отчёт (HTML)", blank=True)
    error = models.TextField("ошибка", blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "проверка диалогов"
        verbose_name_plural = "проверки диалогов"

    def __str__(self) -> str:
        return f"Проверка #{self.pk} ({self.get_status_display()})"


class CardDraft(models.Model):
    """A scenario card drafted from a real conversation whose bot message an operator marked as
    wrong: YAML to review, correct and add to the cards folder."""

    created_at = models.DateTimeField("создан", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name="кем создан"
    )
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="неверный ответ бота",
    )
    title = models.CharField("название", max_length=255)
    yaml = models.TextField("сценарий (YAML)")

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "черновик сценария"
        verbose_name_plural = "черновики сценариев"

    def __str__(self) -> str:
        return self.title
