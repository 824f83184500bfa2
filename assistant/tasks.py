"""The assistant's tasks: thin wrappers around assistant.pipeline and assistant.moderator,
and the inbound sweeper that hands them what was lost. Their names keep the prefixes they
were born with (`ai.`, `messaging.`): running beats, queued tasks and routes use them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from ai.tasks import voice_transcribe
from assistant import pipeline
from assistant.handoff import handoff_brief_deliver
from assistant.moderator import contact_reclassify
from contacts.models import Contact
from messaging.handoffs import handoffs_check, handoffs_without_brief
from messaging.notify import unanswered_notify
from messaging.selectors import inbound_unhandled
from project.lib.retry import DATABASE_DOWN

log = structlog.get_logger(__name__)


@shared_task(name="ai.process_incoming", bind=True, ignore_result=True, max_retries=None)
def process_incoming(self: Any, message_id: int) -> str:
    """The AI step for the burst of a customer message's contact. Scheduled once per burst,
    for the end of its quiet window (Contact.reply_due_at); a run that finds the window moved on
    by a newer message runs again once, at the new end. With the database away it tries again
    with backoff (the inbound sweeper is the last resort)."""
    try:
        outcome = pipeline.incoming_process(message_id=message_id)
    except pipeline.NotYet as wait:
        raise self.retry(countdown=max(0.2, wait.delay)) from wait
    except DATABASE_DOWN as exc:
        countdown = min(60, 2 ** min(self.request.retries, 6))
        log.warning("ai.database_unavailable", message_id=message_id, retry_in_s=countdown)
        raise self.retry(countdown=countdown) from exc
    if outcome.again_in is not None:
        # The customer wrote again while this run worked: the same burst, answered when it is quiet.
        process_incoming.apply_async((message_id,), countdown=max(0.2, outcome.again_in))
    return outcome.status


@shared_task(name="ai.retry_pending", ignore_result=True)
def retry_pending() -> str:
    """Every minute: customers who got the fallback while the model was down get the real answer."""
    due = pipeline.pending_due()
    for pk in due:
        answer_pending.apply_async((pk,), expires=300)
    return f"due={len(due)}"


@shared_task(name="ai.answer_pending", ignore_result=True)
def answer_pending(pending_id: int) -> str:
    return pipeline.pending_retry(pending_id=pending_id).status


@shared_task(name="ai.reclassify", ignore_result=True)
def reclassify(contact_id: int, forced_by_id: int | None = None, forced_at: str | None = None) -> str:
    """An operator's "decide again" (assistant.moderator.contact_reclassify): the model
    decides, even over an operator's verdict, and the audit trail names the user `forced_by_id`
    and the moment `forced_at` (ISO 8601) they asked. A task queued by an older release carries
    the contact id alone: it still forces, with nobody named and the time it runs."""
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return "no such contact"
    forced_by = get_user_model().objects.filter(pk=forced_by_id).first() if forced_by_id is not None else None
    verdict = contact_reclassify(
        contact=contact,
        forced_by=forced_by,
        forced_at=datetime.fromisoformat(forced_at) if forced_at else None,
    )
    return "unknown" if verdict is None else str(verdict.is_client)


# Queue `send` (by its name): the sweeper runs beside the outbox sweeper, not behind model calls.
@shared_task(name="messaging.sweep_inbound", ignore_result=True)
def sweep_inbound() -> str:
    """No customer message is left unanswered because its hand-off task was lost: stored
    messages nobody took are handed to the AI step, voice notes to transcription. Messages
    nobody answered within a day are reported to the managers, once (unanswered_notify)."""
    now = timezone.now()
    text, voice = inbound_unhandled(now=now)
    for pk in text:
        process_incoming.apply_async((pk,), expires=600)
    for pk in voice:
        voice_transcribe.apply_async((pk,), expires=600)
    if text or voice:
        log.warning("inbound.swept", handed_to_ai=len(text), voice=len(voice))
    # What nobody answered within a day is not dropped silently: the managers are told once.
    reported = unanswered_notify(now=now)
    return f"ai={len(text)} voice={len(voice)} unanswered={reported}"


@shared_task(name="assistant.handoff_brief", ignore_result=True)
def handoff_brief(handoff_id: int) -> str:
    """The managers' brief of a hand-off, written by the model (the template when it fails).
    Started after the hand-off's commit; check_handoffs re-starts a lost one."""
    return handoff_brief_deliver(handoff_id=handoff_id)


# A brief not sent this long after its hand-off opened: its task was lost (the broker, a worker).
BRIEF_LOST_AFTER = timedelta(minutes=2)


@shared_task(name="assistant.check_handoffs", ignore_result=True)
def check_handoffs() -> str:
    """Every minute: open hand-offs past their deadline remind the managers, then the owner's
    escalation numbers; the ones the assistant has back are closed; a lost brief is re-started."""
    now = timezone.now()
    report = handoffs_check(now=now)
    lost = handoffs_without_brief(before=now - BRIEF_LOST_AFTER)
    for pk in lost:
        handoff_brief.apply_async((pk,), expires=600)
    return f"closed={report.closed} reminded={report.reminded} escalated={report.escalated} briefs={len(lost)}"
