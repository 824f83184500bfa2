"""The third parties for load and faults: the tests' Wappi and Gemini fakes, served by threaded
HTTP servers, answering every request without a script, and with switchable outages.

* :class:`LoadWappi` records each send with its arrival time, serves voice-note media, and can
  answer every API call with an HTTP status (500) or hang past the client's timeout.
* :class:`LoadGemini` answers by request type: a moderator request (fast model, the Verdict
  schema) gets "a client, sales"; an intent request (the Intent schema) gets "other"; a
  transcription (inline audio) gets a text; anything else (the main model) a reply without
  figures. Each answer takes `latency` seconds; it can answer 429 instead.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fakes.gemini import FakeGemini, GeminiRequest, Reply, error_body, text_response
from tests.fakes.wappi import PROFILE, TOKEN, FakeWappi, new_id

PHONE = re.compile(rb"7\d{10}")
SEPARATORS = re.compile(rb"[\s+()-]")
# The fakes log each request at INFO; at a few thousand requests a minute that is noise.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
REPLY_TEXT = "Здравствуйте! Спасибо за вопрос 😊 Подскажу по доставке и наличию. Куда нужно доставить заказ?"
TRANSCRIPT = "Здравствуйте, подскажите, пожалуйста, есть ли доставка в Караганду?"
VERDICT = {"isClient": True, "confidence": 0.95, "reasoning": "Спрашивает о товаре", "requestType": "sales"}


class _ThreadedServer(HTTPServer):
    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.02)


@dataclass(frozen=True)
class Send:
    at: float  # time.time() when the fake received the call
    recipient: str
    body: str
    quoted: str


class LoadWappi(FakeWappi):
    """The Wappi fake on a threaded server; `fault_status` / `fault_hang` switch an outage on."""

    def __init__(self) -> None:
        server = _ThreadedServer(host="127.0.0.1", port=0, threaded=True)
        server.start()
        self.lock = threading.RLock()
        self.sends: list[Send] = []
        self.latency = 0.0
        self.fault_status: int | None = None
        self.fault_hang = 0.0
        self.faulted_calls = 0
        self.send_started = 0
        super().__init__(server)
        server.expect_request(re.compile(r"^/media/.*")).respond_with_handler(self._media)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def close(self) -> None:
        self.fault_hang = 0.0
        if self.server.is_running():
            self.server.stop()

    def env(self) -> dict[str, str]:
        return {
            "WAPPI_BASE_URL": self.base_url,
            "WAPPI_TOKEN": TOKEN,
            "WAPPI_PROFILE_ID": PROFILE,
            "WAPPI_SANDBOX": "false",
        }

    def customer_message(
        self, *, phone: str, text: str, name: str, voice: bool = False, chat: str = ""
    ) -> dict[str, Any]:
        """A customer's message as Wappi holds it (also visible to the poller), time = now;
        `chat` a group's jid to write in instead of the customer's private chat."""
        msg_id = new_id()
        with self.lock:
            return self.customer_writes(
                phone,
                text,
                name=name,
                msg_type="ptt" if voice else "chat",
                file_link=f"{self.base_url}/media/{msg_id}.ogg" if voice else "",
                msg_id=msg_id,
                at=int(time.time()),
                group=chat if chat != f"{phone}@c.us" else "",
            )

    def webhook(self, message: dict[str, Any]) -> dict[str, Any]:
        event = self.as_webhook(message)
        if message["chatId"].endswith("@g.us"):
            event["chat_type"] = "group"
        return event

    def _media(self, request: Request) -> Response:
        # The note's bytes carry its message id, so a transcription request names its message.
        msg_id = request.path.rsplit("/", 1)[-1].removesuffix(".ogg")
        return Response(b"OggS\x00\x02" + msg_id.encode() + b"\x00" * 64, content_type="audio/ogg")

    def _handle(self, request: Request) -> Response:
        if request.path.endswith("/message/send"):
            self.send_started += 1
        if request.path.startswith("/api/") and request.headers.get("Authorization") == TOKEN:
            if self.fault_hang:
                self.faulted_calls += 1
                time.sleep(self.fault_hang)
            if self.fault_status:
                self.faulted_calls += 1
                return Response(json.dumps({"detail": "fault injected", "status": "error"}), status=self.fault_status)
        if request.path.endswith("/message/send") and self.latency:
            time.sleep(self.latency)
        with self.lock:
            return super()._handle(request)

    def _sync_message_send(self, request: Request, query: dict[str, str]) -> Response:
        body = json.loads(request.data or b"{}")
        self.sends.append(
            Send(
                time.time(),
                str(body.get("recipient", "")),
                str(body.get("body", "")),
                str(body.get("quoted_message_id") or ""),
            )
        )
        return super()._sync_message_send(request, query)


@dataclass(frozen=True)
class Call:
    kind: str  # classify | intent | transcribe | reply
    started: float
    seconds: float
    phones: tuple[str, ...]
    status: int


@dataclass
class LoadGemini(FakeGemini):
    latency: float = 1.0
    fault_status: int | None = None
    calls: list[Call] = field(default_factory=list)
    voice_phone: dict[str, str] = field(default_factory=dict)  # message id -> phone, for transcriptions

    def env(self) -> dict[str, str]:
        return {"LLM_BACKEND": "gemini", "GEMINI_API_KEY": self.api_key, "GEMINI_BASE_URL": self.base_url}

    def _reply_for(self, record: GeminiRequest) -> Reply:
        if record.method != "POST" or record.action != "generateContent" or record.api_key != self.api_key:
            return super()._reply_for(record)
        request = record.camel or {}
        schema = json.dumps(request.get("generationConfig") or {}, ensure_ascii=False)
        raw = record.body or b""
        # The reply carries the formatted number, the moderator's card the push name (which the
        # load generator makes end in the number): either names the contact.
        phones = {m.decode() for m in PHONE.findall(SEPARATORS.sub(b"", raw))}
        if "isClient" in schema:
            kind, body = "classify", text_response(json.dumps(VERDICT, ensure_ascii=False))
        elif '"intent"' in schema:
            kind, body = "intent", text_response(json.dumps({"intent": "other"}))
        elif record.inline_data():
            kind, body = "transcribe", text_response(TRANSCRIPT)
            for _mime, data in record.inline_data():
                msg_id = data[6:].split(b"\x00", 1)[0].decode(errors="replace")
                if msg_id in self.voice_phone:
                    phones.add(self.voice_phone[msg_id])
        else:
            kind, body = "reply", text_response(REPLY_TEXT)
        status = self.fault_status or 200
        if status != 200:
            body = error_body(status, retry_delay="1s")
        with self._lock:
            self.requests.append(record)
            self.calls.append(Call(kind, time.time(), self.latency, tuple(sorted(phones)), status))
        return Reply(body=body, status=status, delay=self.latency if status == 200 else 0.05)
