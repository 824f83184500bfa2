"""Wappi payloads -> typed events. Pure functions: no I/O, no database.

One shape for both ways a message reaches us: the webhook (`incoming_message`,
`outgoing_message_phone/api`, `delivery_status`, `authorization_status`) and the sync API
used by polling (`messages/get` objects). Parsing is defensive (reference/wappi.md §9.11):
array or object envelopes, `body` as string or object, `time`/`timestamp` with swapped
types, unknown types — nothing here raises on a strange payload; it returns `Ignored`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contacts.phones import Jid, JidKind, PhoneError, parse_jid

# Message types that are never a customer talking to the business.
IGNORED_TYPES = frozenset(
    {
        "reaction",
        "system",
        "poll_vote",
        "revoked",
        "e2e_notification",
        "notification_template",
        "protocol",
        "call_log",
        "gp2",
        "ciphertext",
        "unknown",
    }
)
VOICE_TYPES = frozenset({"ptt", "audio"})
TEXT_TYPES = frozenset({"chat", "text"})


class Origin:
    CUSTOMER = "customer"  # written by the customer
    PHONE = "phone"  # typed by a person on the business phone
    API = "api"  # sent through the API (by us)


@dataclass(frozen=True)
class WappiMessage:
    provider_id: str
    chat_id: str
    phone: str
    type: str
    text: str
    origin: str
    sent_at: datetime
    sender_name: str = ""
    contact: dict[str, str] = field(default_factory=dict)
    media_url: str = ""
    mime_type: str = ""
    reply_to_id: str = ""
    task_id: str = ""

    @property
    def from_me(self) -> bool:
        return self.origin != Origin.CUSTOMER

    @property
    def is_voice(self) -> bool:
        return self.type in VOICE_TYPES


@dataclass(frozen=True)
class DeliveryUpdate:
    provider_id: str
    status: str  # delivered / read / failed
    at: datetime
    detail: str = ""


@dataclass(frozen=True)
class AuthorizationUpdate:
    online: bool
    reason: str = ""


@dataclass(frozen=True)
class Ignored:
    reason: str
    provider_id: str = ""
    phone: str = ""  # set when the skip must still be counted (a whitelisted sender)


Event = WappiMessage | DeliveryUpdate | AuthorizationUpdate | Ignored


def webhook_events(payload: Any) -> list[dict[str, Any]]:
    """The event objects of a webhook body: `{"messages": [..]}`, `{"messages": {..}}`,
    a bare list, or a single flat event."""
    if isinstance(payload, list):
        items: Any = payload
    elif isinstance(payload, dict) and "messages" in payload:
        items = payload["messages"]
    elif isinstance(payload, dict):
        items = [payload]
    else:
        return []
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def parse_webhook(payload: Any) -> list[Event]:
    return [parse_webhook_event(item) for item in webhook_events(payload)]


def parse_webhook_event(item: dict[str, Any]) -> Event:
    wh_type = str(item.get("wh_type") or "")
    if wh_type in ("delivery_status", "messages_status"):
        return _delivery(item)
    if wh_type == "authorization_status":
        return AuthorizationUpdate(
            online=str(item.get("status", "")).lower() == "online", reason=str(item.get("reason") or "")
        )
    if wh_type in ("incoming_message", "outgoing_message_phone", "outgoing_message_api", ""):
        if wh_type == "outgoing_message_api":
            origin = Origin.API
        elif wh_type == "outgoing_message_phone":
            origin = Origin.PHONE
        elif _truthy(item.get("is_me")) or _truthy(item.get("fromMe")):
            origin = Origin.API if str(item.get("from_where") or "") == "api" else Origin.PHONE
        else:
            origin = Origin.CUSTOMER
        if str(item.get("chat_type") or "dialog") == "group":
            return Ignored("group chat", provider_id=str(item.get("id") or ""))
        return _message(item, origin=origin, chat_key="chatId", media_url=str(item.get("file_link") or ""))
    return Ignored(f"webhook type {wh_type!r}", provider_id=str(item.get("id") or ""))


def parse_sync_message(item: dict[str, Any]) -> Event:
    """A message object of messages/get, messages/all/get or messages/id/get."""
    if not isinstance(item, dict):
        return Ignored("not an object")
    if _truthy(item.get("fromMe")):
        from_api = _truthy(item.get("isFromAPI")) or str(item.get("from_where") or "") == "api"
        origin = Origin.API if from_api else Origin.PHONE
    else:
        origin = Origin.CUSTOMER
    s3 = item.get("s3Info") if isinstance(item.get("s3Info"), dict) else {}
    return _message(item, origin=origin, chat_key="chatId", media_url=str((s3 or {}).get("url") or ""))


def _message(item: dict[str, Any], *, origin: str, chat_key: str, media_url: str) -> Event:
    provider_id = clean_text(str(item.get("id") or "")).strip()
    if not provider_id:
        return Ignored("message without id")
    if len(provider_id) > MAX_ID_CHARS:
        return Ignored(f"message id longer than {MAX_ID_CHARS} characters", provider_id=provider_id[:MAX_ID_CHARS])
    msg_type = clean_text(str(item.get("type") or "chat")).lower()
    if len(msg_type) > MAX_TYPE_CHARS:
        return Ignored(f"message type longer than {MAX_TYPE_CHARS} characters", provider_id=provider_id)
    if msg_type in IGNORED_TYPES:
        return Ignored(f"type {msg_type}", provider_id=provider_id)
    # The customer's side of the chat: for our own messages that is `to`, else `from`.
    fallback = item.get("to") if origin != Origin.CUSTOMER else item.get("from")
    raw_chat = str(item.get(chat_key) or item.get("chat_id") or fallback or "")
    try:
        jid: Jid = parse_jid(raw_chat)
    except PhoneError:
        return Ignored(f"unusable chat id {raw_chat!r}", provider_id=provider_id)
    if jid.kind is not JidKind.PHONE:
        return Ignored(f"{jid.kind.value} chat", provider_id=provider_id)
    if origin == Origin.CUSTOMER and _is_other_phone(str(item.get("from") or ""), jid.user):
        # In a private chat the customer is the chat; a different phone is not them. (A hidden
        # @lid sender id is not a phone and proves nothing, so it is accepted.)
        return Ignored("sender is not the chat's customer", provider_id=provider_id)
    contact = _contact(item)
    return WappiMessage(
        provider_id=provider_id,
        chat_id=raw_chat,
        phone=jid.user,
        type=msg_type,
        text=clean_text(_text(item, msg_type)),
        origin=origin,
        sent_at=_moment(item),
        sender_name=clean_text(str(item.get("senderName") or contact.get("push_name") or ""))[:255],
        contact=contact,
        media_url=clean_text(media_url) if len(media_url) <= MAX_URL_CHARS else "",
        mime_type=clean_text(str(item.get("mimetype") or item.get("mime_type") or ""))[:100],
        reply_to_id=clean_text(str(item.get("stanzaId") or item.get("stanza_id") or ""))[:MAX_ID_CHARS]
        if _truthy(item.get("isReply"))
        else "",
        task_id=clean_text(str(item.get("task_id") or ""))[:MAX_ID_CHARS],
    )


def clean_text(text: str) -> str:
    """Text PostgreSQL can store: NUL characters dropped, lone surrogates (invalid UTF-16 halves
    JSON allows) replaced. Everything else, RTL marks and emoji included, stays as sent."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _text(item: dict[str, Any], msg_type: str) -> str:
    body = item.get("body")
    caption = item.get("caption")
    if msg_type in TEXT_TYPES and isinstance(body, str):
        return body.strip()
    if isinstance(caption, str) and caption.strip():
        return caption.strip()
    if isinstance(body, dict):
        inner = body.get("caption") or body.get("text") or ""
        return str(inner).strip()
    if msg_type in VOICE_TYPES or msg_type in ("image", "video", "document", "sticker", "audio"):
        return ""  # a media body is base64 of the file, never text
    return body.strip() if isinstance(body, str) else ""


def _contact(item: dict[str, Any]) -> dict[str, str]:
    raw = item.get("contact") if isinstance(item.get("contact"), dict) else {}
    names = {
        "first_name": (raw or {}).get("FirstName") or "",
        "full_name": (raw or {}).get("FullName") or "",
        "push_name": (raw or {}).get("PushName") or item.get("senderName") or "",
        "business_name": (raw or {}).get("BusinessName") or "",
    }
    contact_name = str(item.get("contact_name") or "")
    # "Contact 7701..." is Wappi's placeholder, not a name (reference §3.12).
    if contact_name and not contact_name.lower().startswith("contact ") and not names["full_name"]:
        names["full_name"] = contact_name
    return {k: clean_text(str(v)).strip()[:255] for k, v in names.items() if v}


def _moment(item: dict[str, Any]) -> datetime:
    """Webhooks carry `timestamp` as RFC3339 and `time` as unix; the sync API only `time`;
    either may be the other type. MAX uses milliseconds."""
    for key in ("time", "timestamp"):
        value = item.get(key)
        parsed = _to_datetime(value)
        if parsed:
            return parsed
    return datetime.now(tz=UTC)


# The database's limits for what a message carries (messaging.models.Message).
MAX_ID_CHARS = 128
MAX_TYPE_CHARS = 32
MAX_URL_CHARS = 2048

_EPOCH = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _EPOCH.fullmatch(value.strip())):
        # An epoch in seconds or milliseconds. ASCII digits only ("²".isdigit() is True), and a
        # number no calendar holds (10**400, inf, nan) is no time at all.
        try:
            seconds = float(value)
            if seconds > 1e11:  # milliseconds
                seconds /= 1000
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        # Python accepts at most 6 fractional digits; Wappi sends up to 9.
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(ch for ch in tail if ch.isdigit())
            zone = tail[len(digits) :]
            text = f"{head}.{digits[:6]}{zone}"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _delivery(item: dict[str, Any]) -> Event:
    provider_id = str(item.get("id") or item.get("stanza_id") or "")
    raw = str(item.get("status") or item.get("body") or "").lower()
    status = {
        "delivered": "delivered",
        "read": "read",
        "played": "read",
        "undelivered": "failed",
        "error": "failed",
        "temporary ban": "failed",
        # The number itself held back by WhatsApp (messaging.number pauses proactive sending).
        "restricted": "failed",
        "banned": "failed",
        "ban": "failed",
    }.get(raw)
    if not provider_id or status is None:
        return Ignored(f"delivery status {raw!r}", provider_id=provider_id)
    return DeliveryUpdate(provider_id=provider_id, status=status, at=_moment(item), detail=raw)


def _is_other_phone(sender: str, phone: str) -> bool:
    try:
        jid = parse_jid(sender)
    except PhoneError:
        return False
    return jid.is_phone and jid.user != phone


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true") or value == 1
