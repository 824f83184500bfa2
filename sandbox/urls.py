"""Mounted at /sandbox/ by project/urls.py, only with settings.SANDBOX_ENABLED.

/sandbox/ is the Wappi chat page and /sandbox/wappi/ the emulated Wappi API (WAPPI_SANDBOX_URL);
/sandbox/kaspi/r3/ the emulated Kaspi Pay API (what KASPI_BASE_URL names in the sandbox).
"""

from __future__ import annotations

from django.urls import include, path

app_name = "sandbox"

urlpatterns = [
    path("kaspi/", include("sandbox.kaspi.urls")),
    path("", include("sandbox.wappi.urls")),
]
