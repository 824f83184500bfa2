"""Handing a chat to a person: the one way every path does it (the model's `handoff_to_manager`
tool, a complaint, a question the model cannot answer at all).

The customer is told in the step's own answer, which goes out with Message.Purpose.HANDOFF:
that row is the record of the hand-off reports count (messaging.selectors), whatever the words.
The hand-off itself is a messaging.models.HandOff row: the managers' brief, the deadline, the
reminders and the assistant's return (messaging.handoffs).

Each manager gets one brief on WhatsApp: who the customer is, what they want, the SPIN picture
(situation, problem, need), amounts and products mentioned, objections, a proposed call slot
and the admin link. The model writes it from the conversation through the compose step (the
number guard: a figure nobody named in the conversation or the knowledge base is not passed
on); without the model (the offline backend, or the model failing) a fixed template does.
A model call must not hold up the customer's answer: with the model the brief is written by
task `assistant.handoff_brief` (queue llm) right after the commit; the template goes at once.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.utils import timezone

from ai.backends import get_backend
from ai.compose import Correction, Draft, Result, compose
from ai.conversation import model_text
from ai.llm import CallContext, LLMError, Turn
from ai.prompts import prompt_get, prompt_render
from ai.rules.guard import known_figures, stated_figures
from contacts.models import Contact, ScheduledCall
from contacts.services import contact_pause_bot
from messaging.handoffs import admin_link, handoff_brief_send, handoff_open
from messaging.models import HandOff, Message
from messaging.notify import contact_line
from messaging.selectors import conversation_recent
from project.lib.localtime import local_now_text

log = structlog.get_logger(__name__)

BRIEF_PROMPT = "handoff_brief_prompt"
BRIEF_REQUEST = "Переписка с клиентом (от старых сообщений к новым):\n{transcript}\n\nНапиши сводку для менеджера."
BRIEF_CORRECTION = (
    "В сводке были цифры, которых нет ни в переписке, ни в базе знаний: {figures}. "
    "Напиши сводку заново и называй только цифры из переписки."
)
# How much of the conversation the brief reads (the model and the template).
TRANSCRIPT_MESSAGES = 30
WANTS_MAX_CHARS = 300


def contact_hand_off(
    *, contact: Contact, message: Message, reason: str, key: str, now: datetime, model_brief: bool = True
) -> int:
    """Hands the chat to a person: the bot stops answering `contact` until the humans' silence
    after their answer (BOT_PAUSE_AFTER_OPERATOR) or an operator resumes it, a HandOff is
    recorded (idempotent per `key`: a second call briefs nobody again), and every manager gets
    the brief (at once from the template; with the model, from task assistant.handoff_brief
    after the commit). Returns how many managers are briefed. The caller tells the customer, in
    a Message.Purpose.HANDOFF message (delivered in operator mode, never a reason to enrol a
    follow-up). `model_brief=False` sends the template at once (a contact whose model tokens
    for the day are spent gets no model call, not even for the brief)."""
    contact_pause_bot(contact=contact, until=None, now=now)
    handoff = handoff_open(contact=contact, message=message, reason=reason, key=key, now=now)
    if get_backend().name == "offline" or not model_brief:
        notified = handoff_brief_send(handoff=handoff, text=brief_template(handoff), by="template", now=now)
    else:
        notified = 0 if handoff.brief_sent_at else len(settings.MANAGER_PHONES)
    log.info("assistant.handed_off", contact_id=contact.pk, message_id=message.pk, handoff_id=handoff.pk)
    return notified


def handoff_brief_deliver(*, handoff_id: int, now: datetime | None = None) -> str:
    """Writes the brief of hand-off `handoff_id` and sends it to the managers, unless it went out
    already. The model writes it through the compose step; a model error, or drafts that keep
    stating figures nobody named, give the template. Returns "sent", "template" or "skipped"."""
    now = now or timezone.now()
    handoff = HandOff.objects.select_related("contact").filter(pk=handoff_id, brief_sent_at__isnull=True).first()
    if handoff is None:
        return "skipped"
    text, by = brief_write(handoff)
    handoff_brief_send(handoff=handoff, text=text, by=by, now=now)
    return "sent" if by == "model" else "template"


def brief_write(handoff: HandOff) -> tuple[str, str]:
    """The brief's text and who wrote it ("model" or "template")."""
    if get_backend().name == "offline":
        return brief_template(handoff), "template"
    contact = handoff.contact
    messages = _conversation(contact)
    transcript = "\n".join(f"{_speaker(m)}: {model_text(m.display_text)}" for m in messages if m.display_text.strip())
    if not transcript:
        return brief_template(handoff), "template"
    prompt = prompt_get(BRIEF_PROMPT)
    system = prompt_render(prompt)
    ctx = CallContext(
        purpose="handoff", contact_id=contact.pk, prompt_name=prompt.name, prompt_version=prompt.version, extra={}
    )
    backend = get_backend()
    request = BRIEF_REQUEST.format(transcript=transcript)
    # Figures the conversation states may be repeated: the guard stops only invented ones.
    allowed = known_figures("\n".join(m.display_text for m in messages))

    def draft(correction: Correction | None) -> Draft:
        turns = [Turn(role="user", text=request)]
        if correction is not None and correction.draft:
            turns += [
                Turn(role="model", text=correction.draft),
                Turn(role="user", text=BRIEF_CORRECTION.format(figures=correction.figures_text)),
            ]
        return Draft(backend.generate_text(system=system, turns=turns, ctx=ctx).text, allowed_figures=allowed)

    try:
        composed = compose(draft=draft, safe_text=None)
    except LLMError as exc:
        log.warning("handoff.brief_model_failed", handoff_id=handoff.pk, contact_id=contact.pk, error=str(exc))
        return brief_template(handoff), "template"
    if composed.result == Result.UNUSABLE:
        log.warning("handoff.brief_unsupported_figures", handoff_id=handoff.pk, figures=list(composed.figures))
        return brief_template(handoff), "template"
    return _frame(handoff, composed.text), "model"


def brief_template(handoff: HandOff) -> str:
    """The brief without the model: who, why, the customer's latest words, the amounts the
    conversation named, a booked call and the admin link."""
    contact = handoff.contact
    messages = _conversation(contact)
    customer = [m.display_text for m in messages if m.direction == Message.Direction.IN and m.display_text.strip()]
    wants = " ".join(" ".join(customer[-3:]).split()) or "—"
    if len(wants) > WANTS_MAX_CHARS:
        wants = "…" + wants[-WANTS_MAX_CHARS:]
    figures = sorted(stated_figures("\n".join(customer)))
    body = f"Хочет: «{wants}»\nСуммы в переписке: {', '.join(figures) if figures else '—'}"
    return _frame(handoff, body)


def _frame(handoff: HandOff, body: str) -> str:
    """The parts of every brief the code states itself, around the body."""
    contact = handoff.contact
    return "\n".join(
        [
            f"🔔 {handoff.reason}",
            f"Клиент: {contact_line(contact)}",
            body.strip(),
            f"Созвон: {_booked_call(contact)}",
            f"Карточка: {admin_link(contact)}",
        ]
    )


def _booked_call(contact: Contact) -> str:
    call = (
        ScheduledCall.objects.filter(
            contact=contact, status=ScheduledCall.Status.SCHEDULED, scheduled_at__gte=timezone.now()
        )
        .order_by("scheduled_at")
        .first()
    )
    return local_now_text(call.scheduled_at) if call else "не назначен"


def _conversation(contact: Contact) -> list[Message]:
    return [
        m
        for m in conversation_recent(contact=contact, limit=TRANSCRIPT_MESSAGES)
        if not (m.direction == Message.Direction.OUT and m.status == Message.Status.FAILED)
    ]


def _speaker(message: Message) -> str:
    if message.direction == Message.Direction.IN:
        return "Клиент"
    return "Менеджер" if message.author == Message.Author.OPERATOR else "Ассистент"
