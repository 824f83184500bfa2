"""What happens to a new customer message: the AI step.

`incoming_process` is idempotent and debounced per contact: a burst of messages is answered
once, after a quiet window, by the task of the newest message; the older ones' tasks step
aside. The world is re-checked when the task runs (whitelist, operator mode, opt-out, already
answered). The answer is written to the outbox in the same transaction that marks the
customer's messages handled, and only if no newer customer message arrived meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from ai.compose import Correction, Draft, Result, compose
from ai.conversation import contact_language, model_text
from ai.intent import reply_intent
from ai.llm import Image, LLMPermanentError, LLMTransientError
from ai.models import PendingReply, ReplyDecision
from ai.rules.guard import known_figures
from ai.rules.optout import is_opt_out
from ai.rules.texts import fixed_text
from ai.usage import contact_over_daily_tokens, contact_tokens_today_expression, local_day_start
from assistant.agent import AgentReply, agent_reply
from assistant.handoff import contact_hand_off
from assistant.moderator import contact_moderate
from contacts.models import Contact, WhitelistEntry
from contacts.selectors import contact_eligibility
from followups.models import FollowUp
from followups.services import followup_on_customer_reply, followup_stop
from messaging.handoffs import handoff_customer_told, handoff_customer_told_release
from messaging.models import Message
from messaging.notify import managers_notify
from messaging.selectors import WORDLESS_TYPES
from messaging.services import message_enqueue_outbound
from payments.intent import says_paid
from payments.models import Payment
from payments.services import payments_customer_says_paid
from project.lib.locks import LockTimeout, cache_lock

log = structlog.get_logger(__name__)

# The fixed texts are ai.rules.texts', in the customer's language; these are their Russian versions.
FALLBACK_TEXT = fixed_text("fallback")
# Sent instead of a draft that states figures the knowledge base does not.
SAFE_FIGURES_TEXT = fixed_text("safe_figures")
# The one retry after such a draft, told which figures it made up (a note in the request's context).
CORRECTION = (
    "В черновике ответа были цифры, которых нет в базе знаний: {figures}. "
    "Называй только цены, суммы, скидки и проценты из базы знаний; иначе предложи, "
    "чтобы точные условия подтвердил менеджер."
)
HANDOFF_TEXT = fixed_text("handoff")
# A customer who writes again while the hand-off waits for a person: once per hand-off.
HANDOFF_WAITING_TEXT = fixed_text("handoff_waiting")
RETRY_DELAYS = (60, 120, 300, 600, 900)  # seconds between retries of a pending answer
# After this long a late answer would confuse more than help: the managers were told at once.
PENDING_MAX_AGE = timedelta(hours=6)
# One AI step per contact at a time. Renewed while the step runs (a Gemini call may take a minute
# or more with retries); a worker killed mid-call frees the contact within this time.
CONTACT_LOCK_SECONDS = 60
# A burst with a voice note still being transcribed waits for the transcript (whose arrival runs
# the step), so that one answer covers the note too; a note pending longer than this (its
# transcription stuck behind a backlog or lost) no longer holds the texts back.
VOICE_WAIT_SECONDS = 600


class NotYet(Exception):
    """The quiet window has not passed, or another run holds the contact: retry in `delay` s."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:.1f}s")
        self.delay = delay


@dataclass(frozen=True)
class Outcome:
    status: str
    detail: str = ""
    # Set when the customer wrote again while this run worked: the burst's task runs again in
    # this many seconds (when the new quiet window ends) to answer the newer messages.
    again_in: float | None = None


def incoming_process(*, message_id: int, now: datetime | None = None) -> Outcome:
    """The AI step for the burst of `message_id`'s contact, once its quiet window has passed
    (Contact.reply_due_at, moved on by every new inbound). Any task of the contact answers the
    whole burst, to its newest message; one task is scheduled per burst (by ingest), and a run
    that comes before the due time (the window moved on) raises NotYet until then."""
    now = now or timezone.now()
    contact_id = Subquery(
        Message.objects.filter(pk=message_id, direction=Message.Direction.IN).values("contact_id")[:1]
    )
    # One read: the burst's newest open message, its contact and what the step needs to know
    # about them (the whitelist, a pending late answer, the last bot message before it, the
    # model tokens the contact used today when a daily cap is set).
    tokens = (
        {"contact_tokens_today": contact_tokens_today_expression(OuterRef("contact_id"), now)}
        if settings.LLM_CONTACT_DAILY_TOKENS
        else {}
    )
    newest = (
        _open_inbound_of(contact_id)
        .select_related("contact")
        .annotate(
            **tokens,
            contact_whitelisted=Exists(WhitelistEntry.objects.filter(phone=OuterRef("contact__phone"))),
            contact_waiting_for_model=Exists(
                PendingReply.objects.filter(contact_id=OuterRef("contact_id"), resolved_at__isnull=True)
            ),
            last_bot_text=Subquery(
                _bot_messages(OuterRef("contact_id"), until=OuterRef("timestamp")).values("text")[:1]
            ),
            voice_pending_since=Subquery(
                _open_inbound_of(OuterRef("contact_id"))
                .filter(voice_status=Message.VoiceStatus.PENDING)
                .order_by("received_at")
                .values("received_at")[:1]
            ),
        )
        .order_by("-timestamp", "-id")
        .first()
    )
    if newest is None:
        return Outcome("skipped", "already handled")
    contact = newest.contact
    # The window ends REPLY_DEBOUNCE_SECONDS after the burst's latest arrival: the due time
    # ingest stored (a message delivered late may be newest by its timestamp, not by arrival).
    window_end = _window_end(newest)
    if contact.reply_due_at is not None:
        window_end = max(window_end, contact.reply_due_at)
    if window_end > now:
        raise NotYet((window_end - now).total_seconds())
    if newest.is_voice and newest.voice_status == Message.VoiceStatus.PENDING:
        # The transcript's arrival (transcript_ready) runs the step for the burst.
        return Outcome("waiting", f"voice note {newest.pk} is being transcribed")
    pending_voice = newest.voice_pending_since
    if pending_voice is not None and (now - pending_voice).total_seconds() < VOICE_WAIT_SECONDS:
        # A voice note of the burst is still being transcribed: one answer covers it too, when
        # its transcript runs the step. (A note that cannot be transcribed gets "please type";
        # the burst's texts are then handed over by the inbound sweeper.)
        return Outcome("waiting", "a voice note of the burst is being transcribed")
    try:
        with cache_lock(f"ai:contact:{contact.pk}", ttl=CONTACT_LOCK_SECONDS, wait=0, renew=True):
            return _process(contact=contact, message=newest, now=now)
    except LockTimeout:
        raise NotYet(2.0) from None


def _window_end(message: Message) -> datetime:
    return (message.received_at or message.created_at) + timedelta(seconds=settings.REPLY_DEBOUNCE_SECONDS)


def _open_inbound(contact: Contact):
    """The customer's messages still waiting for the AI step. A voice note that could not be
    transcribed already got its own answer ("please type") and waits for nothing."""
    return _open_inbound_of(contact.pk)


def _open_inbound_of(contact_id):
    return Message.objects.filter(
        contact_id=contact_id, direction=Message.Direction.IN, processed_at__isnull=True
    ).exclude(voice_status=Message.VoiceStatus.FAILED)


def _newest_open(contact: Contact) -> Message | None:
    """The message the burst's answer replies to: the newest one still waiting. A message that
    arrives late with an older timestamp, after the newer ones were answered, is its own."""
    return _open_inbound(contact).order_by("-timestamp", "-id").first()


def _bot_messages(contact_id, *, until):
    """The bot's messages to the contact up to `until` that did not fail, newest first."""
    return (
        Message.objects.filter(
            contact_id=contact_id, direction=Message.Direction.OUT, author=Message.Author.BOT, timestamp__lte=until
        )
        .exclude(status=Message.Status.FAILED)
        .order_by("-timestamp", "-id")
    )


def _process(*, contact: Contact, message: Message, now: datetime) -> Outcome:
    # The contact as read with the message, a moment ago (no second read).
    eligibility = contact_eligibility(
        contact=contact, now=now, whitelisted=getattr(message, "contact_whitelisted", None)
    )
    if eligibility.whitelisted:
        return _finish(contact, message, status="whitelisted")
    _check_payments_if_paid(contact=contact, message=message)
    if contact.is_client is not False and is_opt_out(message.transcription or message.text):
        # Before operator mode: "Больше не пишите мне" during a hand-off is recorded (nothing
        # proactive resumes later) and confirmed, the one bot message a held chat gets for it.
        return _opt_out(contact, message, now)
    if eligibility.operator_mode:
        if handoff_customer_told(contact=contact, now=now):
            # Handed off and nobody has answered yet: the customer hears once that the manager
            # knows, never a sales reply.
            outcome = _finish(
                contact,
                message,
                status="operator mode",
                detail="told the manager knows",
                reply=fixed_text("handoff_waiting", contact_language(contact)),
                purpose=Message.Purpose.NOTIFICATION,
            )
            if outcome.status != "operator mode":  # not queued: the burst's next run says it
                handoff_customer_told_release(contact=contact, at=now)
            return outcome
        return _finish(contact, message, status="operator mode")
    if contact.is_client is False:
        return _finish(contact, message, status="not a client")
    if _wordless(contact, message):
        return _finish(contact, message, status="nothing to answer", detail="a sticker")
    if contact_over_daily_tokens(contact.pk, now, tokens=getattr(message, "contact_tokens_today", None)):
        return _over_daily_tokens(contact, message, now)
    if contact.is_client is None:
        try:
            contact_moderate(contact=contact)
        except LLMTransientError as exc:
            # A new lead must not go silent because the model is down: same as a reply failure.
            return _fallback(contact, message, now, error=str(exc))
        contact.refresh_from_db()
    if contact.is_client is False:
        return _finish(contact, message, status="not a client")
    if contact.is_client is None:
        return _finish(contact, message, status="watching", detail="not enough data yet")
    if contact.request_type == Contact.RequestType.COMPLAINT:
        return _complaint(contact, message, now)
    return _answer(contact=contact, message=message, now=now)


def _wordless(contact: Contact, message: Message) -> bool:
    """The burst is stickers only (messaging.selectors.WORDLESS_TYPES): nothing for the model to
    answer, and nobody left waiting (a second read only when the newest message is one)."""
    if message.media_type not in WORDLESS_TYPES or message.text.strip():
        return False
    burst = _open_inbound(contact).filter(timestamp__lte=message.timestamp)
    return not burst.exclude(media_type__in=WORDLESS_TYPES).exists() and not burst.exclude(text="").exists()


def _answer(*, contact: Contact, message: Message, now: datetime) -> Outcome:
    # The reply's intent is recorded after the answer: a booking made while answering stops the
    # chain with its own reason (client_said_yes) first. The runner never sends a touch past a
    # customer message meanwhile.
    try:
        return _answer_with_agent(contact=contact, message=message, now=now)
    finally:
        _follow_up_intent(contact=contact, message=message, now=now)


def _answer_with_agent(*, contact: Contact, message: Message, now: datetime) -> Outcome:
    try:
        answer = _agent_answer(contact=contact, message=message, now=now)
    except LLMTransientError as exc:
        return _fallback(contact, message, now, error=str(exc))
    except LLMPermanentError as exc:
        # The model cannot answer this at all: a person will.
        log.warning("ai.no_answer_handing_off", contact_id=contact.pk, error=str(exc))
        contact_hand_off(
            contact=contact, message=message, reason="ИИ не смог ответить", key=f"handoff:{message.pk}", now=now
        )
        return _finish(
            contact,
            message,
            status="handed off",
            reply=fixed_text("handoff", contact_language(contact)),
            purpose=Message.Purpose.HANDOFF,
        )
    return _finish(
        contact,
        message,
        status="handed off" if answer.handed_off else "answered",
        reply=answer.text,
        purpose=answer.purpose,
        review_note=answer.review_note,
    )


@dataclass(frozen=True)
class _Answer:
    text: str
    handed_off: bool
    review_note: str  # for the operator when the safe line replaced the model's drafts

    @property
    def purpose(self) -> str:
        # Once a manager has the chat, the last words go out as the hand-off (the human mode lets it through).
        return Message.Purpose.HANDOFF if self.handed_off else Message.Purpose.REPLY


def _agent_answer(*, contact: Contact, message: Message, now: datetime) -> _Answer:
    """The sales agent's answer through the compose step (ai.compose): a draft stating figures
    the knowledge base does not is rewritten once, told which, then replaced by the safe line
    (SAFE_FIGURES_TEXT in the customer's language). The words after a hand-off are guarded once,
    never rewritten (the tools already ran): a figure the knowledge base does not state turns them
    into the hand-off line. The burst's photos are downloaded once for both drafts.
    Raises the agent's LLMTransientError / LLMPermanentError."""
    replies: list[AgentReply] = []
    images: dict[int, Image] = {}

    def draft(correction: Correction | None) -> Draft:
        note = CORRECTION.format(figures=correction.figures_text) if correction and correction.figures else ""
        reply = agent_reply(contact=contact, message=message, now=now, correction=note, images=images)
        replies.append(reply)
        return Draft(
            reply.text,
            final_safe_text=fixed_text("handoff", reply.language) if reply.handed_off else None,
            allowed_figures=frozenset(figure for fact in reply.tool_facts for figure in known_figures(fact)),
        )

    composed = compose(draft=draft, safe_text=SAFE_FIGURES_TEXT)
    review_note = ""
    if composed.result == Result.SAFE_LINE and not replies[-1].handed_off:
        composed = replace(composed, text=fixed_text("safe_figures", replies[-1].language))
    if composed.result == Result.SAFE_LINE:
        first, last = composed.drafts[0], composed.drafts[-1]
        review_note = (
            f"Ответ заменён: цифры не из базы знаний {', '.join(composed.figures)}. "
            f"Черновики: «{first[:400]}» / «{last[:400]}»"
        )
        log.warning("ai.unsupported_figures", contact_id=contact.pk, figures=list(composed.figures))
    last = replies[-1]
    # What was decided, for the operator (the sandbox playground, the admin): every tool run of
    # every draft, and what the number guard did.
    ReplyDecision.objects.create(
        contact=contact,
        message=message,
        backend=last.backend,
        tool_calls=[run for reply in replies for run in reply.tool_runs],
        compose_result=str(composed.result),
        rejected_figures=list(composed.figures),
        drafts=len(composed.drafts),
        handed_off=last.handed_off,
        text=composed.text,
    )
    return _Answer(text=composed.text, handed_off=replies[-1].handed_off, review_note=review_note)


def _check_payments_if_paid(*, contact: Contact, message: Message) -> None:
    """A customer wrote "я оплатил": the contact's open Kaspi invoices are checked (event-driven, debounced per
    invoice; a paid one is confirmed to the client and the managers), also in operator mode.
    Runs after the commit; Kaspi errors are stored on the invoice, never raised here."""
    if not says_paid(message.display_text):
        return
    if not Payment.objects.filter(contact=contact, status__in=Payment.CHECKABLE_STATUSES).exists():
        return
    log.info("ai.customer_says_paid", contact_id=contact.pk, message_id=message.pk)
    transaction.on_commit(lambda: payments_customer_says_paid(contact=contact), robust=True)


def _follow_up_intent(*, contact: Contact, message: Message, now: datetime) -> None:
    """The client replied: its follow-up chain stops at once, and the intent of the reply (a clear
    yes or no, uncertain, other) decides whether the next bot message enrols it again."""
    if hasattr(message, "last_bot_text"):  # read with the message (incoming_process)
        last_bot_text = message.last_bot_text
    else:
        last_bot = _bot_messages(contact.pk, until=message.timestamp).only("text").first()
        last_bot_text = last_bot.text if last_bot else None
    if last_bot_text is None:
        intent = "other"  # the client's first words answer nothing of ours
    else:
        asked = _open_inbound(contact).filter(timestamp__lte=message.timestamp).order_by("timestamp", "id")
        text = "\n".join(model_text(m.display_text) for m in asked if m.display_text.strip())
        text = text or model_text(message.display_text)
        intent = reply_intent(contact=contact, text=text, last_bot_text=last_bot_text)
    followup_on_customer_reply(contact=contact, intent=intent, now=now)


def _finish(
    contact: Contact,
    message: Message,
    *,
    status: str,
    detail: str = "",
    reply: str = "",
    purpose: str = Message.Purpose.REPLY,
    review_note: str = "",
) -> Outcome:
    """Marks the customer's messages up to `message` handled and queues the reply, atomically,
    and ends the burst's quiet window. A reply is dropped if the customer wrote again meanwhile:
    the burst is not over, its task runs again when the new window ends (`again_in`) and answers
    everything."""
    with transaction.atomic():
        # The contact's row lock orders this against ingest (which holds it while it stores a
        # message): a message stored before is seen here; one stored after found the window
        # over and scheduled its own run.
        Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk").first()
        newest = _newest_open(contact)
        if reply and newest is None:
            # Another run answered the burst between this one's first read and its lock.
            return Outcome("skipped", "answered meanwhile")
        again_in = None
        if newest is not None and newest.pk != message.pk:
            # Its ingest scheduled a run; this one comes too, in case the clocks disagreed.
            again_in = max(0.0, (_window_end(newest) - timezone.now()).total_seconds())
            if reply:
                return Outcome("superseded", "a newer message arrived while answering", again_in=again_in)
        # A voice note still being transcribed is not answered yet: it stays open.
        _open_inbound(contact).filter(timestamp__lte=message.timestamp).exclude(
            voice_status=Message.VoiceStatus.PENDING
        ).update(processed_at=timezone.now())
        if reply:
            message_enqueue_outbound(
                contact=contact,
                text=reply,
                purpose=purpose,
                reply_to=message,
                idempotency_key=f"reply:{message.pk}",
                review_note=review_note,
            )
            # A real answer ends the wait; the fallback starts it. (Nothing to end when the
            # read at the start found no late answer waiting.)
            if purpose != Message.Purpose.FALLBACK and getattr(message, "contact_waiting_for_model", True):
                PendingReply.objects.filter(contact=contact, resolved_at__isnull=True).update(
                    resolved_at=timezone.now()
                )
    log.info("ai.processed", contact_id=contact.pk, message_id=message.pk, status=status, detail=detail)
    return Outcome(status, detail, again_in=again_in)


def _opt_out(contact: Contact, message: Message, now: datetime) -> Outcome:
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk, opted_out_at__isnull=True).update(opted_out_at=now)
        followup_stop(contact=contact, reason=FollowUp.StopReason.OPTED_OUT, now=now)
    # A fixed confirmation, never generated: it must say exactly this.
    return _finish(
        contact,
        message,
        status="opted out",
        reply=fixed_text("opt_out_confirmation", contact_language(contact)),
        purpose=Message.Purpose.NOTIFICATION,
    )


def _complaint(contact: Contact, message: Message, now: datetime) -> Outcome:
    contact_hand_off(contact=contact, message=message, reason="Жалоба клиента", key=f"complaint:{message.pk}", now=now)
    return _finish(
        contact,
        message,
        status="complaint handed off",
        reply=fixed_text("handoff", contact_language(contact)),
        purpose=Message.Purpose.HANDOFF,
    )


def _over_daily_tokens(contact: Contact, message: Message, now: datetime) -> Outcome:
    """The contact's model calls used LLM_CONTACT_DAILY_TOKENS today: no more model calls for
    them; the customer gets the fallback line and the managers the conversation (the bot is
    paused, so the customer's next messages wait for a person; one notice a day per contact)."""
    log.warning("ai.contact_daily_tokens_spent", contact_id=contact.pk, cap=settings.LLM_CONTACT_DAILY_TOKENS)
    contact_hand_off(
        contact=contact,
        message=message,
        reason="Клиент исчерпал дневной лимит ИИ, ответьте ему сами",
        key=f"daily-tokens:{contact.pk}:{local_day_start(now).date().isoformat()}",
        now=now,
        model_brief=False,
    )
    return _finish(
        contact,
        message,
        status="handed off",
        detail="daily tokens spent",
        reply=fixed_text("fallback", contact_language(contact)),
        purpose=Message.Purpose.HANDOFF,
    )


def _fallback(contact: Contact, message: Message, now: datetime, *, error: str) -> Outcome:
    """The model is down, or the day's model budget is spent (LLMBudgetExceededError is
    transient): one polite message per outage, and a row that retries the real answer when it
    is back."""
    with transaction.atomic():
        pending = PendingReply.objects.select_for_update().filter(contact=contact, resolved_at__isnull=True).first()
        first_of_outage = pending is None
        if pending is None:
            pending = PendingReply.objects.create(contact=contact, message=message, due_at=now + timedelta(seconds=60))
        else:
            PendingReply.objects.filter(pk=pending.pk).update(message=message)
        PendingReply.objects.filter(pk=pending.pk).update(last_error=error[:2000])
    log.warning("ai.model_unavailable", contact_id=contact.pk, first_of_outage=first_of_outage, error=error)
    if not first_of_outage:
        return _finish(contact, message, status="waiting for the model")
    # The fallback promises a manager: tell them.
    managers_notify(
        contact=contact,
        reason="ИИ недоступен, клиент ждёт ответа",
        summary=message.display_text,
        key=f"fallback:{pending.pk}",
    )
    return _finish(
        contact,
        message,
        status="fallback",
        reply=fixed_text("fallback", contact_language(contact)),
        purpose=Message.Purpose.FALLBACK,
    )


def pending_retry(*, pending_id: int, now: datetime | None = None) -> Outcome:
    """Tries the real answer for a customer who got the fallback, to their newest message.
    Success answers and resolves the row; another failure moves its due time on; a newer
    message still waiting for its own task is left to that task."""
    now = now or timezone.now()
    pending = (
        PendingReply.objects.select_related("contact")
        .filter(pk=pending_id, resolved_at__isnull=True, due_at__lte=now)
        .first()
    )
    if pending is None:
        return Outcome("skipped")
    contact = pending.contact

    def resolve(note: str) -> Outcome:
        PendingReply.objects.filter(pk=pending.pk).update(resolved_at=now, last_error=note[:2000])
        return Outcome("resolved", note)

    if now - pending.created_at > PENDING_MAX_AGE:
        return resolve("too old to answer now; the managers were notified at the fallback")
    eligibility = contact_eligibility(contact=contact, now=now)
    if eligibility.operator_mode or eligibility.whitelisted:
        return resolve("operator mode")
    if _newest_open(contact) is not None:
        return resolve("a newer message is being answered by its own task")
    if contact_over_daily_tokens(contact.pk, now):
        return resolve("the contact's daily model tokens are spent; the managers were notified at the fallback")
    message = (
        Message.objects.filter(contact=contact, direction=Message.Direction.IN)
        .exclude(voice_status=Message.VoiceStatus.FAILED)
        .order_by("-timestamp", "-id")
        .first()
    )
    try:
        with cache_lock(f"ai:contact:{contact.pk}", ttl=CONTACT_LOCK_SECONDS, wait=0, renew=True):
            if contact.is_client is None:
                contact_moderate(contact=contact)
                contact.refresh_from_db()
            if contact.is_client is not True:
                return resolve("not a client (or not enough data yet)")
            answer = _agent_answer(contact=contact, message=message, now=now)
    except LockTimeout:
        return Outcome("busy")
    except LLMTransientError as exc:
        attempts = pending.attempts + 1
        delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS) - 1)]
        PendingReply.objects.filter(pk=pending.pk).update(
            attempts=attempts, due_at=now + timedelta(seconds=delay), last_error=str(exc)[:2000]
        )
        return Outcome("still unavailable", str(exc))
    except LLMPermanentError as exc:
        return resolve(str(exc))
    with transaction.atomic():
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        if _newest_open(contact) is not None:
            return resolve("the customer wrote again while answering")
        message_enqueue_outbound(
            contact=contact,
            text=answer.text,
            purpose=answer.purpose,
            reply_to=message,
            idempotency_key=f"late-reply:{pending.pk}",
            review_note=answer.review_note,
        )
        PendingReply.objects.filter(pk=pending.pk).update(resolved_at=now, attempts=pending.attempts + 1)
    log.info("ai.late_answer_sent", contact_id=contact.pk, attempts=pending.attempts + 1)
    return Outcome("answered")


def pending_due(*, now: datetime | None = None) -> list[int]:
    return list(
        PendingReply.objects.filter(resolved_at__isnull=True, due_at__lte=now or timezone.now())
        .order_by("due_at")
        .values_list("pk", flat=True)[:100]
    )
