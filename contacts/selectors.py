from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from contacts.models import Contact, WhitelistEntry


def contact_counts(*, since: datetime) -> dict[str, int]:
    """Totals by classification and the number of contacts first seen since `since`."""
    return Contact.objects.aggregate(
        total=Count("id"),
        new=Count("id", filter=Q(created_at__gte=since)),
        clients=Count("id", filter=Q(is_client=True)),
        not_clients=Count("id", filter=Q(is_client=False)),
        unclassified=Count("id", filter=Q(is_client__isnull=True)),
        human_mode=Count("id", filter=Q(bot_mode=Contact.BotMode.HUMAN)),
        opted_out=Count("id", filter=Q(opted_out_at__isnull=False)),
    )


# --- Who the bot may talk to ---------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    """What stands between the bot and a contact right now. Every path that answers or writes
    to a contact reads it here: ingest, the assistant step, the proactive gate, the sender."""

    whitelisted: bool  # an owner's personal number: never answered, never messaged
    opted_out: bool  # asked for no proactive messages (answers to their own questions still go out)
    operator_mode: bool  # a person owns the chat (until paused_until, or until resumed)
    is_client: bool | None  # None: not enough data yet


def contact_is_whitelisted(*, phone: str) -> bool:
    """True for an owner's personal number (`phone` normalised). One query."""
    return WhitelistEntry.objects.filter(phone=phone).exists()


def whitelisted_phones(*, phones: Iterable[str]) -> set[str]:
    """The whitelisted numbers among `phones` (normalised), for a batch. One query, none for no phones."""
    phones = set(phones)
    if not phones:
        return set()
    return set(WhitelistEntry.objects.filter(phone__in=phones).values_list("phone", flat=True))


def contact_eligibility(*, contact: Contact, now: datetime) -> Eligibility:
    """The contact's standing at `now`, from the row as loaded (refresh it first where a change
    made meanwhile matters) and the whitelist. One query."""
    return Eligibility(
        whitelisted=contact_is_whitelisted(phone=contact.phone),
        opted_out=contact.opted_out_at is not None,
        operator_mode=contact.bot_is_paused(now),
        is_client=contact.is_client,
    )
