"""Wappi's webhook (messaging.views.wappi_webhook): only a POST with the right secret gets in, a
malformed body is acknowledged and stores nothing, and the events go to a task without their
media bytes."""

from __future__ import annotations

import pytest

from messaging.models import GatewayState, Message
from tests.factories import wappi_incoming
from tests.fixtures import WEBHOOK_SECRET
from tests.statements import Statements


@pytest.mark.django_db
def test_the_webhook_refuses_a_missing_or_wrong_secret(webhook):
    assert webhook({"messages": [wappi_incoming()]}, secret="wrong").status_code == 403
    assert webhook({"messages": [wappi_incoming()]}, secret="").status_code == 403
    assert not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2", "\x00\x01"])
def test_malformed_webhook_bodies_are_acknowledged_and_store_nothing(webhook, raw, published):
    response = webhook(None, raw=raw)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert not Message.objects.exists()
    assert published == []


@pytest.mark.django_db
def test_the_webhook_hands_events_to_a_task_without_media_bytes(webhook, published):
    voice = wappi_incoming("V1", type="ptt", body="T2dnUw" * 1000, file_link="https://fs.wappi.pro/v.ogg")
    response = webhook({"messages": [voice]})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "events": 1}
    assert published == ["messaging.ingest_webhook"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_webhook_post_costs_one_statement_and_keeps_when_the_gateway_last_called(webhook, published):
    """Every POST of a gateway flood passes here: the gateway's last call is one UPDATE, not a
    transaction that locks the one gateway row around a read and a write (every web worker's
    POSTs queued on that lock)."""
    webhook({"messages": [wappi_incoming("FIRST")]})  # the gateway's row exists from the first call on
    first = GatewayState.objects.get().last_webhook_at

    with Statements() as statements:
        response = webhook({"messages": [wappi_incoming("SECOND")]})

    assert response.json() == {"status": "ok", "events": 1}
    assert statements.count == 1
    assert GatewayState.objects.get().last_webhook_at >= first


@pytest.mark.django_db
def test_the_first_webhook_ever_records_the_gateways_last_call(webhook, published):
    webhook({"messages": [wappi_incoming("FIRST")]})
    assert GatewayState.objects.get(pk=1).last_webhook_at is not None


@pytest.mark.django_db
def test_the_webhook_only_accepts_post(client, settings):
    settings.WAPPI_WEBHOOK_WEBHOOK_SECRET = WEBHOOK_SECRET
    assert client.get(f"/webhooks/wappi/?secret={WEBHOOK_SECRET}").status_code == 405


@pytest.mark.django_db
def test_a_webhook_carrying_a_voice_note_as_megabytes_of_base64_is_accepted(webhook, published):
    voice = wappi_incoming("BIG1", type="ptt", body="T2dnUw" * 700_000, file_link="https://fs.wappi.pro/v.ogg")
    response = webhook({"messages": [voice]})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "events": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [5_000, 200_000])
@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a":', "}")], ids=["lists", "objects"])
def test_a_deeply_nested_body_is_acknowledged_as_malformed(webhook, published, depth, opener, closer):
    response = webhook(None, raw=opener * depth + "1" + closer * depth)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "malformed"}
    assert not Message.objects.exists()
    assert published == []
