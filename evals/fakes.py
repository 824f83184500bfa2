"""Local stand-ins for Gemini and Wappi, served over real HTTP on 127.0.0.1, so that a card runs
the product's real clients (the google-genai SDK, our Wappi client) without a network.

`ScriptedGemini` answers generateContent the way a card's script says: the moderator's verdict
and the reply intent (structured output, recognised by their response schema), a voice note's
transcript (a request carrying audio), the simulated customer's and the judge's turns (their
schemas), and the sales replies in order (text or tool calls). A sales request with nothing
left in the script is answered with an error and recorded in `unscripted`: the card fails
with that, not with a made-up answer. The test suite reuses these servers.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

_ROUTE = re.compile(r"^/v[0-9a-z]+/models/(?P<model>[^/:]+):generateContent$")

VERDICT, INTENT, TRANSCRIBE, PERSONA, JUDGE, REPLY = "verdict", "intent", "transcribe", "persona", "judge", "reply"


def text_body(text: str) -> dict[str, Any]:
    return parts_body([{"text": text}])


def parts_body(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A generateContent answer with the given candidate parts and plausible usage."""
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120},
        "modelVersion": "scripted-gemini",
        "responseId": uuid.uuid4().hex,
    }


def call_body(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return parts_body([{"functionCall": {"name": name, "args": args}, "thoughtSignature": "c2tpcA"}])


def request_kind(body: dict[str, Any]) -> str:
    """Which of the product's (or the evaluation's) requests this is, by its structured-output
    schema or its content."""
    config = json.dumps(body.get("generationConfig") or body.get("generation_config") or {}, ensure_ascii=False)
    if "isClient" in config:
        return VERDICT
    if "goal_reached" in config:
        return PERSONA
    if "judgements" in config:
        return JUDGE
    if '"intent"' in config:
        return INTENT
    contents = json.dumps(body.get("contents") or [], ensure_ascii=False)
    if "inlineData" in contents or "inline_data" in contents:
        return TRANSCRIBE
    return REPLY


@dataclass
class Script:
    """What the fake answers next, per kind of request. `defaults` answer a kind whose queue is
    empty (None: an error, recorded as unscripted)."""

    queues: dict[str, deque[dict[str, Any]]] = field(
        default_factory=lambda: {kind: deque() for kind in (VERDICT, INTENT, TRANSCRIBE, PERSONA, JUDGE, REPLY)}
    )
    defaults: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def push(self, kind: str, body: dict[str, Any]) -> None:
        self.queues[kind].append(body)


class _LocalServer:
    """A local HTTP server on a free port, served from a daemon thread while the `with` block
    runs; subclasses give the request handler (`_handler`)."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError


class ScriptedGemini(_LocalServer):
    """A scripted Gemini on 127.0.0.1 (a context manager). Thread-safe."""

    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (kind, model, body)
        self.unscripted: list[str] = []
        self._lock = threading.Lock()
        super().__init__()

    def reset(self) -> None:
        with self._lock:
            self.script = Script()
            self.requests.clear()
            self.unscripted.clear()

    def push(self, kind: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.script.push(kind, body)

    def pending(self, kind: str = REPLY) -> int:
        with self._lock:
            return len(self.script.queues[kind])

    def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        route = _ROUTE.match(path)
        if route is None or not isinstance(body, dict):
            return 404, _error(404, "NOT_FOUND", f"the scripted Gemini does not serve {path}")
        kind = request_kind(body)
        with self._lock:
            self.requests.append((kind, route["model"], body))
            queue = self.script.queues[kind]
            if queue:
                return 200, queue.popleft()
            default = self.script.defaults.get(kind)
            if default is not None:
                return 200, default
            self.unscripted.append(kind)
        return 400, _error(400, "FAILED_PRECONDITION", f"scripted Gemini: nothing scripted for this {kind} request")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                status, answer = fake.answer(self.path.split("?", 1)[0], body)
                _respond(self, status, answer)

            def do_GET(self) -> None:
                _respond(self, 404, _error(404, "NOT_FOUND", "not served"))

            def log_message(self, *_args: Any) -> None:
                return

        return Handler


class FakeWappi(_LocalServer):
    """Accepts every send as Wappi does (``status: done`` and a message id) and serves a voice
    note's audio under /media/. Under /kaspi/ it answers as Kaspi Pay does: an invoice is
    created (remote/create) and stays unpaid (payment/status says Wait)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.invoices = 0
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                if self.path.startswith("/kaspi/"):
                    fake.invoices += 1
                    _respond(self, 200, _kaspi({"QrPaymentId": 700000 + fake.invoices}))
                    return
                try:
                    fake.sent.append(json.loads(raw or b"{}"))
                except ValueError:
                    fake.sent.append({})
                _respond(self, 200, {"status": "done", "message_id": f"3EB0{uuid.uuid4().hex[:16].upper()}"})

            def do_GET(self) -> None:
                if self.path.startswith("/kaspi/"):
                    _respond(self, 200, _kaspi({"Status": "Wait"}))
                    return
                if self.path.startswith("/media/"):
                    audio = b"OggS\x00\x02" + b"\x00" * 64
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/ogg")
                    self.send_header("Content-Length", str(len(audio)))
                    self.end_headers()
                    self.wfile.write(audio)
                    return
                _respond(self, 200, {"status": "done"})

            def log_message(self, *_args: Any) -> None:
                return

        return Handler


def _kaspi(data: dict[str, Any]) -> dict[str, Any]:
    return {"StatusCode": 0, "Message": "OK", "Data": data}


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _respond(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
