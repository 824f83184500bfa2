"""The Kaspi Shop client (payments.kaspi_shop) against the fake shop over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from payments.kaspi_shop import KaspiShopClient

ALMATY = ZoneInfo("Asia/Almaty")


def test_the_shop_client_pages_and_splits_the_creation_window(fake_kaspi_shop, settings):
    now = datetime(2026, 12, 9, 12, 0, tzinfo=ALMATY)
    for n in range(150):
        fake_kaspi_shop.add_order(status="COMPLETED", created_at=now - timedelta(days=1, minutes=n))
    fake_kaspi_shop.add_order(status="COMPLETED", created_at=now - timedelta(days=5))

    orders = list(KaspiShopClient.from_settings().orders(created_from=now - timedelta(days=6), created_to=now))

    assert len(orders) == 151
    assert len({o.id for o in orders}) == 151
    windows = {
        (r.query["filter[orders][creationDate][$ge]"], r.query["filter[orders][creationDate][$le]"])
        for r in fake_kaspi_shop.requests
    }
    assert len(windows) == 2  # 6 days in windows of at most 3
    assert all(r.headers["X-Auth-Token"] == "fake-kaspi-shop-token" for r in fake_kaspi_shop.requests)
    assert all(r.headers["Accept"] == "application/vnd.api+json" for r in fake_kaspi_shop.requests)
    assert len(fake_kaspi_shop.requests) == 3  # the busy window has two pages
    assert orders[0].customer_name == "Айгерим Садыкова"
