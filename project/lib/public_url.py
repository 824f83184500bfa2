"""The site's public base URL: where operators open the admin, for absolute links in messages to
the managers (hand-off briefs, suspicious-activity notices)."""

from django.conf import settings


def public_base_url() -> str:
    """PUBLIC_BASE_URL when set, else the first CSRF_TRUSTED_ORIGINS origin (deploy/new_env.py
    writes that one for the host), else "" (links are then paths). No trailing slash."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/")
    origins = settings.CSRF_TRUSTED_ORIGINS
    return origins[0].rstrip("/") if origins else ""
