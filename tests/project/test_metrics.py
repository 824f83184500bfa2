"""/metrics: access by token or address, and the series a monitoring system scrapes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ai.models import ModelCall, PendingReply
from messaging.models import GatewayState, HandOff, Message
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-9d2c0a"


@pytest.fixture
def metrics_open(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    return settings


def key(**labels: str) -> tuple:
    return tuple(sorted(labels.items()))


def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    series: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def test_a_scraper_from_an_allowed_address_gets_the_metrics(client, metrics_open):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_a_stranger_without_the_token_gets_401_and_with_a_wrong_one_403(client, metrics_open):
    anonymous = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert b"whatsapp_messages" not in anonymous.content
    wrong = client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403
    # A wrong token is refused even from an allowed address: it is a misconfigured scraper.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers={"Authorization": "Bearer guess"}).status_code == 403


def test_the_right_bearer_token_opens_it_from_anywhere(client, metrics_open):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


def test_without_a_token_configured_only_listed_networks_get_in(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    # A forwarded-for header is the caller's claim, not its address.
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403


def test_the_default_allows_only_localhost(client, settings):
    from project.settings import METRICS_ALLOWED_IPS, METRICS_TOKEN

    assert METRICS_TOKEN == ""
    assert METRICS_ALLOWED_IPS == ["127.0.0.1", "::1"]


def test_it_exposes_the_named_series_from_the_database(client, metrics_open):
    contact = ContactFactory(phone="77019998877")
    inbound = InboundMessageFactory(contact=contact)
    OutboundMessageFactory(contact=contact, status=Message.Status.SENT, attempts=1, reply_to=inbound)
    OutboundMessageFactory(contact=contact, status=Message.Status.FAILED, attempts=6)
    OutboundMessageFactory(contact=contact, status=Message.Status.QUEUED)
    OutboundMessageFactory(contact=contact, status=Message.Status.SENT, purpose=Message.Purpose.HANDOFF, attempts=1)
    ModelCall.objects.create(
        backend="gemini",
        purpose="reply",
        model="gemini-3.8-flash",
        prompt_tokens=900,
        cached_tokens=300,
        output_tokens=40,
        cost_usd=Decimal("0.0010"),
        latency_ms=1500,
    )
    ModelCall.objects.create(
        backend="gemini", purpose="reply", model="gemini-3.8-flash", ok=False, error="503 UNAVAILABLE", latency_ms=30000
    )
    FollowUpFactory(contact=contact, next_touch_at=timezone.now() - timedelta(minutes=1))
    PendingReply.objects.create(contact=contact, message=inbound, due_at=timezone.now())
    GatewayState.objects.update_or_create(pk=1, defaults={"authorized": True, "last_poll_at": timezone.now()})

    series = scrape(client, Authorization=f"Bearer {TOKEN}")

    messages = series["whatsapp_messages_total"]
    assert messages[key(direction="in", status="received")] == 1
    assert messages[key(direction="out", status="sent")] == 2
    assert messages[key(direction="out", status="failed")] == 1
    assert series["whatsapp_send_attempts_total"][()] == 8
    assert series["whatsapp_send_failures_total"][()] == 1
    assert series["whatsapp_outbox_pending"][key(status="queued")] == 1
    assert series["assistant_handoffs_total"][()] == 1
    labels = {"backend": "gemini", "model": "gemini-3.8-flash", "purpose": "reply"}
    reply = key(**labels)
    assert series["llm_calls_total"][reply] == 2
    assert series["llm_errors_total"][reply] == 1
    assert series["llm_tokens_total"][key(**labels, kind="cached")] == 300
    assert series["llm_cost_usd_total"][reply] == pytest.approx(0.001)
    latency = series["llm_call_duration_seconds_bucket"]
    assert latency[key(**labels, le="2.0")] == 1
    assert latency[key(**labels, le="+Inf")] == 2
    assert series["llm_call_duration_seconds_sum"][reply] == pytest.approx(31.5)
    assert series["followups_due"][()] == 1
    assert series["followups_active"][()] == 1
    assert series["llm_pending_replies"][()] == 1
    assert series["wappi_authorized"][()] == 1
    assert series["wappi_up"][()] == 1
    assert series["wappi_last_poll_timestamp_seconds"][()] > 0
    assert series["celery_broker_up"][()] == 1
    assert set(dict(k)["queue"] for k in series["celery_queue_length"]) == {"ingest", "llm", "send", "default"}
    assert set(dict(k)["process"] for k in series["celery_heartbeat_timestamp_seconds"]) == {"beat", "worker"}


def test_requests_are_counted_by_view_name_never_by_path(client, admin_client, metrics_open):
    contact = ContactFactory(phone="77019998877")
    admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/")
    client.get("/health")

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    text = response.content.decode()
    series = scrape(client)

    assert series["http_requests_total"][key(method="GET", status="200", view="admin:contacts_contact_change")] >= 1
    assert any(dict(k).get("view") == "health" for k in series["http_requests_total"])
    assert any(dict(k).get("view") == "health" for k in series["http_request_duration_seconds_count"])
    assert str(contact.pk) + "/change" not in text


def test_no_phone_number_or_secret_appears_in_the_scrape(client, metrics_open, settings):
    settings.WAPPI_WEBHOOK_SECRET = "webhook-secret-5e1f"
    contact = ContactFactory(phone="77019998877", name="Айгерим")
    InboundMessageFactory(contact=contact, text="Мой номер 8 701 999 88 77")
    ModelCall.objects.create(backend="gemini", purpose="reply", model="m", ok=False, error="key AIzaSyFAKE failed")

    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()

    for leak in ("9998877", "Айгерим", TOKEN, "webhook-secret-5e1f", "AIza"):
        assert leak not in without_fractions(text)


def without_fractions(text: str) -> str:
    """The scrape with each sample's value cut to its integer part. The request-duration sums
    add up every earlier test's timings in this process, and their fractional digits can spell
    any number (a run once failed on 0.05774050199988778); a value that is a phone number keeps
    every digit."""
    lines = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            line = f"{series} {float(value):.0f}"
        lines.append(line)
    return "\n".join(lines)


# --- Wappi's response time and errors, scheduled calls, tool calls ------------------------------


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return after.get(name, {}).get(key(**labels), 0) - before.get(name, {}).get(key(**labels), 0)


def test_wappi_response_times_and_errors_are_counted_by_endpoint(client, metrics_open, fake_wappi):
    from messaging.wappi import WappiTransientError

    before = scrape(client, Authorization=f"Bearer {TOKEN}")
    wappi = fake_wappi.client()
    wappi.message_send(recipient="77012345678", body="Здравствуйте!")
    wappi.message_send(recipient="77012345678", body="Ещё раз")
    fake_wappi.fail_next = [503]
    with pytest.raises(WappiTransientError):
        wappi.message_send(recipient="77012345678", body="Не дойдёт")
    wappi.get_status()

    after = scrape(client, Authorization=f"Bearer {TOKEN}")

    send = "/api/sync/message/send"
    assert delta(before, after, "wappi_request_duration_seconds_count", endpoint=send) == 3
    assert delta(before, after, "wappi_request_duration_seconds_bucket", endpoint=send, le="+Inf") == 3
    assert delta(before, after, "wappi_request_duration_seconds_count", endpoint="/api/sync/get/status") == 1
    assert delta(before, after, "wappi_errors_total", endpoint=send, error="transient") == 1
    assert delta(before, after, "wappi_errors_total", endpoint="/api/sync/get/status", error="transient") == 0
    # No label carries the recipient.
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert b"77012345678" not in response.content


def test_a_wappi_request_that_never_reached_wappi_counts_as_an_error_of_its_endpoint(client, metrics_open):
    from messaging.wappi import WappiClient, WappiTransientError

    unreachable = WappiClient(base_url="http://127.0.0.1:1", token="t", profile_id="p", timeout=2)
    with pytest.raises(WappiTransientError):
        unreachable.get_status()

    series = scrape(client, Authorization=f"Bearer {TOKEN}")
    assert series["wappi_errors_total"][key(endpoint="/api/sync/get/status", error="transient")] == 1


def test_scheduled_calls_are_counted_by_status(client, metrics_open):
    from contacts.models import ScheduledCall
    from tests.factories import ScheduledCallFactory

    ScheduledCallFactory(status=ScheduledCall.Status.SCHEDULED)
    ScheduledCallFactory(status=ScheduledCall.Status.SCHEDULED)
    ScheduledCallFactory(status=ScheduledCall.Status.CANCELLED)

    calls = scrape(client, Authorization=f"Bearer {TOKEN}")["scheduled_calls"]

    assert calls[key(status="scheduled")] == 2
    assert calls[key(status="cancelled")] == 1
    assert calls[key(status="completed")] == 0


@pytest.fixture
def test_tools():
    """Three tools of our own making beside the product's: one that works, one a rule refuses,
    one that breaks."""
    from ai.llm import ToolSpec
    from assistant.tools import _REGISTRY, Tool, tool_register

    def broken(_ctx, _args):
        raise RuntimeError("the calendar is unreachable")

    made = {
        "probe_ok": lambda _ctx, _args: {"ok": True, "slots": ["10:00"]},
        "probe_refused": lambda _ctx, _args: {"ok": False, "error": "время занято", "alternatives": []},
        "probe_broken": broken,
    }
    for name, run in made.items():
        tool_register(Tool(spec=ToolSpec(name=name, description=name, parameters={"type": "object"}), run=run))
    yield
    for name in made:
        _REGISTRY.pop(name, None)


def test_tool_calls_are_counted_by_tool_and_outcome(client, metrics_open, test_tools):
    from ai.llm import ToolCall
    from assistant.tools import ToolContext, tool_run

    contact = ContactFactory()
    ctx = ToolContext(contact=contact, message=InboundMessageFactory(contact=contact), now=timezone.now())
    before = scrape(client, Authorization=f"Bearer {TOKEN}")
    for name in ("probe_ok", "probe_ok", "probe_refused", "probe_broken", "made_up_by_the_model"):
        tool_run(call=ToolCall(name=name, args={}), ctx=ctx)

    after = scrape(client, Authorization=f"Bearer {TOKEN}")

    name = "assistant_tool_calls_total"
    assert delta(before, after, name, tool="probe_ok", outcome="ok") == 2
    assert delta(before, after, name, tool="probe_refused", outcome="refused") == 1
    assert delta(before, after, name, tool="probe_broken", outcome="error") == 1
    # A name the model made up is one label, not a new series per invention.
    assert delta(before, after, name, tool="unknown", outcome="refused") == 1


def test_open_hand_offs_waiting_answered_overdue_and_the_oldest_waiting_age_are_exported(client, metrics_open):
    now = timezone.now()
    waiting = ContactFactory()
    HandOff.objects.create(
        contact=waiting, key="a", reason="клиент просит человека", opened_at=now - timedelta(hours=1), due_at=now
    )
    answered = ContactFactory()
    HandOff.objects.create(
        contact=answered,
        key="b",
        reason="жалоба",
        opened_at=now - timedelta(hours=3),
        due_at=now - timedelta(hours=2),
        answered_at=now - timedelta(hours=2, minutes=50),
    )
    HandOff.objects.create(
        contact=ContactFactory(),
        key="c",
        reason="старая",
        opened_at=now - timedelta(days=2),
        due_at=now,
        closed_at=now - timedelta(days=1),
    )

    series = scrape(client, Authorization=f"Bearer {TOKEN}")

    assert series["assistant_handoffs_open"] == {key(state="waiting"): 1, key(state="answered"): 1}
    assert series["assistant_handoffs_overdue"][()] == 1
    assert 3590 <= series["assistant_handoff_oldest_waiting_seconds"][()] <= 3700
