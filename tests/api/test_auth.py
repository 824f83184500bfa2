"""Nobody without a staff credential gets anything from the API."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.api.conftest import error_of
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PHONE = "77015550101"
ENDPOINTS = [
    ("get", "/api/contacts"),
    ("get", f"/api/contacts/{PHONE}"),
    ("delete", f"/api/contacts/{PHONE}"),
    ("get", f"/api/contacts/{PHONE}/messages"),
    ("post", f"/api/contacts/{PHONE}/classify"),
    ("post", f"/api/contacts/{PHONE}/pause"),
    ("post", f"/api/contacts/{PHONE}/resume"),
    ("get", "/api/messages/1"),
    ("post", "/api/messages/send"),
    ("get", "/api/logs/messages"),
    ("get", "/api/follow-ups/active"),
    ("get", "/api/follow-ups/pending"),
    ("get", "/api/scheduled-calls"),
    ("get", "/api/payments"),
    ("post", "/api/payments/1/check"),
    ("post", "/api/payments/1/refund"),
    ("get", "/api/stats"),
    ("get", "/api/schema/"),
    ("get", "/api/docs/"),
]


@pytest.fixture(autouse=True)
def _a_contact():
    ContactFactory(phone=PHONE, is_client=True)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_without_credentials_every_endpoint_answers_401_in_the_error_shape(anonymous, method, url):
    response = getattr(anonymous, method)(url)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_token_of_a_user_who_is_not_staff_gets_403(anonymous, customer_token, method, url):
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {customer_token}")

    response = getattr(anonymous, method)(url)

    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_wrong_token_gets_401(anonymous, method, url):
    anonymous.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = getattr(anonymous, method)(url)

    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


@pytest.mark.parametrize(("method", "url"), [e for e in ENDPOINTS if e[0] == "get"])
def test_a_staff_token_is_let_in(api, method, url):
    response = getattr(api, method)(url)

    assert response.status_code in (200, 404), response.content  # 404: no message/payment 1
    if response.status_code == 404:
        assert error_of(response)["code"] in ("contact_not_found", "not_found")


def test_an_admin_logged_in_to_the_admin_uses_the_api_with_the_session(client):
    admin = get_user_model().objects.create_user("boss", password="pw-0123456789", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.get(f"/api/contacts/{PHONE}")

    assert response.status_code == 200
    assert response.json()["phone"] == PHONE


def test_a_session_post_without_the_csrf_token_is_refused(client):
    from django.test import Client

    admin = get_user_model().objects.create_user("boss", password="pw-0123456789", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)

    response = browser.post(f"/api/contacts/{PHONE}/pause")

    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


def test_an_unknown_path_under_api_is_a_json_404(api):
    response = api.get("/api/nothing/here")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
