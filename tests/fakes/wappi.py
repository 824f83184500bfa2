"""A stateful fake of the Wappi API over real HTTP (pytest-httpserver), in Wappi's wire
format (reference/wappi.md), with the faults production has seen switchable per test.

Every JSON shape comes from sandbox.wappi.wire, the builder the sandbox emulator uses too:
the fake keeps plain WireMessage values and renders them as the sync API or a webhook shows them."""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from messaging.wappi import WappiClient
from sandbox.wappi import wire
from sandbox.wappi.wire import Media, WireMessage

TOKEN = "fake-wappi-token"
PROFILE = "fake-0001"
BUSINESS = "77000000000"
_ids = itertools.count(1)


def new_id() -> str:
    return f"3EB0{next(_ids):016X}"


def _moment(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


@dataclass
class FakeWappi:
    server: HTTPServer
    # chat id ("77011234567@c.us") -> its messages, oldest first
    chats: dict[str, list[WireMessage]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    marked_read: list[str] = field(default_factory=list)
    fail_chats: dict[str, int] = field(default_factory=dict)  # chat id -> HTTP status on messages/get
    fail_next: list[int] = field(default_factory=list)  # statuses for the next calls, any endpoint
    cross_next: int = 0  # the next N messages/get answer with another chat's messages
    send_delay: float = 0.0  # message/send sleeps this long (and still creates the message)
    clock: int = 0
    by_id: dict[str, WireMessage] = field(default_factory=dict)
    not_on_whatsapp: set[str] = field(default_factory=set)  # contact/check answers false for these
    typing: list[str] = field(default_factory=list)  # recipients of chat/typing/start
    authorized: bool = True  # get/status: False is a logged-out profile

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
        phone: str,
        text: str,
        *,
        name: str = "Айгерим",
        msg_type: str = wire.TEXT,
        file_link: str = "",
        msg_id: str | None = None,
        at: int | None = None,
        group: str = "",
    ) -> dict[str, Any]:
        """The customer's message, now in Wappi's chat; returned as messages/get shows it.

        `file_link` makes it a media message (a voice note) whose file lives there; `at` pins the
        unix second (several messages in one second); `group` writes in that group instead."""
        moment = self.tick()
        message = WireMessage(
            id=msg_id or new_id(),
            customer=phone,
            business=BUSINESS,
            from_me=False,
            time=_moment(moment if at is None else at),
            type=msg_type,
            body=text,
            sender_name=name,
            media=Media(link=file_link) if file_link else None,
            group=group,
        )
        self.names.setdefault(message.chat, name)
        return self._store(message)

    def phone_writes(self, phone: str, text: str, *, from_api: bool = False, quoted_id: str = "") -> dict[str, Any]:
        """The business's message in the customer's chat (typed on the phone, or sent through the API)."""
        message_id = new_id()
        message = WireMessage(
            id=message_id,
            customer=phone,
            business=BUSINESS,
            from_me=True,
            time=_moment(self.tick()),
            body=text,
            delivery_status="sent",
            from_api=from_api,
            quoted_id=quoted_id,
            task_id=f"task-{message_id}",
        )
        return self._store(message)

    def as_webhook(self, message: dict[str, Any], *, wh_type: str = "incoming_message") -> dict[str, Any]:
        """The same message as its webhook event describes it (keys and time types differ)."""
        stored = self.by_id[message["id"]]
        return wire.webhook_message(
            stored, wh_type=wh_type, profile_id=PROFILE, contact_name=self.names.get(stored.chat, ""), now=_now()
        )

    def delivery_webhook(self, message_id: str, status: str) -> dict[str, Any]:
        """A delivery_status webhook for one of our sent messages ("undelivered", "temporary ban")."""
        return wire.webhook_delivery_status(self.by_id[message_id], status=status, profile_id=PROFILE, now=_now())

    def authorization_webhook(self, *, online: bool, reason: str = "") -> dict[str, Any]:
        """An authorization_status webhook (wappi.md §4.4): the phone logged in or out."""
        now = _now()
        event = {
            "wh_type": "authorization_status",
            "profile_id": PROFILE,
            "status": "online" if online else "offline",
            "reason": reason,
            "phone": BUSINESS,
            "timestamp": wire.rfc3339_msk(now),
            "time": wire.unix(now),
        }
        return {"messages": [event]}

    def calls_to(self, endpoint: str) -> list[tuple[str, str, dict[str, str]]]:
        return [c for c in self.calls if c[1].endswith(endpoint)]

    # --- the HTTP side ---------------------------------------------------------------

    def _store(self, message: WireMessage) -> dict[str, Any]:
        self.chats.setdefault(message.chat, []).append(message)
        self.by_id[message.id] = message
        return self._sync(message)

    def _sync(self, message: WireMessage) -> dict[str, Any]:
        return wire.sync_message(message, now=_now(), quoted=self.by_id.get(message.quoted_id))

    def _handle(self, request: Request) -> Response:
        query = dict(request.args)
        self.calls.append((request.method, request.path, query))
        if request.headers.get("Authorization") != TOKEN:
            return _json(wire.error_body("Invalid token"), 401)
        if query.get("profile_id") != PROFILE:
            return _json(wire.error_body("Profile not found"), 400)
        if self.fail_next:
            status = self.fail_next.pop(0)
            return _json(wire.error_body("fault injected"), status)
        route = request.path.removeprefix("/api/")
        handler = getattr(self, "_" + route.replace("/", "_"), None)
        if handler is None:
            return _json(wire.not_found_body(), 404)
        return handler(request, query)

    def _sync_get_status(self, request: Request, query: dict[str, str]) -> Response:
        now = _now()
        return _json(
            wire.status(
                profile_id=PROFILE,
                name="Fake",
                phone=BUSINESS,
                webhook_url="",
                webhook_types=[],
                authorized_at=now,
                message_count=len(self.by_id),
                now=now,
            )
            | ({} if self.authorized else {"authorized": False, "logouted_at": wire.rfc3339_msk(now)})
        )

    def _sync_contact_check(self, request: Request, query: dict[str, str]) -> Response:
        phone = query.get("phone", "")
        return _json(wire.envelope(_now(), on_whatsapp=phone not in self.not_on_whatsapp, phone=phone))

    def _sync_chat_typing_start(self, request: Request, query: dict[str, str]) -> Response:
        self.typing.append(str(json.loads(request.data or b"{}").get("recipient", "")))
        return _json(wire.envelope(_now()))

    def _webhook_url_set(self, request: Request, query: dict[str, str]) -> Response:
        return _json(wire.envelope(_now()))

    def _webhook_types_set(self, request: Request, query: dict[str, str]) -> Response:
        return _json(wire.envelope(_now()))

    def _sync_chats_filter(self, request: Request, query: dict[str, str]) -> Response:
        dialogs = [
            wire.dialog(messages[-1], name=self.names.get(chat, ""), unread_count=0)
            for chat, messages in self.chats.items()
        ]
        return _json(wire.envelope(_now(), detail="Chats fetched", dialogs=dialogs, total_count=len(dialogs)))

    def _sync_messages_get(self, request: Request, query: dict[str, str]) -> Response:
        chat = query.get("chat_id", "")
        if "@" not in chat:
            chat = wire.jid(chat)
        if chat in self.fail_chats:
            return _json(wire.error_body("chat not found"), self.fail_chats[chat])
        source = chat
        if self.cross_next:
            self.cross_next -= 1
            source = next((c for c in self.chats if c != chat), chat)
        newest_first = list(reversed(self.chats.get(source, [])))
        limit, offset = int(query.get("limit", 50)), int(query.get("offset", 0))
        page = [self._sync(message) for message in newest_first[offset : offset + limit]]
        return _json(wire.envelope(_now(), messages=page, total_count=len(newest_first), uuid=PROFILE))

    def _sync_message_send(self, request: Request, query: dict[str, str]) -> Response:
        body = json.loads(request.data or b"{}")
        if self.send_delay:
            time.sleep(self.send_delay)
        self.sent.append(body)
        message = self.phone_writes(
            str(body["recipient"]), str(body["body"]), from_api=True, quoted_id=str(body.get("quoted_message_id") or "")
        )
        return _json(wire.envelope(_now(), message_id=message["id"], task_id=message["task_id"]))

    def _sync_message_mark_read(self, request: Request, query: dict[str, str]) -> Response:
        self.marked_read.append(json.loads(request.data or b"{}").get("message_id", ""))
        return _json(wire.envelope(_now(), uuid=PROFILE))


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


@pytest.fixture
def fake_wappi(httpserver: HTTPServer) -> FakeWappi:
    return FakeWappi(httpserver)
