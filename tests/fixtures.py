"""Fixtures shared by tests in several folders, registered in tests/conftest.py (pytest_plugins).
A fixture only one folder uses stays in that folder's conftest.py."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.signals import before_task_publish
from kombu.serialization import dumps, loads

import messaging.views
from ai.knowledge import knowledge_load
from contacts.models import Contact
from tests.factories import ClientFactory
from tests.processes import ROOT, manage_clean, server_env

WEBHOOK_SECRET = "test-webhook-secret"
DEMO_KNOWLEDGE = ROOT / "knowledge_base" / "demo"
# The demo company's price table as the PDF extraction gives it (knowledge_base/demo/pricing.pdf).
DEMO_PRICE_TABLE = """Наименование | Ед. | Цена
Вода 19 л (бутыль) | шт. | 1 200 ₸
Вода 5 л (ПЭТ) | шт. | 650 ₸
Вода 1,5 л (ПЭТ), упаковка 6 шт. | уп. | 1 800 ₸
Залог за бутыль 19 л | шт. | 3 500 ₸
Кулер «Тау-2» напольный | шт. | 69 900 ₸
Аренда кулера «Тау-2» | мес. | 2 500 ₸
Помпа механическая | шт. | 2 900 ₸
Помпа электрическая «Samal» | шт. | 5 900 ₸
Санитарная обработка кулера | услуга | 7 000 ₸
Доставка по Алматы | рейс | 1 500 ₸
Доставка в Каскелен и Талгар | рейс | 3 000 ₸
Корпоративный абонемент, 20 бутылей | мес. | 22 000 ₸
"""


@pytest.fixture
def no_pacing(settings):
    """The sender sends at once: no gap between two sends to one recipient, or from our number."""
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0
    settings.SEND_NUMBER_GAP_SECONDS = 0


@pytest.fixture
def send_window(settings, no_pacing):
    """Messages we start ourselves go out Monday to Friday, 10:00-19:00 Almaty time, up to 7
    minutes late, at most 100 a day: the product's defaults, stated here so a test reads them."""
    settings.FOLLOW_UP_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri"]
    settings.FOLLOW_UP_SEND_START = 10
    settings.FOLLOW_UP_SEND_END = 19
    settings.FOLLOW_UP_JITTER_MINUTES = 7
    settings.PROACTIVE_DAILY_LIMIT = 100


@pytest.fixture
def payment_settings(settings, send_window):
    """Kaspi Pay and post-purchase messages with the product's defaults, stated here so a test
    reads them; managers get notified; the offline model."""
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
    return settings


@pytest.fixture
def client_contact() -> Contact:
    """A client the payment tests invoice."""
    return ClientFactory(phone="77011234567", name="Асель")


@pytest.fixture
def demo_knowledge() -> None:
    """The demo company's knowledge base (knowledge_base/demo), indexed."""
    knowledge_load(path=DEMO_KNOWLEDGE)


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
def published_calls():
    """(task name, first argument) of every task this test published to the broker."""
    sent: list[tuple[str, Any]] = []

    def record(sender=None, body=None, **_kwargs):
        sent.append((sender, body[0][0]))

    before_task_publish.connect(record, weak=False)
    yield sent
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


@pytest.fixture
def handed_over(settings, monkeypatch) -> list[Any]:
    """The payloads the webhook view hands to the ingest task, after the broker's JSON round trip
    (the worker sees exactly that); nothing reaches the shared test broker. The secret is
    WEBHOOK_SECRET."""
    settings.WAPPI_WEBHOOK_SECRET = WEBHOOK_SECRET
    payloads: list[Any] = []

    def delay(payload: Any) -> None:
        content_type, encoding, body = dumps(payload, serializer="json")
        payloads.append(loads(body, content_type, encoding))

    # A stand-in for the task where the view looks it up (it imports the task at module level).
    stand_in = SimpleNamespace(delay=delay, apply_async=lambda args=(), kwargs=None, **_options: delay(*args))
    monkeypatch.setattr(messaging.views, "ingest_webhook", stand_in)
    return payloads


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A STATIC_ROOT after `manage.py collectstatic --noinput`, run as a server runs it (DEBUG off,
    the hashed-manifest storage): once per test run."""
    root = tmp_path_factory.mktemp("static")
    env = server_env(root.parent, STATIC_MANIFEST="true", STATIC_ROOT=str(root))
    result = manage_clean("collectstatic", "--noinput", "-v0", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "staticfiles.json").is_file()
    return root


@pytest.fixture
def manifest_static(settings: Any, tmp_path: Path) -> Path:
    """This process with DEBUG off and the production static storage (hashed manifest) reading an
    empty STATIC_ROOT: nothing collected yet. Returns the folder."""
    settings.DEBUG = False
    settings.STATIC_MANIFEST = True
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    return settings.STATIC_ROOT
