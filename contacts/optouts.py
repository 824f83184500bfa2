"""The opt-outs of forgotten contacts: a customer who asked for no proactive messages and then
to be forgotten is still someone who asked for no proactive messages. Only a keyed hash of the
number is kept (HMAC-SHA256 keyed with SECRET_KEY; SECRET_KEY_FALLBACKS still match after a key
rotation), so the registry names nobody and cannot be reversed by trying every number without
the key. contacts.services.contact_get_or_create reads it when a contact row is created."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.utils.crypto import salted_hmac

from contacts.models import OptOutRecord

_SALT = "contacts.optouts"


def _hash(phone: str, secret: str) -> str:
    return salted_hmac(_SALT, phone, secret=secret, algorithm="sha256").hexdigest()


def _hashes(phone: str) -> list[str]:
    return [_hash(phone, secret) for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]


def opt_out_remember(*, phone: str, at: datetime) -> None:
    """Keeps that this (normalised) number opted out at `at`, as a hash."""
    OptOutRecord.objects.filter(phone_hash__in=_hashes(phone)[1:]).delete()
    OptOutRecord.objects.update_or_create(phone_hash=_hash(phone, settings.SECRET_KEY), defaults={"opted_out_at": at})


def opt_out_drop(*, phone: str) -> int:
    """Forgets that this number opted out (it was forgotten again, no longer opted out)."""
    return OptOutRecord.objects.filter(phone_hash__in=_hashes(phone)).delete()[0]


def opt_out_remembered(*, phone: str) -> datetime | None:
    """When this (normalised) number opted out before its contact was forgotten, or None."""
    record = OptOutRecord.objects.filter(phone_hash__in=_hashes(phone)).order_by("-opted_out_at").first()
    return record.opted_out_at if record else None


def opt_outs_remembered(*, phones: list[str]) -> dict[str, datetime]:
    """opt_out_remembered for many numbers in one query: {phone: when it opted out} for those
    whose contact was forgotten after opting out."""
    by_hash = opt_out_hashes(phones=phones)
    records = OptOutRecord.objects.filter(phone_hash__in=list(by_hash)).values_list("phone_hash", "opted_out_at")
    return opt_outs_by_phone(records=records, by_hash=by_hash)


def opt_out_hashes(*, phones: Iterable[str]) -> dict[str, str]:
    """{hash: phone} of the numbers, every key that may have hashed them (SECRET_KEY and its
    fallbacks): what a caller reading the registry with other rows looks up."""
    return {h: phone for phone in phones for h in _hashes(phone)}


def opt_outs_by_phone(*, records: Iterable[tuple[str, datetime]], by_hash: dict[str, str]) -> dict[str, datetime]:
    """{phone: when it opted out} from registry rows (hash, opted out at) read for `by_hash`;
    of several rows of one number (keys rotated) the latest wins."""
    remembered: dict[str, datetime] = {}
    for phone_hash, at in sorted(records, key=lambda record: record[1]):
        remembered[by_hash[phone_hash]] = at
    return remembered
