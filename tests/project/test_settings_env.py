"""The environment is read strictly: the forms an operator writes are understood, anything else
stops the start with one line that names the variable and shows an example."""

from __future__ import annotations

import ast
import json
import secrets
import subprocess
import sys

import pytest

from tests.processes import ROOT, clean_env, manage_clean
from tests.settings import TEST_DATABASE_URL, TEST_REDIS_URL


def server_env(**extra: str) -> dict[str, str]:
    """What a production server sets (and nothing else), plus `extra`."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "sales.example.kz",
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": f"{TEST_REDIS_URL}/14",
        **extra,
    }


def send_days_of(value: str) -> str:
    result = manage_clean(
        "shell",
        "-c",
        "from messaging.window import SendWindow; print(sorted(SendWindow.from_settings().days))",
        **server_env(FOLLOW_UP_SEND_DAYS=value),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]  # after the shell's own "objects imported" line


def test_follow_ups_may_go_out_on_all_seven_days_when_the_send_days_say_mon_to_sun():
    # Read as "mon" (the first three letters) the whole week's follow-ups waited for Monday.
    assert send_days_of("mon-sun") == "[0, 1, 2, 3, 4, 5, 6]"


def test_a_wrong_day_list_stops_the_start_with_one_line_naming_the_variable_and_an_example():
    result = manage_clean("check", **server_env(FOLLOW_UP_SEND_DAYS="mon-sux"))

    assert result.returncode != 0
    line = "FOLLOW_UP_SEND_DAYS: 'mon-sux' is not a day list; write e.g. mon-fri or пн,ср,пт"
    # The traceback's last line: the exception (an ImproperlyConfigured) and that one line.
    assert result.stderr.strip().splitlines()[-1].endswith(f"InvalidSetting: {line}")


# --- Every variable settings.py reads, fed a wrong value ---------------------------------------

# variable -> (a wrong value, what else the server sets so that the variable is read at all)
WRONG: dict[str, tuple[str, dict[str, str]]] = {
    "ENV_FILE": ("/nonexistent/app.env", {}),
    "VAR_DIR": (str(ROOT / "manage.py"), {}),  # a file, not a folder
    "DEBUG": ("maybe", {}),
    "SECRET_KEY": ("short-key", {}),
    "ALLOWED_HOSTS": ("https://sales.example.kz/", {}),
    "CSRF_TRUSTED_ORIGINS": ("sales.example.kz", {}),
    "SANDBOX_ENABLED": ("sometimes", {}),
    "WAPPI_TOKEN": ("wappi token with spaces", {}),
    "KASPI_BASE_URL": ("mtokentest.kaspi.kz:8545/r3", {}),
    "DATABASE_URL": ("postgress://postgres@127.0.0.1:5432/db", {}),
    "CONN_MAX_AGE": ("a minute", {}),
    "DATABASE_POOL_SIZE": ("twenty", {}),
    "DATA_UPLOAD_MAX_MEMORY_SIZE": ("16MB", {}),
    "CACHE_URL": ("memcache", {}),
    "TIMEZONE": ("Asia/Almati", {}),
    "CALL_SLOT_MINUTES": ("0", {}),
    "CALL_MIN_LEAD_MINUTES": ("-5", {}),
    "MANAGER_CAPACITY": ("0", {}),
    "WORKING_HOURS_START": ("10:30", {}),
    "WORKING_HOURS_END": ("25", {}),
    "STATIC_MANIFEST": ("yes please", {}),
    "STATIC_ROOT": (str(ROOT / "manage.py"), {"STATIC_MANIFEST": "true"}),  # a file, not a folder
    "SECURE_SSL_REDIRECT": ("2", {}),
    "SESSION_COOKIE_SECURE": ("secure", {}),
    "CSRF_COOKIE_SECURE": ("ja", {}),
    "SECURE_HSTS_SECONDS": ("1 year", {}),
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": ("all", {}),
    "SECURE_HSTS_PRELOAD": ("-", {}),
    "USE_X_FORWARDED_PROTO": ("https", {}),
    "SILENCED_SYSTEM_CHECKS": ("W004", {}),
    "LOG_LEVEL": ("verbose", {}),
    "LOG_FORMAT": ("xml", {}),
    "CELERY_BROKER_URL": ("rabbit://broker:5672", {}),
    "CELERY_VISIBILITY_TIMEOUT": ("1h", {}),
    "CELERY_TASK_SOFT_TIME_LIMIT": ("240", {}),  # after the hard limit (180)
    "CELERY_TASK_TIME_LIMIT": ("0", {}),
    "CELERY_WORKER_POOL": ("thread", {}),
    "CELERY_WORKER_CONCURRENCY": ("0", {}),
    "CELERY_LLM_POOL": ("eventlet", {}),
    "CELERY_LLM_CONCURRENCY": ("0", {}),
    "WORKER_LEASE_SECONDS": ("1", {}),
    "HEARTBEAT_INTERVAL": ("0", {}),
    "POLLING_INTERVAL": ("-1", {}),
    "OUTBOX_SWEEP_INTERVAL": ("1m", {}),
    "AI_RETRY_INTERVAL": ("nan", {}),
    "CALL_REMINDER_INTERVAL": ("inf", {}),
    "KNOWLEDGE_REFRESH_INTERVAL": ("60s", {}),
    "WAPPI_STATUS_INTERVAL": ("5 min", {}),
    "FOLLOW_UP_RUN_INTERVAL": ("0", {}),
    "COMPANY_NAME": ("ООО Ромашка\nАлматы", {}),
    "WAPPI_BASE_URL": ("wappi.pro", {}),
    "WAPPI_PROFILE_ID": ("my profile", {}),
    "WAPPI_WEBHOOK_SECRET": ("s3cret&x=1", {}),
    "WAPPI_WEBHOOK_SECRET_PREVIOUS": ("old-secret,s3cret&x=1", {}),
    "WAPPI_SANDBOX": ("auto", {}),
    "WAPPI_SANDBOX_URL": ("127.0.0.1:8000/sandbox/wappi", {}),
    "WEB_PORT": ("eighty", {}),
    "WAPPI_SANDBOX_TOKEN": ("sandbox token", {"SANDBOX_ENABLED": "true", "WAPPI_SANDBOX": "true"}),
    "WAPPI_TIMEOUT": ("25s", {}),
    "WAPPI_MEDIA_TIMEOUT": ("0", {}),
    "WAPPI_MEDIA_HOSTS": ("https://fs.wappi.pro/", {}),
    "BOT_PAUSE_AFTER_OPERATOR": ("12h", {}),
    "SEND_MIN_GAP_SECONDS": ("-1", {}),
    "SEND_GAP_JITTER_SECONDS": ("a bit", {}),
    "SEND_MAX_PER_MINUTE": ("0", {}),
    "SEND_MAX_ATTEMPTS": ("3.5", {}),
    "SEND_NUMBER_GAP_SECONDS": ("-1", {}),
    "SEND_MAX_PER_HOUR": ("0", {}),
    "SEND_MAX_PER_DAY": ("a lot", {}),
    "SEND_NEW_CHATS_PER_DAY": ("-3", {}),
    "SEND_WARMUP_DAYS": ("two weeks", {}),
    "PROACTIVE_MAX_UNANSWERED": ("0", {}),
    "PROACTIVE_UNANSWERED_SHARE": ("85", {}),  # a percentage where a share is meant
    "PROACTIVE_UNANSWERED_MIN_SAMPLE": ("0", {}),
    "NUMBER_UNDELIVERED_BURST": ("0", {}),
    "NUMBER_RESTRICTION_PAUSE_HOURS": ("0", {}),
    "WAPPI_TYPING": ("sometimes", {}),
    "WAPPI_TYPING_MAX_SECONDS": ("-2", {}),
    "OUTBOX_MAX_AGE_HOURS": ("0", {}),
    "GEMINI_API_KEY": ("'AIzaKeyPastedWithQuotes'", {}),
    "GEMINI_BASE_URL": ("generativelanguage.googleapis.com", {}),
    "GEMINI_MODEL": ("gemini 3.8 flash", {}),
    "GEMINI_FAST_MODEL": ("flash lite!", {}),
    "LLM_PRICES": ('{"gemini-3.8-flash": {"input": 0.75, "ouput": 3.75}}', {}),
    "GEMINI_TIMEOUT": ("0", {}),
    "LLM_BACKEND": ("gpt", {}),
    "GEMINI_CACHE_ENABLED": ("enabled", {}),
    "GEMINI_CACHE_TTL_SECONDS": ("60", {}),
    "GEMINI_CACHE_MIN_TOKENS": ("4k", {}),
    "REPLY_DEBOUNCE_SECONDS": ("-4", {}),
    "MAX_CONTEXT_MESSAGES": ("0", {}),
    "LLM_MAX_MESSAGE_CHARS": ("2k", {}),
    "REPLY_LANGUAGES": ("ru,en", {}),
    "IMAGE_MAX_BYTES": ("5MB", {}),
    "IMAGE_MAX_PER_REPLY": ("-1", {}),
    "LLM_CONTACT_DAILY_TOKENS": ("-1", {}),
    "LLM_DAILY_BUDGET_USD": ("$20", {}),
    "RETENTION_MESSAGES_DAYS": ("-1", {}),
    "RETENTION_TRANSCRIPTS_DAYS": ("a week", {}),
    "RETENTION_MODEL_CALLS_DAYS": ("-30", {}),
    "MANAGER_PHONES": ("+7 701 234 56 78,+7 701 abc", {}),
    "HANDOFF_ANSWER_MINUTES": ("0", {}),
    "HANDOFF_ESCALATION_PHONES": ("+7 701 abc", {}),
    "HANDOFF_CHECK_INTERVAL": ("a minute", {}),
    "PUBLIC_BASE_URL": ("crm.example.kz", {}),
    "KNOWLEDGE_BASE_PATH": ("./knowledge_bas/", {}),
    "KNOWLEDGE_PROMPT_MAX_CHARS": ("120k", {}),
    "KNOWLEDGE_TOP_CHUNKS": ("0", {}),
    "KNOWLEDGE_PDF_TIMEOUT_SECONDS": ("0", {}),
    "KNOWLEDGE_PDF_MAX_MEMORY_MB": ("64", {}),
    "KNOWLEDGE_PDF_MAX_PAGES": ("0", {}),
    "KNOWLEDGE_PDF_MAX_FILE_MB": ("25MB", {}),
    "ENABLE_FOLLOW_UPS": ("enable", {}),
    "FOLLOW_UP_INTERVALS": ("24,72,168", {}),
    "FOLLOW_UP_SEND_DAYS": ("mon-sux", {}),
    "FOLLOW_UP_SEND_START": ("morning", {}),
    "FOLLOW_UP_SEND_END": ("9", {}),  # before the start (10)
    "FOLLOW_UP_JITTER_MINUTES": ("600", {}),  # longer than the 10-19 window
    "FOLLOW_UP_MIN_GAP_HOURS": ("20h", {}),
    "FOLLOW_UP_BATCH_SIZE": ("0", {}),
    "PROACTIVE_DAILY_LIMIT": ("-1", {}),
    "API_THROTTLE_RATE": ("120 per minute", {}),
    "API_SWAGGER_UI_DIST": ("cdn", {}),
    "ADMIN_LOGIN_FAILURE_LIMIT": ("0", {}),
    "ADMIN_LOGIN_COOLOFF_HOURS": ("0", {}),
    "METRICS_TOKEN": ("metrics token with spaces", {}),
    "METRICS_ALLOWED_IPS": ("localhost", {}),
    "LOG_FILE": ("/nonexistent/folder/app.log", {}),
    "FORWARDED_ALLOW_IPS": ("*", {}),
    "LOG_FILE_BACKUP_DAYS": ("0", {}),
    "KASPI_API_KEY": ("kaspi key with spaces", {}),
    "KASPI_CERT_PATH": ("/nonexistent/client.pem", {}),
    "KASPI_KEY_PATH": ("/nonexistent/client.key", {}),
    "KASPI_CA_PATH": ("/nonexistent/ca.crt", {}),
    "KASPI_ORGANIZATION_BIN": ("12345", {}),
    "KASPI_DEVICE_TOKEN": ("device token with spaces", {}),
    "KASPI_TIMEOUT": ("0", {}),
    "KASPI_SANDBOX": ("sandbox", {}),
    "KASPI_SANDBOX_URL": ("localhost/sandbox/kaspi/r3", {"SANDBOX_ENABLED": "true", "KASPI_SANDBOX": "true"}),
    "CALL_BOOKING_HORIZON_DAYS": ("0", {}),
    "PAYMENT_APPROVAL_THRESHOLD": ("сто тысяч", {}),
    "PAYMENT_CHECK_DEBOUNCE_SECONDS": ("-30", {}),
    "PAYMENT_INVOICE_TTL_HOURS": ("0", {}),
    "KASPI_SHOP_BASE_URL": ("kaspi.kz/shop/api/v2", {}),
    "KASPI_SHOP_TOKEN": ("shop token with spaces", {}),
    "KASPI_SHOP_TIMEOUT": ("20 s", {}),
    "KASPI_SHOP_MAX_WINDOW_DAYS": ("0", {}),
    "POST_PURCHASE_ENABLED": ("soon", {}),
    "POST_PURCHASE_LOOKBACK_DAYS": ("two weeks", {}),
    "POST_PURCHASE_MAX_PER_CUSTOMER": ("0", {}),
    "POST_PURCHASE_CAP_WINDOW_DAYS": ("0", {}),
    "POST_PURCHASE_COOLDOWN_HOURS": ("-1", {}),
    "POST_PURCHASE_DAILY_LIMIT": ("lots", {}),
    "POST_PURCHASE_MAX_DELAY_HOURS": ("0", {}),
    "PAYMENT_EXPIRY_INTERVAL": ("5m", {}),
    "POST_PURCHASE_INTERVAL": ("0", {}),
    "BACKUP_DIR": (str(ROOT / "manage.py"), {}),  # a file, not a folder
    "BACKUP_KEEP_DAYS": ("0", {}),
    "BACKUP_STALE_HOURS": ("a day", {}),
    "SUSPICIOUS_FLOOD_MESSAGES": ("1", {}),
    "SUSPICIOUS_LONG_MESSAGE_CHARS": ("lots", {}),
    "SUSPICIOUS_NEW_CONTACTS_PER_HOUR": ("1", {}),
    "SUSPICIOUS_WEBHOOK_AUTH_FAILURES": ("0", {}),
    "SUSPICIOUS_FAILED_SENDS": ("0", {}),
    "SUSPICIOUS_SPEND_FACTOR": ("0", {}),
    "SUSPICIOUS_SPEND_MIN_USD": ("$5", {}),
}
# Keys and tokens are never echoed into a log line.
SECRETS = {
    "SECRET_KEY",
    "WAPPI_TOKEN",
    "WAPPI_WEBHOOK_SECRET",
    "WAPPI_WEBHOOK_SECRET_PREVIOUS",
    "WAPPI_SANDBOX_TOKEN",
    "WAPPI_PROFILE_ID",
    "GEMINI_API_KEY",
    "METRICS_TOKEN",
    "KASPI_API_KEY",
    "KASPI_DEVICE_TOKEN",
    "KASPI_SHOP_TOKEN",
}

# The forms an operator writes, read into the settings the product uses.
# (variable, value, setting, expected value)
ACCEPTED: list[tuple[str, str, str, object]] = [
    ("FOLLOW_UP_SEND_DAYS", "mon-sun", "FOLLOW_UP_SEND_DAYS", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    ("FOLLOW_UP_SEND_DAYS", "Mon-Fri", "FOLLOW_UP_SEND_DAYS", ["mon", "tue", "wed", "thu", "fri"]),
    ("FOLLOW_UP_SEND_DAYS", "mon,wed,fri", "FOLLOW_UP_SEND_DAYS", ["mon", "wed", "fri"]),
    ("FOLLOW_UP_SEND_DAYS", "пн-пт", "FOLLOW_UP_SEND_DAYS", ["mon", "tue", "wed", "thu", "fri"]),
    ("FOLLOW_UP_SEND_DAYS", "Суббота, воскресенье", "FOLLOW_UP_SEND_DAYS", ["sat", "sun"]),
    ("FOLLOW_UP_SEND_DAYS", "sun-tue", "FOLLOW_UP_SEND_DAYS", ["mon", "tue", "sun"]),
    ("FOLLOW_UP_SEND_START", "09:00", "FOLLOW_UP_SEND_START", 9),
    ("WORKING_HOURS_END", "24:00", "WORKING_HOURS_END", 24),
    ("REPLY_LANGUAGES", " RU, kk ,ru", "REPLY_LANGUAGES", ["ru", "kk"]),
    ("REPLY_LANGUAGES", "ru", "REPLY_LANGUAGES", ["ru"]),
    ("MANAGER_PHONES", "+7 701 234 56 78; 8 (702) 345-67-89", "MANAGER_PHONES", ["77012345678", "77023456789"]),
    ("LLM_BACKEND", "Offline", "LLM_BACKEND", "offline"),
    ("LOG_LEVEL", "warning", "LOG_LEVEL", "WARNING"),
    ("DEBUG", "off", "DEBUG", False),
    ("ENABLE_FOLLOW_UPS", "No", "ENABLE_FOLLOW_UPS", False),
    ("SEND_MIN_GAP_SECONDS", "2,5", "SEND_MIN_GAP_SECONDS", 2.5),
    ("FOLLOW_UP_INTERVALS", "24, 48, 96, 192, 384.5", "FOLLOW_UP_INTERVALS", [24.0, 48.0, 96.0, 192.0, 384.5]),
    ("API_THROTTLE_RATE", "2000 / hour", "API_THROTTLE_RATE", "2000/hour"),
    ("METRICS_ALLOWED_IPS", "127.0.0.1, 172.16.0.0/12", "METRICS_ALLOWED_IPS", ["127.0.0.1", "172.16.0.0/12"]),
    ("ENV_FILE", "", "DEBUG", False),  # empty: no env file at all
]

# Runs project/settings.py once per case in one child process (starting Django a hundred times
# would take minutes): each run sees only the server's variables plus the case's.
CHILD = r"""
import json, os, runpy, sys
from django.core.exceptions import ImproperlyConfigured
base = dict(os.environ)
out = []
for name, value, extra, setting in json.loads(sys.stdin.read()):
    os.environ.clear()
    os.environ.update({**base, **extra, name: value})
    try:
        module = runpy.run_path("project/settings.py")
    except ImproperlyConfigured as exc:
        out.append({"refused": str(exc)})
    except Exception as exc:
        out.append({"crashed": f"{type(exc).__name__}: {exc}"})
    else:
        out.append({"value": module.get(setting)})
print(json.dumps(out, default=str))
"""


def start_each(cases: list[tuple[str, str, dict[str, str], str]]) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=clean_env(**server_env(SECRET_KEY="tests-only-secret-key-not-used-anywhere-else-0123456789")),
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def variables_read_by_settings() -> set[str]:
    """The first argument of every `env.<kind>("NAME", ...)` call in project/settings.py."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / "project" / "settings.py").read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


@pytest.fixture(scope="module")
def refusals() -> dict[str, dict[str, object]]:
    cases = [(name, value, extra, name) for name, (value, extra) in WRONG.items()]
    return dict(zip(WRONG, start_each(cases), strict=True))


def test_the_wrong_value_table_lists_every_variable_settings_reads():
    assert set(WRONG) == variables_read_by_settings()


def test_settings_read_the_environment_only_through_env():
    # os.getenv, os.environ.get or os.environ["X"] would bypass the strict reader (and this table).
    tree = ast.parse((ROOT / "project" / "settings.py").read_text())
    bypasses = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and ast.unparse(node) in ("os.getenv", "os.environ.get"))
        or (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.ctx, ast.Load)
        )
    ]
    assert bypasses == []


def test_the_server_environment_alone_starts():
    assert start_each([("DEBUG", "false", {}, "DEBUG")]) == [{"value": False}]


@pytest.mark.parametrize("name", sorted(WRONG))
def test_a_wrong_value_stops_the_start_with_one_line_naming_the_variable(refusals, name):
    outcome = refusals[name]
    assert "refused" in outcome, f"{name}={WRONG[name][0]!r} gave {outcome}"
    message = str(outcome["refused"])
    assert "\n" not in message
    assert message.startswith(f"{name}: ")
    assert "; write e.g. " in message
    if name in SECRETS:
        assert WRONG[name][0] not in message


@pytest.fixture(scope="module")
def readings() -> list[dict[str, object]]:
    return start_each([(name, value, {}, setting) for name, value, setting, _ in ACCEPTED])


@pytest.mark.parametrize("case", range(len(ACCEPTED)), ids=[f"{name}={value}" for name, value, _, _ in ACCEPTED])
def test_the_forms_an_operator_writes_are_understood(readings, case):
    *_, expected = ACCEPTED[case]
    assert readings[case] == {"value": expected}


def test_the_example_env_file_used_as_it_ships_starts():
    # Every value .env.example shows is one the strict reading takes.
    result = manage_clean("check", **server_env(ENV_FILE=str(ROOT / ".env.example")))
    assert result.returncode == 0, result.stderr
