"""What the emulated Wappi does: every change of sandbox state goes through here.

The views (emulated API, control endpoint, chat page) only parse requests and render
answers; the rules (auth, fault switches, ids, webhooks) live in these functions.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.phones import PhoneError, normalize_phone
from messaging.wappi import SANDBOX_PROFILE_ID

from . import selectors, wire
from .models import SandboxChat, SandboxMessage, SandboxProfile
from .voice import VOICE_SAMPLE, VOICE_SAMPLE_SECONDS, voice_bytes
from .webhooks import webhook_dispatch

WEBHOOK_TYPES = {
    "authorization_status",
    "incoming_message",
    "delivery_status",
    "outgoing_message_api",
    "outgoing_message_phone",
    "application_status",
    "incoming_call",
}
_PERSON_SERVERS = {"c.us", "s.whatsapp.net"}


class WappiError(Exception):
    """An error answer of the emulated API: HTTP `status` with `{"detail", "status": "error"}`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class CustomerInputError(ValueError):
    """What the operator typed on the chat page cannot be used; the message is Russian, for them."""


def base_url() -> str:
    """Where clients reach the emulator: voice links point here (it is also an allowed media host)."""
    return settings.WAPPI_SANDBOX_URL.rstrip("/")


def wire_message(message: SandboxMessage, *, profile: SandboxProfile) -> wire.WireMessage:
    """A sandbox row as the plain values Wappi's wire shapes are built from."""
    media = None
    if message.type == SandboxMessage.Type.VOICE and message.voice_file:
        data = voice_bytes(message.voice_file)
        media = wire.Media(
            link=f"{base_url()}/files/{message.message_id}.ogg",
            size=len(data),
            seconds=VOICE_SAMPLE_SECONDS,
            head=data[:96],
        )
    return wire.WireMessage(
        id=message.message_id,
        customer=message.chat.phone,
        business=profile.phone,
        from_me=message.from_me,
        time=message.time,
        type=message.type,
        body=message.body,
        sender_name=message.sender_name,
        is_read=message.is_read,
        delivery_status=message.delivery_status,
        from_api=message.from_where == SandboxMessage.FromWhere.API,
        quoted_id=message.quoted_message_id,
        task_id=message.task_id,
        media=media,
    )


def _message_webhook(message: SandboxMessage, *, profile: SandboxProfile, wh_type: str) -> None:
    """Posts the message's incoming_message / outgoing_message_api webhook, if subscribed."""
    event = wire.webhook_message(
        wire_message(message, profile=profile),
        wh_type=wh_type,
        profile_id=SANDBOX_PROFILE_ID,
        contact_name=message.chat.name,
        now=timezone.now(),
    )
    webhook_dispatch(profile=profile, wh_type=wh_type, payload={"messages": [event]})


# --- Profile and auth ------------------------------------------------------------------


def profile_get() -> SandboxProfile:
    profile, _ = SandboxProfile.objects.get_or_create(pk=SandboxProfile.SINGLETON_PK)
    return profile


def api_authenticate(*, token: str | None, profile_id: str | None) -> None:
    """Wappi's checks: the raw token in `Authorization` (no scheme), then `profile_id` in the query."""
    if not token or not hmac.compare_digest(token.encode(), settings.WAPPI_SANDBOX_TOKEN.encode()):
        raise WappiError(HTTPStatus.UNAUTHORIZED, "Invalid token")
    if profile_id != SANDBOX_PROFILE_ID:
        raise WappiError(HTTPStatus.BAD_REQUEST, "Profile not found")


def fault_take() -> int | None:
    """Consumes one of the "next N responses fail" and returns the status to answer with, if any."""
    armed = SandboxProfile.objects.filter(pk=SandboxProfile.SINGLETON_PK, fail_next_count__gt=0)
    # Read before writing: on SQLite (`make run`) every write takes the database's write lock,
    # which the API calls of web, worker and beat should not queue for when no fault is armed.
    if not armed.exists():
        return None
    # The conditional decrement lets concurrent requests consume exactly N failures between them.
    taken = armed.update(fail_next_count=F("fail_next_count") - 1)
    if not taken:
        return None
    return SandboxProfile.objects.values_list("fail_status", flat=True).get(pk=SandboxProfile.SINGLETON_PK)


def wire_phone(value: Any, *, what: str) -> str:
    """A private chat's phone from `7XXXXXXXXXX`, `…@c.us` or `…@s.whatsapp.net`.

    Digits are taken as international, as Wappi does: `8701…` is not rewritten to `7701…`
    (Wappi accepts it and the message silently never arrives, wappi.md §3.7).
    """
    raw = str(value if value is not None else "").strip()
    user, sep, server = raw.rpartition("@")
    if not sep:
        user, server = raw, "c.us"
    if server.lower() not in _PERSON_SERVERS:
        # The sandbox has no groups, channels or hidden-number chats.
        raise WappiError(HTTPStatus.BAD_REQUEST, f"{what} not found")
    try:
        return normalize_phone(f"{user}@c.us")
    except PhoneError as exc:
        raise WappiError(HTTPStatus.BAD_REQUEST, f"Invalid {what}") from exc


def _new_message_id(*, from_api: bool) -> str:
    # Messages sent through the API look like WhatsApp Web's (3EB0 + 20 hex); the customer's
    # like an iPhone's (3A + 18 hex). Ids are opaque: clients must not parse them.
    return "3EB0" + secrets.token_hex(10).upper() if from_api else "3A" + secrets.token_hex(9).upper()


# --- Emulated API: messages ---------------------------------------------------------------


def message_send(*, recipient: Any, body: Any, quoted_message_id: Any = None) -> SandboxMessage:
    """message/send: stores the business's message in the recipient's chat.

    With `send_delay_seconds` set, the answer comes only after the delay while the message
    already exists, like a sync send that reached WhatsApp but whose answer timed out.
    """
    if not isinstance(body, str) or not body.strip():
        raise WappiError(HTTPStatus.BAD_REQUEST, "body is required")
    if recipient in (None, ""):
        raise WappiError(HTTPStatus.BAD_REQUEST, "recipient is required")
    phone = wire_phone(recipient, what="recipient")
    profile = profile_get()
    chat, _ = SandboxChat.objects.get_or_create(phone=phone)
    message = SandboxMessage.objects.create(
        chat=chat,
        message_id=_new_message_id(from_api=True),
        from_me=True,
        type=SandboxMessage.Type.TEXT,
        body=body,
        sender_name=profile.name,
        # Our own messages never count as unread on our side.
        is_read=True,
        delivery_status=SandboxMessage.Delivery.SENT,
        from_where=SandboxMessage.FromWhere.API,
        quoted_message_id=str(quoted_message_id or ""),
        task_id=wire.new_task_id(),
    )
    _message_webhook(message, profile=profile, wh_type="outgoing_message_api")
    if profile.send_delay_seconds > 0:
        time.sleep(profile.send_delay_seconds)
    return message


def message_reply(*, message_id: Any, body: Any) -> SandboxMessage:
    """message/reply: message/send into the quoted message's chat, quoting it."""
    quoted = _message_required(message_id)
    return message_send(recipient=quoted.chat.phone, body=body, quoted_message_id=quoted.message_id)


def message_mark_read(*, message_id: Any, mark_all: bool) -> None:
    """message/mark/read: the customer sees blue ticks on that message, or on all of the chat's."""
    message = _message_required(message_id)
    incoming = SandboxMessage.objects.filter(chat=message.chat, from_me=False, is_read=False)
    if not mark_all:
        incoming = incoming.filter(pk=message.pk)
    incoming.update(is_read=True)


def message_get(*, message_id: Any) -> SandboxMessage:
    """messages/id/get's lookup: any chat, 400 when unknown."""
    return _message_required(message_id)


def _message_required(message_id: Any) -> SandboxMessage:
    if not message_id:
        raise WappiError(HTTPStatus.BAD_REQUEST, "message_id is required")
    message = selectors.message_find(message_id=str(message_id))
    if message is None:
        raise WappiError(HTTPStatus.BAD_REQUEST, "Message not found")
    return message


def chats_filter(*, client_name: str) -> list[dict[str, Any]]:
    """chats/filter: every dialog matching `client_name`, unpaged, as production treats it (§3.2)."""
    profile = profile_get()
    return [
        wire.dialog(wire_message(last, profile=profile), name=chat.name, unread_count=unread)
        for chat, last, unread in selectors.dialogs_list(client_name=client_name)
    ]


def chats_get(*, ids: Any, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """chats/get: a page of dialogs, optionally only those whose id matches one of `ids` (regexes allowed)."""
    dialogs = chats_filter(client_name="")
    if ids is not None:
        if not isinstance(ids, list):
            raise WappiError(HTTPStatus.BAD_REQUEST, "filter.ids must be a list")
        patterns = [_id_pattern(str(i)) for i in ids]
        dialogs = [d for d in dialogs if any(p.search(d["id"]) for p in patterns)]
    return dialogs[offset : offset + limit], len(dialogs)


def _id_pattern(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error:
        return re.compile(re.escape(value))


@dataclass(frozen=True)
class MessagesPage:
    messages: list[SandboxMessage]
    total_count: int


def messages_get(*, chat_id: Any, limit: int, offset: int, ascending: bool, mark_all: bool) -> MessagesPage:
    """messages/get, with the fault switches: failing chats answer 400, crossing returns another chat's page."""
    if not chat_id:
        raise WappiError(HTTPStatus.BAD_REQUEST, "chat_id is required")
    phone = wire_phone(chat_id, what="chat")
    profile = profile_get()
    if phone in _phones(profile.failing_chats):
        raise WappiError(HTTPStatus.BAD_REQUEST, "chat not found")
    chat = selectors.chat_find(phone=phone)
    if chat is None or not chat.messages.exists():
        # Wappi answers 400 for a chat it does not have (wappi.md §3.3).
        raise WappiError(HTTPStatus.BAD_REQUEST, "chat not found")
    if mark_all:
        SandboxMessage.objects.filter(chat=chat, from_me=False, is_read=False).update(is_read=True)
    if profile.cross_messages_get:
        chat = selectors.chat_other_busiest(chat=chat) or chat
    messages, total = selectors.messages_page(chat=chat, limit=limit, offset=offset, ascending=ascending)
    return MessagesPage(messages, total)


def messages_all_get(*, limit: int, offset: int, ascending: bool) -> MessagesPage:
    """messages/all/get; `date` is not honoured, like the real one (wappi.md §3.5)."""
    messages, total = selectors.messages_page(chat=None, limit=limit, offset=offset, ascending=ascending)
    return MessagesPage(messages, total)


def _phones(values: Any) -> set[str]:
    phones = set()
    for value in values or []:
        try:
            phones.add(normalize_phone(str(value)))
        except PhoneError:
            continue
    return phones


def sync_messages(messages: list[SandboxMessage], *, now: datetime) -> list[dict[str, Any]]:
    """Renders messages in the sync-API shape, resolving quoted messages in one query."""
    profile = profile_get()
    quoted = {
        message_id: wire_message(m, profile=profile)
        for message_id, m in selectors.messages_by_ids([m.quoted_message_id for m in messages]).items()
    }
    return [
        wire.sync_message(wire_message(m, profile=profile), now=now, quoted=quoted.get(m.quoted_message_id))
        for m in messages
    ]


def profile_status(*, now: datetime) -> dict[str, Any]:
    """get/status: the one emulated profile, always authorised."""
    profile = profile_get()
    return wire.status(
        profile_id=SANDBOX_PROFILE_ID,
        name=profile.name,
        phone=profile.phone,
        webhook_url=profile.webhook_url,
        webhook_types=profile.webhook_types or [],
        authorized_at=profile.updated_at or now,
        message_count=selectors.message_count(),
        now=now,
    )


def media_download(*, message_id: Any, now: datetime) -> dict[str, Any]:
    """message/media/download: the `file_link` shape, or `file_b64` when the profile says so (§3.11)."""
    message = _message_required(message_id)
    if message.type != SandboxMessage.Type.VOICE or not message.voice_file:
        raise WappiError(HTTPStatus.BAD_REQUEST, "Message has no media")
    profile = profile_get()
    inline = voice_bytes(message.voice_file) if profile.media_mode == SandboxProfile.MediaMode.B64 else None
    return wire.media_download(
        wire_message(message, profile=profile), profile_id=SANDBOX_PROFILE_ID, file_bytes=inline, now=now
    )


def voice_file_get(*, message_id: str) -> bytes | None:
    """The bytes behind a voice note's file_link (None when there is no such voice note)."""
    message = selectors.message_find(message_id=message_id)
    if message is None or not message.voice_file:
        return None
    return voice_bytes(message.voice_file)


# --- Emulated API: webhook settings -----------------------------------------------------


def webhook_url_set(*, url: str | None, auth: str | None) -> None:
    if not url or not url.lower().startswith(("http://", "https://")):
        raise WappiError(HTTPStatus.BAD_REQUEST, "Invalid url")
    SandboxProfile.objects.filter(pk=profile_get().pk).update(webhook_url=url, webhook_auth=auth or "")


def webhook_url_delete() -> None:
    SandboxProfile.objects.filter(pk=profile_get().pk).update(webhook_url="", webhook_auth="")


def webhook_types_set(*, types: Any) -> list[str]:
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise WappiError(HTTPStatus.BAD_REQUEST, "Body must be a JSON array of webhook types")
    unknown = sorted(set(types) - WEBHOOK_TYPES)
    if unknown:
        raise WappiError(HTTPStatus.BAD_REQUEST, f"Unknown webhook types: {', '.join(unknown)}")
    unique = list(dict.fromkeys(types))
    SandboxProfile.objects.filter(pk=profile_get().pk).update(webhook_types=unique)
    return unique


# --- The customer's side (chat page, control endpoint) -----------------------------------


def customer_phone(value: str) -> str:
    """Normalises what the operator typed as the customer's number (any spelling)."""
    try:
        phone = normalize_phone(value)
    except PhoneError as exc:
        raise CustomerInputError(
            f"«{value}» — не номер телефона. Введите номер с кодом страны, например +7 701 234 56 78."
        ) from exc
    if phone == profile_get().phone:
        raise CustomerInputError("Это номер самого бизнеса в песочнице; клиенту нужен другой номер.")
    return phone


def customer_message_create(*, phone: str, name: str = "", body: str = "", voice: bool = False) -> SandboxMessage:
    """The customer writes to the business: stores the message and posts the incoming_message webhook."""
    phone = customer_phone(phone)
    body = (body or "").strip()
    name = (name or "").strip()[:100]
    if not voice and not body:
        raise CustomerInputError("Введите текст сообщения.")
    profile = profile_get()
    with transaction.atomic():
        chat, _ = SandboxChat.objects.get_or_create(phone=phone, defaults={"name": name})
        if name and chat.name != name:
            # A customer may change their WhatsApp name; the latest push name wins, as in WhatsApp.
            chat.name = name
            chat.save(update_fields=["name"])
        message = SandboxMessage.objects.create(
            chat=chat,
            message_id=_new_message_id(from_api=False),
            from_me=False,
            type=SandboxMessage.Type.VOICE if voice else SandboxMessage.Type.TEXT,
            body="" if voice else body,
            sender_name=chat.name,
            from_where=SandboxMessage.FromWhere.PHONE,
            voice_file=VOICE_SAMPLE if voice else "",
        )
        _message_webhook(message, profile=profile, wh_type="incoming_message")
    return message


def chat_seen_by_customer(*, chat: SandboxChat) -> int:
    """The customer has the chat open: the business's messages in it become read.

    Each change is claimed with a conditional update, so two open pages never report the
    same message twice; a delivery_status webhook goes out per message. Returns how many.
    """
    profile = profile_get()
    now = timezone.now()
    pending = SandboxMessage.objects.filter(chat=chat, from_me=True).exclude(
        delivery_status=SandboxMessage.Delivery.READ
    )
    changed = 0
    for message in pending.select_related("chat"):
        claimed = SandboxMessage.objects.filter(pk=message.pk, delivery_status=message.delivery_status).update(
            delivery_status=SandboxMessage.Delivery.READ
        )
        if not claimed:
            continue
        changed += 1
        message.delivery_status = SandboxMessage.Delivery.READ
        webhook_dispatch(
            profile=profile,
            wh_type="delivery_status",
            payload=wire.webhook_delivery_status(
                wire_message(message, profile=profile), status="read", profile_id=SANDBOX_PROFILE_ID, now=now
            ),
        )
    return changed


# --- Control endpoint ---------------------------------------------------------------------

CONTROL_FIELDS = {
    "failing_chats",
    "fail_next_count",
    "fail_status",
    "send_delay_seconds",
    "cross_messages_get",
    "duplicate_webhooks",
    "media_mode",
    "webhook_url",
    "webhook_types",
}
CONTROL_ACTIONS = {"reset", "customer_message"}


def control_state() -> dict[str, Any]:
    profile = profile_get()
    return {name: getattr(profile, name) for name in sorted(CONTROL_FIELDS)}


@transaction.atomic
def control_apply(data: Any) -> SandboxMessage | None:
    """Applies the control endpoint's JSON (the format is described in api.control).

    `reset` runs first (forgets every chat and message and restores the profile defaults),
    then the switches, then `customer_message`. Unknown keys are refused, so a typo never
    silently leaves a switch off.
    """
    if not isinstance(data, dict):
        raise WappiError(HTTPStatus.BAD_REQUEST, "Body must be a JSON object")
    unknown = sorted(set(data) - CONTROL_FIELDS - CONTROL_ACTIONS)
    if unknown:
        raise WappiError(HTTPStatus.BAD_REQUEST, f"Unknown keys: {', '.join(unknown)}")
    if data.get("reset"):
        SandboxChat.objects.all().delete()
        SandboxProfile.objects.all().delete()
    profile = profile_get()
    for name in CONTROL_FIELDS & set(data):
        setattr(profile, name, _control_value(name, data[name]))
    profile.save()
    spec = data.get("customer_message")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise WappiError(HTTPStatus.BAD_REQUEST, "customer_message must be an object")
    try:
        return customer_message_create(
            phone=str(spec.get("phone", "")),
            name=str(spec.get("name", "")),
            body=str(spec.get("body", "")),
            voice=bool(spec.get("voice", False)),
        )
    except CustomerInputError as exc:
        raise WappiError(HTTPStatus.BAD_REQUEST, str(exc)) from exc


def _control_value(name: str, value: Any) -> Any:
    def bad(expected: str) -> WappiError:
        return WappiError(HTTPStatus.BAD_REQUEST, f"{name} must be {expected}")

    if name == "failing_chats":
        if not isinstance(value, list):
            raise bad("a list of phone numbers")
        return [wire_phone(v, what="chat") for v in value]
    if name in ("fail_next_count", "fail_status"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad("a non-negative integer")
        if name == "fail_status" and not 400 <= value <= 599:
            raise bad("an HTTP error status (400-599)")
        return value
    if name == "send_delay_seconds":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 300:
            raise bad("a number of seconds (0-300)")
        return float(value)
    if name in ("cross_messages_get", "duplicate_webhooks"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if name == "media_mode":
        if value not in SandboxProfile.MediaMode.values:
            raise bad(" or ".join(f'"{v}"' for v in SandboxProfile.MediaMode.values))
        return value
    if name == "webhook_url":
        if not isinstance(value, str) or (value and not value.lower().startswith(("http://", "https://"))):
            raise bad("an http(s) URL or an empty string")
        return value
    # webhook_types
    if not isinstance(value, list) or not set(value) <= WEBHOOK_TYPES:
        raise bad(f"a list of {', '.join(sorted(WEBHOOK_TYPES))}")
    return list(dict.fromkeys(value))
