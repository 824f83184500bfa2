"""Payment tasks: load ids, call one service, own the retry policy. Every task name starts with
"payments." and is routed by CELERY_TASK_ROUTES' catch-all to the `default` queue.

There is no task that polls live invoices: Kaspi forbids timer-driven polling of remote
invoices. `check_payment` runs on an event (the customer says they paid, an operator opens
the payment); `expire_invoices` only looks at invoices whose 24 h are over."""

from __future__ import annotations

import structlog
from celery import shared_task

from payments.kaspi_shop import KaspiShopError
from payments.models import Payment
from payments.post_purchase import post_purchase_enabled, post_purchase_poll, post_purchase_run_due
from payments.services import payment_check, payments_expire_due

log = structlog.get_logger(__name__)


@shared_task(name="payments.check_payment", ignore_result=True)
def check_payment(payment_id: int, reason: str = "event") -> str:
    """One debounced status check (no automatic retry: the next event checks again)."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        return "gone"
    return payment_check(payment=payment, reason=reason).status


@shared_task(name="payments.expire_invoices", ignore_result=True, acks_late=True)
def expire_invoices() -> int:
    """Beat (PAYMENT_EXPIRY_INTERVAL): the one final check of invoices past their 24 h."""
    return len(payments_expire_due())


@shared_task(name="payments.post_purchase_tick", ignore_result=True, acks_late=True)
def post_purchase_tick() -> str:
    """Beat (POST_PURCHASE_INTERVAL): read Kaspi Shop orders, then send what is due. Off unless
    POST_PURCHASE_ENABLED and KASPI_SHOP_TOKEN are both set."""
    if not post_purchase_enabled():
        return "disabled"
    try:
        post_purchase_poll()
    except KaspiShopError as exc:
        # Rows recorded earlier still go out; the next tick reads the orders again.
        log.warning("post_purchase.poll_failed", error=str(exc), retryable=exc.retryable)
    report = post_purchase_run_due()
    return f"queued={len(report.queued)} deferred={len(report.deferred)} skipped={len(report.skipped)}"
