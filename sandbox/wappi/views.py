"""The sandbox chat page (/sandbox/): an operator plays a customer writing to the business.

The page's JSON endpoints are ordinary same-origin requests and keep Django's CSRF check;
only the emulated Wappi API (api.py) is CSRF-exempt, as machine clients call it.
"""

from __future__ import annotations

import json
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from messaging.wappi import SANDBOX_PROFILE_ID

from .. import playground
from . import page, selectors, services
from .api import sandbox_only
from .services import CustomerInputError


def staff_unless_debug(view):
    """Outside DEBUG the page is for logged-in staff only: a server running the sandbox
    (SANDBOX_ENABLED, say a demo) must not let strangers make the bot talk."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.DEBUG or (request.user.is_authenticated and request.user.is_staff):
            return view(request, *args, **kwargs)
        if request.method == "GET" and not request.path.startswith("/sandbox/chat/"):
            return redirect_to_login(request.get_full_path(), login_url="admin:login")
        return JsonResponse({"error": "Войдите в админку как сотрудник."}, status=HTTPStatus.FORBIDDEN)

    return wrapper


def _error(text: str) -> JsonResponse:
    return JsonResponse({"error": text}, status=HTTPStatus.BAD_REQUEST, json_dumps_params={"ensure_ascii": False})


@sandbox_only
@staff_unless_debug
@require_GET
def chat_page(request: HttpRequest) -> HttpResponse:
    profile = services.profile_get()
    context = {
        "profile": profile,
        "api_url": services.base_url(),
        "profile_id": SANDBOX_PROFILE_ID,
        "samples": playground.samples(),
    }
    return render(request, "sandbox/chat.html", context)


@sandbox_only
@staff_unless_debug
@require_GET
def conversation(request: HttpRequest) -> JsonResponse:
    """Polled by the page every second. Opening a chat is the customer reading it: the bot's
    messages there turn read (and delivery_status webhooks go out)."""
    raw = request.GET.get("phone", "").strip()
    phone, chat = "", None
    if raw:
        try:
            phone = services.customer_phone(raw)
        except CustomerInputError as exc:
            return _error(str(exc))
        chat = selectors.chat_find(phone=phone)
        if chat is not None:
            services.chat_seen_by_customer(chat=chat)
    state = page.conversation_state(chat=chat, phone=phone)
    # The playground: what the assistant decided for this customer, from the product's records.
    state["assistant"] = playground.assistant_view(phone=phone) if phone else None
    return JsonResponse(state, json_dumps_params={"ensure_ascii": False})


@sandbox_only
@staff_unless_debug
@require_POST
def customer_send(request: HttpRequest) -> JsonResponse:
    """The customer sends text or the sample voice note: JSON {"phone", "name", "body"} or {..., "voice": true}."""
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error("Некорректный запрос.")
    if not isinstance(data, dict):
        return _error("Некорректный запрос.")
    try:
        message = services.customer_message_create(
            phone=str(data.get("phone", "")),
            name=str(data.get("name", "")),
            body=str(data.get("body", "")),
            voice=bool(data.get("voice", False)),
        )
    except CustomerInputError as exc:
        return _error(str(exc))
    return JsonResponse(
        {"ok": True, "phone": message.chat.phone, "message": page.message_for_page(message)},
        json_dumps_params={"ensure_ascii": False},
    )
