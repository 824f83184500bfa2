"""The follow-up runner: one tick sends the touches that are due (beat runs it every minute).

Claiming: due rows (`next_touch_at <= now`, not completed) are locked in batches with
`SELECT ... FOR UPDATE SKIP LOCKED` and, before the claim transaction ends, leased: their
`next_touch_at` moves LEASE ahead. A second runner skips rows locked by the first and, once
the first commits, no longer sees them as due, so no touch is worked on twice. Every later
write of the runner is conditional on the row still carrying its lease (`next_touch_at ==
lease`), so an operator's or a reply's change made meanwhile wins. A runner that dies leaves
its leased rows to be claimed again after LEASE.

Each claimed follow-up is then re-checked outside the claim transaction (still a client, not
opted out, no operator, no booked call, no customer message since the bot's last message,
not a personal number), passed through the proactive gate (messaging.proactive: the send
window, the per-contact gap, the daily cap of proactive messages, the same for post-purchase
messages and checked again by the sender), and only then is its text generated (ai.compose) and
queued as an outbound Message with purpose `follow_up` and idempotency key
``followup:<id>:touch:<k>``, the daily cap counted once more under the quota lock.

A touch in flight: once queued, the row's next_touch_at moves IN_FLIGHT_RECHECK ahead. The
sender's hook (`followup_after_bot_message`) sets the next touch when the message is sent.
If the runner meets the row again first, it looks at the touch's message: sent (the hook was
missed) -> it advances the chain itself; still queued or sending -> it looks again later;
failed -> the chain stops with `send_failed` (the idempotency key forbids a second message for
the same touch, so a failed touch is never silently resent).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from ai.backends import get_backend
from ai.compose import Correction, compose
from ai.conversation import conversation_turns
from ai.llm import CallContext, LLMError, Turn
from ai.prompts import PromptText, prompt_get, prompt_render
from ai.rules.language import conversation_language
from ai.rules.texts import system_in_language
from followups.models import FollowUp, FollowUpTouch
from followups.selectors import SENT_STATUSES, followup_own_stop
from followups.services import followup_after_bot_message
from messaging.models import Message
from messaging.proactive import Hold, proactive_claim, proactive_gate
from messaging.services import message_enqueue_outbound
from messaging.window import SendWindow, next_window_opening
from project.lib.localtime import local_now_text

log = structlog.get_logger(__name__)

LEASE = timedelta(minutes=10)
IN_FLIGHT_RECHECK = timedelta(hours=1)
MODEL_RETRY = timedelta(minutes=15)  # Gemini down: the touch waits, no fallback text is sent
DEFAULT_BUDGET_SECONDS = 90.0  # a tick stays well inside the task's soft time limit

INSTRUCTION = "(служебное) Напиши сообщение касания #{touch}."
CORRECTION = (
    "(служебное) В сообщении есть цифры, которых нет в базе знаний: {figures}. "
    "Перепиши сообщение касания #{touch} без цен, сумм, скидок и процентов."
)
# The proactive gate's "not now", as this runner words and treats it: the contact's standing
# stops the chain, time moves the touch on.
STOP_FOR = {
    Hold.WHITELISTED: FollowUp.StopReason.NOT_A_CLIENT,
    Hold.OPTED_OUT: FollowUp.StopReason.OPTED_OUT,
    Hold.OPERATOR_MODE: FollowUp.StopReason.HUMAN_TOOK_OVER,
    Hold.NEVER_WROTE: FollowUp.StopReason.NOT_A_CLIENT,
    Hold.UNANSWERED: FollowUp.StopReason.UNANSWERED,
}
DEFER_REASON = {
    Hold.NUMBER_PAUSED: "the number is paused (its safety)",
    Hold.OUTSIDE_WINDOW: "outside the send window",
    Hold.MIN_GAP: "minimum gap since our last message",
    Hold.DAILY_CAP: "daily cap of proactive messages",
}
REASON_TEXT = {
    FollowUp.Reason.NO_REPLY: "Клиент не ответил на наше последнее сообщение.",
    FollowUp.Reason.UNCERTAIN_ANSWER: "Клиент дал неопределённый ответ (например, «подумаю», «посмотрю»).",
}


@dataclass(frozen=True)
class Sent:
    followup_id: int
    contact_id: int
    touch_number: int
    message_id: int


@dataclass(frozen=True)
class Deferred:
    followup_id: int
    contact_id: int
    touch_number: int
    until: datetime
    reason: str


@dataclass(frozen=True)
class Stopped:
    followup_id: int
    contact_id: int
    touch_number: int
    reason: str


@dataclass
class RunReport:
    sent: list[Sent] = field(default_factory=list)
    deferred: list[Deferred] = field(default_factory=list)
    stopped: list[Stopped] = field(default_factory=list)
    released: int = 0  # claimed, not worked on before the time budget ran out

    def summary(self) -> str:
        return (
            f"sent={len(self.sent)} deferred={len(self.deferred)} stopped={len(self.stopped)} released={self.released}"
        )


class _Defer(Exception):
    def __init__(self, until: datetime, reason: str, *, written: bool = False) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason
        self.written = written  # the row was already moved on (by the sender's hook)


class _Stop(Exception):
    def __init__(self, reason: FollowUp.StopReason) -> None:
        super().__init__(reason)
        self.reason = reason


class _Tick:
    """What one tick reads once: the send window and the prompt."""

    def __init__(self, *, now: datetime, rng: random.Random) -> None:
        self.now = now
        self.rng = rng
        self.window = SendWindow.from_settings()

    @cached_property
    def prompt(self) -> PromptText:
        return prompt_get("follow_up_prompt")

    def next_opening(self) -> datetime:
        return next_window_opening(self.now, window=self.window, rng=self.rng)


def followups_run_due(
    *,
    now: datetime | None = None,
    limit: int | None = None,
    rng: random.Random | None = None,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
) -> RunReport:
    """One tick: claims up to `limit` due follow-ups (all of them by default) in batches of
    FOLLOW_UP_BATCH_SIZE and sends, defers or stops each. Rows still claimed when
    `budget_seconds` run out are released, due as before, for the next tick."""
    now = now or timezone.now()
    report = RunReport()
    if not settings.ENABLE_FOLLOW_UPS:
        return report
    tick = _Tick(now=now, rng=rng or random.Random())  # noqa: S311 - jitter, not security
    started = time.monotonic()
    remaining = limit
    while remaining is None or remaining > 0:
        size = settings.FOLLOW_UP_BATCH_SIZE if remaining is None else min(settings.FOLLOW_UP_BATCH_SIZE, remaining)
        claimed, lease = _claim(now=now, size=size)
        for index, (pk, _due) in enumerate(claimed):
            if time.monotonic() - started > budget_seconds:
                report.released += _release(claimed[index:], lease=lease)
                log.warning("followups.budget_exhausted", released=report.released, **_counts(report))
                return report
            try:
                _process(pk=pk, lease=lease, tick=tick, report=report)
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                # One broken row must not hold up the others; it keeps its lease and is tried
                # again once the lease runs out.
                log.exception("followup.failed", followup_id=pk)
        if remaining is not None:
            remaining -= len(claimed)
        if len(claimed) < size:
            break
    if report.sent or report.stopped or report.deferred:
        log.info("followups.tick", **_counts(report))
    return report


def _claim(*, now: datetime, size: int) -> tuple[list[tuple[int, datetime]], datetime]:
    lease = now + LEASE
    with transaction.atomic():
        rows = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(is_completed=False, next_touch_at__lte=now)
            .order_by("next_touch_at", "pk")
            .values_list("pk", "next_touch_at")[:size]
        )
        if rows:
            FollowUp.objects.filter(pk__in=[pk for pk, _ in rows]).update(next_touch_at=lease, updated_at=now)
    return rows, lease


def _release(rows: list[tuple[int, datetime]], *, lease: datetime) -> int:
    released = 0
    for pk, due in rows:
        released += FollowUp.objects.filter(pk=pk, is_completed=False, next_touch_at=lease).update(next_touch_at=due)
    return released


def _process(*, pk: int, lease: datetime, tick: _Tick, report: RunReport) -> None:
    followup = FollowUp.objects.select_related("contact").filter(pk=pk, is_completed=False, next_touch_at=lease).first()
    if followup is None:
        return  # stopped or changed since the claim: whoever changed it decided
    number = followup.touch_number
    try:
        message = _try_touch(followup=followup, tick=tick)
    except _Stop as stop:
        stopped = FollowUp.objects.filter(pk=pk, is_completed=False, next_touch_at=lease).update(
            is_completed=True,
            stop_reason=stop.reason,
            completed_at=tick.now,
            next_touch_at=None,
            updated_at=tick.now,
        )
        if stopped:
            report.stopped.append(Stopped(pk, followup.contact_id, number, stop.reason))
            log.info("followup.stopped", followup_id=pk, contact_id=followup.contact_id, reason=stop.reason)
        return
    except _Defer as defer:
        if defer.written or FollowUp.objects.filter(pk=pk, is_completed=False, next_touch_at=lease).update(
            next_touch_at=defer.until, updated_at=tick.now
        ):
            report.deferred.append(Deferred(pk, followup.contact_id, number, defer.until, defer.reason))
            log.info(
                "followup.deferred",
                followup_id=pk,
                contact_id=followup.contact_id,
                touch_number=number,
                until=defer.until.isoformat(),
                reason=defer.reason,
            )
        return
    if message is not None:
        report.sent.append(Sent(pk, followup.contact_id, number, message.pk))
        log.info(
            "followup.touch_queued",
            followup_id=pk,
            contact_id=followup.contact_id,
            touch_number=number,
            message_id=message.pk,
        )


def _try_touch(*, followup: FollowUp, tick: _Tick) -> Message | None:
    """Queues the follow-up's next touch, or raises _Stop / _Defer saying why not."""
    now, contact, number = tick.now, followup.contact, followup.touch_number
    # The contact's standing (whitelist, opt-out, operator mode) is the proactive gate's, below.
    if contact.is_client is not True:
        raise _Stop(FollowUp.StopReason.NOT_A_CLIENT)
    own = followup_own_stop(contact=contact, now=now)
    if own is not None:
        raise _Stop(own)
    _check_in_flight(followup=followup, tick=tick)

    last_in, last_out = _latest_messages(contact_id=contact.pk)
    since = followup.anchor_at or last_out or followup.created_at
    if last_in is not None and last_in > since:
        raise _Stop(FollowUp.StopReason.CLIENT_RESPONDED)
    decision = proactive_gate(
        contact=contact, purpose=Message.Purpose.FOLLOW_UP, now=now, window=tick.window, rng=tick.rng
    )
    if decision.hold in STOP_FOR:
        raise _Stop(STOP_FOR[decision.hold])
    if decision.hold is not None:
        raise _Defer(decision.until or tick.next_opening(), DEFER_REASON[decision.hold])

    moments = [m for m in (last_in, last_out) if m is not None]
    hours = (now - max(moments)).total_seconds() / 3600 if moments else 0.0
    text = _compose(followup=followup, tick=tick, hours_since=hours)
    return _enqueue(followup=followup, number=number, text=text, tick=tick)


def _check_in_flight(*, followup: FollowUp, tick: _Tick) -> None:
    """A touch already queued for this number: never a second one."""
    touch = (
        FollowUpTouch.objects.select_related("message")
        .filter(followup=followup, touch_number=followup.touch_number)
        .first()
    )
    if touch is None:
        return
    status = touch.message.status
    if status in SENT_STATUSES:
        # Sent, but the sender's hook did not move the chain on (it died in between): do it now.
        followup_after_bot_message(message=touch.message, now=tick.now)
        followup.refresh_from_db(fields=["next_touch_at", "is_completed"])
        raise _Defer(followup.next_touch_at or tick.now, f"touch {touch.touch_number} already sent", written=True)
    if status == Message.Status.FAILED:
        raise _Stop(FollowUp.StopReason.SEND_FAILED)
    raise _Defer(tick.now + IN_FLIGHT_RECHECK, f"touch {touch.touch_number} still being sent")


def _latest_messages(*, contact_id: int) -> tuple[datetime | None, datetime | None]:
    """When the customer last wrote, and when we last wrote (a failed send never reached them)."""
    latest = Message.objects.filter(contact_id=contact_id).aggregate(
        last_in=Max("timestamp", filter=Q(direction=Message.Direction.IN)),
        last_out=Max("timestamp", filter=Q(direction=Message.Direction.OUT) & ~Q(status=Message.Status.FAILED)),
    )
    return latest["last_in"], latest["last_out"]


def _compose(*, followup: FollowUp, tick: _Tick, hours_since: float) -> str:
    """The touch's text from the follow-up prompt and the real conversation, through the compose
    step (cleaned, number guard, rewritten once when it states figures the knowledge base does
    not). Raises _Defer when the model is unavailable or keeps inventing figures: a touch is
    never a fallback text."""
    contact, number = followup.contact, followup.touch_number
    prompt = tick.prompt
    system = prompt_render(
        prompt,
        touch_number=str(number),
        follow_up_reason=REASON_TEXT.get(followup.reason, REASON_TEXT[FollowUp.Reason.NO_REPLY]),
        hours_since_last_message=str(round(hours_since)),
        current_datetime=_astana_text(tick.now, tick),
    )
    turns = conversation_turns(contact=contact, limit=settings.MAX_CONTEXT_MESSAGES)
    # The language of the conversation just read (ai.conversation.contact_language would read it again).
    language = conversation_language(
        (t.text for t in reversed(turns) if t.role == "user"), allowed=settings.REPLY_LANGUAGES
    )
    system = system_in_language(system, language)
    if not turns or turns[-1].role == "model":
        # Gemini reads the last content as the user's: ask for the touch in a service line.
        turns.append(Turn(role="user", text=INSTRUCTION.format(touch=number)))
    ctx = CallContext(
        purpose="follow_up",
        contact_id=contact.pk,
        prompt_name=prompt.name,
        prompt_version=prompt.version,
        extra={"touch_number": number, "language": language},
    )
    backend = get_backend()

    def draft(correction: Correction | None) -> str:
        asked = turns
        if correction is not None and correction.draft:
            asked = [
                *turns,
                Turn(role="model", text=correction.draft),
                Turn(role="user", text=CORRECTION.format(figures=correction.figures_text, touch=number)),
            ]
        # An empty draft is asked for again as it was: there is nothing to correct.
        return backend.generate_text(system=system, turns=asked, ctx=ctx).text

    try:
        # No safe line: a touch is never a template; one that keeps inventing figures waits.
        composed = compose(draft=draft, safe_text=None)
    except LLMError as exc:
        log.warning("followup.model_unavailable", followup_id=followup.pk, contact_id=contact.pk, error=str(exc))
        raise _Defer(tick.now + MODEL_RETRY, "model unavailable") from exc
    if composed.usable:
        return composed.text
    log.warning(
        "followup.unsupported_text",
        followup_id=followup.pk,
        contact_id=contact.pk,
        touch_number=number,
        figures=list(composed.figures) or ["(empty)"],
    )
    raise _Defer(tick.next_opening(), "generated text states figures the knowledge base does not")


def _enqueue(*, followup: FollowUp, number: int, text: str, tick: _Tick) -> Message:
    try:
        return _enqueue_once(followup=followup, number=number, text=text, tick=tick)
    except IntegrityError as exc:
        # The touch exists already (another runner after a lost lease): it is never written twice.
        raise _Defer(tick.now + IN_FLIGHT_RECHECK, f"touch {number} already queued") from exc


def _enqueue_once(*, followup: FollowUp, number: int, text: str, tick: _Tick) -> Message:
    with transaction.atomic():
        # The cap is counted again under the quota lock: two runners (or a runner and the
        # post-purchase tick) cannot both take the last place.
        claim = proactive_claim(now=tick.now, window=tick.window, rng=tick.rng)
        if not claim.allowed:
            raise _Defer(claim.until or tick.next_opening(), DEFER_REASON[Hold.DAILY_CAP])
        # The message first: its insert waits for anyone holding the contact row (lock order
        # contact -> follow-up, as in followup_after_bot_message).
        message = message_enqueue_outbound(
            contact=followup.contact,
            text=text,
            purpose=Message.Purpose.FOLLOW_UP,
            idempotency_key=f"followup:{followup.pk}:touch:{number}",
        )
        # _check_in_flight found no touch and the row is leased to us: a duplicate here would be
        # a bug, and the unique constraint rolls the whole touch back rather than send twice.
        FollowUpTouch.objects.create(followup=followup, touch_number=number, message=message)
        FollowUp.objects.filter(pk=followup.pk, is_completed=False, touch_number=number).update(
            next_touch_at=tick.now + IN_FLIGHT_RECHECK, last_touch_at=tick.now, updated_at=tick.now
        )
    return message


def _astana_text(now: datetime, tick: _Tick) -> str:
    # The business time zone is the window's (TIME_ZONE), as the sales prompt's clock.
    return f"{local_now_text(timezone.localtime(now, tick.window.tz))} (время Астаны)"


def _counts(report: RunReport) -> dict[str, int]:
    return {"sent": len(report.sent), "deferred": len(report.deferred), "stopped": len(report.stopped)}
