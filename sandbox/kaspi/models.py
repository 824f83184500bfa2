from __future__ import annotations

from decimal import Decimal

from django.db import models


class SandboxInvoice(models.Model):
    """An invoice in the built-in Kaspi emulator (KASPI_SANDBOX, `make run`): what Kaspi would hold.
    An operator plays the customer in the admin (opens, pays or declines the invoice)."""

    class Status(models.TextChoices):
        CREATED = "RemotePaymentCreated", "Выставлен"
        WAIT = "Wait", "Клиент открыл"
        PROCESSED = "Processed", "Оплачен"
        ERROR = "Error", "Отклонён"
        CANCELED = "RemotePaymentCanceled", "Отменён"

    amount = models.DecimalField("сумма, ₸", max_digits=12, decimal_places=2)
    phone = models.CharField("телефон (как прислан)", max_length=20)
    comment = models.CharField("комментарий", max_length=255, blank=True)
    status = models.CharField("статус", max_length=32, choices=Status.choices, default=Status.CREATED)
    available = models.DecimalField("можно вернуть, ₸", max_digits=12, decimal_places=2, default=Decimal("0"))
    partial_refunds_allowed = models.BooleanField("частичный возврат разрешён", default=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)

    class Meta:
        verbose_name = "счёт в песочнице Kaspi"
        verbose_name_plural = "песочница Kaspi: счета"
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"#{self.pk} · {self.amount:.2f} ₸ · {self.get_status_display()}"
