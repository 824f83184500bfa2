"""The moderator: is this contact a client, not a client, or not known yet?"""

from __future__ import annotations

import structlog
from django.conf import settings

from ai.backends import get_backend
from ai.conversation import contact_card, conversation_turns
from ai.llm import CallContext, LLMError, LLMTransientError, Verdict
from ai.models import ClassificationRecord
from ai.prompts import prompt_get, prompt_render
from contacts.models import Contact
from contacts.services import contact_set_client_status

log = structlog.get_logger(__name__)


def contact_moderate(*, contact: Contact) -> Verdict | None:
    """Classifies the contact from its names and last 20 messages and stores the verdict (not
    over an operator's). Invalid output or an unavailable model leave is_client unknown: the
    failure is logged and recorded in the audit trail, and None is returned."""
    prompt = prompt_get("moderator_prompt")
    ctx = CallContext(purpose="classify", contact_id=contact.pk, prompt_name=prompt.name, prompt_version=prompt.version)
    history = conversation_turns(contact=contact, limit=min(20, settings.MAX_CONTEXT_MESSAGES))
    try:
        verdict = get_backend().classify(
            system=prompt_render(prompt), contact=contact_card(contact), history=history, ctx=ctx
        )
    except LLMError as exc:
        log.warning("moderator.failed", contact_id=contact.pk, error=str(exc), retryable=exc.retryable)
        ClassificationRecord.objects.create(contact=contact, source="model", is_client=None, error=str(exc)[:2000])
        if isinstance(exc, LLMTransientError):
            raise  # the caller falls back and retries; a broken answer just leaves it unknown
        return None
    contact_set_client_status(
        contact=contact,
        is_client=verdict.is_client,
        confidence=verdict.confidence,
        reasoning=verdict.reasoning,
        request_type=verdict.request_type,
        by="model",
        model_call_id=verdict.call_id,
    )
    log.info("moderator.verdict", contact_id=contact.pk, is_client=verdict.is_client, request_type=verdict.request_type)
    return verdict
