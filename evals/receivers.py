"""How the conversation checks react to the contacts core. Connected in EvalsConfig.ready()."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from contacts.models import Contact
from contacts.signals import contact_forgetting
from evals.models import CardDraft


@receiver(contact_forgetting, dispatch_uid="evals.forget_contact")
def forget_contact(*, contact: Contact, counts: dict[str, int], **_: Any) -> None:
    """A card drafted from the contact's conversation quotes it: it goes with the contact."""
    counts["card_drafts"] = CardDraft.objects.filter(message__contact=contact).delete()[0]
