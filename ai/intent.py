"""The intent of a client's reply, for the follow-up cadence: a clear "yes", a clear "no", an
uncertain answer ("посмотрю", "подумаю"), or anything else.

`reply_intent` asks the backend (the fast model, structured output) and never fails; the
keyword rules (`ai.rules.intent`) decide when the model is unavailable.
"""

from __future__ import annotations

import structlog

from ai.backends import get_backend
from ai.llm import CallContext, LLMError
from ai.prompts import prompt_get, prompt_render
from ai.rules.intent import Intent, intent_rules
from contacts.models import Contact

log = structlog.get_logger(__name__)


def reply_intent(*, contact: Contact, text: str, last_bot_text: str = "") -> Intent:
    """The intent of `text` (the client's latest messages) after our `last_bot_text`. Asks the
    backend; when the model is unavailable or answers nonsense, the rules decide."""
    prompt = prompt_get("intent_prompt")
    ctx = CallContext(purpose="intent", contact_id=contact.pk, prompt_name=prompt.name, prompt_version=prompt.version)
    try:
        intent = get_backend().classify_intent(
            system=prompt_render(prompt), text=text, last_bot_text=last_bot_text, ctx=ctx
        )
    except LLMError as exc:
        intent = intent_rules(text)
        log.info("intent.rules_fallback", contact_id=contact.pk, error_type=type(exc).__name__, intent=intent)
        return intent
    log.info("intent.classified", contact_id=contact.pk, intent=intent)
    return intent
