from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import ContactFactory
from tests.fakes.kaspi import fake_kaspi, fake_kaspi_shop  # noqa: F401  (fixtures)


@pytest.fixture(autouse=True)
def _payment_settings(settings):
    """The product's defaults, stated here so a test reads them; managers get notified."""
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


@pytest.fixture
def client_contact():
    return ContactFactory(is_client=True, classified_by="model", phone="77011234567", name="Асель")
