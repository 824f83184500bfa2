"""The emulated Wappi API (under /sandbox/wappi/): request parsing and answers only.

Every view answers 404 unless settings.WAPPI_SANDBOX is on, so the emulator is never
reachable next to a real Wappi token. Auth and error bodies are Wappi's: the raw token in
`Authorization`, `profile_id` in the query, `{"detail": ..., "status": "error"}`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from messaging.wappi import SANDBOX_PROFILE_ID

from . import selectors, services, wire
from .services import WappiError

View = Callable[..., HttpResponse]

# What nginx in front of Wappi answers for gateway errors: HTML, not JSON.
_NGINX_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def sandbox_required() -> None:
    if not settings.WAPPI_SANDBOX:
        raise Http404("The Wappi sandbox is off")


def sandbox_only(view: View) -> View:
    """Answers 404 before anything else (method checks included) when the sandbox is off."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        sandbox_required()
        return view(request, *args, **kwargs)

    return wrapper


def _json(data: Any, status: int = HTTPStatus.OK) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _error(exc: WappiError) -> JsonResponse:
    return _json(wire.error_body(exc.detail), exc.status)


def _fault_response(status: int) -> HttpResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status in (HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT):
        return HttpResponse(_NGINX_PAGE.format(code=status, phrase=phrase), status=status, content_type="text/html")
    return _json(wire.error_body(phrase), status)


def wappi_api(*methods: str) -> Callable[[View], View]:
    """Wraps an emulated endpoint: sandbox switch, method, auth, the "next N fail" switch, error bodies."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            sandbox_required()
            if request.method not in methods:
                return _json({"detail": "Method Not Allowed"}, HTTPStatus.METHOD_NOT_ALLOWED)
            try:
                services.api_authenticate(
                    token=request.headers.get("Authorization"), profile_id=request.GET.get("profile_id")
                )
                fault = services.fault_take()
                if fault:
                    return _fault_response(fault)
                return view(request, *args, **kwargs)
            except WappiError as exc:
                return _error(exc)

        return csrf_exempt(wrapper)

    return decorate


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise WappiError(HTTPStatus.BAD_REQUEST, f"Invalid {name}") from None
    if value < 0:
        raise WappiError(HTTPStatus.BAD_REQUEST, f"Invalid {name}")
    return value


def _bool_param(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").lower() in ("true", "1")


def _ascending(request: HttpRequest) -> bool:
    return request.GET.get("order", "desc").lower() == "asc"


def _body(request: HttpRequest, *, required: bool = True) -> Any:
    if not request.body and not required:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise WappiError(HTTPStatus.BAD_REQUEST, "Invalid JSON body") from None


def _body_object(request: HttpRequest) -> dict[str, Any]:
    data = _body(request)
    if not isinstance(data, dict):
        raise WappiError(HTTPStatus.BAD_REQUEST, "Body must be a JSON object")
    return data


# --- Profile and chats -----------------------------------------------------------------


@wappi_api("GET")
def get_status(request: HttpRequest) -> HttpResponse:
    return _json(services.profile_status(now=timezone.now()))


@wappi_api("GET")
def chats_filter(request: HttpRequest) -> HttpResponse:
    dialogs = services.chats_filter(client_name=request.GET.get("client_name", ""))
    return _json(wire.envelope(timezone.now(), detail="Chats fetched", dialogs=dialogs, total_count=len(dialogs)))


@wappi_api("GET", "POST")
def chats_get(request: HttpRequest) -> HttpResponse:
    ids = None
    if request.method == "POST":
        data = _body(request, required=False)
        if data is not None and not isinstance(data, dict):
            raise WappiError(HTTPStatus.BAD_REQUEST, "Body must be a JSON object")
        ids = ((data or {}).get("filter") or {}).get("ids")
    dialogs, total = services.chats_get(
        ids=ids, limit=_int_param(request, "limit", 200), offset=_int_param(request, "offset", 0)
    )
    return _json(wire.envelope(timezone.now(), dialogs=dialogs, total_count=total))


# --- Messages ------------------------------------------------------------------------------


@wappi_api("GET")
def messages_get(request: HttpRequest) -> HttpResponse:
    page = services.messages_get(
        chat_id=request.GET.get("chat_id"),
        limit=_int_param(request, "limit", 50),
        offset=_int_param(request, "offset", 0),
        ascending=_ascending(request),
        mark_all=_bool_param(request, "mark_all"),
    )
    now = timezone.now()
    messages = services.sync_messages(page.messages, now=now)
    if _bool_param(request, "reverse"):
        messages.reverse()
    return _json(wire.envelope(now, messages=messages, total_count=page.total_count, uuid=SANDBOX_PROFILE_ID))


@wappi_api("GET")
def messages_all_get(request: HttpRequest) -> HttpResponse:
    page = services.messages_all_get(
        limit=_int_param(request, "limit", 400),
        offset=_int_param(request, "offset", 0),
        ascending=_ascending(request),
    )
    now = timezone.now()
    messages = services.sync_messages(page.messages, now=now)
    return _json(wire.envelope(now, messages=messages, total_count=page.total_count, uuid=SANDBOX_PROFILE_ID))


@wappi_api("GET")
def message_id_get(request: HttpRequest) -> HttpResponse:
    message = services.message_get(message_id=request.GET.get("message_id"))
    now = timezone.now()
    [data] = services.sync_messages([message], now=now)
    return _json(wire.envelope(now, message=data, uuid=SANDBOX_PROFILE_ID))


@wappi_api("POST")
def message_send(request: HttpRequest) -> HttpResponse:
    data = _body_object(request)
    message = services.message_send(
        recipient=data.get("recipient"), body=data.get("body"), quoted_message_id=data.get("quoted_message_id")
    )
    return _json(wire.envelope(timezone.now(), message_id=message.message_id, task_id=message.task_id))


@wappi_api("POST")
def message_reply(request: HttpRequest) -> HttpResponse:
    data = _body_object(request)
    message = services.message_reply(message_id=data.get("message_id"), body=data.get("body"))
    return _json(wire.envelope(timezone.now(), message_id=message.message_id, task_id=message.task_id))


@wappi_api("POST")
def message_mark_read(request: HttpRequest) -> HttpResponse:
    data = _body_object(request)
    services.message_mark_read(message_id=data.get("message_id"), mark_all=_bool_param(request, "mark_all"))
    return _json(wire.envelope(timezone.now(), uuid=SANDBOX_PROFILE_ID))


@wappi_api("GET")
def media_download(request: HttpRequest) -> HttpResponse:
    return _json(services.media_download(message_id=request.GET.get("message_id"), now=timezone.now()))


@wappi_api("POST")
def typing(request: HttpRequest) -> HttpResponse:
    # chat/typing/start|stop: nothing to show on the customer's side, but a client may call it.
    services.wire_phone(_body_object(request).get("recipient"), what="recipient")
    return _json(wire.envelope(timezone.now()))


# --- Contacts --------------------------------------------------------------------------------


@wappi_api("GET")
def contact_check(request: HttpRequest) -> HttpResponse:
    # Every well-formed number is on WhatsApp in the sandbox.
    phone = services.wire_phone(request.GET.get("phone"), what="phone")
    return _json(wire.envelope(timezone.now(), on_whatsapp=True, phone=phone))


@wappi_api("GET")
def contact_get(request: HttpRequest) -> HttpResponse:
    phone = services.wire_phone(request.GET.get("recipient"), what="recipient")
    chat = selectors.chat_find(phone=phone)
    name = chat.name if chat else ""
    contact = {
        "id": wire.jid(phone),
        "number": phone,
        "is_business": False,
        "name": "",
        "pushname": name,
        "short_name": "",
        "business_name": "",
    }
    return _json(wire.envelope(timezone.now(), contact=contact))


# --- Webhook settings ---------------------------------------------------------------------------


@wappi_api("POST")
def webhook_url_set(request: HttpRequest) -> HttpResponse:
    # The URL goes in the query, not the body, as with the real Wappi (wappi.md §3.13).
    services.webhook_url_set(url=request.GET.get("url"), auth=request.GET.get("auth"))
    return _json(wire.envelope(timezone.now()))


@wappi_api("GET")
def webhook_url_get(request: HttpRequest) -> HttpResponse:
    url = services.profile_get().webhook_url
    if not url:
        return _json({"detail": "WebHook не установлен", "status": "done", "url": "", "installed": False})
    return _json({"detail": f"WebHook установлен на адрес {url}", "status": "done", "url": url, "installed": True})


@wappi_api("POST")
def webhook_url_delete(request: HttpRequest) -> HttpResponse:
    services.webhook_url_delete()
    return _json(wire.envelope(timezone.now()))


@wappi_api("POST")
def webhook_types_set(request: HttpRequest) -> HttpResponse:
    services.webhook_types_set(types=_body(request))
    return _json(wire.envelope(timezone.now()))


# --- Outside the emulated API ----------------------------------------------------------------


def voice_file(request: HttpRequest, message_id: str) -> HttpResponse:
    """The bytes behind a voice note's `file_link`. Like a presigned storage URL: no auth header."""
    sandbox_required()
    data = services.voice_file_get(message_id=message_id)
    if data is None:
        raise Http404("No such voice note")
    response = HttpResponse(data, content_type="audio/ogg")
    response["Content-Length"] = str(len(data))
    return response


@csrf_exempt
def control(request: HttpRequest) -> HttpResponse:
    """Fault switches and test helpers. Needs the sandbox token; the "next N fail" switch never hits it.

    GET answers the current switches. POST takes a JSON object with any of:
      "reset": true                       forget all chats and messages, restore profile defaults (runs first)
      "failing_chats": ["77011234567"]    messages/get of these chats answers 400 "chat not found"
      "fail_next_count": 3, "fail_status": 429   the next 3 API calls answer 429 (502/503/504: nginx HTML)
      "send_delay_seconds": 30            message/send stores the message, then answers after 30 s
      "cross_messages_get": true          messages/get answers with the most recent other chat's messages
      "media_mode": "link" | "b64"        media/download answers file_link or file_b64
      "duplicate_webhooks": true          every webhook is posted twice
      "webhook_url": "http://…", "webhook_types": [...]   as webhook/url/set and webhook/types/set
      "customer_message": {"phone": "+7 701 …", "name": "Айгерим", "body": "…", "voice": false}
                                          a customer writes (as on the chat page; posts incoming_message)
    and answers {"status": "done", "state": {...switches...}, "message": {...} (for customer_message)}.
    """
    sandbox_required()
    try:
        services.api_authenticate(
            token=request.headers.get("Authorization"),
            profile_id=request.GET.get("profile_id", SANDBOX_PROFILE_ID),
        )
        if request.method == "POST":
            message = services.control_apply(_body(request))
        elif request.method == "GET":
            message = None
        else:
            return _json({"detail": "Method Not Allowed"}, HTTPStatus.METHOD_NOT_ALLOWED)
    except WappiError as exc:
        return _error(exc)
    answer: dict[str, Any] = {"status": "done", "state": services.control_state()}
    if message is not None:
        [answer["message"]] = services.sync_messages([message], now=timezone.now())
    return _json(answer)


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown paths under the emulator answer like Wappi's framework does, not with an HTML page."""
    sandbox_required()
    return _json(wire.not_found_body(), HTTPStatus.NOT_FOUND)
