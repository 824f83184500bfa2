"""Fixtures shared by tests in several folders, registered in tests/conftest.py (pytest_plugins).
A fixture only one folder uses stays in that folder's conftest.py."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from celery.signals import before_task_publish

from contacts.models import Contact
from tests.factories import ContactFactory

WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture
def payment_settings(settings):
    """Kaspi Pay and post-purchase messages with the product's defaults, stated here so a test
    reads them; managers get notified; the offline model; no pacing in the sender."""
    settings.PAYMENT_APPROVAL_THRESHOLD = Decimal("100000")
    settings.PAYMENT_CHECK_DEBOUNCE_SECONDS = 30.0
    settings.PAYMENT_INVOICE_TTL_HOURS = 24.0
    settings.MANAGER_PHONES = ["+7 701 999 00 11"]
    settings.LLM_BACKEND = "offline"
    settings.POST_PURCHASE_ENABLED = True
    settings.POST_PURCHASE_MAX_PER_CUSTOMER = 3
    settings.POST_PURCHASE_CAP_WINDOW_DAYS = 30.0
    settings.POST_PURCHASE_COOLDOWN_HOURS = 24.0
    settings.POST_PURCHASE_DAILY_LIMIT = 100
    settings.POST_PURCHASE_MAX_DELAY_HOURS = 72.0
    settings.POST_PURCHASE_LOOKBACK_DAYS = 14.0
    settings.KASPI_SHOP_MAX_WINDOW_DAYS = 3.0
    settings.PROACTIVE_DAILY_LIMIT = 100
    settings.FOLLOW_UP_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri"]
    settings.FOLLOW_UP_SEND_START = 10
    settings.FOLLOW_UP_SEND_END = 19
    settings.FOLLOW_UP_JITTER_MINUTES = 7
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0
    return settings


@pytest.fixture
def client_contact() -> Contact:
    """A contact the model recognised as a client, the one the payment tests invoice."""
    return ContactFactory(is_client=True, classified_by="model", phone="77011234567", name="Асель")


@pytest.fixture
def published():
    """Names of the tasks this test published to the broker (what a worker would run)."""
    names: list[str] = []

    def record(sender=None, **_kwargs):
        names.append(sender)

    before_task_publish.connect(record, weak=False)
    yield names
    before_task_publish.disconnect(record)


@pytest.fixture
def webhook(client, settings):
    """Posts to Wappi's webhook as Wappi does: `webhook(payload)`, or a raw body, with the
    configured secret unless another is given."""
    settings.WAPPI_WEBHOOK_SECRET = WEBHOOK_SECRET

    def post(payload, secret=WEBHOOK_SECRET, raw=None):
        return client.post(
            f"/webhooks/wappi/?secret={secret}",
            data=raw if raw is not None else json.dumps(payload),
            content_type="application/json",
        )

    return post
