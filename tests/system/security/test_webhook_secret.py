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
