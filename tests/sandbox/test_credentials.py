from __future__ import annotations

import secrets

from tests.processes import manage_clean

PRINT = "from django.conf import settings; print(settings.WAPPI_SANDBOX_TOKEN, settings.WAPPI_WEBHOOK_SECRET)"


def credentials(**env: str) -> tuple[str, str]:
    result = manage_clean("shell", "-c", PRINT, **env)
    assert result.returncode == 0, result.stderr
    token, secret = result.stdout.strip().splitlines()[-1].split()
    return token, secret


def test_a_server_without_debug_running_the_sandbox_gets_credentials_nobody_can_guess():
    # Given two demo servers that switched the sandbox on
    key_a, key_b = secrets.token_urlsafe(50), secrets.token_urlsafe(50)
    demo = {"DEBUG": "false", "SANDBOX_ENABLED": "true", "WAPPI_SANDBOX": "true"}
    server_a = credentials(**demo, SECRET_KEY=key_a, ALLOWED_HOSTS="a.example")
    server_b = credentials(**demo, SECRET_KEY=key_b, ALLOWED_HOSTS="b.example")
    assert server_a != server_b
    assert "sandbox-token" not in server_a
    assert "sandbox-webhook-secret" not in server_a
    assert server_a == credentials(**demo, SECRET_KEY=key_a, ALLOWED_HOSTS="a.example")  # stable


def test_a_local_debug_run_uses_the_published_sandbox_credentials():
    assert credentials(DEBUG="true") == ("sandbox-token", "sandbox-webhook-secret")
