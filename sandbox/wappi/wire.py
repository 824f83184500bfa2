"""Wappi's wire format: pure functions from plain message values to the JSON the real Wappi sends.

The one builder of these shapes: the sandbox renders its rows through it (services.wire_message)
and the tests' fake Wappi (tests/fakes/wappi.py) its in-memory chats. Shapes follow
/work/shared/reference/wappi.md (section numbers below). Where wappi.md marks a value as a
guess, the guess is named here too, so a test of our client never mistakes an emulator's
choice for a documented fact. No database, no settings: only what the caller passes.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from contacts.phones import format_phone

TEXT = "chat"
VOICE = "ptt"
VOICE_MIMETYPE = "audio/ogg; codecs=opus"
# Presigned links of Wappi's storage live 48 h for webhooks, 7 days for media/download (§3.11).
WEBHOOK_LINK_TTL = timedelta(hours=48)
DOWNLOAD_LINK_TTL = timedelta(days=7)
# Wappi stamps envelopes with Moscow time, which has no DST.
MSK = timezone(timedelta(hours=3))
# Left-to-right embedding marks: Wappi's `name` for an unknown contact is the formatted number between them (§3.2).
_LRE, _PDF = "\u202a", "\u202c"


@dataclass(frozen=True)
class Media:
    """A voice note's file: its playable copy on Wappi's storage and what the file holds."""

    link: str
    size: int = 0
    seconds: int = 0
    # The file's first bytes: a voice webhook's `body` carries them in base64.
    head: bytes = b""


@dataclass(frozen=True)
class WireMessage:
    """One WhatsApp message between a customer and the business, as Wappi knows it."""

    id: str
    customer: str  # the customer's phone, digits only: whose chat it is
    business: str  # the business's own number
    from_me: bool
    time: datetime
    type: str = TEXT
    body: str = ""
    sender_name: str = ""
    is_read: bool = False
    delivery_status: str = ""  # the business's messages only: what the customer's phone reported
    from_api: bool = False  # the business's messages only: sent through the API, not typed on the phone
    quoted_id: str = ""
    task_id: str = ""
    media: Media | None = None
    # A group's jid when the chat is not the customer's private one (the sandbox has no groups).
    group: str = ""

    @property
    def chat(self) -> str:
        return self.group or jid(self.customer)

    @property
    def sender(self) -> str:
        return jid(self.business) if self.from_me else jid(self.customer)

    @property
    def recipient(self) -> str:
        if self.group:
            return self.group
        return jid(self.customer) if self.from_me else jid(self.business)


def unix(dt: datetime) -> int:
    return int(dt.timestamp())


def rfc3339_msk(dt: datetime) -> str:
    return dt.astimezone(MSK).isoformat(timespec="seconds")


def rfc3339_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jid(phone: str) -> str:
    return f"{phone}@c.us"


def new_task_id() -> str:
    return str(uuid.uuid4())


def envelope(now: datetime, **extra: Any) -> dict[str, Any]:
    """The success envelope of every sync method (§2): `timestamp` int, `time` string."""
    return {"status": "done", "timestamp": unix(now), "time": rfc3339_msk(now), **extra}


def error_body(detail: str) -> dict[str, str]:
    return {"detail": detail, "status": "error"}


def not_found_body() -> dict[str, str]:
    """An unknown path: the answer of Wappi's web framework, without a `status` key."""
    return {"detail": "Not Found"}


def file_name(message_id: str) -> str:
    # Real voice events name the file `<uuid>.ogg`; a stable name derived from the id keeps
    # repeated reads identical.
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, message_id)}.ogg"


def _voice_body(message: WireMessage, media: Media) -> dict[str, Any]:
    # WhatsApp media metadata as the sync API returns it (§3.4): the `url` is the encrypted
    # WhatsApp CDN copy, useless to clients on purpose; the playable copy is `s3Info.url`.
    return {
        "mimetype": VOICE_MIMETYPE,
        "fileLength": media.size,
        "seconds": media.seconds,
        "ptt": True,
        "url": f"https://mmg.whatsapp.net/v/t62.7117-24/{message.id.lower()}.enc",
    }


def sync_message(message: WireMessage, *, now: datetime, quoted: WireMessage | None = None) -> dict[str, Any]:
    """A message as messages/get, messages/all/get and messages/id/get return it (§3.4)."""
    media = message.media
    data: dict[str, Any] = {
        "id": message.id,
        "type": message.type,
        "from": message.sender,
        "to": message.recipient,
        "fromMe": message.from_me,
        "senderName": message.sender_name,
        "time": unix(message.time),
        "body": _voice_body(message, media) if media else message.body,
        "stanzaId": message.quoted_id,
        "chatId": message.chat,
        "isForwarded": False,
        "isReply": bool(message.quoted_id),
        "caption": "",
        "isRead": message.is_read,
        "s3Info": {},
        "poll_votes": None,
        "poll_options": None,
        "poll_select_count": 0,
        "isEdited": False,
        "isFromAPI": message.from_api,
        "isDeleted": False,
        "isPinned": False,
    }
    if message.from_me:
        data["delivery_status"] = message.delivery_status
        data["task_id"] = message.task_id
    if media:
        data["s3Info"] = {"url": media.link, "expire": unix(now + DOWNLOAD_LINK_TTL)}
        data["mimetype"] = VOICE_MIMETYPE
        data["file_name"] = file_name(message.id)
        data["media_info"] = {"duration": media.seconds}
    if quoted is not None:
        data["reply_message"] = {
            "id": quoted.id,
            "type": quoted.type,
            "body": quoted.body,
            "caption": "",
            "contact_name": quoted.sender_name,
            "file_name": file_name(quoted.id) if quoted.media else "",
        }
    return data


def dialog(last: WireMessage, *, name: str, unread_count: int) -> dict[str, Any]:
    """A dialog of chats/filter and chats/get (§3.2), described by its last message.

    Wappi (on whatsmeow) knows a customer who never was saved to the business phone's
    address book only by the push name, so only `PushName` is filled.
    """
    return {
        "id": last.chat,
        "contact": {
            "Found": bool(name),
            "FirstName": "",
            "FullName": "",
            "PushName": name,
            "BusinessName": "",
        },
        "chat": {"VerifiedName": None, "Status": "", "PictureID": "", "Devices": []},
        "group": None,
        "isGroup": bool(last.group),
        "image": None,
        "thumbnail": None,
        "avatar_updated_at": None,
        "last_message_id": last.id,
        "last_timestamp": rfc3339_utc(last.time),
        "last_time": unix(last.time),
        "last_message_type": last.type,
        "last_message_sender": {
            "id": last.sender,
            "number": last.sender.split("@", 1)[0],
            "pushname": last.sender_name,
            "isMe": last.from_me,
        },
        # What Wappi previews for a voice note is not recorded; an empty preview is the safe guess.
        "last_message_data": last.body if last.type == TEXT else "",
        "last_message_delivery_status": last.delivery_status if last.from_me else "",
        "name": name or f"{_LRE}{format_phone(last.customer).replace(' ', '')}{_PDF}",
        "unread_count": unread_count,
        "isDeleted": False,
        "isArchived": False,
    }


def fake_lid(phone: str) -> str:
    # Real events carry a hidden-number id `<digits>@lid` (not a phone!) as whatsapp_chat_id.
    digits = str(int(uuid.uuid5(uuid.NAMESPACE_OID, phone).int % 10**14)).zfill(14)
    return f"2{digits}@lid"


def webhook_message(
    message: WireMessage, *, wh_type: str, profile_id: str, contact_name: str, now: datetime
) -> dict[str, Any]:
    """One event of incoming_message / outgoing_message_api (§4.1, §4.2): note `timestamp`
    is the RFC3339 string and `time` the int here, the reverse of envelopes. A webhook's
    body is `{"messages": [event, ...]}`."""
    event: dict[str, Any] = {
        "wh_type": wh_type,
        "profile_id": profile_id,
        "id": message.id,
        "body": message.body,
        "type": message.type,
        "from": message.sender,
        "to": message.recipient,
        "senderName": message.sender_name,
        "senderLastName": "",
        "chatId": message.chat,
        "whatsapp_chat_id": fake_lid(message.customer),
        "timestamp": rfc3339_msk(message.time),
        "time": unix(message.time),
        "caption": None,
        "from_where": "api" if message.from_api else "phone",
        "contact_name": contact_name,
        "contact_last_name": "",
        "contact_phone": message.customer,
        "contact_username": "",
        "is_forwarded": False,
        "isReply": bool(message.quoted_id),
        "is_edited": False,
        "stanza_id": message.quoted_id or None,
        "is_me": message.from_me,
        "chat_type": "group" if message.group else "dialog",
        "thumbnail": None,
        "picture": None,
        "wappi_bot_id": None,
        "is_deleted": False,
        "is_bot": False,
        "isGif": False,
        "attaches": None,
        "is_blacklist": False,
        "platform": "whatsapp",
        "is_callback": False,
        "is_command": False,
        "is_topic": False,
    }
    if message.from_me:
        event["task_id"] = message.task_id
    media = message.media
    if media:
        event.update(
            # The real voice event's `body` looks like truncated base64: clients must use file_link.
            body=base64.b64encode(media.head).decode(),
            file_link=media.link,
            file_link_expire=unix(now + WEBHOOK_LINK_TTL),
            mimetype=VOICE_MIMETYPE,
            file_name=file_name(message.id),
            length_seconds=media.seconds,
            media_info={
                "width": 0,
                "height": 0,
                "size": media.size,
                "duration": media.seconds,
                "is_round": False,
                "is_group": False,
                "grouped_id": None,
            },
        )
    return event


def webhook_delivery_status(message: WireMessage, *, status: str, profile_id: str, now: datetime) -> dict[str, Any]:
    """A delivery_status webhook body (§4.3): `messages` is an object here, and the chat key is snake_case.

    Which side `from` names is not documented; the customer (whose phone reports the status) is a guess.
    """
    return {
        "messages": {
            "id": message.id,
            "profile_id": profile_id,
            "wh_type": "delivery_status",
            "timestamp": rfc3339_msk(now),
            "time": unix(now),
            "from": jid(message.customer),
            "to": jid(message.business),
            "chat_id": message.chat,
            "status": status,
            "task_id": message.task_id,
        }
    }


def status(
    *,
    profile_id: str,
    name: str,
    phone: str,
    webhook_url: str,
    webhook_types: list[str],
    authorized_at: datetime,
    message_count: int,
    now: datetime,
) -> dict[str, Any]:
    """get/status (§3.1): a healthy, authorised profile. The real answer has no `status` key."""
    return {
        "app_status": "open",
        "authorized": True,
        "authorized_at": rfc3339_msk(authorized_at),
        "checked_at": rfc3339_msk(now),
        "last_activity": now.timestamp(),
        "logouted_at": None,
        "message_count": message_count,
        "name": name,
        "payment_expired_at": rfc3339_utc(now + timedelta(days=365)),
        "payment_notification": False,
        "phone": phone,
        "profile_id": profile_id,
        "proxy": None,
        "uuid": profile_id,
        "webhook_types": list(webhook_types),
        "webhook_url": webhook_url,
        "worked_days": 0,
    }


def media_download(message: WireMessage, *, profile_id: str, file_bytes: bytes | None, now: datetime) -> dict[str, Any]:
    """message/media/download (§3.11): the `file_link` shape, or, given `file_bytes`, `file_b64`."""
    media = message.media
    if media is None:
        raise ValueError(f"message {message.id} has no media")
    common = {"task_id": new_task_id(), "uuid": profile_id, "media_type": message.type}
    if file_bytes is not None:
        return envelope(now, **common, file_b64=base64.b64encode(file_bytes).decode(), mime_type=VOICE_MIMETYPE)
    return envelope(
        now,
        **common,
        file_name=file_name(message.id),
        mime_type=VOICE_MIMETYPE,
        file_link=media.link,
        file_link_expire=unix(now + DOWNLOAD_LINK_TTL),
    )
