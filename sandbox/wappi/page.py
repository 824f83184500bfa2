"""What the sandbox chat page shows: the customer's view of their WhatsApp, as JSON for its script."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.urls import reverse
from django.utils import timezone

from contacts.phones import format_phone

from . import selectors, services
from .models import SandboxChat, SandboxMessage


def _time_label(message: SandboxMessage) -> str:
    local = timezone.localtime(message.time)
    if local.date() == timezone.localdate():
        return local.strftime("%H:%M")
    return local.strftime("%d.%m %H:%M")


def _ticks(message: SandboxMessage) -> str:
    # The customer's own message shows grey ✓✓ (it reached the business) and turns blue once the
    # product marks it read (message/mark/read); the bot's message shows what Wappi reports for it.
    if not message.from_me:
        return "read" if message.is_read else "delivered"
    return message.delivery_status or SandboxMessage.Delivery.SENT


def message_for_page(message: SandboxMessage) -> dict[str, Any]:
    is_voice = message.type == SandboxMessage.Type.VOICE
    return {
        "id": message.message_id,
        "from_me": message.from_me,
        "author": "bot" if message.from_me else "customer",
        "type": message.type,
        "body": message.body,
        "sender": message.sender_name,
        "time": message.time.isoformat(),
        "time_label": _time_label(message),
        "ticks": _ticks(message),
        "voice_url": reverse("sandbox:voice_file", args=[message.message_id]) if is_voice else "",
    }


def _preview(message: SandboxMessage) -> str:
    text = "🎤 Голосовое сообщение" if message.type == SandboxMessage.Type.VOICE else message.body
    return ("Бот: " if message.from_me else "") + text[:80]


def conversation_state(*, chat: SandboxChat | None, phone: str = "") -> dict[str, Any]:
    """The recent chats, the open chat and its messages (oldest first), and the webhook setting.

    The webhook URL is shown without its query: that is where the receiver's secret travels.
    """
    profile = services.profile_get()
    url = urlsplit(profile.webhook_url)
    chats = [
        {
            "phone": c.phone,
            "phone_display": format_phone(c.phone),
            "name": c.name,
            "last": _preview(last),
            "last_label": _time_label(last),
        }
        for c, last, _unread in selectors.dialogs_list()
    ]
    current = None
    if phone:
        current = {"phone": phone, "phone_display": format_phone(phone), "name": chat.name if chat else ""}
    return {
        "business": {"phone_display": format_phone(profile.phone), "name": profile.name},
        "webhook": {
            "url": f"{url.scheme}://{url.netloc}{url.path}" if profile.webhook_url else "",
            "types": list(profile.webhook_types or []),
        },
        "chats": chats,
        "chat": current,
        "messages": [message_for_page(m) for m in selectors.chat_messages(chat=chat)] if chat else [],
    }
