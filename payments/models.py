from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from contacts.models import Contact
from messaging.models import Message


class Payment(models.Model):
    """A Kaspi Pay remote invoice to a customer's phone.

    The row is written (status `sending`, or `awaiting_approval` above the threshold) and
    committed before Kaspi is called: Kaspi has no idempotency key, so the row is what stops a
    second invoice for the same thing. A create whose outcome is unknown (timeout) becomes
    `unknown` and stays open until an operator has looked in the Kaspi Pay app.
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Ждёт одобрения"
        SENDING = "sending", "Отправляется в Kaspi"
        CREATED = "created", "Выставлен"
        WAIT = "wait", "Клиент оплачивает"
        PROCESSED = "processed", "Оплачен"
        ERROR = "error", "Ошибка"
        CANCELLED = "cancelled", "Отменён"
        EXPIRED = "expired", "Истёк"
        UNKNOWN = "unknown", "Неизвестно (проверьте в Kaspi)"

    class CreatedBy(models.TextChoices):
        AI = "ai", "ИИ"
        OPERATOR = "operator", "Оператор"

    # One open invoice per contact and description: the database decides between racing writers.
    OPEN_STATUSES = (Status.AWAITING_APPROVAL, Status.SENDING, Status.CREATED, Status.WAIT, Status.UNKNOWN)
    # What a status check may move on (the invoice exists at Kaspi and is not final).
    CHECKABLE_STATUSES = (Status.CREATED, Status.WAIT, Status.UNKNOWN)

    # Kept when a contact is forgotten (the law keeps payment records): the link is cut instead.
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="payments", verbose_name="контакт"
    )
    amount = models.DecimalField("сумма, ₸", max_digits=12, decimal_places=2)
    description = models.CharField("за что", max_length=255)
    phone = models.CharField("телефон для счёта", max_length=15)
    kaspi_payment_id = models.BigIntegerField("QrPaymentId в Kaspi", null=True, blank=True)
    status = models.CharField("статус", max_length=20, choices=Status.choices, default=Status.SENDING)
    kaspi_status = models.CharField("статус в Kaspi", max_length=64, blank=True)
    refundable_amount = models.DecimalField(
        "можно вернуть, ₸", max_digits=12, decimal_places=2, null=True, blank=True, help_text="По данным Kaspi"
    )
    refunded_amount = models.DecimalField("возвращено, ₸", max_digits=12, decimal_places=2, default=Decimal("0"))
    created_by = models.CharField("кем создан", max_length=16, choices=CreatedBy.choices)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="оператор",
    )
    requested_in = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="сообщение клиента",
        help_text="Сообщение, в ответ на которое ИИ выставил счёт",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="одобрил",
    )
    approved_at = models.DateTimeField("одобрен", null=True, blank=True)
    approval_reason = models.CharField(
        "почему ждёт одобрения",
        max_length=255,
        blank=True,
        help_text="Сумма не совпадает с ценой по прайсу, выше порога, или у клиента уже открыт счёт",
    )
    create_request_id = models.CharField("X-Request-ID создания", max_length=64, blank=True)
    sent_at = models.DateTimeField("выставлен в Kaspi", null=True, blank=True)
    expires_at = models.DateTimeField("истекает", null=True, blank=True)
    last_checked_at = models.DateTimeField("последняя проверка", null=True, blank=True)
    paid_at = models.DateTimeField("оплачен", null=True, blank=True)
    last_error = models.TextField("последняя ошибка", blank=True)
    raw_responses = models.JSONField("ответы Kaspi", default=list, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "оплата Kaspi"
        verbose_name_plural = "оплаты Kaspi"
        ordering = ("-created_at", "-id")
        indexes = [
            # The expiry sweep reads only open invoices whose time has passed.
            models.Index(
                fields=["expires_at"], condition=Q(status__in=["created", "wait"]), name="payment_open_expiry_idx"
            ),
            models.Index(fields=["contact", "-created_at"], name="payment_contact_time_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kaspi_payment_id"],
                condition=Q(kaspi_payment_id__isnull=False),
                name="payment_kaspi_id_unique",
            ),
            models.UniqueConstraint(
                fields=["contact", "description"],
                condition=Q(status__in=["awaiting_approval", "sending", "created", "wait", "unknown"]),
                name="payment_one_open_per_contact_description",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("amount")),
                name="payment_refunded_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount:.2f} ₸ · {self.description[:40]} · {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Refund(models.Model):
    """One refund of a paid invoice. Refunds of one payment are serialised (row lock on the
    payment) and never exceed what Kaspi says is still available, read just before."""

    class State(models.TextChoices):
        DONE = "done", "Выполнен"
        FAILED = "failed", "Отклонён"
        UNKNOWN = "unknown", "Неизвестно (проверьте в Kaspi)"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name="оплата")
    amount = models.DecimalField("сумма, ₸", max_digits=12, decimal_places=2)
    kaspi_operation_id = models.BigIntegerField("ReturnOperationId", null=True, blank=True)
    state = models.CharField("состояние", max_length=16, choices=State.choices)
    request_id = models.CharField("X-Request-ID", max_length=64, blank=True)
    error = models.TextField("ошибка", blank=True)
    available_before = models.DecimalField("было доступно, ₸", max_digits=12, decimal_places=2, null=True, blank=True)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="оператор",
    )
    created_at = models.DateTimeField("создан", auto_now_add=True)

    class Meta:
        verbose_name = "возврат"
        verbose_name_plural = "возвраты"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["kaspi_operation_id"],
                condition=Q(kaspi_operation_id__isnull=False),
                name="refund_kaspi_operation_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount:.2f} ₸ · {self.get_state_display()}"


class PostPurchaseMessage(models.Model):
    """A thank-you or review request for one Kaspi Shop order event, at most one per
    (order, status): the unique constraint is the "once" guarantee, whatever the poller re-reads."""

    class Kind(models.TextChoices):
        THANKS = "thanks", "Спасибо за заказ"
        REVIEW = "review", "Просьба об отзыве"

    class State(models.TextChoices):
        PENDING = "pending", "Ждёт отправки"
        QUEUED = "queued", "Поставлено в отправку"
        SKIPPED = "skipped", "Не отправлено"

    order_id = models.CharField("заказ Kaspi (id)", max_length=64)
    order_code = models.CharField("номер заказа", max_length=64, blank=True)
    order_status = models.CharField("статус заказа", max_length=48)
    kind = models.CharField("вид", max_length=16, choices=Kind.choices)
    phone = models.CharField("телефон", max_length=15, blank=True)
    customer_name = models.CharField("покупатель", max_length=255, blank=True)
    order_total = models.DecimalField("сумма заказа, ₸", max_digits=12, decimal_places=2, null=True, blank=True)
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="контакт"
    )
    state = models.CharField("состояние", max_length=16, choices=State.choices, default=State.PENDING)
    skip_reason = models.CharField("почему не отправлено", max_length=255, blank=True)
    due_at = models.DateTimeField("отправить не раньше")
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="сообщение"
    )
    used_fallback = models.BooleanField("стандартный текст", default=False)
    created_at = models.DateTimeField("замечен", auto_now_add=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "сообщение после покупки"
        verbose_name_plural = "сообщения после покупки (Kaspi Shop)"
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["due_at"], condition=Q(state="pending"), name="postpurchase_due_idx")]
        constraints = [
            models.UniqueConstraint(fields=["order_id", "order_status"], name="postpurchase_once_per_order_status"),
        ]

    def __str__(self) -> str:
        return f"{self.order_code or self.order_id} · {self.get_kind_display()} · {self.get_state_display()}"
