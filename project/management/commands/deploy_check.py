"""`python manage.py deploy_check` (`make deploy-check`): what an operator runs on the server after
setting it up or changing its .env. It checks each part the product needs, prints one plain line
per finding, and exits non-zero when anything is wrong:

- settings: DEBUG off, every variable usable, Django's deployment checks;
- database: reachable, every migration applied (the web server's own preflight, project/preflight.py);
- broker and cache: reachable;
- Wappi: the token and profile, by a read-only status call (GET /api/sync/get/status; never a send);
- Gemini: the key and both models, by reading the models' descriptions (no generation, nothing billed);
- static files: collected and up to date (the preflight again);
- processes: exactly one beat and a worker running the heartbeat, and both worker shapes answering
  a ping (skipped with --before-start, before the services were ever started);
- backups: BACKUP_DIR set, pg_dump installed, the newest dump fresh.

Nothing here writes to a third party or the database.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from google.genai import errors as genai_errors

from ai import sdk
from ai.llm import LLMError
from messaging.wappi import WappiAuthError, WappiError, client_from_settings
from project.celery import app
from project.checks import settings_problems
from project.health import check_broker, check_database, heartbeat_status
from project.lib.backups import backup_status
from project.preflight import migrations_problem, static_files_problem

OK, WARNING, PROBLEM = "ok", "warning", "PROBLEM"
# How long the ping of the workers waits for answers.
PING_SECONDS = 3.0


@dataclass(frozen=True)
class Finding:
    level: str
    part: str
    text: str


def _ok(part: str, text: str) -> Finding:
    return Finding(OK, part, text)


def _warn(part: str, text: str) -> Finding:
    return Finding(WARNING, part, text)


def _problem(part: str, text: str) -> Finding:
    return Finding(PROBLEM, part, text)


# --- The parts ----------------------------------------------------------------------------------


def check_settings() -> Iterable[Finding]:
    found = list(_settings_findings())
    yield from found
    if not any(f.level == PROBLEM for f in found):
        yield _ok("settings", f"DEBUG off; ALLOWED_HOSTS {','.join(settings.ALLOWED_HOSTS)}")


def _settings_findings() -> Iterable[Finding]:
    if settings.DEBUG:
        yield _problem("settings", "DEBUG is on: a server runs with DEBUG=false (it shows internals on errors)")
    for problem in settings_problems():
        yield _problem("settings", problem)
    ours = {"project.E001", "project.E101", "project.E102"}  # reported in their own words
    for message in checks.run_checks(include_deployment_checks=True):
        if message.id in ours or message.level < checks.WARNING or message.is_silenced():
            continue
        finding = _problem if message.level >= checks.ERROR else _warn
        yield finding("settings", f"{message.id}: {message.msg}" + (f" ({message.hint})" if message.hint else ""))
    if not settings.SECURE_SSL_REDIRECT:
        yield _warn("settings", "SECURE_SSL_REDIRECT is off: behind the TLS proxy set it to true (README)")
    sandboxes = [name for name in ("SANDBOX_ENABLED", "WAPPI_SANDBOX", "KASPI_SANDBOX") if getattr(settings, name)]
    if sandboxes:
        yield _warn("settings", f"{', '.join(sandboxes)} on: built-in emulators, not for real customers")


def check_database_part() -> Iterable[Finding]:
    reached = check_database()
    if not reached.ok:
        yield _problem("database", f"cannot connect: {reached.details.get('error')} (check DATABASE_URL)")
        return
    if reached.details.get("vendor") != "postgresql":
        yield _warn("database", "not PostgreSQL (DATABASE_URL unset: SQLite under VAR_DIR, for one machine only)")
    problem = migrations_problem()
    if problem:
        yield _problem("database", problem)
    else:
        yield _ok("database", f"{reached.details.get('vendor')} reachable, every migration applied")


def check_broker_part() -> Iterable[Finding]:
    reached = check_broker()
    transport = reached.details.get("transport")
    if not reached.ok:
        yield _problem(
            "broker", f"cannot connect ({transport}): {reached.details.get('error')} (check CELERY_BROKER_URL)"
        )
        return
    if transport == "filesystem":
        yield _warn("broker", "the filesystem broker under VAR_DIR (one machine only): set CELERY_BROKER_URL=redis://")
    else:
        yield _ok("broker", f"{transport} reachable")
    key = f"deploy-check:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=30)
        read = cache.get(key)
        cache.delete(key)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        yield _problem("cache", f"cannot write or read: {type(exc).__name__}: {exc} (check CACHE_URL)")
        return
    if read != "1":
        yield _problem("cache", "a value written was not read back (check CACHE_URL)")
    else:
        yield _ok("cache", f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]} writes and reads")


def check_wappi() -> Iterable[Finding]:
    if settings.WAPPI_SANDBOX:
        yield _warn("wappi", "WAPPI_SANDBOX is on: messages go to the built-in emulator, not WhatsApp")
        return
    missing = [name for name in ("WAPPI_TOKEN", "WAPPI_PROFILE_ID") if not getattr(settings, name)]
    if missing:
        yield _problem("wappi", f"{' and '.join(missing)} not set: the assistant can neither read nor send WhatsApp")
        return
    if not settings.WAPPI_WEBHOOK_SECRET:
        yield _warn("wappi", "WAPPI_WEBHOOK_SECRET not set: the webhook is closed, messages arrive by polling only")
    try:
        status = client_from_settings().get_status()
    except WappiAuthError as exc:
        yield _problem("wappi", f"Wappi refused the token or profile ({exc}): check WAPPI_TOKEN and WAPPI_PROFILE_ID")
        return
    except WappiError as exc:
        yield _problem("wappi", f"Wappi's status call failed ({exc}): check WAPPI_BASE_URL and WAPPI_PROFILE_ID")
        return
    if not status.healthy:
        yield _problem(
            "wappi",
            f"the WhatsApp number is not connected (authorized={status.authorized}, app_status="
            f"{status.app_status or 'unknown'}): scan the QR code in Wappi's cabinet",
        )
        return
    yield _ok("wappi", "token accepted, the WhatsApp number is connected")


def check_gemini() -> Iterable[Finding]:
    if not settings.GEMINI_API_KEY:
        yield _problem("gemini", "GEMINI_API_KEY not set: replies come from the offline backend, not the model")
        return
    if settings.LLM_BACKEND != "gemini":
        yield _problem("gemini", f"LLM_BACKEND={settings.LLM_BACKEND}: the model is switched off")
        return
    models = dict.fromkeys([settings.GEMINI_MODEL, settings.GEMINI_FAST_MODEL])
    try:
        client = sdk.get_client()
        for model in models:
            # A model's description: checks the key and the name, generates nothing.
            client.models.get(model=model)
    except genai_errors.APIError as exc:
        detail = f"{exc.code} {exc.status or ''}: {str(exc.message or '')[:200]}".strip()
        if exc.code == 404:
            yield _problem("gemini", f"model {model!r} not found ({detail}): check GEMINI_MODEL, GEMINI_FAST_MODEL")
        elif exc.code in (400, 401, 403):
            yield _problem("gemini", f"Gemini refused the key ({detail}): check GEMINI_API_KEY")
        else:
            yield _problem("gemini", f"Gemini answered {detail}: try again later")
        return
    except (LLMError, OSError, ValueError) as exc:
        yield _problem("gemini", f"Gemini cannot be reached: {type(exc).__name__}: {exc} (check GEMINI_BASE_URL)")
        return
    except Exception as exc:  # noqa: BLE001 - the SDK's transport errors (httpx) are not OSErrors
        yield _problem("gemini", f"Gemini cannot be reached: {type(exc).__name__}: {exc}")
        return
    yield _ok("gemini", f"key accepted; models {', '.join(models)} available")


def check_static() -> Iterable[Finding]:
    problem = static_files_problem()
    if problem:
        yield _problem("static", problem)
    elif not settings.STATIC_MANIFEST:
        yield _warn("static", "STATIC_MANIFEST is off: files are served uncollected, unhashed (caches go stale)")
    else:
        yield _ok("static", f"collected in {settings.STATIC_ROOT}")


def check_processes() -> Iterable[Finding]:
    beats = heartbeat_status()
    beat, worker = beats["beat"], beats["worker"]
    window = f"{3 * settings.HEARTBEAT_INTERVAL + 10:.0f} s"
    if beat["status"] == "duplicate":
        yield _problem("beat", beat["error"])
    elif beat["status"] == "unknown":
        yield _problem("beat", "no beat has ever sent the heartbeat: start exactly one beat")
    elif beat["status"] == "stale":
        yield _problem("beat", f"no heartbeat sent in the last {window}: is the beat running?")
    else:
        yield _ok("beat", f"one beat, last heartbeat {beat.get('age_seconds')} s ago")
    if worker["status"] != "ok":
        yield _problem("worker", f"no worker ran the heartbeat in the last {window}: is the worker running?")
    nodes = sorted(name for answer in app.control.ping(timeout=PING_SECONDS) for name in answer)
    llm = [node for node in nodes if node.startswith("llm@")]
    main = [node for node in nodes if not node.startswith("llm@")]
    if not main:
        yield _problem("worker", "no worker answers a ping: messages are neither stored nor sent")
    if not llm:
        yield _problem("worker", "no model worker (worker-llm, llm@...) answers a ping: nobody writes replies")
    if main and llm and worker["status"] == "ok":
        yield _ok("worker", f"answering: {', '.join(nodes)}")


def check_backups() -> Iterable[Finding]:
    summary = backup_status()
    if summary["status"] == "off":
        yield _warn("backups", "BACKUP_DIR not set: no database backups (README: Backups and restore)")
        return
    if not shutil.which("pg_dump"):
        yield _problem("backups", "pg_dump is not installed (apt-get install postgresql-client)")
    if summary["status"] != "ok":
        reason = summary.get("error") or f"the newest is {summary.get('age_hours')} h old"
        yield _problem("backups", f"{reason} (BACKUP_STALE_HOURS {settings.BACKUP_STALE_HOURS:g})")
    else:
        yield _ok("backups", f"newest dump {summary['age_hours']} h old, {summary['count']} kept")


PARTS: list[tuple[str, Callable[[], Iterable[Finding]]]] = [
    ("settings", check_settings),
    ("database", check_database_part),
    ("broker", check_broker_part),
    ("wappi", check_wappi),
    ("gemini", check_gemini),
    ("static", check_static),
    ("processes", check_processes),
    ("backups", check_backups),
]


def deploy_findings(*, before_start: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    database_ok = True
    for name, part in PARTS:
        if name == "processes" and (before_start or not database_ok):
            continue
        if name == "backups" and not database_ok:
            continue
        try:
            found = list(part())
        except Exception as exc:  # noqa: BLE001 - one broken part must not hide the others
            found = [_problem(name, f"the check itself failed: {type(exc).__name__}: {exc}")]
        if name == "database":
            database_ok = not any(f.level == PROBLEM and f.text.startswith("cannot connect") for f in found)
        findings.extend(found)
    return findings


class Command(BaseCommand):
    help = "Checks this server's settings, database, broker, Wappi, Gemini, static files, processes and backups."
    # The system checks run as one of the findings, not as a gate before them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--before-start",
            action="store_true",
            help="skip the running processes (beat, workers): before the services are first started",
        )

    def handle(self, *args: Any, before_start: bool = False, **options: Any) -> None:
        findings = deploy_findings(before_start=before_start)
        for finding in findings:
            self.stdout.write(f"{finding.level:<8} {finding.part}: {finding.text}")
        problems = sum(1 for f in findings if f.level == PROBLEM)
        if problems:
            raise CommandError(f"{problems} problem(s) found: fix them and run the check again.")
        self.stdout.write("Everything this check can see is ready.")
