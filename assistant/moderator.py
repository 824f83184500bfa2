"""The moderator: is this contact a client, not a client, or not known yet?

Two doors, one model call: `contact_moderate` is the assistant's own look at a contact and
never overrides an operator's verdict; `contact_reclassify` is an operator asking the model to
decide again (the API's classify endpoint, the admin's re-classify action, task
`ai.reclassify`), which does, and the audit trail names who asked."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

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
    return _classify(contact=contact, forced_at=None, forced_by=None)


def contact_reclassify(
    *, contact: Contact, forced_by: AbstractBaseUser | None, forced_at: datetime | None = None
) -> Verdict | None:
    """An operator's "decide again": the model classifies the contact as `contact_moderate`
    does and its verdict is stored even over an operator's verdict. The audit record names
    `forced_by` (None when not known, e.g. a task queued by an older release) and `forced_at`
    (when it was asked for; now by default). When the model gives no usable verdict the
    contact is left as it was (an operator's verdict stands), the failure is recorded with who
    asked, and None is returned; LLMTransientError is raised as by `contact_moderate`."""
    return _classify(contact=contact, forced_at=forced_at or timezone.now(), forced_by=forced_by)


def _classify(*, contact: Contact, forced_at: datetime | None, forced_by: AbstractBaseUser | None) -> Verdict | None:
    prompt = prompt_get("moderator_prompt")
    ctx = CallContext(purpose="classify", contact_id=contact.pk, prompt_name=prompt.name, prompt_version=prompt.version)
    history = conversation_turns(contact=contact, limit=min(20, settings.MAX_CONTEXT_MESSAGES))
    try:
        verdict = get_backend().classify(
            system=prompt_render(prompt), contact=contact_card(contact), history=history, ctx=ctx
        )
    except LLMError as exc:
        log.warning("moderator.failed", contact_id=contact.pk, error=str(exc), retryable=exc.retryable)
        ClassificationRecord.objects.create(
            contact=contact,
            source="model",
            is_client=None,
            error=str(exc)[:2000],
            forced_at=forced_at,
            forced_by=forced_by,
        )
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
        forced_at=forced_at,
        forced_by=forced_by,
    )
    log.info(
        "moderator.verdict",
        contact_id=contact.pk,
        is_client=verdict.is_client,
        request_type=verdict.request_type,
        forced=forced_at is not None,
    )
    return verdict
