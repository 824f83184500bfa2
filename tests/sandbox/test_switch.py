"""The sandbox is a development tool: installed, mounted and given tables only when switched on.

Each test starts `manage.py` in a child process with a fresh SQLite database, as a newly
configured server would, because INSTALLED_APPS and the URLconf are read once per process.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

from tests.processes import manage_clean

# Prints what a visitor and the database see, as JSON, from inside the configured product.
REPORT = """
import json
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test import Client

visitor = Client()
paths = [
    "/sandbox/",
    "/sandbox/chat/conversation",
    "/sandbox/wappi/api/sync/get/status?profile_id=sandbox-0001",
    "/sandbox/kaspi/r3/v01/payment/status/1",
]
print(json.dumps({
    "enabled": settings.SANDBOX_ENABLED,
    "wappi_sandbox": settings.WAPPI_SANDBOX,
    "kaspi_sandbox": settings.KASPI_SANDBOX,
    "installed": apps.is_installed("sandbox"),
    "statuses": {path: visitor.get(path, headers={"X-Request-ID": "x"}).status_code for path in paths},
    "payments_models": sorted(model.__name__ for model in apps.get_app_config("payments").get_models()),
    "sandbox_tables": sorted(t for t in connection.introspection.table_names() if "sandbox" in t),
}))
"""


def manage(*args: str, db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """manage.py on its own SQLite file, with only the given variables (no .env, nothing of this run)."""
    variables = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{db}",
        "VAR_DIR": str(db.parent),
        "CACHE_URL": "locmemcache://",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    result = manage_clean(*args, **variables)
    assert result.returncode == 0, result.stderr
    return result


def report(*, db: Path, **env: str) -> dict:
    result = manage("shell", "-c", REPORT, db=db, **env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_with_the_sandbox_off_a_fresh_database_has_no_sandbox_table_and_its_urls_do_not_exist(tmp_path):
    # Given a server with the sandbox switched off
    db = tmp_path / "db.sqlite3"

    # When it migrates a fresh database
    manage("migrate", "--noinput", db=db, SANDBOX_ENABLED="false")

    # Then the sandbox app is not there, nor its tables, nor its pages and emulated APIs
    seen = report(db=db, SANDBOX_ENABLED="false")
    assert seen["enabled"] is False
    assert seen["installed"] is False
    assert seen["sandbox_tables"] == []
    assert set(seen["statuses"].values()) == {404}
    # and the payments app keeps no emulator's invoices
    assert "SandboxInvoice" not in seen["payments_models"]


def test_a_server_without_debug_runs_without_the_sandbox_unless_told(tmp_path):
    # Given a production-like server with no Wappi token and no Kaspi contract yet
    db = tmp_path / "db.sqlite3"

    seen = report(db=db)

    # Then nothing of the sandbox is installed: it does not pretend to be WhatsApp or the bank
    assert (seen["enabled"], seen["installed"], seen["wappi_sandbox"], seen["kaspi_sandbox"]) == (
        False,
        False,
        False,
        False,
    )
    assert set(seen["statuses"].values()) == {404}


def test_a_local_debug_run_has_the_sandbox_as_make_run_always_had(tmp_path):
    # Given `make run`: DEBUG on, no Wappi token, no Kaspi contract
    db = tmp_path / "db.sqlite3"
    manage("migrate", "--noinput", db=db, DEBUG="true")

    seen = report(db=db, DEBUG="true")

    # Then both emulators answer on our own web server, with their tables
    assert (seen["enabled"], seen["installed"], seen["wappi_sandbox"], seen["kaspi_sandbox"]) == (
        True,
        True,
        True,
        True,
    )
    assert seen["statuses"]["/sandbox/"] == 200
    assert seen["statuses"]["/sandbox/wappi/api/sync/get/status?profile_id=sandbox-0001"] == 401  # no token sent
    assert "sandbox_sandboxinvoice" in seen["sandbox_tables"]
    assert "payments_sandboxinvoice" not in seen["sandbox_tables"]


def test_the_sandbox_moving_out_of_payments_keeps_the_invoices_of_a_local_database(tmp_path):
    # Given a local database from before the move, with an emulator invoice in the payments schema
    db = tmp_path / "db.sqlite3"
    manage("migrate", "--noinput", db=db, DEBUG="true")
    manage("migrate", "--noinput", "sandbox", "0001", db=db, DEBUG="true")
    manage("migrate", "--noinput", "payments", "0003", db=db, DEBUG="true")
    with sqlite3.connect(db) as connection:
        connection.execute(
            "INSERT INTO payments_sandboxinvoice (id, amount, phone, comment, status, available,"
            " partial_refunds_allowed, created_at) VALUES (7, '2500.00', '77015554433', 'Кулер', 'Processed',"
            " '2500.00', 1, '2027-01-15 10:00:00')"
        )

    # When it migrates to the current code
    manage("migrate", "--noinput", db=db, DEBUG="true")

    # Then the invoice is the sandbox's now, with its id (payments refer to it by QrPaymentId)
    with sqlite3.connect(db) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = connection.execute("SELECT id, amount, status FROM sandbox_sandboxinvoice").fetchall()
    assert "payments_sandboxinvoice" not in tables
    [(invoice_id, amount, status)] = rows
    assert (invoice_id, Decimal(str(amount)), status) == (7, Decimal("2500"), "Processed")


def test_make_runs_bootstrap_points_the_emulators_webhook_at_this_server(tmp_path):
    # Given `make run`'s first start: a migrated local database
    db = tmp_path / "db.sqlite3"
    manage("migrate", "--noinput", db=db, DEBUG="true")

    # When the local bootstrap runs before the web server starts
    result = manage("bootstrap_local", "--port", "8123", db=db, DEBUG="true")

    # Then it shows the chat page, and the emulator will post customer messages to our webhook
    assert "http://127.0.0.1:8123/sandbox/" in result.stdout
    with sqlite3.connect(db) as connection:
        [(url, types)] = connection.execute("SELECT webhook_url, webhook_types FROM sandbox_sandboxprofile").fetchall()
    assert url == "http://127.0.0.1:8123/webhooks/wappi/?secret=sandbox-webhook-secret"
    assert "incoming_message" in json.loads(types)


def test_without_the_sandbox_the_local_bootstrap_offers_no_chat_page(tmp_path):
    db = tmp_path / "db.sqlite3"
    manage("migrate", "--noinput", db=db, DEBUG="true", SANDBOX_ENABLED="false")

    result = manage("bootstrap_local", "--port", "8123", db=db, DEBUG="true", SANDBOX_ENABLED="false")

    assert "/sandbox/" not in result.stdout
    assert "Admin   http://127.0.0.1:8123/admin/" in result.stdout


# --- Outside DEBUG a sandbox runs only when asked for by name -----------------------------------

# A fresh server's view of Wappi and of its own /health, as a stranger asks.
HEALTH_REPORT = """
import json
from django.conf import settings
from django.test import Client
body = Client().get("/health", REMOTE_ADDR="203.0.113.9").json()
print(json.dumps({
    "wappi_sandbox": settings.WAPPI_SANDBOX,
    "kaspi_sandbox": settings.KASPI_SANDBOX,
    "sandbox_page": Client().get("/sandbox/").status_code,
    "health_sandbox": body.get("sandbox"),
    "wappi_connection": body.get("wappi_connection"),
}))
"""


def health(*, db: Path, **env: str) -> tuple[dict, str]:
    result = manage("shell", "-c", HEALTH_REPORT, db=db, LOG_LEVEL="WARNING", **env)
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout + result.stderr


def test_a_server_without_debug_that_switched_the_sandbox_app_on_does_not_talk_to_the_emulators(tmp_path):
    # Given a demo server without DEBUG and without a Wappi token that set only SANDBOX_ENABLED
    db = tmp_path / "db.sqlite3"
    manage("migrate", "--noinput", db=db, SANDBOX_ENABLED="true")

    seen, _output = health(db=db, SANDBOX_ENABLED="true")

    # Then neither emulator stands in for WhatsApp or the bank: Wappi is "not configured", and
    # the chat page that plays a customer through the emulator is not there
    assert (seen["wappi_sandbox"], seen["kaspi_sandbox"]) == (False, False)
    assert seen["sandbox_page"] == 404
    assert seen["wappi_connection"] == "not_configured"
    assert seen["health_sandbox"] == {"wappi": False, "kaspi": False}


def test_a_server_without_debug_and_without_a_token_has_wappi_not_configured_and_no_sandbox_page(tmp_path):
    db = tmp_path / "db.sqlite3"
    manage("migrate", "--noinput", db=db)

    seen, output = health(db=db)

    assert seen["wappi_sandbox"] is False
    assert seen["sandbox_page"] == 404
    assert seen["wappi_connection"] == "not_configured"
    assert "sandbox.on_without_debug" not in output


def test_each_emulator_asked_for_by_name_runs_and_says_so_at_start(tmp_path):
    db = tmp_path / "db.sqlite3"
    asked = {"SANDBOX_ENABLED": "true", "WAPPI_SANDBOX": "true"}
    manage("migrate", "--noinput", db=db, **asked)

    seen, output = health(db=db, **asked)

    assert (seen["wappi_sandbox"], seen["kaspi_sandbox"]) == (True, False)
    assert seen["health_sandbox"] == {"wappi": True, "kaspi": False}
    assert seen["wappi_connection"] != "not_configured"
    warnings = [line for line in output.splitlines() if "sandbox.on_without_debug" in line]
    assert len(warnings) == 1, output
    assert "wappi" in warnings[0]

    kaspi, output = health(db=db, SANDBOX_ENABLED="true", KASPI_SANDBOX="true")
    assert (kaspi["wappi_sandbox"], kaspi["kaspi_sandbox"]) == (False, True)
    assert kaspi["health_sandbox"] == {"wappi": False, "kaspi": True}
    assert "sandbox.on_without_debug" in output
