"""Reads of the sandbox state."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, Subquery

from .models import SandboxChat, SandboxMessage


def chat_find(*, phone: str) -> SandboxChat | None:
    return SandboxChat.objects.filter(phone=phone).first()


def message_find(*, message_id: str) -> SandboxMessage | None:
    return SandboxMessage.objects.select_related("chat").filter(message_id=message_id).first()


def dialogs_list(*, client_name: str = "") -> list[tuple[SandboxChat, SandboxMessage, int]]:
    """Chats that have messages, most recently active first, as (chat, last message, unread count).

    `client_name` is Wappi's chats/filter substring match on phone, name and last message (§3.2).
    """
    last_pk = SandboxMessage.objects.filter(chat=OuterRef("pk")).order_by("-time", "-id").values("id")[:1]
    chats = list(
        SandboxChat.objects.annotate(
            last_pk=Subquery(last_pk),
            unread=Count("messages", filter=Q(messages__from_me=False, messages__is_read=False)),
        ).filter(last_pk__isnull=False)
    )
    last = SandboxMessage.objects.in_bulk([chat.last_pk for chat in chats])
    rows = [(chat, last[chat.last_pk], chat.unread) for chat in chats]
    needle = client_name.strip().lower()
    if needle:
        rows = [row for row in rows if needle in f"{row[0].phone}\n{row[0].name}\n{row[1].body}".lower()]
    rows.sort(key=lambda row: (row[1].time, row[1].pk), reverse=True)
    return rows


def messages_page(
    *, chat: SandboxChat | None, limit: int, offset: int, ascending: bool
) -> tuple[list[SandboxMessage], int]:
    """One page of a chat's messages (or of all chats' when `chat` is None) and the total count.

    `offset` counts from the newest message unless `ascending`, as Wappi's `order` does.
    """
    qs = SandboxMessage.objects.select_related("chat")
    if chat is not None:
        qs = qs.filter(chat=chat)
    ordered = qs.order_by("time", "id") if ascending else qs.order_by("-time", "-id")
    return list(ordered[offset : offset + limit]), qs.count()


def messages_by_ids(ids: list[str]) -> dict[str, SandboxMessage]:
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return {m.message_id: m for m in SandboxMessage.objects.select_related("chat").filter(message_id__in=ids)}


def chat_other_busiest(*, chat: SandboxChat) -> SandboxChat | None:
    """The most recently active chat other than `chat` (whose answer a crossed messages/get returns)."""
    for other, _last, _unread in dialogs_list():
        if other.pk != chat.pk:
            return other
    return None


def chat_messages(*, chat: SandboxChat, limit: int = 200) -> list[SandboxMessage]:
    """The newest `limit` messages of a chat, oldest first (for the chat page)."""
    newest = list(SandboxMessage.objects.filter(chat=chat).select_related("chat").order_by("-time", "-id")[:limit])
    return newest[::-1]


def message_count() -> int:
    return SandboxMessage.objects.count()
