from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from payments.models import Payment


@pytest.fixture(autouse=True)
def _api_settings(settings):
    """Offline model; a rate no test reaches unless it means to; managers get notices."""
    settings.LLM_BACKEND = "offline"
    settings.API_THROTTLE_RATE = "10000/min"
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    settings.PAYMENT_APPROVAL_THRESHOLD = Decimal("100000")
    settings.PAYMENT_CHECK_DEBOUNCE_SECONDS = 30.0
    settings.PAYMENT_INVOICE_TTL_HOURS = 24.0


@pytest.fixture
def staff_user(db):
    """An operator: staff, with every permission of the apps the API serves (not a superuser;
    tests/api/test_permissions.py checks each permission on its own)."""
    user = get_user_model().objects.create_user("operator", password="not-used-1234", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["contacts", "messaging", "followups", "payments"])
    )
    return user


@pytest.fixture
def staff_token(staff_user):
    return Token.objects.create(user=staff_user).key


@pytest.fixture
def api(staff_token):
    """A client of an integrator with a staff token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token}")
    return client


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def customer_token(db):
    user = get_user_model().objects.create_user("someone", password="not-used-1234", is_staff=False)
    return Token.objects.create(user=user).key


def make_payment(contact, **fields) -> Payment:
    values = {
        "amount": Decimal("25000"),
        "description": "Кулер Aqua Pro",
        "phone": contact.phone,
        "status": Payment.Status.PROCESSED,
        "created_by": Payment.CreatedBy.AI,
        **fields,
    }
    return Payment.objects.create(contact=contact, **values)


def error_of(response) -> dict:
    """The error object of a response, checking it has the API's one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"]
    return body["error"]
