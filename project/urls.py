from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from project import views

admin.site.site_header = "WhatsApp AI-ассистент продаж"
admin.site.site_title = "AI-ассистент"
admin.site.index_title = "Управление"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("health", views.health, name="health"),
    path("stats", views.stats, name="stats"),
    path("metrics", include("project.metrics")),
    path("admin/dashboard/", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    # The emulators of Wappi and Kaspi (a development tool): absent unless switched on.
    *([path("sandbox/", include("sandbox.urls"))] if settings.SANDBOX_ENABLED else []),
    path("", include("messaging.urls")),
]
