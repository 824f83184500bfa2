"""Thin, typed client for the Kaspi Shop (marketplace) orders API (reference/kaspi.md §3).

``GET {KASPI_SHOP_BASE_URL}/orders`` with ``X-Auth-Token``, JSON:API (``application/vnd.api+json``),
pages from ``page[number]=0`` until ``meta.pageCount``, filtered by ``creationDate`` as epoch
milliseconds. Windows longer than `max_window` are split into several requests (unofficial
notes say Kaspi refuses wide windows). No database, no retries: errors say whether a retry helps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
import structlog
from django.conf import settings

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT = 5.0
PAGE_SIZE = 100
MAX_PAGES = 200  # a bound against a server that never stops paging
JSON_API = "application/vnd.api+json"


class KaspiShopError(Exception):
    retryable: bool = False

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class KaspiShopRetryableError(KaspiShopError):
    retryable = True


class KaspiShopAuthError(KaspiShopError):
    """The token is wrong or revoked: an operator must make a new one in the merchant cabinet."""


@dataclass(frozen=True)
class ShopOrder:
    id: str
    code: str
    status: str
    state: str
    total_price: Decimal | None
    created_at: datetime | None
    first_name: str
    last_name: str
    phone: str  # as Kaspi sends it (format unverified): normalise before use
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def customer_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class KaspiShopClient:
    base_url: str
    token: str
    timeout: float = 20.0
    max_window: timedelta = timedelta(days=3)
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session.trust_env = False

    @classmethod
    def from_settings(cls) -> KaspiShopClient:
        return cls(
            base_url=settings.KASPI_SHOP_BASE_URL,
            token=settings.KASPI_SHOP_TOKEN,
            timeout=settings.KASPI_SHOP_TIMEOUT,
            max_window=timedelta(days=settings.KASPI_SHOP_MAX_WINDOW_DAYS),
        )

    def orders(self, *, created_from: datetime, created_to: datetime, state: str | None = None) -> Iterator[ShopOrder]:
        """Every order created in [created_from, created_to], window by window, page by page."""
        start = created_from
        while start < created_to:
            end = min(start + self.max_window, created_to)
            yield from self._window(start=start, end=end, state=state)
            start = end

    def _window(self, *, start: datetime, end: datetime, state: str | None) -> Iterator[ShopOrder]:
        page = 0
        while page < MAX_PAGES:
            params = {
                "page[number]": str(page),
                "page[size]": str(PAGE_SIZE),
                "filter[orders][creationDate][$ge]": str(_ms(start)),
                "filter[orders][creationDate][$le]": str(_ms(end)),
                "include[orders]": "user",
            }
            if state:
                params["filter[orders][state]"] = state
            body = self._get("orders", params=params)
            data = body.get("data") or []
            if not isinstance(data, list):
                raise KaspiShopError("Kaspi Shop: `data` is not a list")
            for item in data:
                if isinstance(item, dict) and item.get("type", "orders") == "orders":
                    yield _order(item)
            page_count = int((body.get("meta") or {}).get("pageCount") or 0)
            page += 1
            if page >= page_count or not data:
                return

    def _get(self, path: str, *, params: dict[str, str]) -> dict[str, Any]:
        headers = {"X-Auth-Token": self.token, "Accept": JSON_API, "Content-Type": JSON_API}
        try:
            response = self.session.get(
                f"{self.base_url}/{path}", params=params, headers=headers, timeout=(CONNECT_TIMEOUT, self.timeout)
            )
        except requests.exceptions.RequestException as exc:
            raise KaspiShopRetryableError(f"Kaspi Shop unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status in (401, 403):
            raise KaspiShopAuthError(f"Kaspi Shop refused the token (HTTP {status})", http_status=status)
        if status == 429 or status >= 500:
            raise KaspiShopRetryableError(f"Kaspi Shop HTTP {status}", http_status=status)
        if status != 200:
            raise KaspiShopError(f"Kaspi Shop HTTP {status}: {response.text[:200]}", http_status=status)
        try:
            body = response.json()
        except ValueError as exc:
            raise KaspiShopError("Kaspi Shop answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise KaspiShopError("Kaspi Shop answered a JSON value that is not an object")
        return body


def _order(item: dict[str, Any]) -> ShopOrder:
    attributes = item.get("attributes") or {}
    customer = attributes.get("customer") or {}
    created = attributes.get("creationDate")
    total = attributes.get("totalPrice")
    return ShopOrder(
        id=str(item.get("id") or ""),
        code=str(attributes.get("code") or ""),
        status=str(attributes.get("status") or ""),
        state=str(attributes.get("state") or ""),
        total_price=Decimal(str(total)) if total is not None else None,
        created_at=datetime.fromtimestamp(int(created) / 1000, tz=UTC) if created else None,
        first_name=str(customer.get("firstName") or ""),
        last_name=str(customer.get("lastName") or ""),
        phone=str(customer.get("cellPhone") or ""),
        raw=item,
    )
