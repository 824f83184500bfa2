"""Thin, typed client for the Kaspi Pay QR API, enhanced scheme (``r3``): remote invoices to a
phone number, their status, details (the refundable amount) and refunds.

Translates between Kaspi's HTTP API and Python values and nothing more: no database, no
retries, no business rules. Wire contract (reference/kaspi.md §2.1-§2.5):

* mutual TLS: our client certificate (KASPI_CERT_PATH [+ KASPI_KEY_PATH]) and the bank's CA
  (KASPI_CA_PATH); a fresh ``X-Request-ID`` on every call (Kaspi does not deduplicate on it);
* JSON with PascalCase keys; money is tenge as a JSON number with two decimals, never tiyn;
* every answer is ``{"StatusCode": 0, "Message": "OK", "Data": {...}}``; ``StatusCode`` is read
  before the HTTP status, because Kaspi reports business errors inside the envelope.

Every failure is a `KaspiError` subclass that says whether trying again can help:

* `KaspiRetryableError`: -999 (temporarily unavailable), -99000006 (refund failed, retry),
  HTTP 429/5xx without an envelope, a connection refused before anything was sent.
* `KaspiTimeoutError` (retryable for reads): the request was sent and no answer came. A read
  may be repeated; a create or a refund MAY have happened and must never be repeated blindly.
* `KaspiPermanentError`: the same call will fail the same way (refund over the available
  amount, partial refund not possible, unknown purchase, a number that cannot be invoiced...).
* `KaspiConfigurationError` (permanent): certificate, device, trade point or settings are
  wrong; an operator must fix the configuration.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests
import structlog
from django.conf import settings

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT = 5.0
TWO_PLACES = Decimal("0.01")
# S6 (a third-party layer over Kaspi Pay) accepts 0.01 .. 99 999 999.99; Kaspi's own bounds are unknown.
MAX_AMOUNT = Decimal("99999999.99")
_DETAIL_MAX_CHARS = 300


class PayStatus(StrEnum):
    """`Data.Status` of payment/status and remote/cancel (reference §2.4, App. 4)."""

    CREATED = "RemotePaymentCreated"
    QR_TOKEN_CREATED = "QrTokenCreated"  # noqa: S105 - a status, not a secret
    WAIT = "Wait"
    PROCESSED = "Processed"  # final: paid
    ERROR = "Error"  # final: failed, declined or (probably) expired
    CANCELED = "RemotePaymentCanceled"  # final: we cancelled
    UNKNOWN = "__unknown__"  # a string we have not seen: stored raw, treated as not final


# --- Errors --------------------------------------------------------------------------------------


class KaspiError(Exception):
    """A Kaspi call failed. `retryable` says whether the same call can succeed later;
    `status_code` is Kaspi's StatusCode when the answer carried one."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.http_status = http_status
        self.endpoint = endpoint
        self.request_id = request_id


class KaspiRetryableError(KaspiError):
    """Come back later: -999, -99000006, HTTP 429/5xx, nothing reached Kaspi."""

    retryable = True


class KaspiTimeoutError(KaspiRetryableError):
    """Sent, no complete answer: the call MAY have taken effect (never repeat a create blindly)."""


class KaspiPermanentError(KaspiError):
    """The same call will fail the same way."""


class KaspiConfigurationError(KaspiPermanentError):
    """Certificate, IP whitelist, device, trade point or settings: an operator must fix it."""


class KaspiNotFoundError(KaspiPermanentError):
    """-1601 / -99000001: Kaspi knows no purchase with this id."""


class KaspiRefundOverAvailableError(KaspiPermanentError):
    """-99000005: the refund is larger than what is left to return."""


class KaspiPartialRefundNotAllowedError(KaspiPermanentError):
    """-99000020: this purchase can only be refunded in full."""


class KaspiNotRefundableError(KaspiPermanentError):
    """-99000011: the purchase cannot be refunded in its current status (e.g. not paid)."""


class KaspiInvalidAmountError(KaspiPermanentError):
    """990000028: Kaspi refuses the amount."""


class KaspiCannotInvoiceError(KaspiPermanentError):
    """-1401, -1404, 99000010, 990000029, 990000031, 990000032 on remote calls: listed by the
    bank without an explanation; most likely the number is not a Kaspi client or cannot pay."""


RETRYABLE_CODES = {-999, -99000006}
CONFIGURATION_CODES = {-10000, -1501, -1502, -1503, -14000002, -99000002, -99000003, 990000018, 990000026, 990000033}
NOT_FOUND_CODES = {-1601, -99000001}
CANNOT_INVOICE_CODES = {-1401, -1404, 99000010, 990000029, 990000031, 990000032}
_CODE_ERRORS: dict[int, type[KaspiError]] = {
    -99000005: KaspiRefundOverAvailableError,
    -99000020: KaspiPartialRefundNotAllowedError,
    -99000011: KaspiNotRefundableError,
    990000028: KaspiInvalidAmountError,
}


def error_for_code(code: int) -> type[KaspiError]:
    """The exception class for a non-zero StatusCode (reference §2.5)."""
    if code in RETRYABLE_CODES:
        return KaspiRetryableError
    if code in CONFIGURATION_CODES:
        return KaspiConfigurationError
    if code in NOT_FOUND_CODES:
        return KaspiNotFoundError
    if code in CANNOT_INVOICE_CODES:
        return KaspiCannotInvoiceError
    return _CODE_ERRORS.get(code, KaspiPermanentError)


# --- Values --------------------------------------------------------------------------------------


def money(value: Decimal | int | str) -> Decimal:
    """Tenge with exactly two decimals. Raises ValueError for a non-number, zero, a negative
    amount, more than two decimals, or more than MAX_AMOUNT."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not an amount of tenge") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{value} ₸: the amount must be positive")
    if amount != amount.quantize(TWO_PLACES, rounding=ROUND_HALF_UP):
        raise ValueError(f"{value} ₸: at most two decimals (tiyn)")
    if amount > MAX_AMOUNT:
        raise ValueError(f"{value} ₸: more than {MAX_AMOUNT} ₸")
    return amount.quantize(TWO_PLACES)


def kaspi_phone(phone: str) -> str:
    """Our ``77012345678`` as the bank's own example writes numbers (``87012345678``, S1 §4.6).
    Unknown #4 of the reference: production code (S5) sent ``7…``; change here if the bank says so."""
    if len(phone) == 11 and phone.startswith("7"):
        return "8" + phone[1:]
    return phone


def parse_kaspi_datetime(value: Any) -> datetime | None:
    """Kaspi's dates are loose (``2021-11-3T11:55:14.166+06:00``, ``…+06``): parsed leniently."""
    if not value:
        return None
    text = str(value).strip()
    try:
        date_part, _, rest = text.partition("T")
        y, m, d = (int(p) for p in date_part.split("-"))
        time_part, offset = rest, ""
        for sign in ("+", "-"):
            if sign in rest:
                time_part, _, tail = rest.rpartition(sign)
                offset = sign + tail
                break
        if rest.endswith("Z"):
            time_part, offset = rest[:-1], "+00:00"
        if offset and ":" not in offset:
            offset = f"{offset[:3]}:{offset[3:] or '00'}"
        hms = time_part.split(".")[0].split(":")
        hh, mm, ss = (int(hms[i]) if i < len(hms) else 0 for i in range(3))
        iso = f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}{offset or '+06:00'}"
        return datetime.fromisoformat(iso)
    except (ValueError, IndexError):
        log.warning("kaspi.unparsed_date", value=text[:40])
        return None


@dataclass(frozen=True)
class KaspiCall:
    """What one successful call returned, for the payment's raw log."""

    endpoint: str
    request_id: str
    http_status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class RemoteInvoice:
    qr_payment_id: int
    call: KaspiCall


@dataclass(frozen=True)
class PaymentStatusResult:
    status: PayStatus
    raw_status: str
    call: KaspiCall
    amount: Decimal | None = None


@dataclass(frozen=True)
class PaymentDetails:
    qr_payment_id: int
    total_amount: Decimal
    available_return_amount: Decimal
    transaction_date: datetime | None
    call: KaspiCall


@dataclass(frozen=True)
class RefundResult:
    return_operation_id: int
    call: KaspiCall


@dataclass(frozen=True)
class CancelResult:
    status: PayStatus
    raw_status: str
    call: KaspiCall


# --- The client ----------------------------------------------------------------------------------


@dataclass
class KaspiClient:
    """One organisation (BIN) and device. `base_url` ends in the scheme prefix (``…/r3``)."""

    base_url: str
    organization_bin: str
    device_token: str
    cert: str | tuple[str, str] | None = None
    verify: str | bool = True
    timeout: float = 15.0
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if not self.base_url or not self.organization_bin or not self.device_token:
            raise KaspiConfigurationError("Kaspi Pay is not configured: KASPI_BASE_URL, BIN and device token needed")
        if urlsplit(self.base_url).scheme == "https" and not self.cert:
            # The enhanced scheme authenticates by client certificate only.
            raise KaspiConfigurationError("Kaspi Pay over https needs a client certificate (KASPI_CERT_PATH)")
        self.session.cert = self.cert
        self.session.verify = self.verify
        # A proxy from the environment must never see a bank call (nor the certificate's TLS).
        self.session.trust_env = False

    @classmethod
    def from_settings(cls) -> KaspiClient:
        cert: str | tuple[str, str] | None = None
        if settings.KASPI_CERT_PATH:
            cert = (
                (settings.KASPI_CERT_PATH, settings.KASPI_KEY_PATH)
                if settings.KASPI_KEY_PATH
                else settings.KASPI_CERT_PATH
            )
        return cls(
            base_url=settings.KASPI_BASE_URL,
            organization_bin=settings.KASPI_ORGANIZATION_BIN,
            device_token=settings.KASPI_DEVICE_TOKEN,
            cert=cert,
            verify=settings.KASPI_CA_PATH or True,
            timeout=settings.KASPI_TIMEOUT,
        )

    # -- calls --

    def create_remote_payment(self, *, phone: str, amount: Decimal, comment: str = "") -> RemoteInvoice:
        """POST remote/create: an invoice in the customer's Kaspi app. NOT idempotent on
        Kaspi's side: on KaspiTimeoutError the invoice may exist; never call again blindly."""
        body: dict[str, Any] = {
            "OrganizationBin": self.organization_bin,
            "Amount": money(amount),
            "PhoneNumber": kaspi_phone(phone),
            "DeviceToken": self._device_token(),
        }
        if comment:
            body["Comment"] = comment[:255]
        call = self._request("POST", "v01/remote/create", json_body=body)
        return RemoteInvoice(qr_payment_id=int(_data(call)["QrPaymentId"]), call=call)

    def payment_status(self, qr_payment_id: int) -> PaymentStatusResult:
        """GET payment/status/{id}."""
        call = self._request("GET", f"v01/payment/status/{int(qr_payment_id)}")
        data = _data(call)
        raw = str(data.get("Status") or "")
        amount = data.get("Amount")
        return PaymentStatusResult(
            status=_pay_status(raw),
            raw_status=raw,
            call=call,
            amount=Decimal(str(amount)) if amount is not None else None,
        )

    def payment_details(self, qr_payment_id: int) -> PaymentDetails:
        """GET payment/details: the total and what is still refundable."""
        call = self._request(
            "GET",
            "v01/payment/details",
            params={"QrPaymentId": str(int(qr_payment_id)), "DeviceToken": self.device_token},
        )
        data = _data(call)
        return PaymentDetails(
            qr_payment_id=int(data.get("QrPaymentId") or qr_payment_id),
            total_amount=Decimal(str(data["TotalAmount"])).quantize(TWO_PLACES),
            available_return_amount=Decimal(str(data["AvailableReturnAmount"])).quantize(TWO_PLACES),
            transaction_date=parse_kaspi_datetime(data.get("TransactionDate")),
            call=call,
        )

    def refund(self, *, qr_payment_id: int, amount: Decimal) -> RefundResult:
        """POST payment/return: a full or partial refund, at once to the customer. No
        idempotency: on KaspiTimeoutError re-read payment_details before anything else."""
        body = {
            "DeviceToken": self._device_token(),
            "OrganizationBin": self.organization_bin,
            "QrPaymentId": int(qr_payment_id),
            "Amount": money(amount),
        }
        call = self._request("POST", "v01/payment/return", json_body=body)
        return RefundResult(return_operation_id=int(_data(call)["ReturnOperationId"]), call=call)

    def cancel_remote_payment(self, qr_payment_id: int) -> CancelResult:
        """POST remote/cancel: withdraws an unpaid invoice from the customer's app."""
        body = {
            "OrganizationBin": self.organization_bin,
            "QrPaymentId": int(qr_payment_id),
            "DeviceToken": self._device_token(),
        }
        call = self._request("POST", "v01/remote/cancel", json_body=body)
        raw = str(_data(call).get("Status") or "")
        return CancelResult(status=_pay_status(raw), raw_status=raw, call=call)

    def client_info(self, *, phone: str) -> str:
        """GET remote/client-info: the Kaspi client's name for a number (50 calls/min/device)."""
        call = self._request(
            "GET",
            "v01/remote/client-info",
            params={"phoneNumber": kaspi_phone(phone), "deviceToken": self.device_token},
        )
        return str(_data(call).get("ClientName") or "")

    # -- transport --

    def _device_token(self) -> int | str:
        # Unknown #3: the document types it Int64 (example 321), device/register returns a GUID.
        return int(self.device_token) if self.device_token.isdigit() else self.device_token

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> KaspiCall:
        request_id = str(uuid.uuid4())
        url = f"{self.base_url}/{endpoint}"
        headers = {"X-Request-ID": request_id, "Accept": "application/json"}
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = _dumps(json_body).encode()
        context = {"endpoint": endpoint, "request_id": request_id}
        try:
            response = self.session.request(
                method, url, data=data, params=params, headers=headers, timeout=(CONNECT_TIMEOUT, self.timeout)
            )
        except requests.exceptions.SSLError as exc:
            raise KaspiConfigurationError(f"TLS with Kaspi failed (certificate or CA): {exc}", **context) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise KaspiRetryableError(f"Kaspi did not accept the connection: {exc}", **context) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise KaspiTimeoutError(f"no answer from Kaspi within {self.timeout:g} s", **context) from exc
        except requests.exceptions.ConnectionError as exc:
            text = str(exc)
            if "aborted" in text or "RemoteDisconnected" in text or "reset" in text.lower():
                # The request went out and the connection died: its outcome is unknown.
                raise KaspiTimeoutError(f"connection to Kaspi dropped mid-call: {exc}", **context) from exc
            raise KaspiRetryableError(f"cannot reach Kaspi: {exc}", **context) from exc
        except requests.exceptions.RequestException as exc:
            raise KaspiTimeoutError(f"Kaspi call failed mid-way: {exc}", **context) from exc
        return _interpret(response, endpoint=endpoint, request_id=request_id)


def _interpret(response: requests.Response, *, endpoint: str, request_id: str) -> KaspiCall:
    """StatusCode first, the HTTP status second (Kaspi puts business errors in the envelope)."""
    http = response.status_code
    context = {"endpoint": endpoint, "request_id": request_id, "http_status": http}
    try:
        body = json.loads(response.text, parse_float=Decimal) if response.text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and "StatusCode" in body:
        try:
            code = int(body["StatusCode"])
        except (TypeError, ValueError):
            raise KaspiPermanentError(
                f"Kaspi answered a StatusCode that is not a number: {body['StatusCode']!r}", **context
            ) from None
        if code != 0:
            message = str(body.get("Message") or "")[:_DETAIL_MAX_CHARS]
            error = error_for_code(code)
            log.info("kaspi.error", endpoint=endpoint, status_code=code, http_status=http, request_id=request_id)
            raise error(f"Kaspi {endpoint}: StatusCode {code} {message}".strip(), status_code=code, **context)
        if 200 <= http < 300:
            return KaspiCall(endpoint=endpoint, request_id=request_id, http_status=http, body=body)
    snippet = (response.text or "")[:_DETAIL_MAX_CHARS]
    if http in (401, 403):
        raise KaspiConfigurationError(f"Kaspi refused our credentials (HTTP {http}): {snippet}", **context)
    if http == 429 or http >= 500:
        if endpoint.endswith(("remote/create", "payment/return")):
            # A gateway error without Kaspi's envelope says nothing about whether it was done.
            raise KaspiTimeoutError(f"Kaspi HTTP {http} without an answer: {snippet}", **context)
        raise KaspiRetryableError(f"Kaspi HTTP {http}: {snippet}", **context)
    raise KaspiPermanentError(f"Kaspi answered HTTP {http} without a usable envelope: {snippet}", **context)


def _data(call: KaspiCall) -> dict[str, Any]:
    data = call.body.get("Data")
    if not isinstance(data, dict):
        raise KaspiPermanentError(f"Kaspi {call.endpoint}: the answer has no Data", endpoint=call.endpoint)
    return data


def _pay_status(raw: str) -> PayStatus:
    try:
        return PayStatus(raw)
    except ValueError:
        log.warning("kaspi.unknown_status", status=raw[:60])
        return PayStatus.UNKNOWN


def _dumps(body: dict[str, Any]) -> str:
    """JSON with Decimals written as numbers with their own digits (``200.00``, not ``200.0``):
    each Decimal goes in as a unique marker string, which is then replaced by the bare number."""
    markers: dict[str, str] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            marker = f"__decimal_{len(markers)}_{uuid.uuid4().hex}__"
            markers[f'"{marker}"'] = format(value, "f")
            return marker
        return value

    text = json.dumps({key: encode(value) for key, value in body.items()}, ensure_ascii=False)
    for marker, number in markers.items():
        text = text.replace(marker, number)
    return text
