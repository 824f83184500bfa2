"""Nobody gets into the API without a token, and the admin login cannot be brute-forced."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern
from rest_framework.test import APIClient

from api.urls import urlpatterns
from messaging.models import Message
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PHONE = "77015550101"
METHODS = ("get", "post", "put", "patch", "delete")


def _endpoints() -> list[tuple[str, str]]:
    """Every (method, URL) the API routes, from the URL patterns: a new endpoint is covered
    without editing this list."""
    found = []
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = getattr(pattern.callback, "view_class", None)
        if view is None:
            continue  # the catch-all JSON 404
        route = str(pattern.pattern)
        url = "/api/" + re.sub(r"<int:\w+>", "1", re.sub(r"<str:\w+>", PHONE, route))
        found += [(method, url) for method in METHODS if hasattr(view, method)]
    return found


ENDPOINTS = _endpoints()


def test_the_route_list_is_not_empty_and_includes_sending():
    assert ("post", "/api/messages/send") in ENDPOINTS
    assert len(ENDPOINTS) >= 15


@pytest.mark.parametrize(("method", "url"), ENDPOINTS, ids=[f"{m} {u}" for m, u in ENDPOINTS])
@pytest.mark.parametrize("credentials", [None, "Token not-a-real-token"], ids=["no-token", "wrong-token"])
def test_every_api_endpoint_without_a_valid_token_answers_401_and_changes_nothing(method, url, credentials):
    ContactFactory(phone=PHONE, is_client=True)
    client = APIClient()
    if credentials:
        client.credentials(HTTP_AUTHORIZATION=credentials)

    response = getattr(client, method)(url, {"phone": PHONE, "text": "Привет"}, format="json")

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] in ("not_authenticated", "authentication_failed")
    assert not Message.objects.exists()


LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct-horse-battery-1"


def test_after_the_failure_limit_even_the_right_password_is_refused_for_that_user_and_address(
    client, django_user_model, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)

    def attempt(password, ip="203.0.113.9"):
        return client.post(LOGIN, {"username": "operator", "password": password}, REMOTE_ADDR=ip)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("guess")

    assert attempt(PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    assert attempt(PASSWORD, ip="203.0.113.10").status_code == 302  # the lock is per user and address
