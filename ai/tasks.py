"""Model-library tasks (queue `llm`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from ai import voice
from ai.decisions import reply_decisions_purge
from ai.knowledge import KnowledgeBusy, knowledge_refresh
from ai.usage import model_calls_purge
from messaging.services import message_retention_purge, message_transcripts_clear
from messaging.wappi import client_from_settings

log = structlog.get_logger(__name__)

VOICE_RETRIES = 3
# Countdowns stay short (Redis redelivers long ETAs); the inbound sweeper is the last resort.
VOICE_MAX_COUNTDOWN = 300


@shared_task(name="ai.apply_retention", ignore_result=True)
def apply_retention() -> str:
    """Daily: deletes what is older than the retention settings (RETENTION_MESSAGES_DAYS, with
    the assistant's decision records that quote them,
    RETENTION_TRANSCRIPTS_DAYS, RETENTION_MODEL_CALLS_DAYS; 0 keeps it forever), each app
    through its own service. Each conversation keeps its last MAX_CONTEXT_MESSAGES messages
    (the model's context if it goes on) and the outbox its unsent rows."""
    now = timezone.now()
    keep_last = settings.MAX_CONTEXT_MESSAGES
    done: dict[str, int] = {}
    if settings.RETENTION_MESSAGES_DAYS:
        before = now - timedelta(days=settings.RETENTION_MESSAGES_DAYS)
        done["messages"] = message_retention_purge(before=before, keep_last=keep_last)
        done["reply_decisions"] = reply_decisions_purge(before=before)
    if settings.RETENTION_TRANSCRIPTS_DAYS:
        before = now - timedelta(days=settings.RETENTION_TRANSCRIPTS_DAYS)
        done["transcripts"] = message_transcripts_clear(before=before, keep_last=keep_last)
    if settings.RETENTION_MODEL_CALLS_DAYS:
        before = now - timedelta(days=settings.RETENTION_MODEL_CALLS_DAYS)
        done["model_calls"] = model_calls_purge(before=before)
    if done:
        log.info("retention.applied", **done)
    return " ".join(f"{kind}={count}" for kind, count in done.items()) or "keep forever"


@shared_task(name="ai.refresh_knowledge_base", ignore_result=True)
def refresh_knowledge_base() -> str:
    """Every minute, and after an upload in the admin: PDFs dropped into KNOWLEDGE_BASE_PATH are
    answered from within a minute. While another refresh runs this one does nothing ("busy"):
    that one, or the next minute's, picks the files up."""
    try:
        results = knowledge_refresh()
    except KnowledgeBusy:
        log.info("knowledge.refresh_busy")
        return "busy"
    changed = [r for r in results if r.action != "unchanged"]
    if changed:
        log.info("knowledge.refreshed", changes=[r.summary() for r in changed])
    return f"changed={len(changed)}"


# The name keeps its `messaging.` prefix: queued tasks and the routes (queue `llm`) use it.
@shared_task(name="messaging.voice_transcribe", bind=True, ignore_result=True, max_retries=VOICE_RETRIES)
def voice_transcribe(self: Any, message_id: int) -> str:
    """Transcribes one inbound voice note; Wappi or Gemini being busy is retried with growing
    pauses, and the last attempt asks the customer to type instead."""
    try:
        outcome = voice.voice_process(
            message_id=message_id, client=client_from_settings(), final_attempt=self.request.retries >= VOICE_RETRIES
        )
    except voice.VoiceRetry as exc:
        raise self.retry(countdown=min(VOICE_MAX_COUNTDOWN, 10 * 3**self.request.retries)) from exc
    return outcome.status
