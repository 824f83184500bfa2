"""The Kaspi Pay client against the fake over real HTTP: wire format and error mapping."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from payments.kaspi import (
    KaspiCannotInvoiceError,
    KaspiClient,
    KaspiConfigurationError,
    KaspiNotFoundError,
    KaspiNotRefundableError,
    KaspiPartialRefundNotAllowedError,
    KaspiPermanentError,
    KaspiRefundOverAvailableError,
    KaspiRetryableError,
    KaspiTimeoutError,
    PayStatus,
    money,
)


@pytest.fixture
def kaspi(fake_kaspi):
    return KaspiClient.from_settings()


def test_a_remote_invoice_is_created_with_the_wire_format_of_the_reference(kaspi, fake_kaspi):
    invoice = kaspi.create_remote_payment(phone="77011234567", amount=Decimal("25000"), comment="Кулер Aqua")

    request = fake_kaspi.last("remote/create")
    assert request.method == "POST"
    assert '"Amount": 25000.00' in request.body_text  # tenge, a JSON number with two decimals
    assert request.json["PhoneNumber"] == "87011234567"
    assert request.json["OrganizationBin"] == "180340021791"
    assert request.json["Comment"] == "Кулер Aqua"
    assert request.headers["Content-Type"] == "application/json"
    assert fake_kaspi.invoices[invoice.qr_payment_id].amount == Decimal("25000.00")


def test_every_call_carries_its_own_request_id(kaspi, fake_kaspi):
    invoice = kaspi.create_remote_payment(phone="77011234567", amount=Decimal("100"))
    kaspi.payment_status(invoice.qr_payment_id)
    kaspi.payment_status(invoice.qr_payment_id)

    ids = [r.headers["X-Request-Id"] for r in fake_kaspi.requests]
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert invoice.call.request_id == ids[0]


def test_status_goes_from_created_to_wait_to_processed(kaspi, fake_kaspi):
    invoice = kaspi.create_remote_payment(phone="77011234567", amount=Decimal("100"))
    assert kaspi.payment_status(invoice.qr_payment_id).status is PayStatus.CREATED

    fake_kaspi.open(invoice.qr_payment_id)
    assert kaspi.payment_status(invoice.qr_payment_id).status is PayStatus.WAIT

    fake_kaspi.pay(invoice.qr_payment_id)
    assert kaspi.payment_status(invoice.qr_payment_id).status is PayStatus.PROCESSED


def test_details_give_the_total_and_the_available_return_amount_as_decimal_tenge(kaspi, fake_kaspi):
    invoice = kaspi.create_remote_payment(phone="77011234567", amount=Decimal("1500.50"))
    fake_kaspi.pay(invoice.qr_payment_id)

    details = kaspi.payment_details(invoice.qr_payment_id)

    assert details.total_amount == Decimal("1500.50")
    assert details.available_return_amount == Decimal("1500.50")
    assert isinstance(details.total_amount, Decimal)
    assert details.transaction_date.day == 3  # Kaspi's unpadded day, parsed leniently
    assert fake_kaspi.last("payment/details").query["DeviceToken"] == fake_kaspi_device_token()


def fake_kaspi_device_token():
    from tests.fakes.kaspi import DEVICE_TOKEN

    return DEVICE_TOKEN


def test_partial_then_full_refund(kaspi, fake_kaspi):
    invoice = kaspi.create_remote_payment(phone="77011234567", amount=Decimal("100"))
    fake_kaspi.pay(invoice.qr_payment_id)

    first = kaspi.refund(qr_payment_id=invoice.qr_payment_id, amount=Decimal("30"))
    assert kaspi.payment_details(invoice.qr_payment_id).available_return_amount == Decimal("70.00")
    second = kaspi.refund(qr_payment_id=invoice.qr_payment_id, amount=Decimal("70"))

    assert first.return_operation_id != second.return_operation_id
    assert kaspi.payment_details(invoice.qr_payment_id).available_return_amount == Decimal("0.00")
    assert fake_kaspi.invoices[invoice.qr_payment_id].refunds == [Decimal("30.00"), Decimal("70.00")]


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        (-999, KaspiRetryableError, True),
        (-99000006, KaspiRetryableError, True),
        (-10000, KaspiConfigurationError, False),
        (-1501, KaspiConfigurationError, False),
        (-99000002, KaspiConfigurationError, False),
        (-99000003, KaspiConfigurationError, False),
        (990000018, KaspiConfigurationError, False),
        (-1601, KaspiNotFoundError, False),
        (-99000005, KaspiRefundOverAvailableError, False),
        (-99000020, KaspiPartialRefundNotAllowedError, False),
        (-99000011, KaspiNotRefundableError, False),
        (-1401, KaspiCannotInvoiceError, False),
        (-123456, KaspiPermanentError, False),
    ],
)
def test_status_codes_map_to_typed_errors(kaspi, fake_kaspi, code, error, retryable):
    fake_kaspi.fail_next("payment/return", code)

    with pytest.raises(error) as caught:
        kaspi.refund(qr_payment_id=1, amount=Decimal("10"))

    assert caught.value.status_code == code
    assert caught.value.retryable is retryable
    assert caught.value.request_id == fake_kaspi.last("payment/return").headers["X-Request-Id"]


def test_status_code_is_read_before_the_http_status(kaspi, fake_kaspi):
    # An error envelope on HTTP 200 is an error; "temporarily unavailable" on HTTP 503 is -999.
    fake_kaspi.fail_next("payment/status", -1601, http_status=200)
    with pytest.raises(KaspiNotFoundError):
        kaspi.payment_status(42)

    fake_kaspi.fail_next("payment/status", -999, http_status=503)
    with pytest.raises(KaspiRetryableError) as caught:
        kaspi.payment_status(42)
    assert (caught.value.status_code, caught.value.http_status) == (-999, 503)


def test_a_gateway_page_is_retryable_for_a_read_and_an_unknown_outcome_for_a_create(kaspi, fake_kaspi):
    fake_kaspi.gateway_error_next("payment/status")
    with pytest.raises(KaspiRetryableError) as caught:
        kaspi.payment_status(42)
    assert not isinstance(caught.value, KaspiTimeoutError)

    fake_kaspi.gateway_error_next("remote/create")
    with pytest.raises(KaspiTimeoutError):
        kaspi.create_remote_payment(phone="77011234567", amount=Decimal("100"))


def test_a_create_without_an_answer_in_time_is_a_timeout(kaspi, fake_kaspi):
    fake_kaspi.hang_next("remote/create")

    with pytest.raises(KaspiTimeoutError) as caught:
        kaspi.create_remote_payment(phone="77011234567", amount=Decimal("100"))

    assert caught.value.retryable  # for reads; services never repeat a create
    assert len(fake_kaspi.invoices) == 1  # ...and Kaspi did create it


def test_nothing_listening_is_retryable(fake_kaspi, settings):
    settings.KASPI_BASE_URL = "http://127.0.0.1:9/r3"
    with pytest.raises(KaspiRetryableError) as caught:
        KaspiClient.from_settings().payment_status(1)
    assert not isinstance(caught.value, KaspiTimeoutError)


def test_https_without_a_client_certificate_is_a_configuration_error(settings):
    settings.KASPI_BASE_URL = "https://mtokentest.kaspi.kz:8545/r3"
    settings.KASPI_ORGANIZATION_BIN = "180340021791"
    settings.KASPI_DEVICE_TOKEN = "321"
    settings.KASPI_CERT_PATH = ""
    with pytest.raises(KaspiConfigurationError):
        KaspiClient.from_settings()


def test_certificate_key_and_ca_come_from_settings(settings):
    settings.KASPI_BASE_URL = "https://mtokentest.kaspi.kz:8545/r3"
    settings.KASPI_ORGANIZATION_BIN = "180340021791"
    settings.KASPI_DEVICE_TOKEN = "321"
    settings.KASPI_CERT_PATH = "/etc/kaspi/client.crt"
    settings.KASPI_KEY_PATH = "/etc/kaspi/client.key"
    settings.KASPI_CA_PATH = "/etc/kaspi/kbs_ca_bundle.crt"

    client = KaspiClient.from_settings()

    assert client.session.cert == ("/etc/kaspi/client.crt", "/etc/kaspi/client.key")
    assert client.session.verify == "/etc/kaspi/kbs_ca_bundle.crt"
    assert client._device_token() == 321  # an Int64 token is sent as a number


def test_an_unconfigured_client_is_a_configuration_error(settings):
    settings.KASPI_BASE_URL = ""
    with pytest.raises(KaspiConfigurationError):
        KaspiClient.from_settings()


@pytest.mark.parametrize("bad", ["0", "-5", "10.001", "abc", "100000000"])
def test_money_refuses_amounts_kaspi_cannot_take(bad):
    with pytest.raises(ValueError, match=r"tenge|positive|decimals|more than"):
        money(bad)


def test_money_is_two_decimal_tenge():
    assert str(money(25000)) == "25000.00"
    assert str(money("1500.5")) == "1500.50"
    assert json.loads('{"a": 1.10}', parse_float=Decimal)["a"] == money("1.1")
