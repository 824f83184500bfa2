"""A local fake of the Gemini REST API, served over real HTTP, for tests of code that uses
the real `google-genai` SDK.

The SDK is pointed at the fake through our own settings (``GEMINI_BASE_URL``), so each test
exercises the SDK's real URL building, headers, JSON (de)serialisation, retries and timeouts.
Wire formats follow /work/shared/reference/gemini.md (§1-§3, §5), checked against
google-genai 3.4.0, which calls ``POST /v1/models/{model}:generateContent`` (``v1beta`` on
2.x or with ``api_version="v1beta"``; the fake accepts any version segment).

Usage (the ``fake_gemini`` fixture does the wiring)::

    def test_it_transcribes(fake_gemini):
        fake_gemini.reply_text("Здравствуйте", prompt_tokens=120, output_tokens=4)
        ...call code that uses ai.sdk...
        request = fake_gemini.last_request()
        assert request.model == settings.GEMINI_FAST_MODEL
        assert request.inline_data() == [("audio/ogg", b"OggS...")]

Each scripted reply answers exactly one HTTP request, so with the SDK's retries a test queues
one reply per expected attempt. A request that finds nothing queued (or hits a route the
fake does not serve) is answered 400/404 and fails the test at teardown.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_django.fixtures import SettingsWrapper

FAKE_API_KEY = "fake-gemini-key-3f9c1a7e5b"

# /{api version}/models/{model}:{action}; the version segment differs between SDK majors.
# GET /{api version}/models/{model}: models.get.
_MODEL_ROUTE = re.compile(r"^/(?P<version>v[0-9a-z]+)/models/(?P<model>[^/:]+)$")
_ROUTE = re.compile(r"^/(?P<version>v[0-9a-z]+)/models/(?P<model>[^/:]+):(?P<action>[A-Za-z]+)$")
# /{api version}/cachedContents[/{id}] (gemini.md §6.1).
_CACHE_ROUTE = re.compile(r"^/(?P<version>v[0-9a-z]+)/cachedContents(?:/(?P<id>[^/]+))?$")
CACHE_WITH_CONFIG = (
    "Tool config, tools and system instruction should not be set in the request when using cached content."
)
CACHE_NOT_FOUND = "CachedContent not found (or permission denied)"
CHARS_PER_TOKEN = 4
_CANONICAL_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


# --- Response bodies (the JSON shapes of gemini.md §3 and §5) ---------------------------------------


def text_response(
    text: str,
    *,
    prompt_tokens: int | None = 100,
    output_tokens: int | None = 10,
    thoughts_tokens: int | None = None,
    cached_tokens: int | None = None,
    finish_reason: str = "STOP",
    model_version: str = "fake-gemini",
    response_id: str = "fake-response-1",
) -> dict[str, Any]:
    """A realistic generateContent answer with one text part and usage metadata."""
    usage: dict[str, Any] = {}
    if prompt_tokens is not None:
        usage["promptTokenCount"] = prompt_tokens
        usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt_tokens}]
    if output_tokens is not None:
        usage["candidatesTokenCount"] = output_tokens
    if thoughts_tokens is not None:
        usage["thoughtsTokenCount"] = thoughts_tokens
    if cached_tokens is not None:
        usage["cachedContentTokenCount"] = cached_tokens
    if usage:
        usage["totalTokenCount"] = sum((prompt_tokens or 0, output_tokens or 0, thoughts_tokens or 0))
    body: dict[str, Any] = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish_reason, "index": 0}
        ],
        "modelVersion": model_version,
        "responseId": response_id,
    }
    if usage:
        body["usageMetadata"] = usage
    return body


def blocked_response(*, finish_reason: str = "SAFETY", prompt_tokens: int = 100) -> dict[str, Any]:
    """A candidate stopped by a filter: no content, only the finish reason and ratings."""
    return {
        "candidates": [
            {
                "finishReason": finish_reason,
                "index": 0,
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True},
                ],
            }
        ],
        "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
        "modelVersion": "fake-gemini",
        "responseId": "fake-blocked-1",
    }


def prompt_blocked_response(*, block_reason: str = "SAFETY") -> dict[str, Any]:
    """The prompt itself refused: ``promptFeedback.blockReason`` and no candidates at all."""
    return {
        "promptFeedback": {"blockReason": block_reason},
        "usageMetadata": {"promptTokenCount": 100, "totalTokenCount": 100},
        "modelVersion": "fake-gemini",
        "responseId": "fake-prompt-blocked-1",
    }


def error_body(
    code: int, status: str | None = None, message: str | None = None, *, retry_delay: str | None = None
) -> dict[str, Any]:
    """Google's JSON error envelope; `retry_delay` ("17s") adds a google.rpc.RetryInfo detail."""
    status = status or _CANONICAL_STATUS.get(code, HTTPStatus(code).phrase.upper().replace(" ", "_"))
    error: dict[str, Any] = {"code": code, "message": message or f"fake {status}", "status": status}
    if retry_delay is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    return {"error": error}


# --- Request helpers -------------------------------------------------------------------------------


def camel(value: Any) -> Any:
    """Recursively renames snake_case keys to lowerCamelCase.

    The SDK sends most keys in camelCase but some nested ones in snake_case
    (``inlineData.mime_type``, gemini.md §2); the real API accepts both. Normalise before
    asserting. Note: keys inside user data (function args, schema properties) change too.
    """
    if isinstance(value, dict):
        return {_camel_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def b64decode_any(data: str) -> bytes:
    """Decodes base64 in either alphabet, padded or not (the SDK sends the URL-safe one)."""
    data = data.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)


@dataclass(frozen=True)
class GeminiRequest:
    """One HTTP request the fake received, as sent by the SDK."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # None when the body is not JSON
    api_version: str | None = None  # "v1", "v1beta", ... (None when the route did not match)
    model: str | None = None
    action: str | None = None  # "generateContent", ...

    @property
    def api_key(self) -> str | None:
        return self.headers.get("x-goog-api-key")

    @property
    def camel(self) -> Any:
        """The JSON body with keys normalised to camelCase (see :func:`camel`)."""
        return camel(self.json)

    def parts(self) -> list[dict[str, Any]]:
        """All parts of all turns of ``contents``, camelCased."""
        contents = (self.camel or {}).get("contents") or []
        return [part for turn in contents for part in (turn.get("parts") or [])]

    def texts(self) -> list[str]:
        return [part["text"] for part in self.parts() if "text" in part]

    def inline_data(self) -> list[tuple[str, bytes]]:
        """``(mime type, decoded bytes)`` of every inline-data part."""
        return [
            (part["inlineData"].get("mimeType"), b64decode_any(part["inlineData"]["data"]))
            for part in self.parts()
            if "inlineData" in part
        ]


@dataclass(frozen=True)
class Reply:
    """A scripted answer: a JSON-able body (or raw str/bytes), an HTTP status, a delay."""

    body: Any
    status: int = 200
    delay: float = 0.0
    content_type: str = "application/json"


class _Server(HTTPServer):
    def thread_target(self) -> None:
        # serve_forever polls for shutdown every 0.5 s by default: every stop() would cost that.
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.02)


def count_tokens(value: Any) -> int:
    """The fake's tokenizer: every text and JSON value counted at CHARS_PER_TOKEN characters per
    token (consistent, so shares and ratios between requests are meaningful)."""
    if value is None:
        return 0
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return -(-len(text) // CHARS_PER_TOKEN)


@dataclass
class FakeCache:
    """A cachedContents resource the fake holds (gemini.md §6.1)."""

    name: str
    model: str
    display_name: str
    tokens: int
    body: dict[str, Any]  # the create request, camelCased
    created: datetime.datetime
    expire: datetime.datetime

    def resource(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": f"models/{self.model}",
            "displayName": self.display_name,
            "createTime": _rfc3339(self.created),
            "updateTime": _rfc3339(self.created),
            "expireTime": _rfc3339(self.expire),
            "usageMetadata": {"totalTokenCount": self.tokens},
        }


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ttl_seconds(value: Any) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(value or ""))
    if not match:
        raise ValueError(f"bad ttl {value!r}")
    return float(match.group(1))


@dataclass
class FakeGemini:
    """The fake server. Use as a context manager (or the ``fake_gemini`` fixture).

    It runs its own threaded pytest-httpserver instance on 127.0.0.1 so that a deliberately
    slow reply neither blocks the SDK's retry attempts nor spills into the next test (the
    shared ``httpserver`` fixture serves one request at a time).

    Context caches (``/cachedContents``) are served from state, not scripted: create, get,
    update (TTL) and delete, with the real API's rejections (a cache under `min_cache_tokens`
    is "too small"; a generate request naming a cache must not carry ``systemInstruction``,
    ``tools`` or ``toolConfig``; an unknown or expired cache is 403). With `auto_usage`, the
    fake counts tokens itself (:func:`count_tokens`) and overrides the scripted usage: prompt
    tokens = the request's own + the cache's, cached tokens = the cache's.
    """

    api_key: str = FAKE_API_KEY
    requests: list[GeminiRequest] = field(default_factory=list)
    unexpected: list[GeminiRequest] = field(default_factory=list)
    min_cache_tokens: int = 0
    auto_usage: bool = False
    caches: dict[str, FakeCache] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cache_seq = 0
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = _Server(host="127.0.0.1", port=0, threaded=True)

    # -- lifecycle --

    def __enter__(self) -> FakeGemini:
        self._server.expect_request(re.compile(r".*")).respond_with_handler(self._handle)
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._released.set()  # wake replies still sleeping on a `delay`
        self._server.stop()

    @property
    def base_url(self) -> str:
        """What to put in ``GEMINI_BASE_URL``: scheme, host and port, no path."""
        return self._server.url_for("/").rstrip("/")

    # -- scripting --

    def enqueue(self, body: Any, *, status: int = 200, delay: float = 0.0, content_type: str | None = None) -> None:
        """Queues the answer to the next generateContent request. A str/bytes body is sent
        verbatim (as text/html unless `content_type` says otherwise)."""
        raw = isinstance(body, str | bytes)
        content_type = content_type or ("text/html; charset=utf-8" if raw else "application/json")
        with self._lock:
            self._queue.append(Reply(body=body, status=status, delay=delay, content_type=content_type))

    def reply_text(self, text: str, *, delay: float = 0.0, **fields: Any) -> None:
        """Queues a successful answer; `fields` go to :func:`text_response`."""
        self.enqueue(text_response(text, **fields), delay=delay)

    def reply_error(
        self, code: int, *, status: str | None = None, message: str | None = None, retry_delay: str | None = None
    ) -> None:
        """Queues an HTTP error with Google's JSON error body (429, 500, 400, ...)."""
        self.enqueue(error_body(code, status, message, retry_delay=retry_delay), status=code)

    def reply_blocked(self, *, finish_reason: str = "SAFETY") -> None:
        """Queues a 200 whose candidate was stopped (SAFETY, RECITATION, ...), without content."""
        self.enqueue(blocked_response(finish_reason=finish_reason))

    def reply_prompt_blocked(self, *, block_reason: str = "SAFETY") -> None:
        """Queues a 200 refusing the prompt (``promptFeedback.blockReason``, no candidates)."""
        self.enqueue(prompt_blocked_response(block_reason=block_reason))

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    # -- inspection --

    def last_request(self) -> GeminiRequest:
        assert self.requests, "the fake Gemini received no request"
        return self.requests[-1]

    def generate_requests(self) -> list[GeminiRequest]:
        """The generateContent requests, in order (cache management left out)."""
        return [r for r in self.requests if r.action == "generateContent"]

    def cache_requests(self) -> list[GeminiRequest]:
        """The /cachedContents requests, in order."""
        return [r for r in self.requests if _CACHE_ROUTE.match(r.path)]

    def expire_caches(self) -> None:
        """Drops every cache at once, as Gemini does at their TTL (or after a delete elsewhere)."""
        with self._lock:
            self.caches.clear()

    def check(self) -> None:
        """Fails when a request found nothing scripted or hit an unserved route, or a handler
        crashed (the fixture calls this at teardown)."""
        self._server.check_handler_errors()
        assert not self.unexpected, "unscripted requests to the fake Gemini: " + ", ".join(
            f"{r.method} {r.path}" for r in self.unexpected
        )

    # -- serving --

    def _handle(self, request: Request) -> Response:
        record = _record(request)
        reply = self._reply_for(record)
        if reply.delay:
            self._released.wait(reply.delay)
        body = reply.body
        if reply.status == 200 and record.action == "generateContent" and isinstance(body, dict):
            body = self._with_usage(record, body)
        if not isinstance(body, str | bytes):
            body = json.dumps(body, ensure_ascii=False)
        return Response(body, status=reply.status, content_type=reply.content_type)

    def _with_usage(self, record: GeminiRequest, body: dict[str, Any]) -> dict[str, Any]:
        if not self.auto_usage:
            return body
        request = record.camel or {}
        own = count_tokens(request.get("systemInstruction")) + count_tokens(request.get("tools"))
        own += count_tokens(request.get("contents"))
        with self._lock:
            cache = self.caches.get(str(request.get("cachedContent") or ""))
        cached = cache.tokens if cache is not None else 0
        usage = dict(body.get("usageMetadata") or {})
        usage["promptTokenCount"] = own + cached
        usage["totalTokenCount"] = own + cached + int(usage.get("candidatesTokenCount") or 0)
        if cached:
            usage["cachedContentTokenCount"] = cached
        else:
            usage.pop("cachedContentTokenCount", None)
        return {**body, "usageMetadata": usage}

    def _cache_reply(self, record: GeminiRequest, route: re.Match[str]) -> Reply:
        """Serves /cachedContents (called with the lock held)."""
        now = datetime.datetime.now(datetime.UTC)
        for name, cache in list(self.caches.items()):
            if cache.expire <= now:
                del self.caches[name]
        body = record.camel if isinstance(record.json, dict) else {}
        if route["id"] is None:
            if record.method != "POST":
                self.unexpected.append(record)
                return Reply(body=error_body(404, message="fake Gemini lists no caches"), status=404)
            tokens = count_tokens(body.get("systemInstruction")) + count_tokens(body.get("tools"))
            tokens += count_tokens(body.get("contents"))
            if tokens < self.min_cache_tokens:
                message = (
                    f"Cached content is too small. total_token_count={tokens}, "
                    f"min_total_token_count={self.min_cache_tokens}"
                )
                return Reply(body=error_body(400, message=message), status=400)
            if not (body.get("systemInstruction") or body.get("contents")):
                return Reply(body=error_body(400, message="cached content is empty"), status=400)
            self._cache_seq += 1
            model = str(body.get("model") or "").removeprefix("models/")
            cache = FakeCache(
                name=f"cachedContents/fake-{self._cache_seq}",
                model=model,
                display_name=str(body.get("displayName") or ""),
                tokens=tokens,
                body=body,
                created=now,
                expire=now + datetime.timedelta(seconds=_ttl_seconds(body.get("ttl") or "3600s")),
            )
            self.caches[cache.name] = cache
            return Reply(body=cache.resource())
        name = f"cachedContents/{route['id']}"
        cache = self.caches.get(name)
        if cache is None:
            return Reply(body=error_body(403, message=CACHE_NOT_FOUND), status=403)
        if record.method == "GET":
            return Reply(body=cache.resource())
        if record.method == "DELETE":
            del self.caches[name]
            return Reply(body={})
        if record.method == "PATCH":
            cache.expire = now + datetime.timedelta(seconds=_ttl_seconds(body.get("ttl")))
            return Reply(body=cache.resource())
        self.unexpected.append(record)
        return Reply(body=error_body(405, "INVALID_ARGUMENT", "method not allowed"), status=405)

    def _reply_for(self, record: GeminiRequest) -> Reply:
        with self._lock:
            self.requests.append(record)
            if record.api_key != self.api_key:
                # What the real API answers for a wrong key (a 400, not a 401).
                body = error_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
                body["error"]["details"] = [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
                ]
                return Reply(body=body, status=400)
            cache_route = _CACHE_ROUTE.match(record.path)
            if cache_route is not None:
                return self._cache_reply(record, cache_route)
            model_route = _MODEL_ROUTE.match(record.path)
            if record.method == "GET" and model_route is not None:
                # models.get: a model's description (manage.py deploy_check reads it to test the key).
                name = model_route["model"]
                return Reply(body={"name": f"models/{name}", "displayName": name, "version": "001"})
            if record.method != "POST" or record.action != "generateContent":
                self.unexpected.append(record)
                return Reply(body=error_body(404, message=f"fake Gemini does not serve {record.path}"), status=404)
            if not (isinstance(record.json, dict) and record.json.get("contents")):
                return Reply(
                    body=error_body(400, message="* GenerateContentRequest.contents: contents is not specified"),
                    status=400,
                )
            request = record.camel
            if request.get("cachedContent"):
                if any(request.get(key) for key in ("systemInstruction", "tools", "toolConfig")):
                    return Reply(body=error_body(400, message=CACHE_WITH_CONFIG), status=400)
                cache = self.caches.get(str(request["cachedContent"]))
                if cache is None or cache.expire <= datetime.datetime.now(datetime.UTC):
                    return Reply(body=error_body(403, message=CACHE_NOT_FOUND), status=403)
                if cache.model != record.model:
                    message = (
                        f"Model used by GenerateContent request (models/{record.model}) and CachedContent "
                        f"(models/{cache.model}) has to be the same."
                    )
                    return Reply(body=error_body(400, message=message), status=400)
            if not self._queue:
                self.unexpected.append(record)
                return Reply(body=error_body(400, "FAILED_PRECONDITION", "fake Gemini: no reply queued"), status=400)
            return self._queue.popleft()


def _record(request: Request) -> GeminiRequest:
    raw = request.get_data()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    route = _ROUTE.match(request.path)
    return GeminiRequest(
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=raw,
        json=parsed,
        api_version=route["version"] if route else None,
        model=route["model"] if route else None,
        action=route["action"] if route else None,
    )


# --- The fixture -------------------------------------------------------------------------------------


@pytest.fixture
def fake_gemini(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    """A running :class:`FakeGemini` with the app pointed at it: ``LLM_BACKEND="gemini"``,
    ``GEMINI_BASE_URL``/``GEMINI_API_KEY`` set, a 5 s timeout, the production retry count
    with millisecond backoff, and a fresh client. Fails the test at teardown when a request
    found no scripted reply."""
    from ai import context_cache, sdk

    # A cache name remembered from an earlier test's fake must not be sent to this one.
    context_cache.reset_memo()
    # Variables the SDK reads by itself must not redirect or re-key the client (gemini.md §12).
    for name in (
        "GOOGLE_GEMINI_BASE_URL",
        "GOOGLE_API_KEY",
        "GOOGLE_GENAI_API_VERSION",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_GENAI_HTTP_CLIENT",
    ):
        monkeypatch.delenv(name, raising=False)
    # A proxy from the developer's environment must not see requests to the fake (trust_env).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(
        sdk,
        "RETRY_OPTIONS",
        sdk.RETRY_OPTIONS.model_copy(update={"initial_delay": 0.01, "max_delay": 0.05, "jitter": 0.0}),
    )
    with FakeGemini() as fake:
        settings.LLM_BACKEND = "gemini"
        settings.GEMINI_API_KEY = fake.api_key
        settings.GEMINI_BASE_URL = fake.base_url
        settings.GEMINI_TIMEOUT = 5.0  # a hung fake fails fast, not after the 60 s default
        sdk.reset_client()
        try:
            yield fake
        finally:
            sdk.reset_client()
    fake.check()


# --- Function calling (gemini.md §2.5, §3) ------------------------------------------------------------


def function_call_part(
    name: str, args: dict[str, Any] | None = None, *, call_id: str | None = None, thought_signature: str | None = None
) -> dict[str, Any]:
    """One ``functionCall`` part as the model sends it; Gemini 3.x puts a base64
    ``thoughtSignature`` next to the first call of a step (gemini.md §2.5)."""
    call: dict[str, Any] = {"name": name, "args": args or {}}
    if call_id is not None:
        call["id"] = call_id
    part: dict[str, Any] = {"functionCall": call}
    if thought_signature is not None:
        part["thoughtSignature"] = thought_signature
    return part


def candidate_response(
    parts: list[dict[str, Any]],
    *,
    finish_reason: str = "STOP",
    prompt_tokens: int = 100,
    output_tokens: int = 10,
    thoughts_tokens: int | None = None,
    cached_tokens: int | None = None,
) -> dict[str, Any]:
    """A generateContent answer whose candidate holds the given parts (text and/or calls)."""
    body = text_response(
        "",
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        thoughts_tokens=thoughts_tokens,
        cached_tokens=cached_tokens,
        finish_reason=finish_reason,
    )
    body["candidates"][0]["content"]["parts"] = parts
    return body


def function_call_response(
    name: str,
    args: dict[str, Any] | None = None,
    *,
    call_id: str | None = None,
    thought_signature: str | None = None,
    text: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A model answer that asks for one tool call (optionally after some text); `fields` go to
    :func:`candidate_response` (token counts, finish reason)."""
    parts = [{"text": text}] if text is not None else []
    parts.append(function_call_part(name, args, call_id=call_id, thought_signature=thought_signature))
    return candidate_response(parts, **fields)
