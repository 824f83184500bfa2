"""A stateful fake of the Wappi API over real HTTP (pytest-httpserver), in Wappi's wire
format (reference/wappi.md), with the faults production has seen switchable per test."""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from messaging.wappi import WappiClient

TOKEN = "fake-wappi-token"
PROFILE = "fake-0001"
_ids = itertools.count(1)


def new_id() -> str:
    return f"3EB0{next(_ids):016X}"


@dataclass
class FakeWappi:
    server: HTTPServer
    # chat id ("77011234567@c.us") -> sync-API message objects, oldest first
    chats: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    marked_read: list[str] = field(default_factory=list)
    fail_chats: dict[str, int] = field(default_factory=dict)  # chat id -> HTTP status on messages/get
    fail_next: list[int] = field(default_factory=list)  # statuses for the next calls, any endpoint
    cross_next: int = 0  # the next N messages/get answer with another chat's messages
    send_delay: float = 0.0  # message/send sleeps this long (and still creates the message)
    clock: int = 0

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(r"^/api/.*")).respond_with_handler(self._handle)

    # --- test helpers ---------------------------------------------------------------

    def client(self, **overrides: Any) -> WappiClient:
        options: dict[str, Any] = {
            "base_url": self.server.url_for("/").rstrip("/"),
            "token": TOKEN,
            "profile_id": PROFILE,
            "timeout": 5.0,
        }
        options.update(overrides)
        return WappiClient(**options)

    def tick(self) -> int:
        """Now, in unix seconds, strictly increasing (several messages in one second stay ordered)."""
        self.clock = max(self.clock + 1, int(time.time()))
        return self.clock

    def customer_writes(
        self,
        *args: Any,
        at: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """As `_customer_writes`; `at` pins the unix second (several messages in one second)."""
        message = self._customer_writes(*args, **kwargs)
        if at is not None:
            message["time"] = at
        return message

    def _customer_writes(
        self,
        phone: str,
        text: str,
        *,
        name: str = "Айгерим",
        msg_type: str = "chat",
        file_link: str = "",
        msg_id: str | None = None,
    ) -> dict[str, Any]:
        chat = f"{phone}@c.us"
        self.names.setdefault(chat, name)
        message = {
            "id": msg_id or new_id(),
            "type": msg_type,
            "from": chat,
            "to": "77000000000@c.us",
            "fromMe": False,
            "senderName": name,
            "time": self.tick(),
            "body": text if msg_type == "chat" else {"mimetype": "audio/ogg"},
            "chatId": chat,
            "isReply": False,
            "caption": None,
            "isRead": False,
            "s3Info": {"url": file_link, "expire": self.clock + 3600} if file_link else {},
        }
        self.chats.setdefault(chat, []).append(message)
        return message

    def phone_writes(self, phone: str, text: str, *, from_api: bool = False) -> dict[str, Any]:
        chat = f"{phone}@c.us"
        message = {
            "id": new_id(),
            "type": "chat",
            "from": "77000000000@c.us",
            "to": chat,
            "fromMe": True,
            "isFromAPI": from_api,
            "time": self.tick(),
            "body": text,
            "chatId": chat,
            "delivery_status": "sent",
        }
        self.chats.setdefault(chat, []).append(message)
        return message

    def as_webhook(self, message: dict[str, Any], *, wh_type: str = "incoming_message") -> dict[str, Any]:
        """The same message as the webhook describes it (keys and time types differ)."""
        return {
            "wh_type": wh_type,
            "profile_id": PROFILE,
            "id": message["id"],
            "body": message["body"],
            "type": message["type"],
            "from": message["from"],
            "to": message["to"],
            "senderName": message.get("senderName", ""),
            "chatId": message["chatId"],
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(message["time"])),
            "time": message["time"],
            "from_where": "phone",
            "is_me": message.get("fromMe", False),
            "chat_type": "dialog",
            "contact_name": message.get("senderName", ""),
            "file_link": (message.get("s3Info") or {}).get("url", ""),
        }

    def calls_to(self, endpoint: str) -> list[tuple[str, str, dict[str, str]]]:
        return [c for c in self.calls if c[1].endswith(endpoint)]

    # --- the HTTP side ---------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        query = dict(request.args)
        self.calls.append((request.method, request.path, query))
        if request.headers.get("Authorization") != TOKEN:
            return _json({"detail": "Invalid token", "status": "error"}, 401)
        if query.get("profile_id") != PROFILE:
            return _json({"detail": "Profile not found", "status": "error"}, 400)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return _json({"detail": "fault injected", "status": "error"}, status)
        route = request.path.removeprefix("/api/")
        handler = getattr(self, "_" + route.replace("/", "_"), None)
        if handler is None:
            return _json({"detail": "Not Found"}, 404)
        return handler(request, query)

    def _envelope(self, **data: Any) -> dict[str, Any]:
        return {"status": "done", "timestamp": self.clock, "time": "2027-01-15T10:00:00+03:00", **data}

    def _sync_get_status(self, request: Request, query: dict[str, str]) -> Response:
        return _json({"app_status": "open", "authorized": True, "phone": "77000000000", "payment_expired_at": None})

    def _sync_chats_filter(self, request: Request, query: dict[str, str]) -> Response:
        dialogs = []
        for chat, messages in self.chats.items():
            last = messages[-1]
            dialogs.append(
                {
                    "id": chat,
                    "isGroup": chat.endswith("@g.us"),
                    "last_message_id": last["id"],
                    "last_time": last["time"],
                    "last_timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last["time"])),
                    "name": self.names.get(chat, ""),
                    "contact": {
                        "Found": True,
                        "FirstName": "",
                        "FullName": "",
                        "PushName": self.names.get(chat, ""),
                        "BusinessName": "",
                    },
                    "unread_count": 0,
                }
            )
        return _json(self._envelope(detail="Chats fetched", dialogs=dialogs, total_count=len(dialogs)))

    def _sync_messages_get(self, request: Request, query: dict[str, str]) -> Response:
        chat = query.get("chat_id", "")
        if "@" not in chat:
            chat = f"{chat}@c.us"
        if chat in self.fail_chats:
            return _json({"detail": "chat not found", "status": "error"}, self.fail_chats[chat])
        source = chat
        if self.cross_next:
            self.cross_next -= 1
            source = next((c for c in self.chats if c != chat), chat)
        newest_first = list(reversed(self.chats.get(source, [])))
        limit, offset = int(query.get("limit", 50)), int(query.get("offset", 0))
        page = newest_first[offset : offset + limit]
        return _json(self._envelope(messages=page, total_count=len(newest_first), uuid=PROFILE))

    def _sync_message_send(self, request: Request, query: dict[str, str]) -> Response:
        body = json.loads(request.data or b"{}")
        if self.send_delay:
            time.sleep(self.send_delay)
        self.sent.append(body)
        message = self.phone_writes(str(body["recipient"]), str(body["body"]), from_api=True)
        if body.get("quoted_message_id"):
            message.update(isReply=True, stanzaId=body["quoted_message_id"])
        return _json(self._envelope(message_id=message["id"], task_id=f"task-{message['id']}"))

    def _sync_message_mark_read(self, request: Request, query: dict[str, str]) -> Response:
        self.marked_read.append(json.loads(request.data or b"{}").get("message_id", ""))
        return _json(self._envelope(uuid=PROFILE))


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


@pytest.fixture
def fake_wappi(httpserver: HTTPServer) -> FakeWappi:
    return FakeWappi(httpserver)
