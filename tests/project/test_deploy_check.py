"""`manage.py deploy_check` (`make deploy-check`): what an operator runs on the server. Each wrong
part is one plain line and the command fails; nothing is ever sent (Wappi: a status read; Gemini:
a model's description)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.fakes import wappi
from tests.project.test_preflight import forget_newest_migration

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings, fake_wappi, fake_gemini, collected_static, manifest_static, monkeypatch):
    """A server configured right: DEBUG off, real (fake) Wappi and Gemini, static files collected."""
    # The browser tests' conftest lets the ORM run beside Playwright's event loop for the whole
    # session; a real server has no such variable (Django's check --deploy names it as a problem).
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    settings.STATIC_ROOT = collected_static
    settings.SANDBOX_ENABLED = False
    settings.WAPPI_SANDBOX = False
    settings.WAPPI_BASE_URL = fake_wappi.server.url_for("/").rstrip("/")
    settings.WAPPI_TOKEN = wappi.TOKEN
    settings.WAPPI_PROFILE_ID = wappi.PROFILE
    settings.WAPPI_WEBHOOK_SECRET = "a-webhook-secret"
    settings.SECURE_SSL_REDIRECT = True
    return settings


def deploy_check() -> tuple[list[str], bool]:
    """The lines it printed and whether it failed; the running processes are left out
    (--before-start): no beat or worker runs here."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("deploy_check", "--before-start", stdout=out)
    except CommandError:
        failed = True
    else:
        failed = False
    return out.getvalue().splitlines(), failed


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("PROBLEM")]


def test_a_server_configured_right_passes_and_nothing_is_sent(server, fake_wappi, fake_gemini):
    lines, failed = deploy_check()

    assert not failed, "\n".join(lines)
    assert problems(lines) == []
    assert "ok       wappi: token accepted, the WhatsApp number is connected" in lines
    assert any(line.startswith("ok       gemini: key accepted") for line in lines)
    assert any(line.startswith("ok       static: collected in") for line in lines)
    assert any(line.startswith("ok       database:") for line in lines)
    assert [path for _method, path, _query in fake_wappi.calls] == ["/api/sync/get/status"]
    assert fake_gemini.generate_requests() == []


def test_a_wrong_wappi_token_is_named(server, fake_wappi):
    server.WAPPI_TOKEN = "not-the-token"

    lines, failed = deploy_check()

    assert failed
    [problem] = problems(lines)
    assert problem.startswith("PROBLEM  wappi: Wappi refused the token or profile (")
    assert "HTTP 401" in problem
    assert problem.endswith("check WAPPI_TOKEN and WAPPI_PROFILE_ID")
    assert "not-the-token" not in "\n".join(lines)


def test_a_wrong_gemini_key_is_named(server, fake_gemini):
    from ai import sdk

    server.GEMINI_API_KEY = "AIza-not-the-key"
    sdk.reset_client()

    lines, failed = deploy_check()

    assert failed
    [problem] = problems(lines)
    assert problem.startswith("PROBLEM  gemini: Gemini refused the key (400 INVALID_ARGUMENT")
    assert problem.endswith("check GEMINI_API_KEY")
    assert "AIza-not-the-key" not in "\n".join(lines)
    assert fake_gemini.generate_requests() == []


def test_missing_collectstatic_is_named(server, manifest_static):
    server.STATIC_ROOT = manifest_static  # empty: collectstatic never ran

    lines, failed = deploy_check()

    assert failed
    [problem] = problems(lines)
    assert problem.startswith(f"PROBLEM  static: static files are not collected in {manifest_static}")
    assert problem.endswith("run: python manage.py collectstatic --noinput")


def test_a_missing_migration_is_named(server):
    name = forget_newest_migration("payments")

    lines, failed = deploy_check()

    assert failed
    [problem] = problems(lines)
    assert problem == (
        f"PROBLEM  database: the database is not migrated: 1 migration(s) not applied (first: payments.{name}); "
        "run: python manage.py migrate"
    )


def test_missing_credentials_and_debug_on_are_problems(server):
    server.DEBUG = True
    server.WAPPI_TOKEN = ""
    server.GEMINI_API_KEY = ""

    lines, failed = deploy_check()

    assert failed
    found = problems(lines)
    assert any("DEBUG is on" in line for line in found)
    assert any("WAPPI_TOKEN not set" in line for line in found)
    assert any("GEMINI_API_KEY not set" in line for line in found)


def test_with_the_processes_a_missing_beat_and_workers_are_named(server):
    from io import StringIO

    out = StringIO()
    with pytest.raises(CommandError, match=r"problem\(s\) found"):
        call_command("deploy_check", stdout=out)

    lines = out.getvalue().splitlines()
    assert "PROBLEM  beat: no beat has ever sent the heartbeat: start exactly one beat" in lines
    assert any(line.startswith("PROBLEM  worker: no model worker (worker-llm") for line in lines)
