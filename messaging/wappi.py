"""Thin, typed HTTP client for the Wappi.pro WhatsApp gateway.

Translates between Wappi's HTTP API and Python values and nothing more: no database, no
retries, no business rules. Every call carries a timeout, and every failure is raised as a
`WappiError` subclass that says whether trying again can help:

* `WappiTransientError` (``retryable``): 429, 5xx, connection refused, a crossed response.
  Nothing reached Wappi, or repeating the call is harmless.
* `WappiTimeoutError` (a transient error): the request was sent and the answer never came
  (read timeout, connection dropped mid-answer). A read may be repeated; a send may have been
  delivered and must be reconciled against the next poll/echo before it is ever resent
  (wappi.md §3.7, §9 rule 5).
* `WappiPermanentError`: 400/404, a 200 whose body says it failed or lacks the expected key,
  malformed JSON. Repeating the same call will fail the same way.
* `WappiAuthError` (a permanent error): the token or profile is wrong; an operator must fix it.

Wire contract (wappi.md §1): base URL + path, the raw token in ``Authorization`` (no
"Bearer"), ``profile_id`` as a query parameter on every call (POSTs included), JSON bodies.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import structlog
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from contacts.phones import InvalidPhoneError, PhoneError, normalize_phone, parse_jid
from project.lib.locks import LockTimeout, cache_lock
from project.lib.tallies import tally_add, tally_observe

log = structlog.get_logger(__name__)

# The emulator's published token, used with DEBUG; without DEBUG settings.WAPPI_SANDBOX_TOKEN
# is derived from SECRET_KEY (see project/settings.py).
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - public by design
SANDBOX_PROFILE_ID = "sandbox-0001"

# Connecting never needs long; the read timeout is what Wappi's slow sync sends need.
CONNECT_TIMEOUT = 5.0
# Voice notes are well under a megabyte; WhatsApp caps media around 16 MB (wappi.md §3.10).
MEDIA_MAX_BYTES = 25 * 1024 * 1024
_MEDIA_MAX_REDIRECTS = 3
_DETAIL_MAX_CHARS = 300


class WappiError(Exception):
    """A Wappi call failed. `retryable` says whether the same call can succeed later."""

    retryable: bool = False

    def __init__(
        self, message: str, *, status_code: int | None = None, detail: str | None = None, endpoint: str = ""
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.endpoint = endpoint


class WappiTransientError(WappiError):
    """Come back later: 429, 5xx, connection errors, a crossed response, a busy single-flight slot.

    `retry_after` is the server's Retry-After in seconds, when it sent one.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: str | None = None,
        endpoint: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, detail=detail, endpoint=endpoint)
        self.retry_after = retry_after


class WappiTimeoutError(WappiTransientError):
    """The request was sent but no complete answer came back: it MAY have reached Wappi.

    Reads can be repeated. A send must be reconciled (poll/echo, task_id), never blindly resent.
    """


class WappiPermanentError(WappiError):
    """The same call will fail the same way: 400/404, a failed or malformed 200, a refused URL."""


class WappiMediaTooLargeError(WappiPermanentError):
    """A media file larger than the caller's cap: not read past the cap, and no other way to
    fetch it (media/download) would make it smaller."""


class WappiAuthError(WappiPermanentError):
    """Token or profile rejected (401/403, "token"/"Profile not found" in the detail): fix the config."""


class WappiNotConfigured(WappiAuthError):
    """A client without a token (no WAPPI_TOKEN, and the emulator not asked for): no request is
    made; an operator must set the token. Never a fall-back to the emulator."""


# /metrics (project/metrics.py) reads these tallies (project/lib/tallies.py): every API call's
# time to answer or fail, and its failures by kind, per endpoint (the API path, no ids or query).
WAPPI_REQUEST_TALLY = "wappi_request_seconds"
WAPPI_ERROR_TALLY = "wappi_errors"
WAPPI_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0)
_ID_SEGMENT = re.compile(r"/[^/]*\d[^/]*")


def wappi_endpoint_label(path: str) -> str:
    """The API path as a metrics label: no query, and any segment holding digits (an id) as {id}."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0])


def wappi_error_kind(error: WappiError) -> str:
    if isinstance(error, WappiTimeoutError):
        return "timeout"
    if isinstance(error, WappiTransientError):
        return "transient"
    if isinstance(error, WappiNotConfigured):
        return "not_configured"
    if isinstance(error, WappiAuthError):
        return "auth"
    return "permanent"


@dataclass(frozen=True)
class WappiStatus:
    authorized: bool
    app_status: str
    phone: str
    payment_expired_at: str | None
    raw: dict

    @property
    def healthy(self) -> bool:
        """Authorised and connected (wappi.md §3.1). A single unhealthy probe can be a blip."""
        return self.authorized and self.app_status == "open"


@dataclass(frozen=True)
class SendResult:
    message_id: str
    task_id: str | None


@dataclass(frozen=True)
class MediaFile:
    """Either the bytes (`content`) or a presigned link to fetch them from (`file_link`)."""

    content: bytes | None
    file_link: str | None
    mime_type: str
    file_name: str


class WappiClient:
    """One Wappi profile. Thread-safe for concurrent calls (one shared requests.Session).

    `single_flight(name)` must return a context manager that admits one holder per name per
    profile (across processes in production); messages_get and media_download run inside it
    because Wappi crosses the answers of concurrent calls to these endpoints (wappi.md §7).
    `media_hosts` are the storage hosts fetch_media may download from, besides the API host.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        profile_id: str,
        timeout: float = 25.0,
        media_timeout: float = 60.0,
        media_hosts: Iterable[str] = (),
        single_flight: Callable[[str], AbstractContextManager] | None = None,
        session: requests.Session | None = None,
        media_max_bytes: int = MEDIA_MAX_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile_id = profile_id
        self._token = token
        self.timeout = timeout
        self.media_timeout = media_timeout
        self.media_max_bytes = media_max_bytes
        self._media_hosts = frozenset(host.strip().lower() for host in media_hosts if host.strip())
        self._single_flight = single_flight or (lambda _name: contextlib.nullcontext())
        self._session = session or requests.Session()
        api = urlsplit(self.base_url)
        self._api_scheme = api.scheme.lower()
        self._api_host = (api.hostname or "").lower()
        self._api_port = _effective_port(api.scheme, api.port)

    def __repr__(self) -> str:  # the token must never show up in a log or traceback
        return f"WappiClient(base_url={self.base_url!r}, profile_id={self.profile_id!r})"

    # Reads

    def get_status(self) -> WappiStatus:
        """GET /api/sync/get/status. Success is 200 + an ``authorized`` key: this response has no
        ``"status": "done"`` (wappi.md §3.1)."""
        data = self._call("GET", "/api/sync/get/status", expect_done=False, required="authorized")
        payment = data.get("payment_expired_at")
        return WappiStatus(
            authorized=data["authorized"] is True,
            app_status=str(data.get("app_status") or ""),
            phone=str(data.get("phone") or ""),
            payment_expired_at=str(payment) if payment else None,
            raw=data,
        )

    def chats_filter(self, *, client_name: str | None = None) -> list[dict]:
        """GET /api/sync/chats/filter -> ``dialogs``. Without `client_name` Wappi returns the whole
        chat list (unpaged); with it, chats whose phone, name or last message contain it."""
        params = {"client_name": client_name} if client_name is not None else {}
        data = self._call("GET", "/api/sync/chats/filter", params=params, required="dialogs")
        return _dict_list(data["dialogs"], endpoint="/api/sync/chats/filter", key="dialogs")

    def chats_get(self, *, limit: int = 200, offset: int = 0) -> tuple[list[dict], int]:
        """GET /api/sync/chats/get -> (``dialogs``, ``total_count``); offset 0 is the newest chat.

        When Wappi omits ``total_count`` the count returned is ``offset + len(dialogs)``: a lower
        bound that ends paging rather than an invented total.
        """
        endpoint = "/api/sync/chats/get"
        data = self._call("GET", endpoint, params={"limit": limit, "offset": offset}, required="dialogs")
        dialogs = _dict_list(data["dialogs"], endpoint=endpoint, key="dialogs")
        total = data.get("total_count")
        if total is None:
            return dialogs, offset + len(dialogs)
        if isinstance(total, bool) or not isinstance(total, int | str) or not str(total).isdigit():
            raise WappiPermanentError(f"{endpoint}: total_count is not a count", endpoint=endpoint, detail=repr(total))
        return dialogs, int(total)

    def messages_get(self, *, chat_id: str, limit: int = 50, offset: int = 0) -> list[dict]:
        """GET /api/sync/messages/get -> ``messages`` of one chat, newest first (offset 0 = newest).

        `chat_id` is passed to Wappi as given (``7XXXXXXXXXX@c.us``, bare digits or ``…@g.us``).
        Always sends ``mark_all=false``: true would mark the chat read on the owner's phone.
        Runs inside ``single_flight("messages_get")``. Raises WappiTransientError when any message
        names another chat: Wappi hands concurrent callers each other's answers (wappi.md §3.3).
        """
        endpoint = "/api/sync/messages/get"
        params = {"chat_id": chat_id, "limit": limit, "offset": offset, "mark_all": "false"}
        with self._single_flight("messages_get"):
            data = self._call("GET", endpoint, params=params, required="messages")
        raw = data["messages"]
        # One public client reports `messages` as a single object at times (wappi.md §4, IDX-61767838341).
        if isinstance(raw, dict) and "id" in raw:
            raw = [raw]
        messages = _dict_list(raw, endpoint=endpoint, key="messages")
        wanted = _chat_key(chat_id)
        foreign = sorted(
            {str(m["chatId"]) for m in messages if m.get("chatId") and _chat_key(str(m["chatId"])) != wanted}
        )
        if foreign:
            log.warning("wappi.crossed_response", endpoint=endpoint, chat_id=chat_id, foreign=foreign[:5])
            raise WappiTransientError(
                f"{endpoint}: answer for chat {chat_id} holds messages of {', '.join(foreign[:5])} "
                "(Wappi crossed concurrent responses)",
                endpoint=endpoint,
                detail="crossed response",
            )
        return messages

    def message_get(self, *, message_id: str) -> dict:
        """GET /api/sync/messages/id/get -> the ``message`` object (any chat; no chat_id needed)."""
        endpoint = "/api/sync/messages/id/get"
        data = self._call("GET", endpoint, params={"message_id": message_id}, required="message")
        if not isinstance(data["message"], dict):
            raise WappiPermanentError(f"{endpoint}: 'message' is not an object", endpoint=endpoint)
        return data["message"]

    def contact_check(self, *, phone: str) -> bool:
        """GET /api/sync/contact/check -> ``on_whatsapp``: is `phone` a WhatsApp account? Asked
        before we write to a number that never wrote to us (writing to numbers not on WhatsApp
        is one of the triggers of WhatsApp's reach-out limits). A value that is not a phone
        raises WappiPermanentError without a request; an answer without a boolean ``on_whatsapp``
        is a WappiPermanentError too (we never guess "yes")."""
        endpoint = "/api/sync/contact/check"
        try:
            digits = normalize_phone(phone)
        except PhoneError as exc:
            raise WappiPermanentError(f"{endpoint}: {exc}", endpoint=endpoint, detail=str(exc)) from exc
        data = self._call("GET", endpoint, params={"phone": digits})
        on_whatsapp = data.get("on_whatsapp")
        if not isinstance(on_whatsapp, bool):
            raise WappiPermanentError(f"{endpoint}: on_whatsapp is not a boolean", endpoint=endpoint)
        return on_whatsapp

    # Writes

    def typing_start(self, *, recipient: str) -> None:
        """POST /api/sync/chat/typing/start: "typing..." in the chat (WhatsApp clears it after
        about 20 s or when our message arrives)."""
        endpoint = "/api/sync/chat/typing/start"
        try:
            phone = normalize_phone(recipient)
        except PhoneError as exc:
            raise WappiPermanentError(f"{endpoint}: {exc}", endpoint=endpoint, detail=str(exc)) from exc
        self._call("POST", endpoint, json={"recipient": phone})

    def message_send(self, *, recipient: str, body: str, quoted_message_id: str | None = None) -> SendResult:
        """POST /api/sync/message/send: a text to a private chat, optionally quoting a message.

        `recipient` is normalised to bare digits (``87012345678`` and ``77012345678@c.us`` both
        become ``77012345678``): Wappi silently drops sends to numbers starting with 8. A value
        that is not a person's phone (group, @lid, garbage) raises WappiPermanentError without a
        request. Success means ``status == "done"`` and a non-empty ``message_id``. On
        WappiTimeoutError the message may have been sent: reconcile, do not resend.
        """
        endpoint = "/api/sync/message/send"
        try:
            phone = normalize_phone(recipient)
        except PhoneError as exc:
            raise WappiPermanentError(f"{endpoint}: {exc}", endpoint=endpoint, detail=str(exc)) from exc
        payload: dict[str, str] = {"body": body, "recipient": phone}
        if quoted_message_id:
            payload["quoted_message_id"] = quoted_message_id
        return _send_result(self._call("POST", endpoint, json=payload, required="message_id"), endpoint=endpoint)

    def message_reply(self, *, message_id: str, body: str) -> SendResult:
        """POST /api/sync/message/reply: a text quoting `message_id`, in that message's chat.
        Same success rule and timeout caveat as message_send."""
        endpoint = "/api/sync/message/reply"
        payload = {"body": body, "message_id": message_id}
        return _send_result(self._call("POST", endpoint, json=payload, required="message_id"), endpoint=endpoint)

    def mark_read(self, *, message_id: str) -> None:
        """POST /api/sync/message/mark/read for one message (never ``mark_all``)."""
        self._call("POST", "/api/sync/message/mark/read", json={"message_id": message_id})

    # Media

    def media_download(self, *, message_id: str) -> MediaFile:
        """GET /api/sync/message/media/download. Wappi answers in one of two shapes (wappi.md
        §3.11): ``file_b64`` (returned decoded in `content`) or ``file_link`` (returned as
        `file_link`, content None; fetch it with fetch_media right away, it expires). Neither, or
        undecodable base64, raises WappiPermanentError. Runs inside ``single_flight("media_download")``
        because concurrent downloads receive each other's files; the caller should still check
        `mime_type` against the message's type.
        """
        endpoint = "/api/sync/message/media/download"
        with self._single_flight("media_download"):
            data = self._call("GET", endpoint, params={"message_id": message_id}, read_timeout=self.media_timeout)
        mime_type = str(data.get("mime_type") or data.get("mimetype") or "application/octet-stream")
        file_name = str(data.get("file_name") or "")
        if data.get("file_b64"):
            content = _b64decode(data["file_b64"], endpoint=endpoint)
            return MediaFile(content=content, file_link=None, mime_type=mime_type, file_name=file_name)
        if data.get("file_link"):
            return MediaFile(content=None, file_link=str(data["file_link"]), mime_type=mime_type, file_name=file_name)
        raise WappiPermanentError(f"{endpoint}: neither file_b64 nor file_link in the answer", endpoint=endpoint)

    def fetch_media(self, *, url: str, max_bytes: int | None = None) -> bytes:
        """Downloads a ``file_link`` / ``s3Info.url`` and returns its bytes (at most `max_bytes`,
        by default media_max_bytes; a larger file raises WappiPermanentError unread).

        Only https URLs on a host in `media_hosts` (default port), or URLs on the API's own
        scheme, host and port (the local sandbox) are fetched; anything else, including every
        redirect target, raises WappiPermanentError before any request is made, so a forged link
        cannot reach internal addresses. The token is sent only to the API's own origin, never to
        storage hosts. Expired links (4xx) are permanent; 429/5xx/connection errors transient.
        """
        endpoint = "media"
        deadline = time.monotonic() + self.media_timeout
        for _hop in range(_MEDIA_MAX_REDIRECTS + 1):
            same_origin = self._check_media_url(url)
            host = urlsplit(url).hostname
            headers = {"Authorization": self._token} if same_origin else {}
            started = time.monotonic()
            try:
                with self._session.get(
                    url, headers=headers, timeout=self._timeouts(self.media_timeout), stream=True, allow_redirects=False
                ) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("Location", ""))
                        continue
                    if response.status_code == 429 or response.status_code >= 500:
                        raise WappiTransientError(
                            f"media fetch from {host}: HTTP {response.status_code}",
                            status_code=response.status_code,
                            endpoint=endpoint,
                            retry_after=_retry_after(response.headers.get("Retry-After")),
                        )
                    if response.status_code != 200:
                        raise WappiPermanentError(
                            f"media fetch from {host}: HTTP {response.status_code} (link expired or forged?)",
                            status_code=response.status_code,
                            endpoint=endpoint,
                        )
                    cap = min(max_bytes or self.media_max_bytes, self.media_max_bytes)
                    content = self._read_capped(response, host=host, deadline=deadline, cap=cap)
            except requests.RequestException as exc:
                raise _transport_error(exc, endpoint=endpoint, what=f"media fetch from {host}") from exc
            log.info("wappi.media_fetched", host=host, size=len(content), ms=_ms_since(started))
            if not content:
                raise WappiPermanentError(f"media fetch from {host}: empty file", endpoint=endpoint, status_code=200)
            return content
        raise WappiPermanentError(f"media fetch: more than {_MEDIA_MAX_REDIRECTS} redirects", endpoint=endpoint)

    # Webhooks

    def webhook_url_set(self, *, url: str, auth: str | None = None) -> None:
        """POST /api/webhook/url/set: Wappi POSTs events to `url` (passed in the query, not the body);
        `auth`: a secret Wappi sends in each webhook's header (Authorization, wappi.md §3.13)."""
        params = {"url": url} | ({"auth": auth} if auth else {})
        self._call("POST", "/api/webhook/url/set", params=params)

    def webhook_types_set(self, *, types: list[str]) -> None:
        """POST /api/webhook/types/set with a JSON array of event type names (e.g. ``incoming_message``)."""
        self._call("POST", "/api/webhook/types/set", json=list(types))

    # Plumbing

    def _timeouts(self, read: float) -> tuple[float, float]:
        return (min(CONNECT_TIMEOUT, read), read)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expect_done: bool = True,
        required: str | None = None,
        read_timeout: float | None = None,
    ) -> dict:
        """One API call: returns the JSON object of a successful answer or raises a WappiError.
        Every call is timed and every failure counted for /metrics, by endpoint."""
        endpoint = wappi_endpoint_label(path)
        if not self._token:
            error = WappiNotConfigured(
                f"{path}: Wappi is not configured (set WAPPI_TOKEN and WAPPI_PROFILE_ID)", endpoint=path
            )
            tally_add(WAPPI_ERROR_TALLY, {"endpoint": endpoint, "error": wappi_error_kind(error)})
            raise error
        started = time.monotonic()
        try:
            return self._request(method, path, params, json, expect_done, required, read_timeout, started)
        except WappiError as error:
            tally_add(WAPPI_ERROR_TALLY, {"endpoint": endpoint, "error": wappi_error_kind(error)})
            raise
        finally:
            tally_observe(
                WAPPI_REQUEST_TALLY, {"endpoint": endpoint}, time.monotonic() - started, buckets=WAPPI_LATENCY_BUCKETS
            )

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        json: Any,
        expect_done: bool,
        required: str | None,
        read_timeout: float | None,
        started: float,
    ) -> dict:
        query = {"profile_id": self.profile_id, **(params or {})}
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=query,
                json=json,
                headers={"Authorization": self._token},
                timeout=self._timeouts(read_timeout or self.timeout),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = _transport_error(exc, endpoint=path, what=path)
            log.warning("wappi.request_failed", endpoint=path, error=type(error).__name__, ms=_ms_since(started))
            raise error from exc
        log.info("wappi.request", endpoint=path, method=method, status=response.status_code, ms=_ms_since(started))
        try:
            return _parse(response, endpoint=path, expect_done=expect_done, required=required)
        except WappiError as error:
            log.warning(
                "wappi.error",
                endpoint=path,
                status=response.status_code,
                error=type(error).__name__,
                detail=error.detail,
            )
            raise

    def _check_media_url(self, url: str) -> bool:
        """Raises WappiPermanentError unless `url` may be fetched; True when it is the API's origin."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise WappiPermanentError(f"media URL refused: {exc}", endpoint="media") from exc
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if parts.username is not None or parts.password is not None:
            raise WappiPermanentError("media URL refused: credentials in the URL", endpoint="media")
        if host and (scheme, host, _effective_port(scheme, port)) == (self._api_scheme, self._api_host, self._api_port):
            return True
        if scheme == "https" and host in self._media_hosts and port in (None, 443):
            return False
        raise WappiPermanentError(
            f"media URL refused: {scheme}://{host} is not an allowed media host", endpoint="media", detail=host
        )

    def _read_capped(self, response: requests.Response, *, host: str | None, deadline: float, cap: int) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise WappiMediaTooLargeError(
                f"media fetch from {host}: {declared} bytes exceeds the {cap} byte cap", endpoint="media"
            )
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > cap:
                raise WappiMediaTooLargeError(
                    f"media fetch from {host}: more than the {cap} byte cap", endpoint="media"
                )
            # The read timeout bounds each read, not the whole body: a trickling server is cut here.
            if time.monotonic() > deadline:
                raise WappiTimeoutError(f"media fetch from {host}: slower than {self.media_timeout}s", endpoint="media")
            chunks.append(chunk)
        return b"".join(chunks)


# Module-level helpers


def _parse(response: requests.Response, *, endpoint: str, expect_done: bool, required: str | None) -> dict:
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    detail = _detail(data, response)
    message = f"{endpoint}: HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429 or status >= 500:
        raise WappiTransientError(
            message,
            status_code=status,
            detail=detail,
            endpoint=endpoint,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    if status in (401, 403) or (status >= 300 and _names_auth_problem(detail)):
        raise WappiAuthError(message, status_code=status, detail=detail, endpoint=endpoint)
    if status >= 300:
        raise WappiPermanentError(message, status_code=status, detail=detail, endpoint=endpoint)
    if not isinstance(data, dict):
        kind = "invalid JSON" if data is None else f"JSON {type(data).__name__}, expected an object"
        raise WappiPermanentError(f"{endpoint}: HTTP {status} with {kind}", status_code=status, endpoint=endpoint)
    # 200 does not mean success (wappi.md §5): the body's status and the expected key decide.
    body_status = data.get("status")
    if body_status == "error" or (expect_done and body_status != "done"):
        error_class = WappiAuthError if _names_auth_problem(detail) else WappiPermanentError
        raise error_class(
            f"{endpoint}: status {body_status!r}" + (f": {detail}" if detail else ""),
            status_code=status,
            detail=detail,
            endpoint=endpoint,
        )
    if required is not None and data.get(required) in (None, ""):
        raise WappiPermanentError(
            f"{endpoint}: answer lacks {required!r}", status_code=status, detail=detail, endpoint=endpoint
        )
    return data


def _detail(data: Any, response: requests.Response) -> str | None:
    if isinstance(data, dict):
        detail = data.get("detail")
        return str(detail)[:_DETAIL_MAX_CHARS] if detail not in (None, "") else None
    if response.status_code >= 300:
        return response.text.strip()[:_DETAIL_MAX_CHARS] or None
    return None


def _names_auth_problem(detail: str | None) -> bool:
    # Wappi's wording: an unaccepted token "mentions token" (KIF), an unknown profile_id gives
    # 400 "Profile not found" (AUT-ROT); both are configuration, not data, problems.
    text = (detail or "").lower()
    return "token" in text or "profile not found" in text


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _transport_error(exc: requests.RequestException, *, endpoint: str, what: str) -> WappiError:
    """Maps a requests failure by whether the request can have reached the server."""
    if isinstance(exc, requests.ConnectTimeout) or _failed_before_sending(exc):
        return WappiTransientError(f"{what}: cannot connect: {type(exc).__name__}", endpoint=endpoint)
    if isinstance(exc, requests.Timeout | requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        # The request was written; the answer is missing or cut off. For a send this is the
        # "sent but never answered" case of wappi.md §3.7: the message may exist.
        return WappiTimeoutError(f"{what}: no complete answer: {type(exc).__name__}", endpoint=endpoint)
    return WappiPermanentError(f"{what}: request failed: {type(exc).__name__}", endpoint=endpoint)


def _failed_before_sending(exc: requests.RequestException) -> bool:
    # requests wraps connect-phase failures (refused, DNS, TLS handshake, connect timeout) in
    # MaxRetryError; a reset or truncated answer after the request was written is not wrapped.
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ConnectTimeoutError)


def _send_result(data: dict, *, endpoint: str) -> SendResult:
    message_id = data["message_id"]
    if not isinstance(message_id, str) or not message_id.strip():
        raise WappiPermanentError(f"{endpoint}: message_id is not a non-empty string", endpoint=endpoint)
    task_id = data.get("task_id")
    return SendResult(message_id=message_id, task_id=str(task_id) if task_id else None)


def _dict_list(value: Any, *, endpoint: str, key: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WappiPermanentError(f"{endpoint}: {key!r} is not a list of objects", endpoint=endpoint)
    return value


def _chat_key(chat_id: str) -> str:
    """Compares chats: person ids by phone digits (``…@c.us`` == ``…@s.whatsapp.net`` == bare
    digits), everything else (groups, @lid, …) exactly."""
    try:
        jid = parse_jid(chat_id)
    except InvalidPhoneError:
        return chat_id.strip()
    return jid.user if jid.is_phone else chat_id.strip()


def _b64decode(value: Any, *, endpoint: str) -> bytes:
    # Wappi's base64 is inconsistent in thumbnails (data: prefix, whitespace, URL-safe, missing
    # padding: wappi.md §3.4); accept the same variants here.
    text = "".join(str(value).split())
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    text += "=" * (-len(text) % 4)
    altchars = b"-_" if ("-" in text or "_" in text) else None
    try:
        return base64.b64decode(text, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WappiPermanentError(f"{endpoint}: file_b64 is not valid base64", endpoint=endpoint) from exc


def _effective_port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme.lower())


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# One client per process


_clients: dict[tuple, WappiClient] = {}
_clients_lock = threading.Lock()


def client_from_settings() -> WappiClient:
    """The process's WappiClient for the current settings (sandbox emulator when WAPPI_SANDBOX).

    Built once and reused; rebuilt only if the Wappi settings change. Its single_flight is a
    cross-process cache lock per profile; a slot still busy after about one request's timeout
    raises WappiTransientError.
    """
    if settings.WAPPI_SANDBOX:
        base_url, token, profile_id = settings.WAPPI_SANDBOX_URL, settings.WAPPI_SANDBOX_TOKEN, SANDBOX_PROFILE_ID
    else:
        base_url, token, profile_id = settings.WAPPI_BASE_URL, settings.WAPPI_TOKEN, settings.WAPPI_PROFILE_ID
    timeout, media_timeout = float(settings.WAPPI_TIMEOUT), float(settings.WAPPI_MEDIA_TIMEOUT)
    media_hosts = tuple(settings.WAPPI_MEDIA_HOSTS)
    key = (base_url, token, profile_id, timeout, media_timeout, media_hosts)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            _clients.clear()
            client = WappiClient(
                base_url=base_url,
                token=token,
                profile_id=profile_id,
                timeout=timeout,
                media_timeout=media_timeout,
                media_hosts=media_hosts,
                single_flight=_cache_single_flight(profile_id=profile_id, timeout=timeout, media_timeout=media_timeout),
            )
            _clients[key] = client
        return client


def _cache_single_flight(
    *, profile_id: str, timeout: float, media_timeout: float
) -> Callable[[str], AbstractContextManager]:
    """Per-profile cross-process slots. The ttl outlives one request (a crashed holder frees the
    slot after it); a waiter queues for about one request before giving up."""
    read_timeouts = {"media_download": media_timeout}

    @contextlib.contextmanager
    def slot(name: str) -> Iterator[None]:
        read = read_timeouts.get(name, timeout)
        ttl = read + CONNECT_TIMEOUT + 5.0
        wait = read + min(CONNECT_TIMEOUT, read)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(cache_lock(f"wappi:{profile_id}:{name}", ttl=ttl, wait=wait))
            except LockTimeout as exc:
                raise WappiTransientError(
                    f"{name}: another {name} for profile {profile_id} is still running", endpoint=name
                ) from exc
            yield

    return slot
