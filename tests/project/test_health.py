from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from ai.models import PendingReply
from assistant.pipeline import incoming_process
from project.lib.heartbeat import heartbeat_record
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory
from tests.processes import run_python

pytestmark = pytest.mark.django_db


def test_health_is_200_when_the_database_and_the_broker_answer(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"] == {"status": "ok", "transport": "redis"}


HEALTH_IN_A_FRESH_PROCESS = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/health")
print(json.dumps({"code": response.status_code, "body": response.json()}))
"""


def test_health_is_503_and_names_the_broker_when_the_broker_url_points_nowhere():
    # A separate process, configured the way an operator would misconfigure it.
    result = run_python(HEALTH_IN_A_FRESH_PROCESS, TEST_BROKER_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["code"] == 503
    body = outcome["body"]
    assert body["status"] == "unhealthy"
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["status"] == "error"
    assert "error" in body["checks"]["broker"]
    assert body["checks"]["database"]["status"] == "ok"


def test_health_reports_a_worker_heartbeat_and_when_it_went_stale(client):
    with time_machine.travel("2026-11-23 10:00 +05:00", tick=False):
        heartbeat_record()
        assert client.get("/health").json()["processes"]["worker"]["status"] == "ok"
    with time_machine.travel("2026-11-23 10:30 +05:00", tick=False):
        worker = client.get("/health").json()["processes"]["worker"]
    assert worker["status"] == "stale"
    assert worker["age_seconds"] == 1800


def test_health_names_two_beats_scheduling_at_once_and_clears_when_one_is_gone(client, settings):
    settings.HEARTBEAT_INTERVAL = 30  # stale after 100 s
    with time_machine.travel("2026-11-23 10:00 +05:00", tick=False):
        heartbeat_record(beat="host-a:101")
        beat = client.get("/health").json()["processes"]["beat"]
        assert beat.get("instances") == 1
        assert beat["status"] != "duplicate"
    with time_machine.travel("2026-11-23 10:00:20 +05:00", tick=False):
        heartbeat_record(beat="host-b:202")  # the mistake: a second beat
        response = client.get("/health")
    beat = response.json()["processes"]["beat"]
    assert response.status_code == 200  # customers are still served; operators must act
    assert beat["status"] == "duplicate"
    assert beat["instances"] == 2
    assert "host-a:101" in beat["error"]
    assert "host-b:202" in beat["error"]
    # host-a was stopped: only host-b keeps sending.
    with time_machine.travel("2026-11-23 10:02:30 +05:00", tick=False):
        heartbeat_record(beat="host-b:202")
        beat = client.get("/health").json()["processes"]["beat"]
    assert beat["instances"] == 1
    assert beat["status"] != "duplicate"


def test_health_only_answers_get(client):
    assert client.post("/health").status_code == 405


@pytest.mark.django_db
def test_health_shows_the_model_in_trouble_while_it_fails_and_customers_wait(client, fake_gemini):
    assert client.get("/health").json()["llm"]["status"] == "ok"
    moment = timezone.now() - timedelta(seconds=30)
    for _customer in range(3):
        contact = ContactFactory(is_client=True, classified_by="model")
        message = InboundMessageFactory(
            contact=contact, text="Сколько стоит доставка?", timestamp=moment, received_at=moment
        )
        for _attempt in range(3):  # the SDK's attempts
            fake_gemini.reply_error(429)
        assert incoming_process(message_id=message.pk).status in ("fallback", "waiting for the model")

    response = client.get("/health")
    llm = response.json()["llm"]
    assert response.status_code == 200  # our side is up: Gemini's trouble is reported, not failed on
    assert llm["status"] == "degraded"
    assert llm["customers_waiting"] == 3
    assert llm["errors_5m"] >= 3

    PendingReply.objects.update(resolved_at=timezone.now())  # answered once Gemini is back
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert client.get("/health").json()["llm"]["status"] == "ok"


def test_health_counts_the_messages_that_failed_for_good(client):
    contact = ContactFactory(phone="77012345678")
    OutboundMessageFactory(contact=contact, status="failed", last_error="gave up after 6 attempts: HTTP 503")
    OutboundMessageFactory(contact=contact, status="sent")
    body = client.get("/health").json()
    assert body["wappi"]["failed_sends"] == 1
