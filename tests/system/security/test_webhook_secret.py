"""The webhook answers only to Wappi: without the secret, or with a wrong one, nothing is
taken in, nothing is handed on, and the refusal is logged."""

from __future__ import annotations

import json

import pytest

from messaging.models import GatewayState, Message
from tests.factories import wappi_incoming
from tests.fixtures import WEBHOOK_SECRET as SECRET
from tests.system.fuzz.strategies import structured_logs

pytestmark = pytest.mark.django_db

BODY = json.dumps({"messages": [wappi_incoming(msg_id="3EB0SEC1")]})


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?secret=",
        "?secret=wrong",
        f"?secret={SECRET}x",
        f"?secret={SECRET[:-1]}",
        f"?secret={SECRET.upper()}",
        f"?Secret={SECRET}",
        f"?secret=%20{SECRET}",
    ],
    ids=["none", "empty", "wrong", "longer", "shorter", "other-case", "other-key", "padded"],
)
def test_a_webhook_without_the_right_secret_is_refused_and_stores_nothing(client, handed_over, query):
    with structured_logs() as logs:
        response = client.post(f"/webhooks/wappi/{query}", data=BODY, content_type="application/json")

    assert response.status_code == 403
    assert handed_over == []
    assert not Message.objects.exists()
    assert not GatewayState.objects.filter(last_webhook_at__isnull=False).exists()
    assert [line["event"] for line in logs if line["event"].startswith("webhook.")] == ["webhook.forbidden"]


def test_with_no_secret_configured_every_webhook_is_refused(client, handed_over, settings):
    settings.WAPPI_WEBHOOK_SECRET = ""
    for query in ("", "?secret=", "?secret=anything"):
        assert client.post(f"/webhooks/wappi/{query}", data=BODY, content_type="application/json").status_code == 403
    assert handed_over == []


def test_the_right_secret_is_let_in(client, handed_over):
    response = client.post(f"/webhooks/wappi/?secret={SECRET}", data=BODY, content_type="application/json")
    assert response.json() == {"status": "ok", "events": 1}
    assert len(handed_over) == 1


@pytest.mark.parametrize(
    "query", ["?secret=секрет", "?secret=%E2%9C%93", "?secret=%FF%FE"], ids=["cyrillic", "emoji", "bad-utf8"]
)
def test_a_secret_that_is_not_ascii_is_refused_like_any_wrong_secret(client, handed_over, query):
    response = client.post(f"/webhooks/wappi/{query}", data=BODY, content_type="application/json")

    assert response.status_code == 403
    assert handed_over == []


@pytest.mark.parametrize(
    "header", [SECRET, f"Bearer {SECRET}", f"bearer {SECRET}"], ids=["raw", "bearer", "bearer-lower-case"]
)
def test_the_secret_in_the_authorization_header_is_let_in_without_a_query_string(client, handed_over, header):
    response = client.post("/webhooks/wappi/", data=BODY, content_type="application/json", HTTP_AUTHORIZATION=header)

    assert response.json() == {"status": "ok", "events": 1}
    assert len(handed_over) == 1


@pytest.mark.parametrize(
    "header",
    ["", "Bearer ", "wrong", f"Bearer {SECRET}x", f"Basic {SECRET}", "Bearer секрет", f"Token {SECRET}"],
    ids=["empty", "bearer-empty", "wrong", "longer", "basic", "cyrillic", "other-scheme"],
)
def test_a_wrong_authorization_header_is_refused(client, handed_over, header):
    response = client.post("/webhooks/wappi/", data=BODY, content_type="application/json", HTTP_AUTHORIZATION=header)

    assert response.status_code == 403
    assert handed_over == []


def test_during_a_rotation_the_previous_secret_is_let_in_until_it_is_removed(client, handed_over, settings):
    settings.WAPPI_WEBHOOK_SECRET = "new-webhook-secret"
    settings.WAPPI_WEBHOOK_SECRET_PREVIOUS = [SECRET]

    for url, headers in [
        ("/webhooks/wappi/?secret=new-webhook-secret", {}),
        (f"/webhooks/wappi/?secret={SECRET}", {}),
        ("/webhooks/wappi/", {"HTTP_AUTHORIZATION": f"Bearer {SECRET}"}),
    ]:
        assert client.post(url, data=BODY, content_type="application/json", **headers).status_code == 200

    settings.WAPPI_WEBHOOK_SECRET_PREVIOUS = []
    assert (
        client.post(f"/webhooks/wappi/?secret={SECRET}", data=BODY, content_type="application/json").status_code == 403
    )
    assert len(handed_over) == 3


def test_with_no_secret_configured_a_previous_secret_alone_lets_nothing_in(client, handed_over, settings):
    settings.WAPPI_WEBHOOK_SECRET = ""
    settings.WAPPI_WEBHOOK_SECRET_PREVIOUS = [SECRET]

    response = client.post(f"/webhooks/wappi/?secret={SECRET}", data=BODY, content_type="application/json")

    assert response.status_code == 403
    assert handed_over == []
