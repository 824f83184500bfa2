from __future__ import annotations

from django.urls import path

from messaging import views

urlpatterns = [
    path("webhooks/wappi/", views.wappi_webhook, name="wappi-webhook"),
]
