"""The Wappi emulator's part of /sandbox/ (sandbox/urls.py, namespace "sandbox"): the chat page at
/sandbox/ and the emulated API under /sandbox/wappi/, so WAPPI_SANDBOX_URL (…/sandbox/wappi)
plays the part of https://wappi.pro."""

from __future__ import annotations

from django.urls import path, re_path

from . import api, views

_api = [
    ("api/sync/get/status", api.get_status, "status"),
    ("api/sync/chats/filter", api.chats_filter, "chats_filter"),
    ("api/sync/chats/get", api.chats_get, "chats_get"),
    ("api/sync/messages/get", api.messages_get, "messages_get"),
    ("api/sync/messages/all/get", api.messages_all_get, "messages_all_get"),
    ("api/sync/messages/id/get", api.message_id_get, "message_id_get"),
    ("api/sync/message/send", api.message_send, "message_send"),
    ("api/sync/message/reply", api.message_reply, "message_reply"),
    ("api/sync/message/mark/read", api.message_mark_read, "message_mark_read"),
    ("api/sync/message/media/download", api.media_download, "media_download"),
    ("api/sync/chat/typing/start", api.typing, "typing_start"),
    ("api/sync/chat/typing/stop", api.typing, "typing_stop"),
    ("api/sync/contact/check", api.contact_check, "contact_check"),
    ("api/sync/contact/get", api.contact_get, "contact_get"),
    ("api/webhook/url/set", api.webhook_url_set, "webhook_url_set"),
    ("api/webhook/url/get", api.webhook_url_get, "webhook_url_get"),
    ("api/webhook/url/delete", api.webhook_url_delete, "webhook_url_delete"),
    ("api/webhook/types/set", api.webhook_types_set, "webhook_types_set"),
]

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("chat/conversation", views.conversation, name="conversation"),
    path("chat/send", views.customer_send, name="customer_send"),
    *(path(f"wappi/{route}", view, name=f"wappi_{name}") for route, view, name in _api),
    path("wappi/files/<str:message_id>.ogg", api.voice_file, name="voice_file"),
    path("wappi/_control", api.control, name="control"),
    # Wappi's clients get JSON for a wrong path too; also keeps a typo from looking like a sandbox bug.
    re_path(r"^wappi/(?P<rest>.*)$", api.not_found),
]
