"""The OpenAPI document, Swagger UI, and schemathesis against our own schema."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from project.wsgi import application
from tests.api.conftest import make_payment
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, ScheduledCallFactory

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("get", "/api/contacts"),
    ("get", "/api/contacts/{phone}"),
    ("delete", "/api/contacts/{phone}"),
    ("get", "/api/contacts/{phone}/messages"),
    ("get", "/api/contacts/{phone}/actions"),
    ("post", "/api/contacts/{phone}/classify"),
    ("post", "/api/contacts/{phone}/pause"),
    ("post", "/api/contacts/{phone}/resume"),
    ("get", "/api/messages/{contact_id}"),
    ("post", "/api/messages/send"),
    ("get", "/api/logs/messages"),
    ("get", "/api/follow-ups/active"),
    ("get", "/api/follow-ups/pending"),
    ("get", "/api/scheduled-calls"),
    ("get", "/api/payments"),
    ("post", "/api/payments/{id}/check"),
    ("post", "/api/payments/{id}/refund"),
    ("get", "/api/stats"),
}


@pytest.fixture
def openapi(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_every_endpoint_is_documented_with_a_summary_an_example_and_its_errors(openapi):
    operations = {
        (method, path): operation for path, item in openapi["paths"].items() for method, operation in item.items()
    }

    assert set(operations) == OPERATIONS
    for key, operation in operations.items():
        assert operation.get("summary"), key
        assert {"401", "403", "429"} <= set(operation["responses"]), key
        media = [
            content
            for part in [operation.get("requestBody", {}), *operation["responses"].values()]
            for content in part.get("content", {}).values()
        ]
        assert any(content.get("examples") for content in media), f"{key} has no example"
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert "$ref" in str(operation["responses"][success]["content"]["application/json"]["schema"]), key
    assert "tokenAuth" in openapi["components"]["securitySchemes"]
    assert openapi["openapi"].startswith("3.")


def test_the_schema_is_yaml_by_default(api):
    response = api.get("/api/schema/")

    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3")


def test_swagger_ui_opens_for_a_logged_in_admin(client):
    admin = get_user_model().objects.create_user("boss", password="pw-0123456789", is_staff=True)
    client.force_login(admin)

    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "SwaggerUIBundle" in page
    assert "/api/schema/" in page
    # Served from our own static files: the page works on a network without the internet.
    assert "cdn.jsdelivr.net" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page


@pytest.fixture
def seeded():
    """Something for every list to return, so schemathesis checks real rows against the schema."""
    contact = ContactFactory(phone="77012345678", is_client=True)
    InboundMessageFactory(contact=contact, text="Сколько стоит кулер?")
    FollowUpFactory(contact=ContactFactory(is_client=True))
    ScheduledCallFactory(contact=contact)
    make_payment(contact)


@pytest.fixture
def wsgi_app():
    """The real WSGI application, called in-process inside the test's transaction: like Django's
    test client, it must not close the database connection at the end of each request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(staff_token, seeded, openapi, wsgi_app):
    schema = schemathesis.openapi.from_dict(openapi)
    schema.app = wsgi_app
    headers = {"Authorization": f"Token {staff_token}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    ran: dict[str, int] = {}

    def exercise(operation) -> None:
        @given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=checks, headers=headers)
            ran[operation.label] = ran.get(operation.label, 0) + 1

        run()

    for result in schema.get_all_operations():
        exercise(result.ok())

    assert len(ran) == len(OPERATIONS)
    assert sum(ran.values()) >= 5 * len(OPERATIONS)
