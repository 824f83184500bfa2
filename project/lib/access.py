"""Who may read the operators' monitoring views (/metrics, /stats, /health's details): the one
check, so every view asks the same question.

A monitoring system presents ``Authorization: Bearer <METRICS_TOKEN>`` or connects from an
address in METRICS_ALLOWED_IPS; a signed-in staff user (the admin's session) may read the
human-facing ones too. A wrong token is refused even from an allowed address: it is a
misconfigured scraper, and letting the address win would hide the mistake.
"""

from __future__ import annotations

import hmac
import ipaddress

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse

log = structlog.get_logger(__name__)


def _client_allowed(request: HttpRequest) -> bool:
    """REMOTE_ADDR only: X-Forwarded-For is whatever the caller says. Behind a proxy use the token."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request presents the metrics credentials (METRICS_TOKEN as a bearer token,
    or an address in METRICS_ALLOWED_IPS); otherwise the answer to give: 403 for a wrong token
    (or when no token is configured), 401 asking for the token when one is."""
    token = settings.METRICS_TOKEN
    offered = _bearer(request)
    if offered is not None:
        if not token or not hmac.compare_digest(offered.encode(), token.encode()):
            log.warning("metrics.bad_token", remote=request.META.get("REMOTE_ADDR"), path=request.path)
            return HttpResponse("forbidden\n", status=403, content_type="text/plain")
        return None
    if _client_allowed(request):
        return None
    if token:
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("forbidden\n", status=403, content_type="text/plain")


def is_staff(request: HttpRequest) -> bool:
    """A signed-in, active staff user (the admin's session)."""
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def operator_refusal(request: HttpRequest) -> HttpResponse | None:
    """None for staff or for a request with the metrics credentials; otherwise the refusal."""
    if is_staff(request):
        return None
    return metrics_refusal(request)
