"""Under /sandbox/kaspi/: the enhanced scheme's paths after KASPI_BASE_URL (which ends in /r3)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "kaspi"

urlpatterns = [
    path("r3/v01/remote/create", views.remote_create, name="remote_create"),
    path("r3/v01/remote/cancel", views.remote_cancel, name="remote_cancel"),
    path("r3/v01/payment/status/<int:qr_payment_id>", views.payment_status, name="payment_status"),
    path("r3/v01/payment/details", views.payment_details, name="payment_details"),
    path("r3/v01/payment/return", views.payment_return, name="payment_return"),
]
