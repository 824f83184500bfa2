from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE requests per token (per user for an admin's session, per address
    without credentials), counted in the Django cache. The rate is read per request, so a
    changed setting applies without a restart of the class."""

    scope = "api"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATE or None

    def get_cache_key(self, request: Any, view: Any) -> str:
        if isinstance(request.auth, Token):
            # DRF has one token per user; the key itself is a secret and stays out of the cache.
            ident = f"token:{request.auth.user_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
