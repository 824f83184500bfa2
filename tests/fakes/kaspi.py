"""Local fakes of Kaspi Pay (QR API, enhanced scheme ``r3``) and the Kaspi Shop orders API,
served over real HTTP on loopback, in the wire format of reference/kaspi.md.

Kaspi Pay (§2.3-§2.5): ``remote/create``, ``payment/status/{id}``, ``payment/details``,
``payment/return``, ``remote/cancel``, ``remote/client-info``; the envelope
``{"StatusCode", "Message", "Data"}``; money as JSON numbers in tenge; the error codes of §2.5
(refund over the available amount -99000005, partial refund not possible -99000020, not
refundable -99000011, temporarily unavailable -999 ...). The fake holds state (invoices,
refunds, the available amount), and a test plays the customer: ``fake.open(id)`` (Wait),
``fake.pay(id)`` (Processed), ``fake.decline(id)`` (Error).

Faults are scripted per endpoint: ``fake.fail_next("remote/create", -999)`` answers the next
create with that StatusCode; ``fake.hang_next("remote/create")`` does the work but answers only
after the client's timeout; ``fake.gateway_error_next(...)`` answers an nginx page.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_django.fixtures import SettingsWrapper

ORGANIZATION_BIN = "180340021791"
DEVICE_TOKEN = "2be4cc91-5895-48f8-8bc2-86c7bd419b3b"
SHOP_TOKEN = "fake-kaspi-shop-token"
_ROUTE = re.compile(r"^/r3/(?P<version>v0[12])/(?P<endpoint>.+)$")
_NGINX_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


class _Server(HTTPServer):
    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.02)


@dataclass
class FakeInvoice:
    id: int
    amount: Decimal
    phone: str
    comment: str
    status: str = "RemotePaymentCreated"
    available: Decimal = Decimal("0")
    partial_refunds_allowed: bool = True
    refunds: list[Decimal] = field(default_factory=list)


@dataclass
class KaspiRequest:
    method: str
    endpoint: str
    headers: dict[str, str]
    query: dict[str, str]
    body_text: str
    json: Any


@dataclass
class _Fault:
    kind: str  # "code" / "hang" / "gateway"
    code: int = 0
    http_status: int = 200


class FakeKaspi:
    """The Kaspi Pay fake. Use the ``fake_kaspi`` fixture (it points the settings at it)."""

    def __init__(self) -> None:
        self.invoices: dict[int, FakeInvoice] = {}
        self.requests: list[KaspiRequest] = []
        self.client_names: dict[str, str] = {}
        self._ids = itertools.count(501020796)
        self._ops = itertools.count(15)
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.hang_seconds = 3.0
        self.in_refund = 0  # refunds being served right now (the concurrency test reads the peak)
        self.refund_peak = 0
        self.refund_delay = 0.0
        self._server = _Server(host="127.0.0.1", port=0, threaded=True)

    def __enter__(self) -> FakeKaspi:
        self._server.expect_request(re.compile(r".*")).respond_with_handler(self._handle)
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._released.set()
        self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.url_for("/r3").rstrip("/")

    # -- the customer and the test's hand --

    def open(self, payment_id: int) -> None:
        self.invoices[payment_id].status = "Wait"

    def pay(self, payment_id: int) -> None:
        invoice = self.invoices[payment_id]
        invoice.status = "Processed"
        invoice.available = invoice.amount

    def decline(self, payment_id: int) -> None:
        self.invoices[payment_id].status = "Error"

    def fail_next(self, endpoint: str, code: int, *, http_status: int = 200) -> None:
        """The next call to `endpoint` ("remote/create", "payment/return", "payment/status", ...)
        answers StatusCode `code` (with `http_status`), doing nothing."""
        self._faults[endpoint].append(_Fault("code", code=code, http_status=http_status))

    def hang_next(self, endpoint: str) -> None:
        """The next call does its work and answers only after hang_seconds (past the client's timeout)."""
        self._faults[endpoint].append(_Fault("hang"))

    def gateway_error_next(self, endpoint: str, http_status: int = 502) -> None:
        self._faults[endpoint].append(_Fault("gateway", http_status=http_status))

    def calls_to(self, endpoint: str) -> list[KaspiRequest]:
        return [r for r in self.requests if r.endpoint.startswith(endpoint)]

    def last(self, endpoint: str) -> KaspiRequest:
        return self.calls_to(endpoint)[-1]

    # -- serving --

    def _handle(self, request: Request) -> Response:
        match = _ROUTE.match(request.path)
        endpoint = match["endpoint"] if match else request.path
        text = request.get_data(as_text=True)
        try:
            body = json.loads(text, parse_float=Decimal) if text else None
        except ValueError:
            body = None
        record = KaspiRequest(
            method=request.method,
            endpoint=endpoint,
            headers=dict(request.headers),
            query=dict(request.args),
            body_text=text,
            json=body,
        )
        with self._lock:
            self.requests.append(record)
            key = "payment/status" if endpoint.startswith("payment/status/") else endpoint
            fault = self._faults[key].popleft() if self._faults[key] else None
        if match is None:
            return _json({"StatusCode": -1, "Message": "no such route"}, 404)
        if not request.headers.get("X-Request-ID"):
            return _json({"StatusCode": -1, "Message": "X-Request-ID is required"}, 400)
        if fault is not None and fault.kind == "code":
            return _json({"StatusCode": fault.code, "Message": f"fake error {fault.code}"}, fault.http_status)
        if fault is not None and fault.kind == "gateway":
            return Response(_NGINX_502, status=fault.http_status, content_type="text/html")
        response = self._serve(request.method, endpoint, record)
        if fault is not None and fault.kind == "hang":
            self._released.wait(self.hang_seconds)
        return response

    def _serve(self, method: str, endpoint: str, record: KaspiRequest) -> Response:
        body = record.json if isinstance(record.json, dict) else {}
        if method == "POST" and (
            body.get("OrganizationBin") != ORGANIZATION_BIN or str(body.get("DeviceToken")) != DEVICE_TOKEN
        ):
            return _error(-1501, "Устройство не найдено")
        if method == "POST" and endpoint == "remote/create":
            amount = body.get("Amount")
            if (
                not isinstance(amount, Decimal | int)
                or Decimal(amount) <= 0
                or Decimal(amount).as_tuple().exponent < -2
            ):
                return _error(990000028, "Неверная сумма операции")
            with self._lock:
                invoice = FakeInvoice(
                    id=next(self._ids),
                    amount=Decimal(amount),
                    phone=str(body.get("PhoneNumber")),
                    comment=str(body.get("Comment") or ""),
                )
                self.invoices[invoice.id] = invoice
            return _ok({"QrPaymentId": invoice.id})
        if method == "GET" and endpoint.startswith("payment/status/"):
            invoice = self.invoices.get(int(endpoint.rsplit("/", 1)[1]))
            if invoice is None:
                return _error(-1601, "Покупка не найдена")
            return _ok({"Status": invoice.status})
        if method == "GET" and endpoint == "payment/details":
            if record.query.get("DeviceToken") != DEVICE_TOKEN:
                return _error(-1501, "Устройство не найдено")
            invoice = self.invoices.get(int(record.query.get("QrPaymentId") or 0))
            if invoice is None or invoice.status != "Processed":
                return _error(-99000001, "Покупка с указанным идентификатором не найдена")
            return _ok(
                {
                    "QrPaymentId": invoice.id,
                    "TotalAmount": invoice.amount,
                    "AvailableReturnAmount": invoice.available,
                    "TransactionDate": "2026-11-3T11:55:14.166+06:00",
                }
            )
        if method == "POST" and endpoint == "payment/return":
            return self._refund(body)
        if method == "POST" and endpoint == "remote/cancel":
            invoice = self.invoices.get(int(body.get("QrPaymentId") or 0))
            if invoice is None:
                return _error(-99000001, "Покупка с указанным идентификатором не найдена")
            if invoice.status not in ("RemotePaymentCreated", "Wait"):
                return _error(-99000011, "Покупку нельзя отменить в текущем статусе")
            invoice.status = "RemotePaymentCanceled"
            return _ok({"Status": "RemotePaymentCanceled"})
        if method == "GET" and endpoint == "remote/client-info":
            name = self.client_names.get(record.query.get("phoneNumber", ""))
            return _ok({"ClientName": name}) if name else _error(-1401, "")
        return _json({"StatusCode": -1, "Message": f"fake Kaspi does not serve {method} {endpoint}"}, 404)

    def _refund(self, body: dict[str, Any]) -> Response:
        with self._lock:
            self.in_refund += 1
            self.refund_peak = max(self.refund_peak, self.in_refund)
        try:
            if self.refund_delay:
                self._released.wait(self.refund_delay)
            with self._lock:
                invoice = self.invoices.get(int(body.get("QrPaymentId") or 0))
                amount = Decimal(body.get("Amount") or 0)
                if invoice is None:
                    return _error(-99000001, "Покупка с указанным идентификатором не найдена")
                if invoice.status != "Processed":
                    return _error(-99000011, "Покупку нельзя вернуть в текущем статусе")
                if amount <= 0 or amount.as_tuple().exponent < -2:
                    return _error(990000028, "Неверная сумма операции")
                if amount > invoice.available:
                    return _error(-99000005, "Сумма возврата превышает сумму покупки")
                if not invoice.partial_refunds_allowed and amount != invoice.available:
                    return _error(-99000020, "Частичный возврат невозможен")
                invoice.available -= amount
                invoice.refunds.append(amount)
                return _ok({"ReturnOperationId": next(self._ops)})
        finally:
            with self._lock:
                self.in_refund -= 1


def _ok(data: dict[str, Any]) -> Response:
    return _json({"StatusCode": 0, "Message": "OK", "Data": data}, 200)


def _error(code: int, message: str) -> Response:
    # Business errors travel in the envelope with HTTP 200 (StatusCode is what counts).
    return _json({"StatusCode": code, "Message": message}, 200)


def _json(body: dict[str, Any], status: int) -> Response:
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(type(value).__name__)

    return Response(
        json.dumps(body, ensure_ascii=False, default=default), status=status, content_type="application/json"
    )


# --- Kaspi Shop ----------------------------------------------------------------------------------


@dataclass
class FakeShopOrder:
    id: str
    code: str
    status: str
    state: str
    created_at: datetime
    phone: str = "7012345678"
    first_name: str = "Айгерим"
    last_name: str = "Садыкова"
    total_price: Decimal = Decimal("25000")

    def resource(self) -> dict[str, Any]:
        return {
            "type": "orders",
            "id": self.id,
            "attributes": {
                "code": self.code,
                "totalPrice": float(self.total_price),
                "state": self.state,
                "status": self.status,
                "creationDate": int(self.created_at.timestamp() * 1000),
                "customer": {"firstName": self.first_name, "lastName": self.last_name, "cellPhone": self.phone},
                "deliveryMode": "DELIVERY_LOCAL",
                "paymentMode": "PREPAID",
            },
            "relationships": {"entries": {"links": {"related": f"/orders/{self.id}/entries"}}},
        }


class FakeKaspiShop:
    """The Kaspi Shop orders fake: GET /orders, JSON:API, X-Auth-Token, paged, creationDate filter."""

    def __init__(self) -> None:
        self.orders: list[FakeShopOrder] = []
        self.requests: list[KaspiRequest] = []
        self.fail_next: deque[int] = deque()
        self._seq = itertools.count(1)
        self._server = _Server(host="127.0.0.1", port=0, threaded=True)

    def __enter__(self) -> FakeKaspiShop:
        self._server.expect_request(re.compile(r".*")).respond_with_handler(self._handle)
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.url_for("/shop/api/v2").rstrip("/")

    def add_order(self, *, status: str, created_at: datetime | None = None, **fields: Any) -> FakeShopOrder:
        n = next(self._seq)
        order = FakeShopOrder(
            id=fields.pop("id", f"MTAwMDA{n:05d}"),
            code=fields.pop("code", f"5200{n:05d}"),
            status=status,
            state=fields.pop("state", "ARCHIVE" if status == "COMPLETED" else "DELIVERY"),
            created_at=created_at or datetime.now(UTC),
            **fields,
        )
        self.orders.append(order)
        return order

    def _handle(self, request: Request) -> Response:
        self.requests.append(
            KaspiRequest(request.method, request.path, dict(request.headers), dict(request.args), "", None)
        )
        if request.headers.get("X-Auth-Token") != SHOP_TOKEN:
            return Response("", status=401)
        if self.fail_next:
            return Response("", status=self.fail_next.popleft())
        if request.path != "/shop/api/v2/orders":
            return Response("", status=404)
        args = request.args
        try:
            number, size = int(args["page[number]"]), int(args["page[size]"])
            start = int(args["filter[orders][creationDate][$ge]"])
            end = int(args["filter[orders][creationDate][$le]"])
        except (KeyError, ValueError):
            return Response(json.dumps({"errors": [{"title": "bad request"}]}), status=400)
        matching = [o for o in self.orders if start <= int(o.created_at.timestamp() * 1000) <= end]
        page = matching[number * size : (number + 1) * size]
        body = {
            "data": [o.resource() for o in page],
            "meta": {"pageCount": -(-len(matching) // size), "totalCount": len(matching)},
        }
        return Response(json.dumps(body, ensure_ascii=False), status=200, content_type="application/vnd.api+json")


# --- Fixtures (a plugin of tests/conftest.py) -----------------------------------------------------


@pytest.fixture
def fake_kaspi(settings: SettingsWrapper) -> Iterator[FakeKaspi]:
    """A running FakeKaspi with the app's settings pointed at it (plain HTTP on loopback, no
    certificate), a 1 s timeout so a hung call fails fast."""
    with FakeKaspi() as fake:
        settings.KASPI_BASE_URL = fake.base_url
        settings.KASPI_ORGANIZATION_BIN = ORGANIZATION_BIN
        settings.KASPI_DEVICE_TOKEN = DEVICE_TOKEN
        settings.KASPI_CERT_PATH = ""
        settings.KASPI_KEY_PATH = ""
        settings.KASPI_CA_PATH = ""
        settings.KASPI_TIMEOUT = 1.0
        fake.hang_seconds = 2.0
        yield fake


@pytest.fixture
def fake_kaspi_shop(settings: SettingsWrapper) -> Iterator[FakeKaspiShop]:
    with FakeKaspiShop() as fake:
        settings.KASPI_SHOP_BASE_URL = fake.base_url
        settings.KASPI_SHOP_TOKEN = SHOP_TOKEN
        settings.KASPI_SHOP_TIMEOUT = 2.0
        yield fake
