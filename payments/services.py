"""Kaspi Pay invoices: create, check, cancel, expire, refund. Services write; the admin, the
assistant's tool and the tasks call them and hold no rules of their own.

Rules (reference/kaspi.md §2.3-§2.5, §6):
* The Payment row is written and committed before Kaspi is called; one open invoice per
  contact and description is a database constraint, so a double tap, a retried task or the
  assistant asking twice never issues a second invoice.
* The assistant has at most one open invoice per contact: asking again for the same amount
  (however it words the description) returns the open one; another amount waits for an
  operator's approval, as does an amount its caller doubts (`approval_reason`: not the list price).
* `remote/create` has no idempotency key: a create whose outcome is unknown (timeout, a
  gateway error) becomes `unknown` and is never sent again by us; an operator looks in the
  Kaspi Pay app.
* Status checks are event-driven (the customer says they paid, an operator presses "check" or
  opens the payment) and debounced per invoice; one final check once the invoice has expired.
  Kaspi forbids timer-driven polling of remote invoices.
* Refunds of one payment are serialised by a row lock on the payment, and never exceed what
  Kaspi says is still returnable, read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ai.conversation import contact_language
from ai.knowledge import knowledge_prices, price_match
from ai.rules.language import KAZAKH, RUSSIAN
from ai.rules.texts import fixed_text
from contacts.models import Contact
from messaging.models import Message
from messaging.notify import managers_notify
from messaging.services import message_enqueue_outbound
from messaging.suspicious import suspicious_report
from payments.kaspi import (
    KaspiCall,
    KaspiCannotInvoiceError,
    KaspiClient,
    KaspiConfigurationError,
    KaspiError,
    KaspiInvalidAmountError,
    KaspiNotFoundError,
    KaspiNotRefundableError,
    KaspiPartialRefundNotAllowedError,
    KaspiRefundOverAvailableError,
    KaspiRetryableError,
    KaspiTimeoutError,
    PaymentDetails,
    PayStatus,
    money,
)
from payments.models import Payment, Refund

log = structlog.get_logger(__name__)

RAW_KEEP = 50  # newest Kaspi answers kept on a payment
# A create in flight longer than this died with its worker: its outcome is unknown.
SENDING_STALE_AFTER = timedelta(minutes=10)

_STATUS_FROM_KASPI = {
    PayStatus.CREATED: Payment.Status.CREATED,
    PayStatus.QR_TOKEN_CREATED: Payment.Status.CREATED,
    PayStatus.WAIT: Payment.Status.WAIT,
    PayStatus.PROCESSED: Payment.Status.PROCESSED,
    PayStatus.ERROR: Payment.Status.ERROR,
    PayStatus.CANCELED: Payment.Status.CANCELLED,
}


class PaymentError(Exception):
    """A payment action cannot be done; the message is for the operator or the assistant."""


class RefundRefused(PaymentError):
    def __init__(self, message: str, *, refund: Refund | None = None, available: Decimal | None = None) -> None:
        super().__init__(message)
        self.refund = refund
        self.available = available


def amount_text(amount: Decimal) -> str:
    """``Decimal("25000.00")`` -> ``25 000 ₸``; tiyn only when there are any (``1 500,50 ₸``)."""
    whole = int(amount)
    text = f"{whole:,}".replace(",", " ")
    cents = int((amount - whole) * 100)
    return f"{text},{cents:02d} ₸" if cents else f"{text} ₸"


# What an operator (or the assistant) is told for a Kaspi error; the first matching class wins
# (subclasses before their bases).
KASPI_ERROR_TEXTS: tuple[tuple[type[KaspiError], str], ...] = (
    (KaspiRefundOverAvailableError, "Kaspi отказал: сумма возврата больше, чем осталось вернуть по этой покупке."),
    (
        KaspiPartialRefundNotAllowedError,
        "Kaspi не разрешает частичный возврат этой покупки: можно вернуть только всю сумму.",
    ),
    (KaspiNotRefundableError, "Kaspi отказал: покупку нельзя вернуть в её текущем статусе."),
    (
        KaspiCannotInvoiceError,
        "Kaspi не может выставить счёт на этот номер: проверьте, что у клиента есть приложение Kaspi.kz.",
    ),
    (KaspiInvalidAmountError, "Kaspi не принимает такую сумму."),
    (KaspiNotFoundError, "Kaspi не нашёл этот платёж."),
    (
        KaspiConfigurationError,
        "Ошибка настройки Kaspi Pay (сертификат, устройство или точка продаж): обратитесь к администратору.",
    ),
    (KaspiTimeoutError, "Kaspi не ответил вовремя: результат неизвестен, проверьте в приложении Kaspi Pay."),
    (KaspiRetryableError, "Kaspi временно недоступен, попробуйте позже."),
)


def kaspi_error_text(exc: KaspiError) -> str:
    """What an operator (or the assistant) is told for a Kaspi error."""
    return next((text for cls, text in KASPI_ERROR_TEXTS if isinstance(exc, cls)), f"Kaspi отказал: {exc}")


def kaspi_configured() -> bool:
    """Kaspi Pay can be called: a base URL (or the sandbox), a BIN and a device token."""
    return bool(settings.KASPI_BASE_URL and settings.KASPI_ORGANIZATION_BIN and settings.KASPI_DEVICE_TOKEN)


def _client(client: KaspiClient | None) -> KaspiClient:
    return client or KaspiClient.from_settings()


def _raw(payment: Payment, call: KaspiCall | None, *, now: datetime, error: KaspiError | None = None) -> list:
    entry: dict[str, Any] = {"at": now.isoformat()}
    if call is not None:
        entry.update(endpoint=call.endpoint, request_id=call.request_id, http=call.http_status, body=call.body)
    if error is not None:
        entry.update(
            endpoint=error.endpoint,
            request_id=error.request_id,
            http=error.http_status,
            status_code=error.status_code,
            error=str(error)[:300],
        )
    return [*(payment.raw_responses or []), entry][-RAW_KEEP:]


# --- Create --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRequest:
    payment: Payment
    created: bool  # False: an open invoice for the same thing already existed
    # The assistant's invoice that was already open when this one was written (it then waits for approval).
    open_before: Payment | None = None


def payment_open(
    *,
    contact: Contact,
    amount: Decimal | int | str,
    description: str,
    created_by: str,
    requested_in: Message | None = None,
    user: Any = None,
    approval_reason: str = "",
    now: datetime | None = None,
) -> PaymentRequest:
    """Writes the Payment row (committed before anyone calls Kaspi): `sending`, or
    `awaiting_approval` (the managers are told why) above PAYMENT_APPROVAL_THRESHOLD or when the
    caller gives an `approval_reason`. When an open invoice for the same contact and description
    exists, returns it (created=False) instead of a second one.

    The assistant's invoices (created_by AI), one contact at a time: an open one for the same
    amount is returned as it is (a re-worded description of the same purchase); one awaiting
    approval is returned too (the operator decides first); with a live one open, the new one
    waits for approval and `open_before` names the open one. Raises ValueError for a bad amount
    or an empty description."""
    now = now or timezone.now()
    amount = money(amount)
    description = " ".join((description or "").split())[:255]
    if not description:
        raise ValueError("a payment needs a description: what is it for")
    reasons = [approval_reason.strip()] if approval_reason.strip() else []
    if amount > settings.PAYMENT_APPROVAL_THRESHOLD:
        reasons.append(f"сумма выше порога {amount_text(settings.PAYMENT_APPROVAL_THRESHOLD)}")
    row = Payment(
        contact=contact,
        amount=amount,
        description=description,
        phone=contact.phone,
        created_by=created_by,
        created_by_user=user if user is not None and getattr(user, "pk", None) else None,
        requested_in=requested_in,
        expires_at=now + timedelta(hours=settings.PAYMENT_INVOICE_TTL_HOURS),
    )
    open_before = None
    try:
        with transaction.atomic():
            if created_by == Payment.CreatedBy.AI:
                # The check and the write are one step per contact: two racing requests do not
                # both find nothing open.
                list(Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk", flat=True))
                standing = _assistant_open_invoice(contact=contact, amount=amount)
                if standing is not None and (
                    standing.amount == amount or standing.status == Payment.Status.AWAITING_APPROVAL
                ):
                    return PaymentRequest(payment=standing, created=False)
                if standing is not None:
                    open_before = standing
                    reasons.append(
                        f"у клиента уже открыт счёт на {amount_text(standing.amount)} («{standing.description}»)"
                    )
            row.status = Payment.Status.AWAITING_APPROVAL if reasons else Payment.Status.SENDING
            row.approval_reason = "; ".join(reasons)[:255]
            row.save()
    except IntegrityError:
        existing = Payment.objects.filter(
            contact=contact, description=description, status__in=Payment.OPEN_STATUSES
        ).first()
        if existing is None:
            raise
        return PaymentRequest(payment=existing, created=False)
    log.info(
        "payment.opened",
        payment_id=row.pk,
        contact_id=contact.pk,
        amount=str(amount),
        created_by=created_by,
        awaiting_approval=bool(reasons),
        approval_reason=row.approval_reason,
    )
    if reasons:
        managers_notify(
            contact=contact,
            reason=f"Счёт на {amount_text(amount)} ждёт одобрения в админке: {row.approval_reason}",
            summary=description,
            key=f"payment-approval:{row.pk}",
        )
    _below_list_watch(row)
    return PaymentRequest(payment=row, created=True, open_before=open_before)


def _below_list_watch(payment: Payment) -> None:
    """Suspicious activity: an invoice below the knowledge base's list price for what its
    description names (ai.knowledge.price_match), whoever wrote it. Counted and flagged always;
    a notice of its own only for one that goes out (one waiting for approval already asked the
    managers, with the reason). Never raises."""
    try:
        match = price_match(description=payment.description, amount=payment.amount, prices=knowledge_prices())
        if match.below_list and match.list_amount is not None:
            suspicious_report(
                kind="invoice_below_list",
                contact=payment.contact,
                detail=f"Счёт #{payment.pk} на {amount_text(payment.amount)}, "
                f"по прайсу {amount_text(match.list_amount)}",
                notify=payment.status != Payment.Status.AWAITING_APPROVAL,
            )
    except Exception:
        log.exception("payment.price_check_failed", payment_id=payment.pk)


def _assistant_open_invoice(*, contact: Contact, amount: Decimal) -> Payment | None:
    """The assistant's open invoice a new request for `amount` runs into: one for the same amount
    first, then one awaiting approval, then the newest."""
    standing = list(
        Payment.objects.filter(contact=contact, created_by=Payment.CreatedBy.AI, status__in=Payment.OPEN_STATUSES)
    )
    same = [p for p in standing if p.amount == amount]
    waiting = [p for p in standing if p.status == Payment.Status.AWAITING_APPROVAL]
    return next(iter(same or waiting or standing), None)


def payment_send(*, payment: Payment, client: KaspiClient | None = None, now: datetime | None = None) -> Payment:
    """Issues the invoice at Kaspi for a row in `sending`, once. Success: `created` with the
    Kaspi id, and the customer is told the invoice waits in the Kaspi app. An unknown outcome:
    `unknown` and the managers are told. A refusal: `error`. Never called inside a transaction
    (the row must be committed before Kaspi hears of it)."""
    now = now or timezone.now()
    payment.refresh_from_db()
    if payment.status != Payment.Status.SENDING or payment.kaspi_payment_id is not None or payment.sent_at:
        return payment
    try:
        kaspi = _client(client)
        invoice = kaspi.create_remote_payment(phone=payment.phone, amount=payment.amount, comment=payment.description)
    except KaspiTimeoutError as exc:
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.SENDING).update(
            status=Payment.Status.UNKNOWN,
            create_request_id=exc.request_id,
            last_error=kaspi_error_text(exc),
            raw_responses=_raw(payment, None, now=now, error=exc),
            updated_at=now,
        )
        log.warning("payment.create_outcome_unknown", payment_id=payment.pk, request_id=exc.request_id)
        _notify_unknown(payment)
        payment.refresh_from_db()
        return payment
    except KaspiError as exc:
        Payment.objects.filter(pk=payment.pk, status=Payment.Status.SENDING).update(
            status=Payment.Status.ERROR,
            create_request_id=exc.request_id,
            last_error=kaspi_error_text(exc),
            raw_responses=_raw(payment, None, now=now, error=exc),
            updated_at=now,
        )
        log.warning("payment.create_refused", payment_id=payment.pk, error=type(exc).__name__, code=exc.status_code)
        if isinstance(exc, KaspiConfigurationError):
            log.error("payment.kaspi_misconfigured", error=str(exc))
        payment.refresh_from_db()
        return payment
    with transaction.atomic():
        updated = Payment.objects.filter(pk=payment.pk, status=Payment.Status.SENDING).update(
            status=Payment.Status.CREATED,
            kaspi_payment_id=invoice.qr_payment_id,
            kaspi_status=PayStatus.CREATED.value,
            create_request_id=invoice.call.request_id,
            sent_at=now,
            expires_at=now + timedelta(hours=settings.PAYMENT_INVOICE_TTL_HOURS),
            last_error="",
            raw_responses=_raw(payment, invoice.call, now=now),
            updated_at=now,
        )
        payment.refresh_from_db()
        if updated:
            _tell_customer_invoice(payment)
    log.info("payment.created", payment_id=payment.pk, kaspi_payment_id=invoice.qr_payment_id)
    return payment


def payment_request(
    *,
    contact: Contact,
    amount: Decimal | int | str,
    description: str,
    created_by: str,
    requested_in: Message | None = None,
    user: Any = None,
    approval_reason: str = "",
    client: KaspiClient | None = None,
    now: datetime | None = None,
) -> PaymentRequest:
    """`payment_open`, then `payment_send` unless the invoice waits for approval or already
    existed. What the assistant's tool calls."""
    request = payment_open(
        contact=contact,
        amount=amount,
        description=description,
        created_by=created_by,
        requested_in=requested_in,
        user=user,
        approval_reason=approval_reason,
        now=now,
    )
    if request.created and request.payment.status == Payment.Status.SENDING:
        sent = payment_send(payment=request.payment, client=client, now=now)
        return PaymentRequest(payment=sent, created=True, open_before=request.open_before)
    return request


def payment_approve(
    *, payment: Payment, user: Any = None, client: KaspiClient | None = None, now: datetime | None = None
) -> Payment:
    """An operator approves an invoice above the threshold: it is sent to Kaspi now."""
    now = now or timezone.now()
    claimed = Payment.objects.filter(pk=payment.pk, status=Payment.Status.AWAITING_APPROVAL).update(
        status=Payment.Status.SENDING,
        approved_by=user if getattr(user, "pk", None) else None,
        approved_at=now,
        updated_at=now,
    )
    if not claimed:
        payment.refresh_from_db()
        raise PaymentError(f"Счёт не ждёт одобрения (статус: {payment.get_status_display()})")
    log.info("payment.approved", payment_id=payment.pk, user_id=getattr(user, "pk", None))
    return payment_send(payment=payment, client=client, now=now)


def _tell_customer_invoice(payment: Payment) -> None:
    if payment.contact is None:
        return  # the contact was forgotten: nobody to tell
    language = contact_language(payment.contact)
    text = fixed_text(
        "payment_invoice",
        language,
        amount=amount_text(payment.amount),
        description=payment.description,
        hours=_hours_text(settings.PAYMENT_INVOICE_TTL_HOURS, language),
    )
    message_enqueue_outbound(
        contact=payment.contact,
        text=text,
        author=_author(payment),
        purpose=Message.Purpose.PAYMENT,
        idempotency_key=f"payment:{payment.pk}:invoice",
    )


def _hours_text(hours: float, language: str = RUSSIAN) -> str:
    if language == KAZAKH:
        return f"{hours:g} сағат"
    return "24 часа" if hours == 24 else f"{hours:g} ч"


def _author(payment: Payment) -> str:
    # An operator's invoice speaks with the operator's voice (it goes out in operator mode too).
    return Message.Author.OPERATOR if payment.created_by == Payment.CreatedBy.OPERATOR else Message.Author.BOT


def _notify_unknown(payment: Payment) -> None:
    managers_notify(
        contact=payment.contact,
        reason=f"Не знаем, выставлен ли счёт на {amount_text(payment.amount)}: проверьте в Kaspi Pay",
        summary=payment.description,
        key=f"payment-unknown:{payment.pk}",
    )


# --- Status --------------------------------------------------------------------------------------


def payment_check(
    *,
    payment: Payment,
    reason: str,
    client: KaspiClient | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> Payment:
    """Asks Kaspi for the invoice's status, at most once per PAYMENT_CHECK_DEBOUNCE_SECONDS per
    invoice (`force` only for the final check at expiry). A paid invoice is confirmed to the
    customer and the managers, once. Returns the payment as it now stands; a Kaspi error is
    recorded on it (last_error), never raised."""
    now = now or timezone.now()
    due = Q(last_checked_at__isnull=True) | Q(
        last_checked_at__lte=now - timedelta(seconds=settings.PAYMENT_CHECK_DEBOUNCE_SECONDS)
    )
    claim = Payment.objects.filter(pk=payment.pk, status__in=Payment.CHECKABLE_STATUSES, kaspi_payment_id__isnull=False)
    if not force:
        claim = claim.filter(due)
    if not claim.update(last_checked_at=now):
        payment.refresh_from_db()
        log.info("payment.check_skipped", payment_id=payment.pk, reason=reason, status=payment.status)
        return payment
    payment.refresh_from_db()
    try:
        result = _client(client).payment_status(payment.kaspi_payment_id)
    except KaspiError as exc:
        Payment.objects.filter(pk=payment.pk).update(
            last_error=kaspi_error_text(exc), raw_responses=_raw(payment, None, now=now, error=exc), updated_at=now
        )
        log.warning("payment.check_failed", payment_id=payment.pk, reason=reason, error=type(exc).__name__)
        payment.refresh_from_db()
        return payment
    new_status = _STATUS_FROM_KASPI.get(result.status)
    fields: dict[str, Any] = {
        "kaspi_status": result.raw_status[:64],
        "raw_responses": _raw(payment, result.call, now=now),
        "last_error": "",
        "updated_at": now,
    }
    if new_status is None:
        log.warning("payment.unknown_kaspi_status", payment_id=payment.pk, status=result.raw_status[:60])
        Payment.objects.filter(pk=payment.pk).update(**fields)
        payment.refresh_from_db()
        return payment
    if new_status == Payment.Status.PROCESSED:
        fields["paid_at"] = now
        fields["refundable_amount"] = payment.amount
    with transaction.atomic():
        moved = Payment.objects.filter(pk=payment.pk, status__in=Payment.CHECKABLE_STATUSES).update(
            status=new_status, **fields
        )
        payment.refresh_from_db()
        if moved and new_status == Payment.Status.PROCESSED:
            _confirm_paid(payment)
    log.info("payment.checked", payment_id=payment.pk, reason=reason, status=payment.status)
    return payment


def _confirm_paid(payment: Payment) -> None:
    if payment.contact is not None:
        message_enqueue_outbound(
            contact=payment.contact,
            text=fixed_text(
                "payment_received",
                contact_language(payment.contact),
                amount=amount_text(payment.amount),
                description=payment.description,
            ),
            author=_author(payment),
            purpose=Message.Purpose.PAYMENT,
            idempotency_key=f"payment:{payment.pk}:paid",
        )
    managers_notify(
        contact=payment.contact,
        reason=f"Оплата получена: {amount_text(payment.amount)} через Kaspi Pay",
        summary=payment.description,
        key=f"payment-paid:{payment.pk}",
    )


def payments_customer_says_paid(
    *, contact: Contact, client: KaspiClient | None = None, now: datetime | None = None
) -> list[Payment]:
    """The customer wrote that they paid ("оплатил", "төледім", "paid"): checks each of their
    open invoices at Kaspi (debounced per invoice). Returns those invoices as they now stand;
    a paid one has been confirmed to the customer and the managers."""
    now = now or timezone.now()
    open_ids = list(
        Payment.objects.filter(
            contact=contact, status__in=Payment.CHECKABLE_STATUSES, kaspi_payment_id__isnull=False
        ).values_list("pk", flat=True)
    )
    return [
        payment_check(payment=payment, reason="customer says paid", client=client, now=now)
        for payment in Payment.objects.filter(pk__in=open_ids).order_by("created_at")
    ]


def payments_expire_due(
    *, client: KaspiClient | None = None, now: datetime | None = None, limit: int = 100
) -> list[Payment]:
    """The one final check of invoices whose 24 h have passed and which are still open: paid
    -> confirmed; still unpaid -> `expired` (and withdrawn at Kaspi, best effort). Also turns
    creates left `sending` by a dead worker into `unknown`. Never looks at live invoices."""
    now = now or timezone.now()
    for stale in Payment.objects.filter(status=Payment.Status.SENDING, updated_at__lte=now - SENDING_STALE_AFTER):
        if Payment.objects.filter(pk=stale.pk, status=Payment.Status.SENDING).update(
            status=Payment.Status.UNKNOWN, last_error="создание прервалось: проверьте в Kaspi Pay", updated_at=now
        ):
            _notify_unknown(stale)
    # Never approved within the invoice's lifetime: nothing exists at Kaspi, the row just closes.
    Payment.objects.filter(status=Payment.Status.AWAITING_APPROVAL, expires_at__lte=now).update(
        status=Payment.Status.EXPIRED, updated_at=now
    )
    due = Payment.objects.filter(
        status__in=(Payment.Status.CREATED, Payment.Status.WAIT),
        kaspi_payment_id__isnull=False,
        expires_at__lte=now,
    ).order_by("expires_at")[:limit]
    done = []
    for payment in due:
        checked = payment_check(payment=payment, reason="expired", client=client, now=now, force=True)
        # Kaspi unreachable: no verdict yet; the next sweep tries again.
        answered = not checked.last_error
        if answered and checked.status in (Payment.Status.CREATED, Payment.Status.WAIT) and checked.expires_at <= now:
            if Payment.objects.filter(pk=checked.pk, status=checked.status).update(
                status=Payment.Status.EXPIRED, updated_at=now
            ):
                _withdraw(checked, client=client, now=now)
            checked.refresh_from_db()
        done.append(checked)
    return done


def _withdraw(payment: Payment, *, client: KaspiClient | None, now: datetime) -> None:
    try:
        result = _client(client).cancel_remote_payment(payment.kaspi_payment_id)
    except KaspiError as exc:  # already gone at Kaspi, or unreachable: the row stays expired
        log.info("payment.withdraw_failed", payment_id=payment.pk, error=type(exc).__name__, code=exc.status_code)
        return
    Payment.objects.filter(pk=payment.pk).update(
        kaspi_status=result.raw_status[:64], raw_responses=_raw(payment, result.call, now=now)
    )


# --- Cancel --------------------------------------------------------------------------------------


def payment_cancel(
    *, payment: Payment, user: Any = None, client: KaspiClient | None = None, now: datetime | None = None
) -> Payment:
    """Withdraws an unpaid invoice. Not yet at Kaspi (awaiting approval, failed or unknown
    create without a Kaspi id): cancelled here. At Kaspi: remote/cancel first."""
    now = now or timezone.now()
    payment.refresh_from_db()
    if payment.status not in Payment.OPEN_STATUSES or payment.status == Payment.Status.SENDING:
        raise PaymentError(f"Этот счёт нельзя отменить (статус: {payment.get_status_display()})")
    if payment.kaspi_payment_id is None:
        if not Payment.objects.filter(pk=payment.pk, status=payment.status).update(
            status=Payment.Status.CANCELLED, updated_at=now
        ):
            raise PaymentError("Статус счёта изменился, обновите страницу")
        log.info("payment.cancelled_locally", payment_id=payment.pk, user_id=getattr(user, "pk", None))
        payment.refresh_from_db()
        return payment
    try:
        result = _client(client).cancel_remote_payment(payment.kaspi_payment_id)
    except KaspiError as exc:
        Payment.objects.filter(pk=payment.pk).update(
            last_error=kaspi_error_text(exc), raw_responses=_raw(payment, None, now=now, error=exc), updated_at=now
        )
        raise PaymentError(kaspi_error_text(exc)) from exc
    Payment.objects.filter(pk=payment.pk, status__in=Payment.CHECKABLE_STATUSES).update(
        status=Payment.Status.CANCELLED,
        kaspi_status=result.raw_status[:64],
        raw_responses=_raw(payment, result.call, now=now),
        last_error="",
        updated_at=now,
    )
    log.info("payment.cancelled", payment_id=payment.pk, user_id=getattr(user, "pk", None))
    payment.refresh_from_db()
    return payment


# --- Refund --------------------------------------------------------------------------------------


def payment_refund(
    *,
    payment: Payment,
    amount: Decimal | int | str | None = None,
    user: Any = None,
    client: KaspiClient | None = None,
    now: datetime | None = None,
) -> Refund:
    """Refunds `amount` tenge of a paid invoice, or all that is left when `amount` is None.

    Under a row lock on the payment (refunds of one payment run one at a time), Kaspi's
    AvailableReturnAmount is read first; more than that is refused here without calling
    Kaspi. Kaspi's own refusals are recorded as a failed Refund and raised as RefundRefused
    with a clear message. A refund call that timed out is resolved by reading the details
    again: never retried blindly."""
    now = now or timezone.now()
    kaspi = _client(client)
    outcome: dict[str, Any] = {}
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != Payment.Status.PROCESSED or locked.kaspi_payment_id is None:
            raise PaymentError(f"Вернуть можно только оплаченный счёт (статус: {locked.get_status_display()})")
        if locked.refunds.filter(state=Refund.State.UNKNOWN).exists():
            raise PaymentError("Результат прошлого возврата неизвестен: сначала проверьте его в Kaspi Pay")
        try:
            details = kaspi.payment_details(locked.kaspi_payment_id)
        except KaspiError as exc:
            raise PaymentError(kaspi_error_text(exc)) from exc
        available = details.available_return_amount
        _remember_details(locked, details, now=now)
        wanted = available if amount is None else money(amount)
        if wanted <= 0 or available <= 0:
            outcome["refused"] = RefundRefused("По этой покупке вернуть больше нечего.", available=available)
        elif wanted > available:
            outcome["refused"] = RefundRefused(
                f"Можно вернуть не больше {amount_text(available)} (по данным Kaspi).", available=available
            )
        else:
            outcome["refund"] = _refund_call(locked, wanted, available=available, kaspi=kaspi, user=user, now=now)
    if "refused" in outcome:
        raise outcome["refused"]
    refund: Refund = outcome["refund"]
    payment.refresh_from_db()
    if refund.state == Refund.State.FAILED:
        raise RefundRefused(refund.error, refund=refund)
    if refund.state == Refund.State.UNKNOWN:
        managers_notify(
            contact=payment.contact,
            reason=f"Не знаем, прошёл ли возврат {amount_text(refund.amount)}: проверьте в Kaspi Pay",
            summary=payment.description,
            key=f"refund-unknown:{refund.pk}",
        )
    return refund


def _remember_details(payment: Payment, details: PaymentDetails, *, now: datetime) -> None:
    payment.refundable_amount = details.available_return_amount
    payment.refunded_amount = min(
        payment.amount, max(Decimal("0"), details.total_amount - details.available_return_amount)
    )
    payment.raw_responses = _raw(payment, details.call, now=now)
    payment.save(update_fields=["refundable_amount", "refunded_amount", "raw_responses", "updated_at"])


def _refund_call(
    payment: Payment, amount: Decimal, *, available: Decimal, kaspi: KaspiClient, user: Any, now: datetime
) -> Refund:
    """Called with the payment row locked."""
    row = Refund(
        payment=payment,
        amount=amount,
        available_before=available,
        created_by_user=user if getattr(user, "pk", None) else None,
    )
    try:
        result = kaspi.refund(qr_payment_id=payment.kaspi_payment_id, amount=amount)
    except KaspiTimeoutError as exc:
        row.request_id = exc.request_id
        row.state, row.error = _resolve_refund_timeout(payment, amount, available=available, kaspi=kaspi, now=now)
    except KaspiError as exc:
        row.request_id = exc.request_id
        row.state, row.error = Refund.State.FAILED, kaspi_error_text(exc)
        payment.raw_responses = _raw(payment, None, now=now, error=exc)
        payment.save(update_fields=["raw_responses", "updated_at"])
        log.warning("payment.refund_refused", payment_id=payment.pk, code=exc.status_code, error=type(exc).__name__)
    else:
        row.request_id = result.call.request_id
        row.kaspi_operation_id = result.return_operation_id
        row.state = Refund.State.DONE
        payment.refundable_amount = available - amount
        payment.refunded_amount = min(payment.amount, payment.refunded_amount + amount)
        payment.raw_responses = _raw(payment, result.call, now=now)
        payment.save(update_fields=["refundable_amount", "refunded_amount", "raw_responses", "updated_at"])
        log.info("payment.refunded", payment_id=payment.pk, amount=str(amount), operation_id=result.return_operation_id)
    row.save()
    return row


def _resolve_refund_timeout(
    payment: Payment, amount: Decimal, *, available: Decimal, kaspi: KaspiClient, now: datetime
) -> tuple[str, str]:
    """The refund may or may not have happened: Kaspi's available amount says which."""
    try:
        details = kaspi.payment_details(payment.kaspi_payment_id)
    except KaspiError:
        log.warning("payment.refund_unknown", payment_id=payment.pk)
        return Refund.State.UNKNOWN, "Kaspi не ответил на возврат и на проверку: проверьте в Kaspi Pay"
    _remember_details(payment, details, now=now)
    if details.available_return_amount <= available - amount:
        log.info("payment.refund_confirmed_after_timeout", payment_id=payment.pk)
        return Refund.State.DONE, ""
    return Refund.State.FAILED, "Kaspi не ответил вовремя; по данным Kaspi деньги не возвращены — можно повторить"
