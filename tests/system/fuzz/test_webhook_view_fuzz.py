"""Random bodies through the real webhook view (Django's test client, the right secret), then
through the task the view hands them to: 200 for anything, never a 500; a malformed body is
logged and stores nothing; the usable messages are stored exactly once."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import GatewayState, Message
from messaging.tasks import ingest_webhook
from messaging.wire import WappiMessage, parse_webhook
from tests.factories import wappi_incoming
from tests.fixtures import WEBHOOK_SECRET
from tests.system.fuzz.strategies import (
    FUZZ_HTTP,
    envelopes,
    json_values,
    structured_logs,
    wappi_events,
)

pytestmark = pytest.mark.django_db


def post(client, body: bytes | str):
    return client.post(f"/webhooks/wappi/?secret={WEBHOOK_SECRET}", data=body, content_type="application/json")


@FUZZ_HTTP
@given(payload=envelopes(st.lists(wappi_events(hazards=True), min_size=1, max_size=4)) | json_values(hazards=True))
def test_any_json_body_is_acknowledged_and_its_messages_are_stored_exactly_once(client, handed_over, payload):
    handed_over.clear()
    with transaction.atomic():
        response = post(client, json.dumps(payload))

        assert response.status_code == 200
        body = response.json()
        usable = {e.provider_id for e in parse_webhook(payload) if isinstance(e, WappiMessage)}
        if body["status"] == "ok":
            [task_payload] = handed_over
            assert body["events"] == len(task_payload["messages"])
            ingest_webhook(task_payload)  # what the worker runs
            ingest_webhook(task_payload)  # and Wappi's retry of the same body
        else:
            assert (body["status"], handed_over, usable) == ("ignored", [], set())
        stored = list(Message.objects.values_list("provider_message_id", flat=True))
        assert sorted(stored) == sorted(usable)
        transaction.set_rollback(True)


@FUZZ_HTTP
@given(raw=st.binary(max_size=200).filter(lambda b: not _is_json(b)))
def test_a_body_that_is_not_json_is_acknowledged_logged_and_stores_nothing(client, handed_over, raw):
    handed_over.clear()
    with structured_logs() as logs:
        response = post(client, raw)

    assert (response.status_code, response.json()) == (200, {"status": "ignored", "reason": "malformed"})
    assert handed_over == []
    assert not Message.objects.exists()
    assert [line["event"] for line in logs if line["event"].startswith("webhook.")] == ["webhook.malformed"]


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw or b"null")
    except ValueError:
        return False
    return True


def test_a_megabyte_message_with_rtl_and_emoji_is_stored_whole(client, handed_over):
    text = "مرحبا 👨‍👩‍👧‍👦 Сәлем \u202eпотс\u202c " * 30_000  # ~1 M characters, ~2.5 MB of UTF-8
    response = post(client, json.dumps({"messages": [wappi_incoming(msg_id="3EB0HUGE", text=text)]}))

    assert response.json() == {"status": "ok", "events": 1}
    ingest_webhook(handed_over[0])
    assert Message.objects.get(provider_message_id="3EB0HUGE").text == text.strip()


def test_a_body_over_the_upload_limit_is_refused_with_a_log_line_and_stores_nothing(client, handed_over, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    huge = json.dumps({"messages": [wappi_incoming(msg_id="3EB0TOOBIG", text="ж" * 1_000_000)]})

    with structured_logs() as logs:
        response = post(client, huge)

    assert response.json() == {"status": "ignored", "reason": "malformed"}
    assert handed_over == []
    assert not Message.objects.exists()
    assert {"event": "webhook.malformed", "error": "RequestDataTooBig"}.items() <= next(
        line for line in logs if line["event"] == "webhook.malformed"
    ).items()
    assert not GatewayState.objects.filter(last_webhook_at__isnull=False).exists()
