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


# --- Who sees what: a stranger gets states and counts, staff and the scraper the details ------

STRANGER = "203.0.113.9"
METRICS_TOKEN = "health-metrics-token-5b1e"
QUARANTINED_PHONE = "77031234567"


@pytest.fixture
def wappi_in_trouble(settings):
    """Wappi's state holds customers' numbers: the poller's alarm names the quarantined chats,
    and the last poll error quotes one."""
    from django.core.cache import cache

    from messaging.models import GatewayState
    from messaging.selectors import QUARANTINE_ALARM_KEY

    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    cache.set(QUARANTINE_ALARM_KEY, {"at": timezone.now().isoformat(), "chats": [f"{QUARANTINED_PHONE}@c.us"]})
    GatewayState.objects.update_or_create(
        pk=1,
        defaults={
            "authorized": True,
            "last_poll_at": timezone.now(),
            "last_poll_error": f"HTTP 404 on chat {QUARANTINED_PHONE}@c.us",
        },
    )


def test_a_stranger_sees_states_and_counts_but_no_phone_number_of_a_quarantined_chat(client, wappi_in_trouble):
    response = client.get("/health", REMOTE_ADDR=STRANGER)

    assert response.status_code == 200
    body = response.json()
    assert QUARANTINED_PHONE not in response.content.decode()
    assert body["status"] == "healthy"
    assert body["wappi"]["status"] == "degraded"
    assert body["wappi"]["quarantine_alarm"] is True
    assert body["checks"]["broker"] == {"status": "ok"}  # no transport, no host


def test_staff_and_the_metrics_scraper_see_the_full_report(client, admin_client, wappi_in_trouble):
    staff = admin_client.get("/health", REMOTE_ADDR=STRANGER).json()
    scraper = client.get("/health", REMOTE_ADDR=STRANGER, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).json()
    from_allowed_address = client.get("/health", REMOTE_ADDR="127.0.0.1").json()

    for body in (staff, scraper, from_allowed_address):
        assert body["wappi"]["quarantine_alarm"]["chats"] == [f"{QUARANTINED_PHONE}@c.us"]
        assert body["checks"]["broker"]["transport"] == "redis"
    # A wrong token is no credential: the public answer, not a refusal (load balancers probe it).
    guess = client.get("/health", REMOTE_ADDR=STRANGER, headers={"Authorization": "Bearer guess"})
    assert guess.status_code == 200
    assert QUARANTINED_PHONE not in guess.content.decode()


HEALTH_AS_A_STRANGER_AND_AS_THE_SCRAPER = """
import json, django
django.setup()
from django.test import Client
stranger = Client().get("/health", REMOTE_ADDR="203.0.113.9")
scraper = Client().get("/health", REMOTE_ADDR="203.0.113.9", headers={"Authorization": "Bearer tok-7f3a"})
print(json.dumps({"code": stranger.status_code, "text": stranger.content.decode(), "body": stranger.json(),
                  "scraper": scraper.json()}))
"""


def test_a_broker_outage_shows_a_stranger_which_part_failed_but_not_the_address_or_the_exception():
    result = run_python(
        HEALTH_AS_A_STRANGER_AND_AS_THE_SCRAPER, TEST_BROKER_URL="redis://127.0.0.1:1/0", METRICS_TOKEN="tok-7f3a"
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["code"] == 503
    body = outcome["body"]
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"] == {"status": "error"}
    assert body["queue_connection"] == "error"
    assert "127.0.0.1" not in outcome["text"]
    assert "Error" not in outcome["text"]
    # The scraper (and staff) still get the exception to act on.
    assert "error" in outcome["scraper"]["checks"]["broker"]


# --- The spec's monitoring contract ------------------------------------------------------------


def test_health_answers_the_specs_keys_to_anyone(client):
    from messaging.models import GatewayState

    polled = timezone.now() - timedelta(seconds=7)
    GatewayState.objects.update_or_create(pk=1, defaults={"authorized": True, "last_poll_at": polled})

    body = client.get("/health", REMOTE_ADDR=STRANGER).json()

    assert body["status"] == "healthy"
    assert body["wappi_connection"] == "ok"
    assert body["queue_connection"] == "ok"
    assert body["last_poll_time"] == timezone.localtime(polled).isoformat()
    assert body["last_poll_time"].endswith("+05:00")  # the business's clock, as the spec shows it


def test_health_says_wappi_is_not_configured_when_there_is_neither_a_token_nor_the_emulator(client, settings):
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_TOKEN = ""

    body = client.get("/health", REMOTE_ADDR=STRANGER).json()

    assert body["wappi_connection"] == "not_configured"
    assert body["wappi"]["status"] == "not_configured"
    assert body["last_poll_time"] is None
    assert body["status"] == "healthy"  # our side is up; an operator must add the token


def test_health_shows_which_sandbox_is_on(client, settings):
    settings.WAPPI_SANDBOX = True
    settings.KASPI_SANDBOX = False

    assert client.get("/health", REMOTE_ADDR=STRANGER).json()["sandbox"] == {"wappi": True, "kaspi": False}
