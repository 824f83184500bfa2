"""How the model library reacts to what the contacts core and the channel announce.
Connected in AiConfig.ready()."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ai.models import ClassificationRecord, ModelCall, PendingReply, PromptOverride, ReplyDecision
from ai.prompts import prompt_overrides_changed
from ai.tasks import voice_transcribe
from contacts.models import Contact
from contacts.signals import contact_classified, contact_forgetting
from messaging.signals import inbound_stored


@receiver(post_save, sender=PromptOverride, dispatch_uid="ai.prompt_override_saved")
@receiver(post_delete, sender=PromptOverride, dispatch_uid="ai.prompt_override_deleted")
def prompt_override_changed(**_: Any) -> None:
    """Every process reads the prompt overrides again (ai.prompts keeps them per process)."""
    prompt_overrides_changed()


@receiver(inbound_stored, dispatch_uid="ai.transcribe_voice_note")
def transcribe_voice_note(*, message_id: int, awaiting_transcription: bool, **_: Any) -> None:
    """A voice note is transcribed before anyone can answer it."""
    if awaiting_transcription:
        voice_transcribe.delay(message_id)


@receiver(contact_classified, dispatch_uid="ai.record_classification")
def record_classification(
    *,
    contact: Contact,
    is_client: bool | None,
    by: str,
    confidence: float | None,
    reasoning: str,
    request_type: str,
    model_call_id: int | None,
    forced_at: datetime | None = None,
    forced_by: AbstractBaseUser | None = None,
    **_: Any,
) -> None:
    """Every verdict, the operator's and the model's, joins the contact's audit trail (in the
    verdict's own transaction). A verdict an operator forced names who asked and when."""
    ClassificationRecord.objects.create(
        contact=contact,
        source=by,
        is_client=is_client,
        confidence=confidence,
        reasoning=reasoning,
        request_type=request_type,
        model_call_id=model_call_id,
        forced_at=forced_at,
        forced_by=forced_by,
    )


@receiver(contact_forgetting, dispatch_uid="ai.forget_contact")
def forget_contact(*, contact: Contact, counts: dict[str, int], **_: Any) -> None:
    """Deletes the contact's classification audit trail, the assistant's decision records (they
    quote the conversation) and its pending replies (they hang off its messages, so they go
    before them). Model calls stay for the usage numbers, without the link to the contact."""
    counts["reply_decisions"] = ReplyDecision.objects.filter(contact=contact).delete()[0]
    classifications = ClassificationRecord.objects.filter(contact=contact)
    pending = PendingReply.objects.filter(contact=contact)
    counts["classifications"] = classifications.count()
    counts["pending_replies"] = pending.count()
    pending.delete()
    classifications.delete()
    counts["model_calls_unlinked"] = ModelCall.objects.filter(contact=contact).update(contact=None)
