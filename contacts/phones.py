"""Phone numbers and WhatsApp ids: pure functions, no I/O.

Every phone is stored as digits with the country code and nothing else (``77012345678``).
WhatsApp ids (JIDs) name either a person (``77012345678@c.us``,
``77012345678@s.whatsapp.net``, with an optional ``:device`` part) or something that is not
a phone: a group (``@g.us``), a hidden-number id (``@lid``), a broadcast or status list
(``@broadcast``), a channel (``@newsletter``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class PhoneError(ValueError):
    """The value cannot be used as a customer's phone number."""


class InvalidPhoneError(PhoneError):
    """The value is not a phone number at all (letters, too short, too long)."""


class NotAPhoneError(PhoneError):
    """The value is a valid WhatsApp id, but of a group, broadcast, channel or hidden id."""

    def __init__(self, value: str, kind: JidKind) -> None:
        super().__init__(f"«{value}» is a WhatsApp {kind.value} id, not a person's phone number")
        self.kind = kind


class JidKind(Enum):
    PHONE = "phone"
    GROUP = "group"
    LID = "lid"
    BROADCAST = "broadcast"
    NEWSLETTER = "newsletter"


@dataclass(frozen=True)
class Jid:
    kind: JidKind
    # Normalised digits for a phone; the raw user part for anything else.
    user: str

    @property
    def is_phone(self) -> bool:
        return self.kind is JidKind.PHONE


_PERSON_SERVERS = {"c.us", "s.whatsapp.net"}
_OTHER_SERVERS = {
    "g.us": JidKind.GROUP,
    "lid": JidKind.LID,
    "broadcast": JidKind.BROADCAST,
    "newsletter": JidKind.NEWSLETTER,
}
# Separators people type inside a number: spaces (incl. non-breaking), dashes, dots,
# slashes and brackets.
_SEPARATORS = re.compile(r"[\s\-‐-―.()/\[\]]+")
_E164_MIN, _E164_MAX = 10, 15


def parse_jid(value: str) -> Jid:
    """Classifies a WhatsApp id or a plain number. Raises InvalidPhoneError for garbage."""
    raw = (value or "").strip()
    user, sep, server = raw.rpartition("@")
    if not sep:
        return Jid(JidKind.PHONE, _normalize_digits(raw, original=value, domestic=True))
    server = server.lower()
    if server in _OTHER_SERVERS:
        if not user:
            raise InvalidPhoneError(f"«{value}» is not a WhatsApp id: nothing before @")
        return Jid(_OTHER_SERVERS[server], user)
    if server in _PERSON_SERVERS:
        # Multi-device ids carry the device after a colon: 77012345678:12@s.whatsapp.net
        # WhatsApp ids are always international: no domestic rewriting.
        return Jid(JidKind.PHONE, _normalize_digits(user.split(":", 1)[0], original=value, domestic=False))
    raise InvalidPhoneError(f"«{value}» is not a phone number or a WhatsApp id (unknown server «{server}»)")


def normalize_phone(value: str) -> str:
    """Returns the number as country code + digits (``77012345678``).

    ``+7 (701) 234-56-78``, ``87012345678``, ``7 701 234 5678``, ``77012345678@c.us`` and
    ``77012345678@s.whatsapp.net`` all give ``77012345678``. Raises NotAPhoneError for group,
    hidden-number, broadcast and channel ids, InvalidPhoneError for anything else.
    """
    jid = parse_jid(value)
    if not jid.is_phone:
        raise NotAPhoneError(value, jid.kind)
    return jid.user


def _normalize_digits(text: str, *, original: str, domestic: bool) -> str:
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("+"):
        compact, domestic = compact[1:], False
    elif compact.startswith("00"):
        compact, domestic = compact[2:], False  # international prefix, as dialled from abroad
    if not compact.isdigit() or not compact.isascii():
        raise InvalidPhoneError(
            f"«{original}» is not a phone number: expected digits with the country code, e.g. +7 701 234 56 78"
        )
    if not domestic:
        pass
    elif len(compact) == 11 and compact.startswith("8"):
        # Kazakhstan and Russia: 8 is the domestic trunk prefix for +7.
        compact = "7" + compact[1:]
    elif len(compact) == 10 and compact[0] == "7":
        # A Kazakhstan number written without country code or trunk prefix (701 234 56 78). Only
        # a leading 7: no 10-digit international number starts with 7 (+7 numbers have 11
        # digits), so a stored "4930123456" (+49 30 123456) is never re-read as +7 493...: the
        # normalisation of a normalised number is itself.
        compact = "7" + compact
    if compact.startswith("7") and len(compact) != 11:
        raise InvalidPhoneError(f"«{original}» is not a phone number: numbers in the +7 zone have 11 digits")
    if not _E164_MIN <= len(compact) <= _E164_MAX or compact.startswith("0"):
        raise InvalidPhoneError(f"«{original}» is not a phone number: expected 10 to 15 digits with the country code")
    return compact


def format_phone(phone: str) -> str:
    """For people: ``77012345678`` -> ``+7 701 234 56 78``; other countries as ``+<digits>``."""
    if len(phone) == 11 and phone.startswith("7"):
        return f"+7 {phone[1:4]} {phone[4:7]} {phone[7:9]} {phone[9:]}"
    return f"+{phone}"
