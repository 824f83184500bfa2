"""One shape for every error the API returns:
``{"error": {"code": "...", "message": "...", "details": ...}}``.

`code` is stable and meant for programs; `message` is for people; `details` holds the field
errors of a 400, the seconds to wait of a 429, or whatever else explains the error (null
when nothing does)."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ai.llm import LLMTransientError
from contacts.phones import PhoneError
from payments.services import PaymentError, RefundRefused

log = structlog.get_logger(__name__)


class ApiError(exceptions.APIException):
    """An error with its own code and optional details."""

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, status_code: int | None = None):
        super().__init__(message, code or self.default_code)
        self.error_code = code or self.default_code
        self.details = details
        if status_code is not None:
            self.status_code = status_code


class ContactNotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "contact_not_found"


class WhitelistedNumber(ApiError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "whitelisted_number"


class NotOnWhatsAppNumber(ApiError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "not_on_whatsapp"


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Unavailable(ApiError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _translate(exc: Exception) -> Exception:
    """Domain errors the services raise, as API errors."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, PhoneError):
        return ApiError(str(exc), code="invalid_phone", status_code=400)
    if isinstance(exc, RefundRefused):
        available = None if exc.available is None else str(exc.available)
        return Conflict(str(exc), code="refund_refused", details={"available": available})
    if isinstance(exc, PaymentError):
        return Conflict(str(exc), code="payment_refused")
    if isinstance(exc, LLMTransientError):
        return Unavailable(f"The model is unavailable, try again later: {exc}", code="model_unavailable")
    return exc


_MESSAGES = {
    exceptions.ValidationError: "The request has invalid fields: see details.",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error, expected or not, as the one JSON shape."""
    exc = _translate(exc)
    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        log.exception("api.unhandled_error", view=type(view).__name__ if view else None)
        set_rollback()
        return Response(
            error_body("server_error", "Internal error: it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    details: Any = None
    if isinstance(exc, ApiError):
        code, message, details = exc.error_code, str(exc.detail), exc.details
    elif isinstance(exc, exceptions.ValidationError):
        code, message, details = "invalid", _MESSAGES[exceptions.ValidationError], exc.detail
        if isinstance(details, list):
            details = {"non_field_errors": details}
    else:
        code = exc.default_code
        message = str(exc.detail)
        if isinstance(exc, exceptions.Throttled):
            wait = int(exc.wait or 1)
            headers["Retry-After"] = str(wait)
            details = {"retry_after": wait}
            message = f"Too many requests: try again in {wait} s."
    set_rollback()
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Anything under /api/ that no route matched: JSON, not Django's HTML page."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)
