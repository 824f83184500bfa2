"""No secret and no customer's phone number in any log line of the real processes: the
production web command (gunicorn with project/gunicorn.conf.py, DEBUG off) and a Celery worker,
sharing the test database and broker, run a conversation (Wappi's webhook with ?secret=, a
customer writing from a phone number, the reply sent to the fake Wappi) and an integrator's API
calls with a Token header; then everything both processes printed is searched."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token

from messaging.models import Message
from tests.fakes import wappi as fake_wappi_module
from tests.processes import celery_worker, gunicorn_server, server_env, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WEBHOOK_SECRET = "hook-secret-5d1e8a7c40"
PHONE = "77012345678"
# Every usual spelling of the customer's number: with the country code or the local 8, formatted
# (+7 701 234 56 78, +7 (701) 234-56-78), bare ten digits, and inside the chat id.
PHONE_SPELLINGS = re.compile(r"7012345678|701\)?(?:[\s-]|%20)?234(?:[\s-]|%20)?56(?:[\s-]|%20)?78|\+7(?:\s|%20)?\(?701")


@pytest.fixture
def production_env(fake_wappi, tmp_path) -> dict[str, str]:
    """A server's environment: DEBUG off, the real Wappi client pointed at the fake Wappi, the
    offline model, no sandbox; the test database, broker and a cache of their own."""
    return server_env(
        tmp_path,
        DJANGO_SETTINGS_MODULE="project.settings",
        WAPPI_SANDBOX="false",
        WAPPI_BASE_URL=fake_wappi.server.url_for("/").rstrip("/"),
        WAPPI_TOKEN=fake_wappi_module.TOKEN,
        WAPPI_PROFILE_ID=fake_wappi_module.PROFILE,
        WAPPI_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LLM_BACKEND="offline",
        REPLY_DEBOUNCE_SECONDS="0.1",
        SEND_MIN_GAP_SECONDS="0",
        SEND_GAP_JITTER_SECONDS="0",
        SEND_NUMBER_GAP_SECONDS="0",
        API_THROTTLE_RATE="10000/min",
        LOG_LEVEL="INFO",
    )


def incoming_webhook() -> dict:
    return {
        "messages": [
            {
                "wh_type": "incoming_message",
                "profile_id": fake_wappi_module.PROFILE,
                "id": "3EB0000000000000LOGS",
                "type": "chat",
                "body": "Здравствуйте! Сколько стоит доставка? Мой номер 8 701 234 56 78, или +7 (701) 234-56-78",
                "from": f"{PHONE}@c.us",
                "to": f"{fake_wappi_module.BUSINESS}@c.us",
                "chatId": f"{PHONE}@c.us",
                "senderName": "Айгерим",
                "time": int(time.time()),
                "is_me": False,
                "chat_type": "dialog",
            }
        ]
    }


@pytest.fixture
def process_logs(production_env, fake_wappi) -> str:
    """The whole output of gunicorn and of a worker while the scenario runs."""
    integrator = get_user_model().objects.create_user("integrator", password="not-used-1234", is_staff=True)
    integrator.user_permissions.set(Permission.objects.filter(codename__in=["view_contact", "view_message"]))
    api_token = Token.objects.create(user=integrator).key
    worker_env = {k: v for k, v in production_env.items() if k not in ("PATH", "HOME")}
    with gunicorn_server(env=production_env) as web, celery_worker(**worker_env) as worker:
        hook = f"{web.url}/webhooks/wappi/"
        answer = requests.post(f"{hook}?secret={WEBHOOK_SECRET}", json=incoming_webhook(), timeout=10)
        assert answer.json() == {"status": "ok", "events": 1}
        wait_for(lambda: fake_wappi.sent, what="the reply to reach Wappi", timeout=60)
        # The same secret in the header, a wrong and a non-ASCII one, a GET Wappi never sends.
        requests.post(hook, json={"messages": []}, headers={"Authorization": f"Bearer {WEBHOOK_SECRET}"}, timeout=10)
        requests.post(f"{hook}?secret={WEBHOOK_SECRET}x", json={}, timeout=10)
        requests.get(f"{hook}?secret={WEBHOOK_SECRET}", timeout=10)
        # An integrator reads the contact by its number (the number is in the path) with a Token.
        auth = {"Authorization": f"Token {api_token}"}
        for path in (f"/api/contacts/{PHONE}", "/api/contacts/+7%20701%20234%2056%2078/messages", "/api/contacts"):
            assert requests.get(f"{web.url}{path}", headers=auth, timeout=10).status_code == 200
        requests.get(f"{web.url}/api/contacts", headers={"Authorization": f"Token {api_token}x"}, timeout=10)
        time.sleep(1)  # the last access lines
        output = {"gunicorn": web.log(), "worker": worker.log()}
    assert Message.objects.filter(direction="out", status="sent").exists()
    assert "/webhooks/wappi/" in output["gunicorn"]  # its access log is there
    assert "/api/contacts" in output["gunicorn"]
    assert "messaging.ingest_webhook" in output["worker"]
    return "\n".join(f"[{name}] {line}" for name, text in output.items() for line in text.splitlines())


def test_no_process_logs_the_webhook_secret_the_api_token_or_the_wappi_token(process_logs):
    api_token = Token.objects.get().key
    secrets = (WEBHOOK_SECRET, api_token, fake_wappi_module.TOKEN)
    leaks = [line for line in process_logs.splitlines() if any(secret in line for secret in secrets)]
    assert leaks == [], "secrets in the logs:\n" + "\n".join(leaks)


def test_no_process_logs_the_customers_phone_number_in_any_spelling(process_logs):
    leaks = [line for line in process_logs.splitlines() if PHONE_SPELLINGS.search(line)]
    assert leaks == [], "phone numbers in the logs:\n" + "\n".join(leaks)


def test_the_web_servers_lines_are_structured_like_the_rest(process_logs):
    web = [line for line in process_logs.splitlines() if line.startswith("[gunicorn] ")]
    records = [json.loads(line.removeprefix("[gunicorn] ")) for line in web if line.startswith("[gunicorn] {")]
    assert {r.get("logger") for r in records} >= {"gunicorn.error", "gunicorn.access"}
    unstructured = [line for line in web if not line.startswith("[gunicorn] {")]
    assert unstructured == []
