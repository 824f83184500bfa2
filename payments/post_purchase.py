"""Post-purchase messages for Kaspi Shop orders: a thank-you when an order is accepted, a review
request when it is completed, through the same outbox as every other message.

A tick (beat, POST_PURCHASE_INTERVAL) reads the orders of the last POST_PURCHASE_LOOKBACK_DAYS
and writes one PostPurchaseMessage per (order, status) that deserves a message: the unique
constraint is the "at most once" guarantee, however often an order is read again. Due rows are
then worked on, each re-checked at that moment: opted out, a personal number or an operator in
the chat; the proactive gate every message we start ourselves passes (messaging.proactive: the send
window, the per-contact gap after any message of ours, the daily cap of proactive messages; the
row waits), this kind's own per-customer cap (the row is dropped) and cooldown and daily cap (the
row waits). The text is written by the model (through ai.compose), or is a standard text when the
model is unavailable (or is the offline backend).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ai.backends import get_backend
from ai.compose import Correction, Result, compose
from ai.conversation import contact_language
from ai.llm import CallContext, LLMError, Turn
from ai.prompts import prompt_get, prompt_render
from ai.rules.language import RUSSIAN
from ai.rules.texts import Key, fixed_text, system_in_language
from contacts.models import Contact
from contacts.phones import PhoneError, normalize_phone
from contacts.selectors import contact_is_whitelisted
from contacts.services import contact_get_or_create
from messaging.models import Message
from messaging.proactive import Hold, proactive_claim, proactive_gate
from messaging.services import message_enqueue_outbound
from messaging.window import SendWindow, defer_for_gap, next_window_opening
from payments.kaspi_shop import KaspiShopClient, ShopOrder
from payments.models import PostPurchaseMessage

log = structlog.get_logger(__name__)

TRIGGERS = {
    "ACCEPTED_BY_MERCHANT": PostPurchaseMessage.Kind.THANKS,
    "COMPLETED": PostPurchaseMessage.Kind.REVIEW,
}
SUPPRESSING = {"CANCELLED", "CANCELLING", "RETURNED"}  # and every status with RETURN in it
OPERATOR_RECHECK = timedelta(hours=1)
BATCH = 200
OCCASION = {
    PostPurchaseMessage.Kind.THANKS: "покупатель оформил заказ, и мы его приняли. Поблагодари за покупку.",
    PostPurchaseMessage.Kind.REVIEW: "заказ выполнен, покупатель его получил. Поблагодари и попроси оставить "
    "отзыв о товаре на Kaspi.kz.",
}
# The proactive gate's "not now", as this tick words and treats it (an operator in the chat: look
# again in OPERATOR_RECHECK; the other time-bound holds: wait until the gate says).
SKIP_FOR = {
    Hold.WHITELISTED: "номер в белом списке",
    Hold.OPTED_OUT: "клиент отписался от сообщений",
    Hold.NEVER_WROTE: "клиент никогда не писал нам в WhatsApp",
    Hold.UNANSWERED: "клиент не отвечает на наши сообщения",
}
DEFER_REASON = {
    Hold.OPERATOR_MODE: "с клиентом общается оператор",
    Hold.OUTSIDE_WINDOW: "вне окна отправки",
    Hold.MIN_GAP: "пауза после нашего последнего сообщения клиенту",
    Hold.DAILY_CAP: "дневной лимит проактивных сообщений",
    Hold.NUMBER_PAUSED: "отправка с номера приостановлена ради его безопасности",
}


def post_purchase_enabled() -> bool:
    return bool(settings.POST_PURCHASE_ENABLED and settings.KASPI_SHOP_TOKEN)


def _suppressing(status: str) -> bool:
    return status in SUPPRESSING or "RETURN" in status


# --- Reading orders ------------------------------------------------------------------------------


def post_purchase_record_orders(*, orders: Iterable[ShopOrder], now: datetime | None = None) -> int:
    """One PostPurchaseMessage per (order, triggering status), due now. A cancelled or returned
    order drops its pending messages; a completed one drops a thank-you still pending (the
    review request says thank you too). Returns how many rows were new."""
    now = now or timezone.now()
    new = 0
    for order in orders:
        if not order.id:
            continue
        if _suppressing(order.status):
            PostPurchaseMessage.objects.filter(order_id=order.id, state=PostPurchaseMessage.State.PENDING).update(
                state=PostPurchaseMessage.State.SKIPPED, skip_reason=f"заказ {order.status}", updated_at=now
            )
            continue
        kind = TRIGGERS.get(order.status)
        if kind is None:
            continue
        if kind == PostPurchaseMessage.Kind.REVIEW:
            PostPurchaseMessage.objects.filter(
                order_id=order.id, kind=PostPurchaseMessage.Kind.THANKS, state=PostPurchaseMessage.State.PENDING
            ).update(state=PostPurchaseMessage.State.SKIPPED, skip_reason="заказ уже выполнен", updated_at=now)
        try:
            phone = normalize_phone(order.phone) if order.phone else ""
        except PhoneError:
            phone = ""
        try:
            with transaction.atomic():
                _, created = PostPurchaseMessage.objects.get_or_create(
                    order_id=order.id,
                    order_status=order.status,
                    defaults={
                        "order_code": order.code[:64],
                        "kind": kind,
                        "phone": phone,
                        "customer_name": order.customer_name[:255],
                        "order_total": order.total_price,
                        "due_at": now,
                    },
                )
        except IntegrityError:  # a concurrent tick wrote it first
            created = False
        new += int(created)
    return new


def post_purchase_poll(*, client: KaspiShopClient | None = None, now: datetime | None = None) -> int:
    """Reads the recent orders from Kaspi Shop and records the messages they call for."""
    now = now or timezone.now()
    client = client or KaspiShopClient.from_settings()
    orders = client.orders(created_from=now - timedelta(days=settings.POST_PURCHASE_LOOKBACK_DAYS), created_to=now)
    new = post_purchase_record_orders(orders=orders, now=now)
    log.info("post_purchase.polled", new=new)
    return new


# --- Sending -------------------------------------------------------------------------------------


@dataclass
class RunReport:
    queued: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


class _Defer(Exception):
    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until, self.reason = until, reason


class _Skip(Exception):
    pass


def post_purchase_run_due(
    *, now: datetime | None = None, rng: random.Random | None = None, limit: int = BATCH
) -> RunReport:
    """Works on the due rows (SKIP LOCKED claims, so two ticks never take the same row)."""
    now = now or timezone.now()
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    window = SendWindow.from_settings()
    report = RunReport()
    with transaction.atomic():
        ids = list(
            PostPurchaseMessage.objects.select_for_update(skip_locked=True)
            .filter(state=PostPurchaseMessage.State.PENDING, due_at__lte=now)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        # A lease: the rows leave the due set while this tick works on them.
        PostPurchaseMessage.objects.filter(pk__in=ids).update(due_at=now + timedelta(minutes=10))
    for row in PostPurchaseMessage.objects.filter(pk__in=ids).order_by("pk"):
        try:
            _work(row, now=now, window=window, rng=rng)
        except _Defer as deferred:
            PostPurchaseMessage.objects.filter(pk=row.pk, state=PostPurchaseMessage.State.PENDING).update(
                due_at=deferred.until, skip_reason=f"ждёт: {deferred.reason}"[:255], updated_at=now
            )
            report.deferred.append(row.pk)
        except _Skip as skipped:
            PostPurchaseMessage.objects.filter(pk=row.pk, state=PostPurchaseMessage.State.PENDING).update(
                state=PostPurchaseMessage.State.SKIPPED, skip_reason=str(skipped)[:255], updated_at=now
            )
            report.skipped.append(row.pk)
            log.info("post_purchase.skipped", row_id=row.pk, reason=str(skipped))
        except Exception:
            # One broken row must not stop the tick; it keeps its lease and is retried after it.
            log.exception("post_purchase.row_failed", row_id=row.pk)
        else:
            report.queued.append(row.pk)
    return report


def _work(row: PostPurchaseMessage, *, now: datetime, window: SendWindow, rng: random.Random) -> None:
    if now - row.created_at > timedelta(hours=settings.POST_PURCHASE_MAX_DELAY_HOURS):
        raise _Skip("устарело: не удалось отправить вовремя")
    if not row.phone:
        raise _Skip("у заказа нет телефона покупателя")
    if contact_is_whitelisted(phone=row.phone):
        # Checked before a contact row is made for the number: nothing is stored for it.
        raise _Skip(SKIP_FOR[Hold.WHITELISTED])
    contact = _contact(row)
    decision = proactive_gate(contact=contact, purpose=Message.Purpose.POST_PURCHASE, now=now, window=window, rng=rng)
    if decision.hold in SKIP_FOR:
        raise _Skip(SKIP_FOR[decision.hold])
    if decision.hold == Hold.OPERATOR_MODE:
        raise _Defer(now + OPERATOR_RECHECK, DEFER_REASON[decision.hold])
    if decision.hold == Hold.OUTSIDE_WINDOW:
        raise _Defer(decision.until or next_window_opening(now, window=window, rng=rng), DEFER_REASON[decision.hold])
    ours = Message.objects.filter(contact=contact, purpose=Message.Purpose.POST_PURCHASE)
    recent = ours.filter(timestamp__gte=now - timedelta(days=settings.POST_PURCHASE_CAP_WINDOW_DAYS)).count()
    if recent >= settings.POST_PURCHASE_MAX_PER_CUSTOMER:
        raise _Skip(f"лимит сообщений клиенту ({settings.POST_PURCHASE_MAX_PER_CUSTOMER})")
    last = ours.order_by("-timestamp").values_list("timestamp", flat=True).first()
    allowed = defer_for_gap(now, last_outbound_at=last, min_gap_hours=settings.POST_PURCHASE_COOLDOWN_HOURS)
    if allowed > now:
        raise _Defer(allowed, f"пауза {settings.POST_PURCHASE_COOLDOWN_HOURS:g} ч между сообщениями клиенту")
    if decision.hold is not None:  # the per-contact gap or the day's cap
        raise _Defer(decision.until or next_window_opening(now, window=window, rng=rng), DEFER_REASON[decision.hold])
    text, fallback = _compose(row, contact)
    with transaction.atomic():
        # Today's place among all proactive messages, under the one quota lock, then this kind's own cap.
        claim = proactive_claim(now=now, window=window, rng=rng)
        if not claim.allowed:
            raise _Defer(claim.until or next_window_opening(now, window=window, rng=rng), DEFER_REASON[Hold.DAILY_CAP])
        if _post_purchase_today(since=window.day_start(now)) >= settings.POST_PURCHASE_DAILY_LIMIT:
            raise _Defer(next_window_opening(now, window=window, rng=rng), "дневной лимит сообщений после покупки")
        message = message_enqueue_outbound(
            contact=contact,
            text=text,
            purpose=Message.Purpose.POST_PURCHASE,
            idempotency_key=f"postpurchase:{row.pk}",
        )
        PostPurchaseMessage.objects.filter(pk=row.pk).update(
            state=PostPurchaseMessage.State.QUEUED,
            message=message,
            contact=contact,
            used_fallback=fallback,
            skip_reason="",
            updated_at=now,
        )
    log.info("post_purchase.queued", row_id=row.pk, contact_id=contact.pk, kind=row.kind, fallback=fallback)


def _contact(row: PostPurchaseMessage) -> Contact:
    first, _, _last = row.customer_name.partition(" ")
    contact, _ = contact_get_or_create(
        phone=row.phone,
        defaults={"name": first, "full_name": row.customer_name, "chat_id": f"{row.phone}@c.us", "is_client": True},
    )
    return contact


def _post_purchase_today(*, since: datetime) -> int:
    return Message.objects.filter(
        direction=Message.Direction.OUT, purpose=Message.Purpose.POST_PURCHASE, timestamp__gte=since
    ).count()


# --- Text ----------------------------------------------------------------------------------------


def standard_text(row: PostPurchaseMessage, contact: Contact, language: str = RUSSIAN) -> str:
    """The message when the model is unavailable, in `language`."""
    name = contact.name or row.customer_name.partition(" ")[0]
    key: Key = "post_purchase_review" if row.kind == PostPurchaseMessage.Kind.REVIEW else "post_purchase_thanks"
    body = fixed_text(
        key,
        language,
        greeting=f"{name}, " if name else "",
        order=f"№{row.order_code} " if row.order_code else "",
        company=settings.COMPANY_NAME,
    )
    return f"{body[0].upper()}{body[1:]}\n\n{fixed_text('opt_out_hint', language)}"


def _compose(row: PostPurchaseMessage, contact: Contact) -> tuple[str, bool]:
    """(text, used the standard text). The model's text passes the compose step (cleaned, the
    number guard with the order's total allowed); the standard text stands in when the model
    is unavailable or its text fails."""
    backend = get_backend()
    language = contact_language(contact)
    if backend.name == "offline":
        return standard_text(row, contact, language), True
    prompt = prompt_get("post_purchase_prompt")
    system = prompt_render(prompt, occasion=OCCASION[row.kind])
    system = system_in_language(system, language)
    buyer = row.customer_name or "имя неизвестно"
    facts = f"(служебное) Покупатель: {buyer}. Номер заказа: {row.order_code or row.order_id}."
    ctx = CallContext(
        purpose="post_purchase",
        contact_id=contact.pk,
        prompt_name=prompt.name,
        prompt_version=prompt.version,
        extra={"kind": row.kind, "language": language},
    )
    allowed = {str(int(row.order_total))} if row.order_total is not None else set()

    def draft(_correction: Correction | None) -> str:
        return backend.generate_text(system=system, turns=[Turn(role="user", text=facts)], ctx=ctx).text

    try:
        # No second draft: a thank-you that fails the number guard becomes the standard text.
        composed = compose(
            draft=draft, safe_text=standard_text(row, contact, language), allowed_figures=allowed, correct=False
        )
    except LLMError as exc:
        log.warning("post_purchase.model_unavailable", row_id=row.pk, error=type(exc).__name__)
        return standard_text(row, contact, language), True
    if composed.result == Result.SAFE_LINE:
        log.warning("post_purchase.unusable_text", row_id=row.pk, figures=list(composed.figures))
        return composed.text, True
    return f"{composed.text}\n\n{fixed_text('opt_out_hint', language)}", False
