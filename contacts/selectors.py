from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, DateTimeField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact, OptOutRecord, ScheduledCall, WhitelistEntry
from contacts.optouts import opt_out_hashes, opt_outs_by_phone


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


def contact_new_by_day(*, since: datetime, until: datetime) -> dict[date, dict[str, int]]:
    """Contacts first seen in [since, until), per local day (TIME_ZONE), by their verdict now:
    new (all), clients, not clients, unknown. Days without new contacts are absent. One query."""
    rows = (
        Contact.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            new=Count("id"),
            clients=Count("id", filter=Q(is_client=True)),
            not_clients=Count("id", filter=Q(is_client=False)),
            unknown=Count("id", filter=Q(is_client__isnull=True)),
        )
        .order_by("day")
    )
    return {row.pop("day"): row for row in rows}


def contact_first_reply_waits(*, since: datetime, until: datetime) -> list[tuple[datetime, float]]:
    """For contacts whose first message came in [since, until) and who got an answer: when they
    first wrote, and the seconds until our first message after it. One query."""
    rows = Contact.objects.filter(
        first_inbound_at__gte=since, first_inbound_at__lt=until, first_outbound_at__gte=F("first_inbound_at")
    ).values_list("first_inbound_at", "first_outbound_at")
    return [(first_in, (first_out - first_in).total_seconds()) for first_in, first_out in rows]


def scheduled_call_counts_by_day(*, since: datetime, until: datetime) -> dict[date, dict[str, int]]:
    """Calls booked in [since, until), per local day (TIME_ZONE) of booking: booked (all) and
    cancelled since. Days without bookings are absent. One query."""
    rows = (
        ScheduledCall.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(booked=Count("id"), cancelled=Count("id", filter=Q(status=ScheduledCall.Status.CANCELLED)))
        .order_by("day")
    )
    return {row.pop("day"): row for row in rows}


def contact_funnel(*, since: datetime, until: datetime) -> dict[str, int]:
    """The contacts first seen in [since, until), how many of them are clients, and how many
    booked a call (ever). One query. Payments add the last step (payments.selectors)."""
    return (
        Contact.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(has_call=Exists(ScheduledCall.objects.filter(contact_id=OuterRef("pk"))))
        .aggregate(
            contacts=Count("id"),
            clients=Count("id", filter=Q(is_client=True)),
            calls=Count("id", filter=Q(has_call=True)),
        )
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


@dataclass(frozen=True)
class NumbersScreen:
    """What a batch of incoming numbers needs checked before anything is stored for them."""

    whitelisted: set[str]  # never stored or answered, only counted
    opted_out: dict[str, datetime]  # numbers whose forgotten contact had opted out: {phone: when}


def numbers_screen(*, phones: Iterable[str]) -> NumbersScreen:
    """whitelisted_phones and contacts.optouts.opt_outs_remembered of a batch's numbers (normalised)
    in one query (a UNION ALL of the two lookups), none for no phones: ingest reads both for every
    webhook POST, and a contact created for a number starts with its remembered opt-out."""
    phones = set(phones)
    if not phones:
        return NumbersScreen(whitelisted=set(), opted_out={})
    by_hash = opt_out_hashes(phones=phones)
    whitelist = (
        WhitelistEntry.objects.filter(phone__in=phones)
        .order_by()
        .values_list("phone", Value(None, output_field=DateTimeField()))
    )
    registry = (
        OptOutRecord.objects.filter(phone_hash__in=list(by_hash)).order_by().values_list("phone_hash", "opted_out_at")
    )
    rows = list(whitelist.union(registry, all=True))
    return NumbersScreen(
        whitelisted={key for key, at in rows if at is None},
        opted_out=opt_outs_by_phone(records=[(key, at) for key, at in rows if at is not None], by_hash=by_hash),
    )


def contact_eligibility(*, contact: Contact, now: datetime, whitelisted: bool | None = None) -> Eligibility:
    """The contact's standing at `now`, from the row as loaded (refresh it first where a change
    made meanwhile matters) and the whitelist. One query, none when the caller read whether the
    number is whitelisted along with the contact (`whitelisted`)."""
    return Eligibility(
        whitelisted=contact_is_whitelisted(phone=contact.phone) if whitelisted is None else whitelisted,
        opted_out=contact.opted_out_at is not None,
        operator_mode=contact.bot_is_paused(now),
        is_client=contact.is_client,
    )


def scheduled_call_totals_by_status() -> dict[str, int]:
    """Calls by status, every status named (0 when none). One query."""
    totals = dict.fromkeys(ScheduledCall.Status.values, 0)
    for row in ScheduledCall.objects.values("status").annotate(n=Count("id")):
        totals[row["status"]] = row["n"]
    return totals
