"""`manage.py wappi_register_webhook`: registers our webhook URL with Wappi, the secret either in
the URL's query (default) or, with --header, in Wappi's `auth` parameter (sent back in the
webhook's Authorization header), so the URL carries no secret at all."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.fakes import wappi as fake_wappi_module
from tests.fixtures import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_wappi(settings, fake_wappi):
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = fake_wappi_module.TOKEN
    settings.WAPPI_PROFILE_ID = fake_wappi_module.PROFILE
    settings.WAPPI_WEBHOOK_SECRET = WEBHOOK_SECRET
    return fake_wappi


def registered(fake_wappi) -> dict[str, str]:
    [query] = [query for _method, path, query in fake_wappi.calls if path == "/api/webhook/url/set"]
    return {k: v for k, v in query.items() if k != "profile_id"}


def test_by_default_the_secret_travels_in_the_urls_query(live_wappi):
    out = io.StringIO()
    call_command("wappi_register_webhook", "https://sales.example.kz/", stdout=out)

    assert registered(live_wappi) == {"url": f"https://sales.example.kz/webhooks/wappi/?secret={WEBHOOK_SECRET}"}
    assert WEBHOOK_SECRET not in out.getvalue()


def test_with_header_the_url_carries_no_secret_and_wappi_sends_it_in_the_header(live_wappi):
    out = io.StringIO()
    call_command("wappi_register_webhook", "https://sales.example.kz", "--header", stdout=out)

    assert registered(live_wappi) == {"url": "https://sales.example.kz/webhooks/wappi/", "auth": WEBHOOK_SECRET}
    assert WEBHOOK_SECRET not in out.getvalue()
    assert "Authorization" in out.getvalue()
