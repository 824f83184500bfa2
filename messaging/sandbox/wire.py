"""Wappi's wire format: pure functions from sandbox rows to the JSON the real Wappi sends.

Shapes follow /work/shared/reference/wappi.md (section numbers below). Where wappi.md marks
a value as a guess, the guess is named here too, so a test of our client never mistakes a
sandbox choice for a documented fact.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from contacts.phones import format_phone

from .credentials import SANDBOX_PROFILE_ID
from .models import SandboxChat, SandboxMessage, SandboxProfile

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
VOICE_SAMPLE = "voice_ru.ogg"
VOICE_SAMPLE_SECONDS = 6
# What the sample says (espeak-ng, Russian voice): an offline transcriber may answer this for it.
VOICE_SAMPLE_TRANSCRIPT = "Здравствуйте! Подскажите, пожалуйста, сколько стоит ваш товар и есть ли доставка в Алматы?"
VOICE_MIMETYPE = "audio/ogg; codecs=opus"
# Presigned links of Wappi's storage live 48 h for webhooks, 7 days for media/download (§3.11).
WEBHOOK_LINK_TTL = timedelta(hours=48)
DOWNLOAD_LINK_TTL = timedelta(days=7)
# Wappi stamps envelopes with Moscow time, which has no DST.
MSK = timezone(timedelta(hours=3))
# Left-to-right embedding marks: Wappi's `name` for an unknown contact is the formatted number between them (§3.2).
_LRE, _PDF = "\u202a", "\u202c"


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


@cache
def voice_bytes(name: str) -> bytes:
    """Bytes of a bundled voice file. Only plain names inside samples/ are served."""
    path = SAMPLES_DIR / Path(name).name
    return path.read_bytes()


def file_link(message: SandboxMessage, *, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/files/{message.message_id}.ogg"


def file_name(message: SandboxMessage) -> str:
    # Real voice events name the file `<uuid>.ogg`; a stable name derived from the id keeps
    # repeated reads identical.
    return f"{uuid.uuid5(uuid.NAMESPACE_URL, message.message_id)}.ogg"


def _sender_jid(message: SandboxMessage, profile: SandboxProfile) -> tuple[str, str]:
    customer, business = jid(message.chat.phone), jid(profile.phone)
    return (business, customer) if message.from_me else (customer, business)


def _voice_body(message: SandboxMessage) -> dict[str, Any]:
    # WhatsApp media metadata as the sync API returns it (§3.4): the `url` is the encrypted
    # WhatsApp CDN copy, useless to clients on purpose; the playable copy is `s3Info.url`.
    return {
        "mimetype": VOICE_MIMETYPE,
        "fileLength": len(voice_bytes(message.voice_file)),
        "seconds": VOICE_SAMPLE_SECONDS,
        "ptt": True,
        "url": f"https://mmg.whatsapp.net/v/t62.7117-24/{message.message_id.lower()}.enc",
    }


def sync_message(
    message: SandboxMessage, *, profile: SandboxProfile, base_url: str, now: datetime, quoted: SandboxMessage | None
) -> dict[str, Any]:
    """A message as messages/get, messages/all/get and messages/id/get return it (§3.4)."""
    sender, recipient = _sender_jid(message, profile)
    is_voice = message.type == SandboxMessage.Type.VOICE
    data: dict[str, Any] = {
        "id": message.message_id,
        "type": message.type,
        "from": sender,
        "to": recipient,
        "fromMe": message.from_me,
        "senderName": message.sender_name,
        "time": unix(message.time),
        "body": _voice_body(message) if is_voice else message.body,
        "stanzaId": message.quoted_message_id,
        "chatId": jid(message.chat.phone),
        "isForwarded": False,
        "isReply": bool(message.quoted_message_id),
        "caption": "",
        "isRead": message.is_read,
        "s3Info": {},
        "poll_votes": None,
        "poll_options": None,
        "poll_select_count": 0,
        "isEdited": False,
        "isFromAPI": message.from_where == SandboxMessage.FromWhere.API,
        "isDeleted": False,
        "isPinned": False,
    }
    if message.from_me:
        data["delivery_status"] = message.delivery_status
        data["task_id"] = message.task_id
    if is_voice:
        data["s3Info"] = {"url": file_link(message, base_url=base_url), "expire": unix(now + DOWNLOAD_LINK_TTL)}
        data["mimetype"] = VOICE_MIMETYPE
        data["file_name"] = file_name(message)
        data["media_info"] = {"duration": VOICE_SAMPLE_SECONDS}
    if quoted is not None:
        data["reply_message"] = {
            "id": quoted.message_id,
            "type": quoted.type,
            "body": quoted.body,
            "caption": "",
            "contact_name": quoted.sender_name,
            "file_name": file_name(quoted) if quoted.type == SandboxMessage.Type.VOICE else "",
        }
    return data


def dialog(chat: SandboxChat, *, last: SandboxMessage, unread_count: int, profile: SandboxProfile) -> dict[str, Any]:
    """A dialog of chats/filter and chats/get (§3.2).

    Wappi (on whatsmeow) knows a customer who never was saved to the business phone's
    address book only by the push name, so only `PushName` is filled.
    """
    sender, _ = _sender_jid(last, profile)
    return {
        "id": jid(chat.phone),
        "contact": {
            "Found": bool(chat.name),
            "FirstName": "",
            "FullName": "",
            "PushName": chat.name,
            "BusinessName": "",
        },
        "chat": {"VerifiedName": None, "Status": "", "PictureID": "", "Devices": []},
        "group": None,
        "isGroup": False,
        "image": None,
        "thumbnail": None,
        "avatar_updated_at": None,
        "last_message_id": last.message_id,
        "last_timestamp": rfc3339_utc(last.time),
        "last_time": unix(last.time),
        "last_message_type": last.type,
        "last_message_sender": {
            "id": sender,
            "number": sender.split("@", 1)[0],
            "pushname": last.sender_name,
            "isMe": last.from_me,
        },
        # What Wappi previews for a voice note is not recorded; an empty preview is the safe guess.
        "last_message_data": last.body if last.type == SandboxMessage.Type.TEXT else "",
        "last_message_delivery_status": last.delivery_status if last.from_me else "",
        "name": chat.name or f"{_LRE}{format_phone(chat.phone).replace(' ', '')}{_PDF}",
        "unread_count": unread_count,
        "isDeleted": False,
        "isArchived": False,
    }


def fake_lid(phone: str) -> str:
    # Real events carry a hidden-number id `<digits>@lid` (not a phone!) as whatsapp_chat_id.
    digits = str(int(uuid.uuid5(uuid.NAMESPACE_OID, phone).int % 10**14)).zfill(14)
    return f"2{digits}@lid"


def webhook_message(
    message: SandboxMessage, *, wh_type: str, profile: SandboxProfile, base_url: str, now: datetime
) -> dict[str, Any]:
    """One event of incoming_message / outgoing_message_api (§4.1, §4.2): note `timestamp`
    is the RFC3339 string and `time` the int here, the reverse of envelopes."""
    sender, recipient = _sender_jid(message, profile)
    chat = message.chat
    event: dict[str, Any] = {
        "wh_type": wh_type,
        "profile_id": SANDBOX_PROFILE_ID,
        "id": message.message_id,
        "body": message.body,
        "type": message.type,
        "from": sender,
        "to": recipient,
        "senderName": message.sender_name,
        "senderLastName": "",
        "chatId": jid(chat.phone),
        "whatsapp_chat_id": fake_lid(chat.phone),
        "timestamp": rfc3339_msk(message.time),
        "time": unix(message.time),
        "caption": None,
        "from_where": message.from_where,
        "contact_name": chat.name,
        "contact_last_name": "",
        "contact_phone": chat.phone,
        "contact_username": "",
        "is_forwarded": False,
        "isReply": bool(message.quoted_message_id),
        "is_edited": False,
        "stanza_id": message.quoted_message_id or None,
        "is_me": message.from_me,
        "chat_type": "dialog",
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
    if message.type == SandboxMessage.Type.VOICE:
        data = voice_bytes(message.voice_file)
        event.update(
            # The real voice event's `body` looks like truncated base64: clients must use file_link.
            body=base64.b64encode(data[:96]).decode(),
            file_link=file_link(message, base_url=base_url),
            file_link_expire=unix(now + WEBHOOK_LINK_TTL),
            mimetype=VOICE_MIMETYPE,
            file_name=file_name(message),
            length_seconds=VOICE_SAMPLE_SECONDS,
            media_info={
                "width": 0,
                "height": 0,
                "size": len(data),
                "duration": VOICE_SAMPLE_SECONDS,
                "is_round": False,
                "is_group": False,
                "grouped_id": None,
            },
        )
    return {"messages": [event]}


def webhook_delivery_status(
    message: SandboxMessage, *, status: str, profile: SandboxProfile, now: datetime
) -> dict[str, Any]:
    """A delivery_status event (§4.3): `messages` is an object here, and the chat key is snake_case.

    Which side `from` names is not documented; the customer (whose phone reports the status) is a guess.
    """
    return {
        "messages": {
            "id": message.message_id,
            "profile_id": SANDBOX_PROFILE_ID,
            "wh_type": "delivery_status",
            "timestamp": rfc3339_msk(now),
            "time": unix(now),
            "from": jid(message.chat.phone),
            "to": jid(profile.phone),
            "chat_id": jid(message.chat.phone),
            "status": status,
            "task_id": message.task_id,
        }
    }


def status(profile: SandboxProfile, *, message_count: int, now: datetime) -> dict[str, Any]:
    """get/status (§3.1): a healthy, authorised profile. The real answer has no `status` key."""
    started = profile.updated_at or now
    return {
        "app_status": "open",
        "authorized": True,
        "authorized_at": rfc3339_msk(started),
        "checked_at": rfc3339_msk(now),
        "last_activity": now.timestamp(),
        "logouted_at": None,
        "message_count": message_count,
        "name": profile.name,
        "payment_expired_at": rfc3339_utc(now + timedelta(days=365)),
        "payment_notification": False,
        "phone": profile.phone,
        "profile_id": SANDBOX_PROFILE_ID,
        "proxy": None,
        "uuid": SANDBOX_PROFILE_ID,
        "webhook_types": list(profile.webhook_types or []),
        "webhook_url": profile.webhook_url,
        "worked_days": 0,
    }
