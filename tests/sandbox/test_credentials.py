from __future__ import annotations

import secrets

from tests.processes import ROOT, clean_env

PRINT = "from django.conf import settings; print(settings.WAPPI_SANDBOX_TOKEN, settings.WAPPI_WEBHOOK_SECRET)"


def credentials(**env: str) -> tuple[str, str]:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PRINT],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token, secret = result.stdout.strip().splitlines()[-1].split()
    return token, secret


def test_a_server_without_debug_gets_sandbox_credentials_nobody_can_guess():
    key_a, key_b = secrets.token_urlsafe(50), secrets.token_urlsafe(50)
    server_a = credentials(DEBUG="false", SECRET_KEY=key_a, ALLOWED_HOSTS="a.example")
    server_b = credentials(DEBUG="false", SECRET_KEY=key_b, ALLOWED_HOSTS="b.example")
    assert server_a != server_b
    assert "sandbox-token" not in server_a
    assert "sandbox-webhook-secret" not in server_a
    assert server_a == credentials(DEBUG="false", SECRET_KEY=key_a, ALLOWED_HOSTS="a.example")  # stable


def test_a_local_debug_run_uses_the_published_sandbox_credentials():
    assert credentials(DEBUG="true") == ("sandbox-token", "sandbox-webhook-secret")
