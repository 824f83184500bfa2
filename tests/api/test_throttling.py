from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def test_a_token_over_its_rate_gets_429_with_retry_after_while_another_token_goes_on(api, settings):
    settings.API_THROTTLE_RATE = "3/min"
    other_user = get_user_model().objects.create_user("second", password="not-used-1234", is_staff=True)
    other_user.user_permissions.add(Permission.objects.get(content_type__app_label="contacts", codename="view_contact"))
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")

    statuses = [api.get("/api/contacts").status_code for _ in range(4)]
    refused = api.get("/api/contacts")

    assert statuses == [200, 200, 200, 429]
    error = error_of(refused)
    assert error["code"] == "throttled"
    assert 0 < error["details"]["retry_after"] <= 60
    assert refused["Retry-After"] == str(error["details"]["retry_after"])
    assert other.get("/api/contacts").status_code == 200
