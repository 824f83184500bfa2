"""A plain Linux server, no Docker (README, "Plain server (no Docker)"): the web server started the
way its systemd unit starts it, on PostgreSQL with DEBUG off, after the documented one-time set-up,
answers every page the README names without a 500; it refuses to start, with one plain line, when
`collectstatic` or a migration was skipped. The unit files run the commands these tests (and the
Procfile) run, so the two cannot drift apart."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests
from django.db import connection

from tests.processes import (
    ROOT,
    WEB_ARGS,
    clean_env,
    free_port,
    gunicorn_argv,
    gunicorn_env,
    gunicorn_server,
    manage_clean,
    server_env,
    wait_for,
)

UNITS = ROOT / "deploy" / "systemd"
HOME = "/srv/sales-assistant"
VENV_BIN = f"{HOME}/.venv/bin/"
PASSWORD = "a-long-admin-password-for-tests-only"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(UNITS / f"{name}.service", encoding="utf-8")
    return parser


def exec_start(name: str) -> list[str]:
    """The unit's ExecStart as argv (systemd's `$$` is a literal `$`)."""
    return shlex.split(unit(name)["Service"]["ExecStart"].replace("$$", "$"))


def web_args_of_the_unit() -> list[str]:
    """The web unit's arguments after `gunicorn`, without its --bind (a test binds a free port)."""
    binary, *args = exec_start("sales-assistant-web")
    assert binary == f"{VENV_BIN}gunicorn"
    bind = args.index("--bind")
    assert args[bind + 1] == "127.0.0.1:8000", "the web server listens on this machine only, behind nginx"
    return args[:bind] + args[bind + 2 :]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


# --- The unit files -------------------------------------------------------------------------------


def test_the_web_unit_runs_the_command_the_tests_start():
    assert tuple(web_args_of_the_unit()) == WEB_ARGS


@pytest.mark.parametrize(("name", "process"), [("worker", "worker"), ("worker-llm", "worker-llm")])
def test_the_worker_units_run_the_procfiles_commands(name, process):
    shell, flag, command = exec_start(f"sales-assistant-{name}")

    assert (shell, flag) == ("/bin/sh", "-c")  # for the $(manage.py worker_options ...) substitution
    assert command.replace(VENV_BIN, "") == f"exec {procfile()[process]}"


def test_the_beat_unit_runs_the_procfiles_command():
    assert shlex.join(exec_start("sales-assistant-beat")).replace(VENV_BIN, "") == procfile()["beat"]


def test_the_flower_unit_keeps_the_password_off_the_command_line_and_refuses_without_one():
    shell, flag, command = exec_start("sales-assistant-flower")

    assert (shell, flag) == ("/bin/sh", "-c")
    assert 'test -n "${FLOWER_BASIC_AUTH}" || {' in command
    assert f"exec {VENV_BIN}celery -A project flower --address=127.0.0.1" in command
    assert "--basic-auth" not in command


@pytest.mark.parametrize(
    "name",
    [
        "sales-assistant-web",
        "sales-assistant-worker",
        "sales-assistant-worker-llm",
        "sales-assistant-beat",
        "sales-assistant-flower",
        "sales-assistant-backup",
    ],
)
def test_every_unit_restarts_runs_as_the_service_user_reads_the_env_file_and_logs_to_the_journal(name):
    service = unit(name)["Service"]

    assert service["User"] == "sales"
    assert service["WorkingDirectory"] == HOME
    assert service["EnvironmentFile"] == f"{HOME}/.env"
    assert service["Restart"] == "on-failure"
    assert (service["StandardOutput"], service["StandardError"]) == ("journal", "journal")
    assert service["SyslogIdentifier"] == name
    assert unit(name)["Install"]["WantedBy"] == "sales-assistant.target"


# --- The one-time set-up ----------------------------------------------------------------------------


def test_the_env_writer_gives_a_first_env_that_starts_manage_py(tmp_path):
    env_file = tmp_path / ".env"
    # Without it, a server's manage.py stops at once (no SECRET_KEY without DEBUG).
    assert "SECRET_KEY is required" in manage_clean("check", ENV_FILE=str(ROOT / ".env.example")).stderr

    written = subprocess.run(
        [sys.executable, "deploy/new_env.py", "--host", "sales.example.kz", "--output", str(env_file)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert written.returncode == 0, written.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    assert len(values["SECRET_KEY"]) >= 50
    assert values["ALLOWED_HOSTS"] == "sales.example.kz"
    assert values["CSRF_TRUSTED_ORIGINS"] == "https://sales.example.kz"
    assert values["DEBUG"] == "false"
    assert values["SECURE_SSL_REDIRECT"] == "true"
    assert re.fullmatch(r"admin:\S{24,}", values["FLOWER_BASIC_AUTH"])
    checked = manage_clean("check", ENV_FILE=str(env_file))
    assert checked.returncode == 0, checked.stderr

    again = subprocess.run(
        [sys.executable, "deploy/new_env.py", "--host", "other.example.kz", "--output", str(env_file)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert "exists already: not overwritten" in again.stderr
    assert "sales.example.kz" in env_file.read_text()


# --- The web server -------------------------------------------------------------------------------


@pytest.fixture
def web_env(tmp_path, collected_static):
    """A server after the one-time set-up: DEBUG off, PostgreSQL (this test's database, migrated),
    static files collected (the production storage)."""
    return server_env(tmp_path, STATIC_MANIFEST="true", STATIC_ROOT=str(collected_static))


def static_links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_web_server_as_the_unit_starts_it_answers_every_page_without_a_500(web_env):
    # The README's first admin and API token, as an operator creates them.
    created = manage_clean(
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.kz",
        **web_env,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    assert created.returncode == 0, created.stderr
    token = manage_clean("create_api_token", "admin", **web_env)
    assert token.returncode == 0, token.stderr

    with gunicorn_server(env=web_env, args=web_args_of_the_unit()) as web:
        browser = requests.Session()
        login = browser.get(f"{web.url}/admin/login/", timeout=10)
        assert login.status_code == 200
        login_css = [link for link in static_links(login.text) if link.endswith(".css")]
        assert login_css, "the admin login page names its stylesheets"
        for link in login_css:
            assert browser.get(f"{web.url}{link}", timeout=10).status_code == 200, link

        assert requests.get(f"{web.url}/health", timeout=10).status_code == 200
        assert requests.get(f"{web.url}/sandbox/", timeout=10).status_code == 404  # not on a server

        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)[1]
        signed_in = browser.post(
            f"{web.url}/admin/login/?next=/admin/",
            data={"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": csrf, "next": "/admin/"},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text[:500]

        docs = browser.get(f"{web.url}/api/docs/", timeout=10)
        assert docs.status_code == 200
        swagger = [link for link in static_links(docs.text) if "swagger-ui" in link]
        assert any(link.endswith(".css") for link in swagger)
        for link in swagger:
            assert browser.get(f"{web.url}{link}", timeout=10).status_code == 200, link
        for page in ("/admin/", "/admin/dashboard/", "/stats", "/metrics"):
            assert browser.get(f"{web.url}{page}", timeout=10).status_code == 200, page
        api = requests.get(
            f"{web.url}/api/contacts", headers={"Authorization": f"Token {token.stdout.strip()}"}, timeout=10
        )
        assert api.status_code == 200
        log = web.log()

    assert "Internal Server Error" not in log
    assert "Traceback" not in log


def start_refused(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The unit's web command, expected to exit by itself (the preflight refusing)."""
    with tempfile.TemporaryDirectory(prefix="gunicorn-") as workdir:
        argv = gunicorn_argv(port=free_port(), workdir=workdir, args=web_args_of_the_unit())
        # Its own process group: a server that did start after all is stopped with its workers.
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=gunicorn_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail("the web server started (it kept running) instead of refusing")
        return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def refusals(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("web server not started:")]


@pytest.mark.e2e
@pytest.mark.django_db
def test_the_web_server_refuses_to_start_without_collectstatic(web_env, tmp_path):
    empty = tmp_path / "never-collected"

    result = start_refused({**web_env, "STATIC_ROOT": str(empty)})

    assert result.returncode != 0
    assert refusals(result) == [
        f"web server not started: static files are not collected in {empty} (STATIC_ROOT); "
        "run: python manage.py collectstatic --noinput"
    ]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_web_server_refuses_to_start_with_a_migration_not_applied(web_env):
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = (SELECT id FROM django_migrations WHERE app = 'messaging' "
            "ORDER BY name DESC LIMIT 1) RETURNING app, name, applied"
        )
        row = cursor.fetchone()
    try:
        result = start_refused(web_env)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", row)

    assert result.returncode != 0
    assert refusals(result) == [
        "web server not started: the database is not migrated: 1 migration(s) not applied "
        f"(first: messaging.{row[1]}); run: python manage.py migrate"
    ]


def test_the_readme_walks_a_plain_server_through_every_step():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Plain server (no Docker)", 1)[1].split("\n## ", 1)[0]

    for step in (
        "make install",
        "deploy/new_env.py --host",
        "manage.py migrate",
        "manage.py collectstatic --noinput",
        "manage.py createsuperuser",
        "manage.py create_api_token",
        "deploy/systemd/",
        "deploy/nginx/sales-assistant.conf",
        "systemctl enable --now sales-assistant.target",
        "make deploy-check",
    ):
        assert step in section, step
    for path in re.findall(r"deploy/[\w./-]+\.(?:service|conf|py|target)", section):
        assert (ROOT / path).is_file(), path
    assert os.path.isdir(UNITS)
    assert not (Path(ROOT) / "README.md").read_text().count("Both need only Python 3.11 and `make`")


# --- Web, workers and beat, as the units start them --------------------------------------------------


@contextmanager
def unit_process(name: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The unit's ExecStart, with this test's interpreter's folder for the server's .venv/bin/."""
    argv = [part.replace(VENV_BIN, f"{Path(sys.executable).parent}/") for part in exec_start(name)]
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_with_web_workers_and_beat_running_as_the_units_start_them_the_deploy_check_passes(
    web_env, fake_wappi, fake_gemini
):
    from project.celery import app
    from tests.fakes import wappi

    app.control.purge()
    # The beats and workers an earlier test's processes recorded in the servers' cache (CACHE_URL,
    # no key prefix) would count as a second beat here.
    redis.Redis.from_url(web_env["CACHE_URL"]).delete(":1:health:beats", ":1:health:worker-heartbeat")
    processes = {**web_env, "CELERY_WORKER_CONCURRENCY": "2", "CELERY_LLM_CONCURRENCY": "4"}
    operator = {
        **web_env,
        "SECURE_SSL_REDIRECT": "true",
        "WAPPI_BASE_URL": fake_wappi.server.url_for("/").rstrip("/"),
        "WAPPI_TOKEN": wappi.TOKEN,
        "WAPPI_PROFILE_ID": wappi.PROFILE,
        "WAPPI_WEBHOOK_SECRET": "a-webhook-secret",
        "GEMINI_API_KEY": fake_gemini.api_key,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "NO_PROXY": "127.0.0.1,localhost",
    }

    def deploy_check() -> subprocess.CompletedProcess[str] | None:
        result = manage_clean("deploy_check", **operator)
        checks.append(result)
        return result if result.returncode == 0 else None

    checks: list[subprocess.CompletedProcess[str]] = []
    with (
        gunicorn_server(env=web_env, args=web_args_of_the_unit()),
        unit_process("sales-assistant-worker", processes),
        unit_process("sales-assistant-worker-llm", processes),
        unit_process("sales-assistant-beat", processes),
    ):
        try:
            passed = wait_for(deploy_check, timeout=90, what="deploy_check to pass")
        except AssertionError:
            pytest.fail("deploy_check never passed:\n" + checks[-1].stdout + checks[-1].stderr)

    lines = passed.stdout.splitlines()
    assert [line for line in lines if line.startswith("PROBLEM")] == []
    assert any(line.startswith("ok       beat: one beat") for line in lines)
    worker = next(line for line in lines if line.startswith("ok       worker: answering: "))
    assert "llm@" in worker
    assert "celery@" in worker


# --- nginx in front ------------------------------------------------------------------------------


def test_nginx_accepts_the_site_as_shipped_with_a_certificate_in_place(tmp_path):
    """`nginx -t` on a main configuration that includes deploy/nginx/sales-assistant.conf, its
    certificate paths pointed at a self-signed pair: the nginx of Debian 12 (1.22) takes it."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): the site's syntax is not checked")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the site")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    self_signed = ("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x")
    subprocess.run(
        [*self_signed, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    site = (ROOT / "deploy" / "nginx" / "sales-assistant.conf").read_text(encoding="utf-8")
    live = "/etc/letsencrypt/live/sales.example.kz/"
    assert f"{live}fullchain.pem" in site
    assert f"{live}privkey.pem" in site
    (tmp_path / "site.conf").write_text(
        site.replace(f"{live}fullchain.pem", str(cert)).replace(f"{live}privkey.pem", str(key))
    )
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {tmp_path / 'site.conf'};\n}}\n"
    )

    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_readme_has_the_certificate_before_it_enables_the_tls_site():
    """The site names certbot's files: enabled before they exist, `nginx -t` (and `certbot --nginx`,
    which runs it first) fails. The README gets the certificate first, through nginx's default site."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Plain server (no Docker)", 1)[1].split("\n## ", 1)[0]
    steps = [line for line in section.splitlines() if line and not line.startswith("#")]
    certificate = next(i for i, line in enumerate(steps) if "certbot certonly" in line)
    enabled = next(i for i, line in enumerate(steps) if "sites-enabled" in line)
    assert certificate < enabled
    assert "--webroot -w /var/www/html" in steps[certificate]  # the site's own ACME location, for renewals
    assert "certbot --nginx" not in section
